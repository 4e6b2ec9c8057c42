//! Inpainting runs in the page: replacement or RePaint over a batch, one move per `step()`.

use std::rc::Rc;

use burn::tensor::{Tensor, TensorData};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::backend::device;
use super::readback::{Wanted, current_promise, step_to_js, to_f32};
use super::run::{Run, export_run};
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

enum Inpainter {
    Replacement(Replacement),
    RePaint(RePaint),
}

/// An inpainting run in progress.
#[wasm_bindgen]
pub struct InpaintSession {
    run: Inpainting,
}

struct Inpainting {
    unet: Rc<UNet2DModel>,
    inpainter: Inpainter,
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
        let (inpainter, total) = match settings.method {
            InpaintMethod::Replacement { sampler } => {
                let sampler = Sampler::new(schedule, sampler.unwrap_or(defaults), [n, channels, size, size], settings.seed, &device())
                    .map_err(js_error)?;
                let total = sampler.timesteps().len();
                (Inpainter::Replacement(Replacement::new(sampler, known, settings.seed)), total)
            }
            InpaintMethod::Repaint(repaint) => {
                let run = RePaint::new(schedule, repaint, known, n, settings.seed).map_err(js_error)?;
                let total = run.total_moves();
                (Inpainter::RePaint(run), total)
            }
        };
        Ok(Self { run: Inpainting { unet, inpainter, total, done_moves: 0 } })
    }
}

impl Inpainting {
    /// x_t now, NCHW.
    fn state(&self) -> Tensor<4> {
        match &self.inpainter {
            Inpainter::Replacement(r) => r.sampler.current().clone(),
            Inpainter::RePaint(r) => r.current().clone(),
        }
    }
}

export_run!(InpaintSession, "Promise<StepOutput | Renoise>");

/// One move a step: a denoising move resolves as `SamplerSession`'s steps do, one of RePaint's
/// jumps back up to `{ renoise: true, xt }`.
impl Run for Inpainting {
    fn total(&self) -> usize {
        self.total
    }

    fn done(&self) -> bool {
        self.done_moves >= self.total
    }

    fn current(&self) -> js_sys::Promise {
        current_promise(self.state())
    }

    fn step(&mut self, wanted: Wanted) -> Result<js_sys::Promise, JsError> {
        wanted.steps(1)?;
        if Run::done(self) {
            return Err(js_error("inpainting is already finished"));
        }
        // Inpainting is unconditional: a class-conditional model runs with its null class.
        let model = self.unet.as_ref();
        let out = match &mut self.inpainter {
            Inpainter::Replacement(r) => Some(r.step(model).map_err(js_error)?),
            Inpainter::RePaint(r) => r.step(model).map_err(js_error)?,
        };
        self.done_moves += 1;
        let state = self.state();
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let obj = match out {
                Some(out) => step_to_js(out, wanted).await?,
                None => {
                    let obj = js_sys::Object::new();
                    set(&obj, "renoise", true);
                    set(&obj, "xt", to_f32(state).await?);
                    obj
                }
            };
            Ok(obj.into())
        }))
    }
}
