//! Ancestral sampling, Ho et al. Algorithm 2, one step: x_{t−1} = μ_θ(x_t, t) + σ_t z with
//! μ_θ from eq. 14 (computed as μ̃_t(x_t, x̂_0), which is the same thing and lets x̂_0 be
//! clipped), σ_t² = β̃_t (`fixed_small`) or β_t (`fixed_large`), z = 0 at the last step.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use super::predict_x0;
use crate::schedule::Schedule;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Variance {
    /// σ_t² = β̃_t, the posterior variance (Ho et al.'s CelebA-HQ choice).
    #[default]
    FixedSmall,
    /// σ_t² = β_t (Ho et al.'s CIFAR10 choice).
    FixedLarge,
}

pub struct DdpmStep<const D: usize> {
    pub prev_sample: Tensor<D>,
    pub pred_original_sample: Tensor<D>,
}

/// One step from `t` to `prev` (None: the end); `noise` is z ~ N(0, I).
#[allow(clippy::too_many_arguments, reason = "a step's operands, one each: schedule, variance, clip, ε̂, t, t_prev, x_t, z")]
pub fn step<const D: usize>(
    schedule: &Schedule,
    variance: Variance,
    clip: Option<f64>,
    eps: Tensor<D>,
    t: usize,
    prev: Option<usize>,
    x_t: Tensor<D>,
    noise: Tensor<D>,
) -> DdpmStep<D> {
    let x0 = predict_x0(schedule, x_t.clone(), eps, t, clip);
    let posterior = schedule.posterior(t, prev);
    let mean = posterior.mean(x_t, x0.clone());
    let prev_sample = if t > 0 {
        let sigma = match variance {
            Variance::FixedSmall => posterior.variance.max(1e-20).sqrt(),
            Variance::FixedLarge => posterior.beta.sqrt(),
        };
        mean.add(noise.mul_scalar(sigma))
    } else {
        mean
    };
    DdpmStep { prev_sample, pred_original_sample: x0 }
}
