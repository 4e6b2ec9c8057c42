//! DDIM (Song et al. 2021, eq. 12): x_{t'} = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ²) ε̂ + σ z with
//! σ = η √((1 − ᾱ_{t'})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t'}): η = 0 deterministic, η = 1 ancestral.
//!
//! When x̂_0 is clipped, `clipped_eps` replaces ε̂ in the direction term by the ε that the
//! clipped x̂_0 implies (diffusers' `use_clipped_model_output`). Without it the step mixes a
//! clipped x̂_0 with an unclipped ε̂; under classifier-free guidance, where x̂_0 leaves [−1, 1]
//! often, that inconsistency garbles the samples (fashion32 at w = 2, in diffusers as here).
//! Unguided, the plain ε̂ gives the cleaner samples (fashion32, 16 samples, 100 steps), so
//! diffusers' default, off, is ours; the CLI turns it on with `--guidance`.

use burn::tensor::Tensor;

use super::predict_x0;
use crate::schedule::{Posterior, Schedule};

pub struct DdimStep<const D: usize> {
    pub prev_sample: Tensor<D>,
    pub pred_original_sample: Tensor<D>,
}

/// `final_alpha_bar` stands for ᾱ before the first step (`Schedule::final_alpha_cumprod`;
/// RePaint's is always 1).
#[allow(clippy::too_many_arguments)]
pub fn step<const D: usize>(
    schedule: &Schedule,
    eta: f64,
    final_alpha_bar: f64,
    clip: Option<f64>,
    clipped_eps: bool,
    eps: Tensor<D>,
    t: usize,
    prev: Option<usize>,
    x_t: Tensor<D>,
    noise: Tensor<D>,
) -> DdimStep<D> {
    let x0 = predict_x0(schedule, x_t.clone(), eps.clone(), t, clip);
    let eps = if clipped_eps && clip.is_some() { schedule.predict_eps(x_t, x0.clone(), t) } else { eps };
    let alpha_bar_prev = prev.map_or(final_alpha_bar, |p| schedule.alphas_cumprod[p]);
    // eq. 16: σ = η √β̃ between t and prev
    // In float32, as diffusers evaluates it (see `Posterior::between`).
    let sigma = eta as f32 * (Posterior::between(schedule.alphas_cumprod[t], alpha_bar_prev).variance as f32).sqrt();
    let abp = alpha_bar_prev as f32;
    let direction = eps.mul_scalar((1.0 - abp - sigma * sigma).max(0.0).sqrt());
    let mut prev_sample = x0.clone().mul_scalar(abp.sqrt()).add(direction);
    if eta > 0.0 {
        prev_sample = prev_sample.add(noise.mul_scalar(sigma));
    }
    DdimStep { prev_sample, pred_original_sample: x0 }
}
