//! Inpainting with a known mask m (1 = known pixel, 0 = to fill), for a model trained without
//! masks: "replacement" (Song et al. 2021) overwrites the known region after every step with
//! the input forward-noised to the new t; RePaint (Lugmayr et al. 2022) adds resampling, jumping
//! back up `jump_length` steps `jump_n_sample − 1` times so the filled region harmonises.
//! The RePaint maths follow diffusers' `RePaintScheduler`.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::EpsModel;
use crate::noise::BatchNoise;
use crate::sampler::{Sampler, StepOutput, check_clip, check_eta, check_run_shape, ddim};
use crate::schedule::Schedule;

/// Which quadrants of the image are known (the rest is filled in).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quadrants {
    pub top_left: bool,
    pub top_right: bool,
    pub bottom_left: bool,
    pub bottom_right: bool,
}

impl Quadrants {
    /// "1100" → the top half known: four 0/1 for TL TR BL BR (the CLI's `--known`, the page's link).
    pub fn parse(code: &str) -> Result<Self> {
        let bits: Vec<bool> = code.chars().map(|c| c == '1').collect();
        if bits.len() != 4 || !code.chars().all(|c| c == '0' || c == '1') {
            return Err(Error::Input(format!("known quadrants \"{code}\": give four 0/1 for TL TR BL BR, e.g. 1100")));
        }
        Ok(Self { top_left: bits[0], top_right: bits[1], bottom_left: bits[2], bottom_right: bits[3] })
    }

    /// The mask [h, w], 1 where known.
    pub fn mask(&self, h: usize, w: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(h * w);
        for y in 0..h {
            for x in 0..w {
                let known = match (y < h / 2, x < w / 2) {
                    (true, true) => self.top_left,
                    (true, false) => self.top_right,
                    (false, true) => self.bottom_left,
                    (false, false) => self.bottom_right,
                };
                out.push(if known { 1.0 } else { 0.0 });
            }
        }
        out
    }
}

/// A known image and its mask, ready to combine with samples of shape [n, c, h, w].
#[derive(Clone, Debug)]
pub struct Known {
    /// x_0 of the known image, [1, c, h, w], values in the model's range.
    pub image: Tensor<4>,
    /// [1, 1, h, w], 1 = known.
    pub mask: Tensor<4>,
}

impl Known {
    pub fn new(image: Tensor<4>, mask: &[f32], device: &Device) -> Result<Self> {
        let [n, _, h, w] = image.dims();
        if n != 1 {
            return Err(Error::Input(format!("inpainting takes one known image, got a batch of {n}")));
        }
        if mask.len() != h * w {
            return Err(Error::Input(format!("mask has {} values, the image has {h}×{w} = {} pixels", mask.len(), h * w)));
        }
        if mask.iter().any(|&m| !(0.0..=1.0).contains(&m)) {
            return Err(Error::Input("mask values must lie in [0, 1]".into()));
        }
        let mask = Tensor::from_data(TensorData::new(mask.to_vec(), [1, 1, h, w]), device);
        Ok(Self { image, mask })
    }

    /// The known image at the noise level of timestep `t` for a batch shaped like `noise`:
    /// q(x_t | x_0) drawn with `noise`, or the image itself once t is past the end (None).
    pub fn at(&self, schedule: &Schedule, t: Option<usize>, noise: Tensor<4>) -> Tensor<4> {
        let image = self.image.clone().expand(noise.dims());
        match t {
            Some(t) => schedule.q_sample(image, &[t], noise),
            None => image,
        }
    }

    /// m ⊙ known + (1 − m) ⊙ x.
    pub fn merge(&self, known: Tensor<4>, x: Tensor<4>) -> Tensor<4> {
        let m = self.mask.clone();
        known.mul(m.clone()).add(x.mul(m.neg().add_scalar(1.0)))
    }
}

/// Replacement inpainting: a sampler whose state is projected onto the known region after
/// every step. At the end (t = 0) the known region equals the input exactly.
pub struct Replacement {
    pub sampler: Sampler<4>,
    known: Known,
    noise: BatchNoise,
}

impl Replacement {
    /// `seed` draws x_T and the sampler's noise; the known region's forward noise comes from
    /// a separate stream family so that the two never correlate.
    pub fn new(sampler: Sampler<4>, known: Known, seed: u64) -> Self {
        let n = sampler.current().dims()[0];
        Self { sampler, known, noise: BatchNoise::for_samples(seed ^ 0x5eed_1a7e_u64, 0, n) }
    }

