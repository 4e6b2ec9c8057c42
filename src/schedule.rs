//! The schedule algebra of Ho et al. (2020), §2, in one place: β_t, α_t, ᾱ_t, the forward
//! process q(x_t | x_0) (eq. 4), the posterior q(x_{t−1} | x_t, x_0) (eqs. 6–7 / 13), and the
//! ε-parameterisation (eq. 14 and x̂_0). Samplers and inpainting only combine these.
//!
//! Timesteps are indexed as in diffusers, t ∈ {0, …, T−1}; Ho et al.'s t is this index + 1.
//! The numbers follow diffusers' float32 tensors: β is built as `torch.linspace` builds it in
//! float32, ᾱ as `torch.cumprod` (float64 accumulation, rounded to float32 per entry), so that
//! our steps agree with diffusers' to ~1e-7.

use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How β_1..β_T are laid out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    /// Ho et al.: β linear from `start` to `end` (1e-4 .. 0.02 over T = 1000).
    Linear { start: f64, end: f64 },
    /// √β linear (Stable Diffusion's "scaled_linear").
    ScaledLinear { start: f64, end: f64 },
    /// Nichol & Dhariwal's cosine ᾱ (diffusers' "squaredcos_cap_v2"), β capped at 0.999.
    Cosine,
    /// Given explicitly (diffusers' `trained_betas`).
    Given(Vec<f64>),
}

/// `torch.linspace(start, end, steps, dtype=float32)`, operation for operation.
fn linspace_f32(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    let halfway = steps / 2;
    (0..steps).map(|i| if i < halfway { start + step * i as f32 } else { end - step * (steps - i - 1) as f32 }).collect()
}

impl BetaSchedule {
    pub fn betas(&self, num_train_timesteps: usize) -> Result<Vec<f32>> {
        let t_count = num_train_timesteps;
        let betas = match self {
            BetaSchedule::Linear { start, end } => linspace_f32(*start as f32, *end as f32, t_count),
            BetaSchedule::ScaledLinear { start, end } => {
                linspace_f32(libm::sqrt(*start) as f32, libm::sqrt(*end) as f32, t_count).into_iter().map(|b| b * b).collect()
            }
            BetaSchedule::Cosine => {
                let alpha_bar = |t: f64| {
                    let c = libm::cos((t + 0.008) / 1.008 * core::f64::consts::PI / 2.0);
                    c * c
                };
                (0..t_count)
                    .map(|i| {
                        let (t1, t2) = (i as f64 / t_count as f64, (i + 1) as f64 / t_count as f64);
                        (1.0 - alpha_bar(t2) / alpha_bar(t1)).min(0.999) as f32
                    })
                    .collect()
            }
            BetaSchedule::Given(betas) => {
                if betas.len() != t_count {
                    return Err(Error::Config(format!("trained_betas has {} entries but num_train_timesteps is {t_count}", betas.len())));
                }
                betas.iter().map(|&b| b as f32).collect()
            }
        };
        if let Some((i, b)) = betas.iter().enumerate().find(|(_, b)| !(**b > 0.0 && **b < 1.0)) {
            return Err(Error::Config(format!("β_{i} = {b} is outside (0, 1)")));
        }
        Ok(betas)
    }
}

/// The longest schedule any config may ask for (Ho et al. use T = 1000).
pub const MAX_TIMESTEPS: usize = 100_000;

/// β, α and ᾱ for t = 0..T−1, and every coefficient derived from them.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub betas: Vec<f64>,
    pub alphas: Vec<f64>,
    pub alphas_cumprod: Vec<f64>,
    /// ᾱ before the first step as DDIM takes it (diffusers' `final_alpha_cumprod`): 1 when the
    /// scheduler config has `set_alpha_to_one` (its default), else ᾱ_0.
    pub final_alpha_cumprod: f64,
}

impl Schedule {
    pub fn new(schedule: &BetaSchedule, num_train_timesteps: usize) -> Result<Self> {
        if !(1..=MAX_TIMESTEPS).contains(&num_train_timesteps) {
            return Err(Error::Config(format!("num_train_timesteps = {num_train_timesteps} is outside 1..={MAX_TIMESTEPS}")));
        }
        let betas_f32 = schedule.betas(num_train_timesteps)?;
        let alphas_f32: Vec<f32> = betas_f32.iter().map(|b| 1.0 - b).collect();
        let mut product = 1.0f64;
        let alphas_cumprod = alphas_f32
            .iter()
            .map(|&a| {
                product *= a as f64;
                product as f32 as f64
            })
            .collect();
        Ok(Self {
            betas: betas_f32.iter().map(|&b| b as f64).collect(),
            alphas: alphas_f32.iter().map(|&a| a as f64).collect(),
            alphas_cumprod,
            final_alpha_cumprod: 1.0,
        })
    }

