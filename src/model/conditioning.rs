//! What a ResNet block does with its timestep embedding to a GroupNorm's input or output.

use burn::tensor::Tensor;

/// Per sample and channel (tensors [n, c]), read by the norm's kernels on either backend and by
/// its reference in burn's ops.
#[allow(clippy::large_enum_variant)] // one lives per call, on the stack
pub enum Conditioning {
    None,
    /// Added to the input before the statistics (diffusers' `time_embedding_norm = "default"`).
    Shift(Tensor<2>),
    /// `y·(1 + scale) + shift` after the affine (`"scale_shift"`, FiLM).
    ScaleShift(Tensor<2>, Tensor<2>),
}

/// One GroupNorm as both kernel families take it: the affine `gamma`, `beta` [c] over `groups`
/// groups, conditioned, then SiLU if `silu`.
pub struct NormCall<'a> {
    pub gamma: &'a Tensor<1>,
    pub beta: &'a Tensor<1>,
    pub groups: usize,
    pub eps: f64,
    pub conditioning: &'a Conditioning,
    pub silu: bool,
}

/// The conditioning's operands as a kernel takes them: the shift before the statistics, and the
/// FiLM pair after.
pub type Operands<T> = (Option<T>, Option<(T, T)>);

impl Conditioning {
    /// Its tensors, each converted by `operand`; None when `operand` refuses one (a tensor the
    /// kernel cannot take), which sends the whole norm to burn's ops.
    pub fn operands<T>(&self, operand: impl Fn(&Tensor<2>) -> Option<T>) -> Option<Operands<T>> {
        Some(match self {
            Conditioning::None => (None, None),
            Conditioning::Shift(shift) => (Some(operand(shift)?), None),
            Conditioning::ScaleShift(scale, shift) => (None, Some((operand(scale)?, operand(shift)?))),
        })
    }
}