    pub fn step<M: EpsModel<4>>(&mut self, model: &M) -> Result<StepOutput<4>> {
        let mut out = self.sampler.step(model)?;
        let prev = self.sampler.next_t();
        // Drawn only while the state is still noisy, so the stream matches the steps that use it.
        let z = match prev {
            Some(_) => self.noise.draw(out.sample.dims(), &out.sample.device()),
            None => Tensor::zeros(out.sample.dims(), &out.sample.device()),
        };
        let known_now = self.known.at(self.sampler.schedule(), prev, z);
        out.sample = self.known.merge(known_now, out.sample);
        self.sampler.set_current(out.sample.clone());
        Ok(out)
    }
}

/// One entry of RePaint's timestep walk: denoise from `t`, or re-noise back up from `t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RePaintMove {
    Denoise(usize),
    Renoise(usize),
}

pub const MAX_RESAMPLINGS: usize = 100;

/// diffusers' `RePaintScheduler.set_timesteps`: the walk down with jumps back up.
pub fn repaint_timesteps(num_train: usize, num_steps: usize, jump_length: usize, jump_n_sample: usize) -> Result<Vec<usize>> {
    if num_steps == 0 || jump_length == 0 || jump_n_sample == 0 {
        return Err(Error::Input("RePaint needs steps, jump length and resamplings all ≥ 1".into()));
    }
    // Lugmayr et al. use 10; the walk is about steps × resamplings long.
    if jump_n_sample > MAX_RESAMPLINGS {
        return Err(Error::Input(format!("RePaint takes at most {MAX_RESAMPLINGS} resamplings, not {jump_n_sample}")));
    }
    let num_steps = num_steps.min(num_train);
    let mut jumps = std::collections::HashMap::new();
    let mut j = 0;
    while j + jump_length < num_steps {
        jumps.insert(j, jump_n_sample - 1);
        j += jump_length;
    }
    let mut out = Vec::new();
    let mut t = num_steps;
    while t >= 1 {
        t -= 1;
        out.push(t);
        if let Some(left) = jumps.get_mut(&t)
            && *left > 0
        {
            *left -= 1;
            for _ in 0..jump_length {
                t += 1;
                out.push(t);
            }
        }
    }
    let stride = num_train / num_steps;
    Ok(out.into_iter().map(|t| t * stride).collect())
}

/// The walk as moves, as `RePaintPipeline` interprets the timesteps.
pub fn repaint_moves(timesteps: &[usize]) -> Vec<RePaintMove> {
    let mut last = timesteps.first().map_or(0, |t| t + 1);
    timesteps
        .iter()
        .map(|&t| {
            let m = if t < last { RePaintMove::Denoise(t) } else { RePaintMove::Renoise(last) };
            last = t;
            m
        })
        .collect()
}

/// One RePaint denoising step at `t` (stride `stride`): the unknown part by a DDIM step with η
/// (RePaint's ᾱ past the end is 1), the known part forward-noised to the new level with the
/// same noise.
#[allow(clippy::too_many_arguments)]
pub fn repaint_step(
    schedule: &Schedule,
    eta: f64,
    clip: Option<f64>,
    stride: usize,
    eps: Tensor<4>,
    t: usize,
    x_t: Tensor<4>,
    known: &Known,
    noise: Tensor<4>,
) -> (Tensor<4>, Tensor<4>) {
    let prev = t.checked_sub(stride);
    let unknown = ddim::step(schedule, eta, 1.0, clip, false, eps, t, prev, x_t, noise.clone());
    let known_part = known.at(schedule, prev, noise);
    (known.merge(known_part, unknown.prev_sample), unknown.pred_original_sample)
}