    /// DDIM's ᾱ before the first step: 1 (`set_alpha_to_one`) or ᾱ_0.
    pub fn with_alpha_to_one(mut self, set_alpha_to_one: bool) -> Self {
        self.final_alpha_cumprod = if set_alpha_to_one { 1.0 } else { self.alphas_cumprod[0] };
        self
    }

    /// Ho et al.'s schedule: linear β from 1e-4 to 0.02, T = 1000.
    pub fn ho_linear() -> Self {
        Self::new(&BetaSchedule::Linear { start: 1e-4, end: 0.02 }, 1000).expect("valid schedule")
    }

    pub fn num_train_timesteps(&self) -> usize {
        self.betas.len()
    }

    /// ᾱ at t, with ᾱ = 1 before the first step (t = None), as diffusers' `one`.
    pub fn alpha_bar(&self, t: Option<usize>) -> f64 {
        t.map_or(1.0, |t| self.alphas_cumprod[t])
    }

    /// Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t).
    pub fn snr(&self, t: usize) -> f64 {
        let a = self.alphas_cumprod[t];
        a / (1.0 - a)
    }

    /// q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I), sampled with the given noise (eq. 4). `t` holds
    /// one timestep for the whole batch, or one per sample (training draws t per sample).
    pub fn q_sample<const D: usize>(&self, x0: Tensor<D>, t: &[usize], noise: Tensor<D>) -> Tensor<D> {
        let mut shape = [1; D];
        shape[0] = t.len();
        let device = x0.device();
        let per_sample = |f: fn(f64) -> f64| {
            let values: Vec<f32> = t.iter().map(|&t| f(self.alphas_cumprod[t]) as f32).collect();
            Tensor::<D>::from_data(TensorData::new(values, shape), &device)
        };
        let signal = per_sample(|a| a.sqrt());
        let noise_scale = per_sample(|a| (1.0 - a).sqrt());
        x0.mul(signal).add(noise.mul(noise_scale))
    }

    /// x̂_0 = (x_t − √(1 − ᾱ_t) ε) / √ᾱ_t: eq. 4 solved for x_0.
    pub fn predict_x0<const D: usize>(&self, x_t: Tensor<D>, eps: Tensor<D>, t: usize) -> Tensor<D> {
        let a = self.alphas_cumprod[t] as f32;
        x_t.sub(eps.mul_scalar((1.0 - a).sqrt())).div_scalar(a.sqrt())
    }

    /// ε = (x_t − √ᾱ_t x̂_0) / √(1 − ᾱ_t): eq. 4 solved for ε.
    pub fn predict_eps<const D: usize>(&self, x_t: Tensor<D>, x0: Tensor<D>, t: usize) -> Tensor<D> {
        let a = self.alphas_cumprod[t] as f32;
        x_t.sub(x0.mul_scalar(a.sqrt())).div_scalar((1.0 - a).sqrt())
    }

    /// The posterior q(x_prev | x_t, x_0) between `t` and an earlier `prev` (None: before the
    /// first step). With prev = t − 1 this is eq. 7 / 13 of Ho et al.; with a stride it is the
    /// same algebra with β replaced by 1 − ᾱ_t/ᾱ_prev, as diffusers does for fewer steps.
    pub fn posterior(&self, t: usize, prev: Option<usize>) -> Posterior {
        Posterior::between(self.alphas_cumprod[t], self.alpha_bar(prev))
    }
}

/// Coefficients of q(x_prev | x_t, x_0) for one step.
#[derive(Clone, Copy, Debug)]
pub struct Posterior {
    pub coef_x0: f64,
    pub coef_xt: f64,
    /// β̃_t ("fixed_small")
    pub variance: f64,
    pub log_variance_clipped: f64,
    /// β_t of this (possibly strided) step ("fixed_large")
    pub beta: f64,
}

