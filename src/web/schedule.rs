//! The forward process for the page: the schedule's curves and x_t ~ q(x_t | x_0) with a seed.

use burn::tensor::{Tensor, TensorData};
use js_sys::{Float32Array, Object};
use wasm_bindgen::prelude::*;

use super::backend::device;
use super::{js_error, set};
use crate::noise::BatchNoise;
use crate::sampler::SchedulerConfig;
use crate::schedule::Schedule;

/// A β schedule built from a diffusers scheduler config (a plain object; absent fields take
/// diffusers' defaults, so `{}` is Ho et al.'s linear schedule with T = 1000).
#[wasm_bindgen]
pub struct NoiseSchedule {
    schedule: Schedule,
}

#[wasm_bindgen]
impl NoiseSchedule {
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "SchedulerConfig | undefined")] config: JsValue) -> Result<NoiseSchedule, JsError> {
        let config: SchedulerConfig =
            if config.is_undefined() || config.is_null() { SchedulerConfig::default() } else { serde_wasm_bindgen::from_value(config)? };
        Ok(NoiseSchedule { schedule: config.schedule().map_err(js_error)? })
    }

    #[wasm_bindgen(getter, js_name = numTrainTimesteps)]
    pub fn num_train_timesteps(&self) -> usize {
        self.schedule.num_train_timesteps()
    }

    /// `{ betas, alphasCumprod, logSnr }`, Float32Arrays indexed by t = 0..T−1.
    pub fn curves(&self) -> Object {
        let s = &self.schedule;
        let to_array = |values: Vec<f64>| Float32Array::from(values.into_iter().map(|v| v as f32).collect::<Vec<_>>().as_slice());
        let out = Object::new();
        set(&out, "betas", to_array(s.betas.clone()));
        set(&out, "alphasCumprod", to_array(s.alphas_cumprod.clone()));
        set(&out, "logSnr", to_array((0..s.num_train_timesteps()).map(|t| s.snr(t).ln()).collect()));
        out
    }

    /// x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε for an NCHW batch, ε drawn with `seed` (sample i from
    /// stream i, as the samplers draw): the same seed gives the same x_t for every t.
    pub async fn noised(&self, x0: Vec<f32>, shape: Vec<usize>, t: usize, seed: u64) -> Result<Float32Array, JsError> {
        let dims: [usize; 4] = shape.try_into().map_err(|_| js_error("shape must have 4 entries [N, C, H, W]"))?;
        if x0.len() != dims.iter().product::<usize>() {
            return Err(js_error(format!("{} values do not fill shape {dims:?}", x0.len())));
        }
        if t >= self.schedule.num_train_timesteps() {
            return Err(js_error(format!("t = {t} is outside 0..{}", self.schedule.num_train_timesteps())));
        }
        let device = device();
        let noise = BatchNoise::new(seed, dims[0]).draw(dims, &device);
        let x0 = Tensor::from_data(TensorData::new(x0, dims), &device);
        super::readback::to_f32(self.schedule.q_sample(x0, &[t], noise)).await
    }
}