/// RePaint's jump back up: `stride` forward steps q(x_{s+1} | x_s) from `t`, with the i-th
/// noise draw from `noise(i)`.
pub fn repaint_renoise(
    schedule: &Schedule,
    stride: usize,
    t: usize,
    mut x: Tensor<4>,
    mut noise: impl FnMut(usize) -> Tensor<4>,
) -> Tensor<4> {
    for i in 0..stride {
        let beta = schedule.betas[(t + i).min(schedule.num_train_timesteps() - 1)];
        let z = noise(i);
        x = x.mul_scalar((1.0 - beta).sqrt()).add(z.mul_scalar(beta.sqrt()));
    }
    x
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct RePaintSettings {
    pub steps: usize,
    pub jump_length: usize,
    pub jump_n_sample: usize,
    pub eta: f64,
    pub clip_sample: Option<f64>,
}

impl Default for RePaintSettings {
    /// Lugmayr et al.'s defaults (250 steps, j = 10, r = 10), ancestral (η = 1).
    fn default() -> Self {
        Self { steps: 250, jump_length: 10, jump_n_sample: 10, eta: 1.0, clip_sample: Some(1.0) }
    }
}

/// A RePaint run over a batch, advanced one move at a time.
pub struct RePaint {
    schedule: Schedule,
    settings: RePaintSettings,
    moves: Vec<RePaintMove>,
    position: usize,
    stride: usize,
    x: Tensor<4>,
    known: Known,
    noise: BatchNoise,
}

impl RePaint {
    pub fn new(schedule: Schedule, settings: RePaintSettings, known: Known, n: usize, seed: u64) -> Result<Self> {
        let [_, c, h, w] = known.image.dims();
        check_run_shape(&[n, c, h, w])?;
        check_eta(settings.eta, "RePaint")?;
        check_clip(settings.clip_sample)?;
        let num_train = schedule.num_train_timesteps();
        let ts = repaint_timesteps(num_train, settings.steps, settings.jump_length, settings.jump_n_sample)?;
        let mut noise = BatchNoise::new(seed, n);
        let x = noise.draw([n, c, h, w], &known.image.device());
        Ok(Self {
            stride: num_train / settings.steps.min(num_train),
            schedule,
            settings,
            moves: repaint_moves(&ts),
            position: 0,
            x,
            known,
            noise,
        })
    }

    pub fn total_moves(&self) -> usize {
        self.moves.len()
    }

    pub fn is_done(&self) -> bool {
        self.position >= self.moves.len()
    }

    pub fn current(&self) -> &Tensor<4> {
        &self.x
    }

    /// One move; a denoising move returns what the model saw and predicted.
    pub fn step<M: EpsModel<4>>(&mut self, model: &M) -> Result<Option<StepOutput<4>>> {
        let mv = *self.moves.get(self.position).ok_or_else(|| Error::Input("inpainting is already finished".into()))?;
        self.position += 1;
        match mv {
            RePaintMove::Denoise(t) => {
                let eps = model.eps(self.x.clone(), t, None);
                let z = self.noise.draw(self.x.dims(), &self.x.device());
                let (sample, pred_x0) = repaint_step(
                    &self.schedule,
                    self.settings.eta,
                    self.settings.clip_sample,
                    self.stride,
                    eps.clone(),
                    t,
                    self.x.clone(),
                    &self.known,
                    z,
                );
                self.x = sample.clone();
                Ok(Some(StepOutput { t, sample, next_t: t.checked_sub(self.stride), pred_x0, pred_eps: eps }))
            }
            RePaintMove::Renoise(t) => {
                let (dims, device) = (self.x.dims(), self.x.device());
                let noise = &mut self.noise;
                self.x = repaint_renoise(&self.schedule, self.stride, t, self.x.clone(), |_| noise.draw(dims, &device));
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repaint_walk_and_batch_are_bounded() {
        repaint_timesteps(1000, 50, 5, MAX_RESAMPLINGS).unwrap();
        let err = repaint_timesteps(1000, 50, 5, MAX_RESAMPLINGS + 1).unwrap_err().to_string();
        assert!(err.contains("at most 100 resamplings"), "{err}");
        let device = Device::flex();
        let known = || Known::new(Tensor::zeros([1, 1, 8, 8], &device), &[1.0; 64], &device).unwrap();
        let settings = RePaintSettings { steps: 10, jump_length: 2, jump_n_sample: 2, ..Default::default() };
        assert!(RePaint::new(Schedule::ho_linear(), settings.clone(), known(), 2, 0).is_ok());
        for (n, settings) in [
            (65, settings.clone()),
            (0, settings.clone()),
            (1, RePaintSettings { eta: 1.5, ..settings.clone() }),
            (1, RePaintSettings { clip_sample: Some(f64::NAN), ..settings.clone() }),
        ] {
            assert!(RePaint::new(Schedule::ho_linear(), settings.clone(), known(), n, 0).is_err(), "{n} {settings:?}");
        }
    }

    #[test]
    fn quadrant_mask() {
        let q = Quadrants::parse("0001").unwrap();
        assert_eq!(q, Quadrants { bottom_right: true, ..Default::default() });
        let m = q.mask(4, 4);
        assert_eq!(m, vec![0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 1., 1., 0., 0., 1., 1.]);
        // An odd side: the middle row and column belong to the bottom and right quadrants.
        let m = Quadrants::parse("1000").unwrap().mask(3, 3);
        assert_eq!(m, vec![1., 0., 0., 0., 0., 0., 0., 0., 0.]);
        for bad in ["", "101", "10101", "1x00", "1 00"] {
            let err = Quadrants::parse(bad).unwrap_err().to_string();
            assert!(err.contains("four 0/1"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn repaint_walk_matches_diffusers_shape() {
        // diffusers: set_timesteps(10, jump_length=2, jump_n_sample=2) on T = 1000
        let ts = repaint_timesteps(1000, 10, 2, 2).unwrap();
        assert_eq!(ts[0], 900);
        assert_eq!(*ts.last().unwrap(), 0);
        // every jump goes back up by exactly jump_length strides
        let ups = ts.windows(2).filter(|w| w[1] > w[0]).count();
        assert_eq!(ups, 2 * 4); // jumps at 0, 2, 4, 6 each add 2 up-moves
    }
}
