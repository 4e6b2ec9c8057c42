//! Inpainting runs in the page: replacement or RePaint over a batch, one move per `step()`.

use std::rc::Rc;

use burn::tensor::{Tensor, TensorData};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::backend::device;
use super::readback::{Wanted, current_promise, step_to_js, to_f32};
use super::{js_error, set};
use crate::inpaint::{Known, RePaint, RePaintSettings, Replacement};
use crate::model::UNet2DModel;
use crate::sampler::{Sampler, SamplerSettings};
use crate::schedule::Schedule;

/// Settings of one inpainting run, as a plain JS object.
#[derive(Deserialize, tsify::Tsify)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InpaintSettings {
    pub seed: u64,
    #[serde(default = "one")]
    #[tsify(optional)]
    pub batch: usize,
    /// The known image, [C, H, W] in the model's range [−1, 1].
    #[tsify(type = "Float32Array | number[]")]
    pub image: Vec<f32>,
    /// [H, W], 1 where the image is known, 0 where it is to be filled.
    #[tsify(type = "Float32Array | number[]")]
    pub mask: Vec<f32>,
    pub method: InpaintMethod,
}

fn one() -> usize {
    1
}

#[derive(Deserialize, tsify::Tsify)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InpaintMethod {
    /// The sampler's settings; absent: the checkpoint's defaults.
    Replacement {
        #[tsify(optional)]
        sampler: Option<SamplerSettings>,
    },
    Repaint(RePaintSettings),
}

enum Run {
    Replacement(Replacement),
    RePaint(RePaint),
}

/// An inpainting run in progress.
#[wasm_bindgen]
pub struct InpaintSession {
    unet: Rc<UNet2DModel>,
    run: Run,
    total: usize,
    done_moves: usize,
}

impl InpaintSession {
    pub(crate) fn new(
        unet: Rc<UNet2DModel>,
        schedule: Schedule,
        defaults: SamplerSettings,
        [channels, size]: [usize; 2],
        settings: InpaintSettings,
    ) -> Result<Self, JsError> {
        let one = [1, channels, size, size];
        if settings.image.len() != channels * size * size {
            return Err(js_error(format!(
                "the image has {} values; this model needs {channels}×{size}×{size} = {}",
                settings.image.len(),
                channels * size * size
            )));
        }
        let n = settings.batch.max(1);
        unet.check_input([n, channels, size, size]).map_err(js_error)?;
        let image = Tensor::from_data(TensorData::new(settings.image, one), &device());
        let known = Known::new(image, &settings.mask, &device()).map_err(js_error)?;
        let (run, total) = match settings.method {
            InpaintMethod::Replacement { sampler } => {
                let sampler = Sampler::new(schedule, sampler.unwrap_or(defaults), [n, channels, size, size], settings.seed, &device())
                    .map_err(js_error)?;
                let total = sampler.timesteps().len();
                (Run::Replacement(Replacement::new(sampler, known, settings.seed)), total)
            }
            InpaintMethod::Repaint(repaint) => {
                let run = RePaint::new(schedule, repaint, known, n, settings.seed).map_err(js_error)?;
                let total = run.total_moves();
                (Run::RePaint(run), total)
            }
        };
        Ok(Self { unet, run, total, done_moves: 0 })
    }
}

#[wasm_bindgen]
impl InpaintSession {
    /// Moves in the whole run (RePaint's jumps back up included).
    #[wasm_bindgen(getter)]
    pub fn total(&self) -> usize {
        self.total
    }

    #[wasm_bindgen(getter)]
    pub fn done(&self) -> bool {
        self.done_moves >= self.total
    }

    /// The current state, NCHW.
    pub fn current(&self) -> js_sys::Promise {
        let x = match &self.run {
            Run::Replacement(r) => r.sampler.current().clone(),
            Run::RePaint(r) => r.current().clone(),
        };
        current_promise(x)
    }

    /// One move; resolves to `{ t, next, xt, x0, eps }` after a denoising move (`wanted` as in
    /// `SamplerSession.step`), or to `{ renoise: true, xt }` after one of RePaint's jumps back up.
    #[wasm_bindgen(unchecked_return_type = "Promise<StepOutput | Renoise>")]
    pub fn step(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Wanted | undefined")] wanted: JsValue,
    ) -> Result<js_sys::Promise, JsError> {
        let wanted = Wanted::read(wanted)?;
        wanted.steps(1)?;
        if self.done() {
            return Err(js_error("inpainting is already finished"));
        }
        // Inpainting is unconditional: a class-conditional model runs with its null class.
        let model = self.unet.as_ref();
        let out = match &mut self.run {
            Run::Replacement(r) => Some(r.step(model).map_err(js_error)?),
            Run::RePaint(r) => r.step(model).map_err(js_error)?,
        };
        self.done_moves += 1;
        let current = match &self.run {
            Run::Replacement(r) => r.sampler.current().clone(),
            Run::RePaint(r) => r.current().clone(),
        };
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let obj = match out {
                Some(out) => step_to_js(out, wanted).await?,
                None => {
                    let obj = js_sys::Object::new();
                    set(&obj, "renoise", true);
                    set(&obj, "xt", to_f32(current).await?);
                    obj
                }
            };
            Ok(obj.into())
        }))
    }
}
