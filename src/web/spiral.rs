//! The 2-D spiral in the page (the reference's Fig. 4): the MLP ε_θ loaded or trained live
//! (Algorithm 1), a cloud of particles run through the reverse process, and the drift field.
//! It always runs on the CPU: a 2×128 MLP is too small for a GPU to beat the cost of a dispatch.

use std::rc::Rc;

use burn::tensor::{Device, Tensor, TensorData};
use js_sys::{Float32Array, Object};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::readback::{Wanted, to_f32};
use super::run::{Run, Sampling, export_run};
use super::settings::from_js;
use super::{file_map, js_error, set};
use crate::checkpoint::{self, Network};
use crate::model::{Mlp2D, Mlp2DConfig};
use crate::sampler::{MAX_POINTS, Method, Sampler, SamplerSettings, Variance, drift};
use crate::schedule::Schedule;
use crate::train2d::{Train2d, Train2dSettings};

fn cpu() -> Device {
    Device::flex()
}

/// A 2-D ε_θ, loaded or taken from a live training run. Ho et al.'s schedule.
#[wasm_bindgen]
pub struct SpiralModel {
    model: Rc<Mlp2D>,
    schedule: Schedule,
}

const MAX_TRAIN_STEPS: usize = 1_000_000;

#[derive(Deserialize, tsify::Tsify)]
#[serde(deny_unknown_fields)]
pub struct SpiralRun {
    n: usize,
    seed: u64,
    #[serde(default = "all_steps")]
    #[tsify(optional)]
    steps: usize,
}

fn all_steps() -> usize {
    1000
}

#[wasm_bindgen]
impl SpiralModel {
    /// Loads `{ "config.json", "diffusion_pytorch_model.safetensors" }` of an Mlp2D folder.
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(files: Object) -> Result<SpiralModel, JsError> {
        let loaded = checkpoint::load(&file_map(&files)?, &cpu()).map_err(js_error)?;
        let Network::Mlp2D(model) = loaded.network else {
            return Err(js_error("this is an image model (UNet2DModel): load it with Model, not SpiralModel"));
        };
        Ok(Self { model: Rc::new(model), schedule: Schedule::ho_linear() })
    }

    /// Starts the reverse process for `n` particles from N(0, I).
    pub fn sampler(&self, #[wasm_bindgen(unchecked_param_type = "SpiralRun")] settings: JsValue) -> Result<SpiralSession, JsError> {
        let run: SpiralRun = from_js(settings, "spiral run")?;
        if !(1..=MAX_POINTS).contains(&run.n) {
            return Err(js_error(format!("n must be 1 to {MAX_POINTS} particles")));
        }
        let settings = SamplerSettings {
            method: Method::Ddpm { variance: Variance::FixedSmall },
            steps: run.steps,
            clip_sample: None,
            ..Default::default()
        };
        let sampler = Sampler::new(self.schedule.clone(), settings, [run.n, 2], run.seed, &cpu()).map_err(js_error)?;
        Ok(SpiralSession { run: Sampling { model: self.model.clone(), sampler } })
    }

    /// μ_θ(x, t) − x at `points` ([N, 2] row-major) for a step from `t` to `prev` (−1: the end).
    pub async fn drift(&self, points: Vec<f32>, t: u32, prev: i32) -> Result<Float32Array, JsError> {
        if !points.len().is_multiple_of(2) {
            return Err(js_error("points must be [N, 2]: an even number of values"));
        }
        let t = t as usize;
        let prev = usize::try_from(prev).ok();
        if t >= self.schedule.num_train_timesteps() || prev.is_some_and(|p| p >= t) {
            return Err(js_error(format!("a step goes from t in 0..{} down to an earlier prev", self.schedule.num_train_timesteps())));
        }
        let n = points.len() / 2;
        let x = Tensor::from_data(TensorData::new(points, [n, 2]), &cpu());
        to_f32(drift(&self.schedule, self.model.as_ref(), x, t, prev, None)).await
    }
}

/// Particles on their way from N(0, I) to the spiral: a step's `xt` holds them, [N, 2], at `next`.
#[wasm_bindgen]
pub struct SpiralSession {
    run: Sampling<2>,
}

#[wasm_bindgen]
impl SpiralSession {
    pub fn timesteps(&self) -> Vec<u32> {
        self.run.timesteps()
    }
}

export_run!(SpiralSession, "Promise<StepOutput>");

