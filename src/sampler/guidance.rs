//! Classifier-free guidance (Ho & Salimans 2021, the reference's Imagen section):
//! ε̃ = (1 + w) · ε_θ(x_t, y) − w · ε_θ(x_t, ∅), both terms from one batched forward pass.

use burn::tensor::Tensor;

use crate::error::{Error, Result};
use crate::model::EpsModel;

pub struct Guided<M> {
    pub model: M,
    /// w ≥ 0; w = 0 is the plain conditional model.
    pub weight: f64,
    /// The model's null class, ∅.
    null_class: usize,
}

/// The largest w accepted: guided samples saturate long before (the page offers up to 8).
pub const MAX_WEIGHT: f64 = 100.0;

impl<M> Guided<M> {
    /// Guidance of a class-conditional `model` (∅ is its null class) with weight w.
    pub fn new<const D: usize>(model: M, weight: f64) -> Result<Self>
    where
        M: EpsModel<D>,
    {
        if !(0.0..=MAX_WEIGHT).contains(&weight) {
            return Err(Error::Input(format!("the guidance weight w must be in [0, {MAX_WEIGHT}], got {weight}")));
        }
        let null_class = model
            .null_class()
            .ok_or_else(|| Error::Input("classifier-free guidance needs a class-conditional model; this one is unconditional".into()))?;
        Ok(Self { model, weight, null_class })
    }
}

impl<const D: usize, M: EpsModel<D>> EpsModel<D> for Guided<M> {
    fn null_class(&self) -> Option<usize> {
        Some(self.null_class)
    }

    fn eps(&self, x_t: Tensor<D>, t: usize, labels: Option<&[usize]>) -> Tensor<D> {
        let Some(labels) = labels else {
            return self.model.eps(x_t, t, None);
        };
        if self.weight == 0.0 {
            return self.model.eps(x_t, t, Some(labels));
        }
        let n = labels.len();
        let both: Vec<usize> = labels.iter().copied().chain(std::iter::repeat_n(self.null_class, n)).collect();
        let eps = self.model.eps(Tensor::cat(vec![x_t.clone(), x_t], 0), t, Some(&both));
        let conditional = eps.clone().narrow(0, 0, n);
        let unconditional = eps.narrow(0, n, n);
        conditional.mul_scalar(1.0 + self.weight).sub(unconditional.mul_scalar(self.weight))
    }
}