impl Posterior {
    /// From ᾱ_t and ᾱ_prev. Evaluated in float32 in diffusers' order of operations: near t = 0,
    /// 1 − ᾱ_t/ᾱ_prev cancels, and parity with diffusers means cancelling the same way.
    pub fn between(alpha_bar_t: f64, alpha_bar_prev: f64) -> Self {
        let (abt, abp) = (alpha_bar_t as f32, alpha_bar_prev as f32);
        let beta_prod_t = 1.0 - abt;
        let beta_prod_prev = 1.0 - abp;
        let alpha_t = abt / abp;
        let beta_t = 1.0 - alpha_t;
        // eq. 7: β̃_t = (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · β_t
        let variance = beta_prod_prev / beta_prod_t * beta_t;
        Self {
            // eq. 7 / 13: μ̃_t = √ᾱ_{t−1} β_t / (1 − ᾱ_t) · x_0 + √α_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t) · x_t
            coef_x0: (abp.sqrt() * beta_t / beta_prod_t) as f64,
            coef_xt: (alpha_t.sqrt() * beta_prod_prev / beta_prod_t) as f64,
            variance: variance as f64,
            // diffusers clamps at 1e-20 before any log, so β̃ at the last step is never log(0).
            log_variance_clipped: (variance.max(1e-20) as f64).ln(),
            beta: beta_t as f64,
        }
    }

    /// μ̃_t(x_t, x̂_0) (eq. 7). Substituting x̂_0 from ε gives eq. 14's μ_θ.
    pub fn mean<const D: usize>(&self, x_t: Tensor<D>, x0: Tensor<D>) -> Tensor<D> {
        x0.mul_scalar(self.coef_x0).add(x_t.mul_scalar(self.coef_xt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ho_linear_endpoints() {
        let s = Schedule::ho_linear();
        assert_eq!(s.num_train_timesteps(), 1000);
        assert!((s.betas[0] - 1e-4).abs() < 1e-9);
        assert!((s.betas[999] - 0.02).abs() < 1e-9);
        // ᾱ_T ≈ 4.04e-5 for Ho et al.'s schedule (x_T is almost pure noise).
        assert!((s.alphas_cumprod[999] - 4.04e-5).abs() < 1e-6, "{}", s.alphas_cumprod[999]);
    }

    #[test]
    fn posterior_mean_is_eq14_mean() {
        // eq. 14: μ_θ = 1/√α_t (x_t − β_t/√(1−ᾱ_t) ε) must equal μ̃_t(x_t, x̂_0(ε)) (eq. 7).
        let s = Schedule::ho_linear();
        for t in [1usize, 10, 500, 999] {
            let (x_t, eps) = (0.7f64, -1.3f64);
            let a_bar = s.alphas_cumprod[t];
            let x0 = (x_t - (1.0 - a_bar).sqrt() * eps) / a_bar.sqrt();
            let p = s.posterior(t, Some(t - 1));
            let via_x0 = p.coef_x0 * x0 + p.coef_xt * x_t;
            let eq14 = (x_t - s.betas[t] / (1.0 - a_bar).sqrt() * eps) / s.alphas[t].sqrt();
            // β_t recovered as 1 − ᾱ_t/ᾱ_{t−1} in float32 (diffusers' way) loses ~4 digits at t = 1.
            assert!((via_x0 - eq14).abs() < 1e-4 * x0.abs().max(1.0), "t={t}: {via_x0} vs {eq14}");
        }
    }

    #[test]
    fn snr_falls_and_log_variance_is_clipped() {
        let s = Schedule::ho_linear();
        assert!((1..1000).all(|t| s.snr(t) < s.snr(t - 1)));
        // β̃ at the first step is 0: its log is clipped instead of −∞ (diffusers' 1e-20).
        let first = s.posterior(0, None);
        assert_eq!(first.variance, 0.0);
        assert_eq!(first.log_variance_clipped, (1e-20f32 as f64).ln());
        let later = s.posterior(500, Some(499));
        assert!((later.log_variance_clipped - later.variance.ln()).abs() < 1e-12);
        assert!(later.variance < later.beta, "β̃_t < β_t");
    }

    #[test]
    fn cosine_is_capped_and_increasing() {
        let s = Schedule::new(&BetaSchedule::Cosine, 1000).unwrap();
        assert!(s.betas.windows(2).all(|w| w[0] <= w[1]));
        assert!((s.betas[999] - 0.999).abs() < 1e-6);
    }

    #[test]
    fn wrong_trained_betas_length_is_an_error() {
        let err = Schedule::new(&BetaSchedule::Given(vec![0.1; 3]), 4).unwrap_err();
        assert!(err.to_string().contains("3 entries"), "{err}");
    }
}