#[derive(Deserialize, tsify::Tsify)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TrainerSettings {
    steps: usize,
    #[serde(default = "batch")]
    #[tsify(optional)]
    batch: usize,
    #[serde(default = "learning_rate")]
    #[tsify(optional)]
    learning_rate: f64,
    #[serde(default)]
    #[tsify(optional)]
    seed: u64,
}

fn batch() -> usize {
    Train2dSettings::default().batch
}

fn learning_rate() -> f64 {
    Train2dSettings::default().learning_rate
}

/// Algorithm 1 run live on the spiral, from fresh weights (burn autodiff in wasm).
#[wasm_bindgen]
pub struct SpiralTrainer {
    run: Train2d,
}

#[wasm_bindgen]
impl SpiralTrainer {
    /// The learning rate decays to 0 over `steps`.
    #[wasm_bindgen(constructor)]
    pub fn new(#[wasm_bindgen(unchecked_param_type = "TrainerSettings")] settings: JsValue) -> Result<SpiralTrainer, JsError> {
        let s: TrainerSettings = from_js(settings, "training settings")?;
        if !(1..=MAX_TRAIN_STEPS).contains(&s.steps)
            || !(1..=MAX_POINTS).contains(&s.batch)
            || !(0.0..=1.0).contains(&s.learning_rate) // NaN too
            || s.learning_rate == 0.0
        {
            return Err(js_error(format!(
                "training needs 1 to {MAX_TRAIN_STEPS} steps, a batch of 1 to {MAX_POINTS} and a learning rate in (0, 1]"
            )));
        }
        let settings = Train2dSettings { steps: s.steps, batch: s.batch, learning_rate: s.learning_rate, seed: s.seed };
        let run = Train2d::new(&Mlp2DConfig::default(), Schedule::ho_linear(), settings, &cpu()).map_err(js_error)?;
        Ok(Self { run })
    }

    /// The weights as they are now, for sampling.
    pub fn model(&self) -> SpiralModel {
        SpiralModel { model: Rc::new(self.run.model()), schedule: Schedule::ho_linear() }
    }
}

export_run!(SpiralTrainer, "Promise<{ step: number; loss: number }>");

/// A step resolves to `{ step, loss }`: the training steps taken so far and the mean L_simple
/// over this call's; `current()` to `{ step }`.
impl Run for Train2d {
    fn total(&self) -> usize {
        Train2d::total(self)
    }

    fn done(&self) -> bool {
        self.is_done()
    }

    fn current(&self) -> js_sys::Promise {
        let obj = Object::new();
        set(&obj, "step", self.step as u32);
        js_sys::Promise::resolve(&JsValue::from(obj))
    }

    fn step(&mut self, wanted: Wanted) -> Result<js_sys::Promise, JsError> {
        let k = wanted.steps(MAX_TRAIN_STEPS)?;
        let mut losses = Vec::new();
        while losses.len() < k && !self.is_done() {
            losses.push(Train2d::step(self).detach());
        }
        if losses.is_empty() {
            return Err(js_error("training has already run all its steps"));
        }
        let step = self.step;
        let mean = Tensor::cat(losses, 0).mean();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let obj = Object::new();
            set(&obj, "step", step as u32);
            set(&obj, "loss", to_f32(mean).await?.get_index(0));
            Ok(obj.into())
        }))
    }
}

/// `n` points of the spiral itself, [n, 2] row-major: the target the particles are held against.
#[wasm_bindgen(js_name = spiralPoints)]
pub fn spiral_points(n: usize, seed: u64) -> Result<Float32Array, JsError> {
    if !(1..=MAX_POINTS).contains(&n) {
        return Err(js_error(format!("n must be 1 to {MAX_POINTS} points")));
    }
    Ok(Float32Array::from(crate::data2d::spiral(n, seed).as_slice()))
}

/// Sliced Wasserstein-1 distance between two equal-sized point sets [n, 2] (64 directions).
#[wasm_bindgen(js_name = slicedWasserstein)]
pub fn sliced_wasserstein(a: &[f32], b: &[f32]) -> Result<f64, JsError> {
    if a.len() != b.len() || !a.len().is_multiple_of(2) || a.is_empty() {
        return Err(js_error("two non-empty point sets [n, 2] of the same size are needed"));
    }
    Ok(crate::data2d::sliced_wasserstein(a, b, 64))
}
