//! A loaded model and the sampling runs over it, for the page's worker.

use std::rc::Rc;

use burn::tensor::{Tensor, TensorData};
use js_sys::{Float32Array, Object};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use super::backend::device;
use super::inpaint::{InpaintSession, InpaintSettings};
use super::readback::to_f32;
use super::run::{Sampling, export_run};
use super::settings::{check_keys, field, from_js};
use super::{file_map, js_error};
use crate::checkpoint::{self, Network, NetworkConfig};
use crate::model::{EpsModel, UNet2DModel};
use crate::sampler::{Guided, Sampler, SamplerSettings, SchedulerConfig, check_run_shape};

/// A diffusers model folder loaded in the page.
#[wasm_bindgen]
pub struct Model {
    unet: Rc<UNet2DModel>,
    config: NetworkConfig,
    scheduler: SchedulerConfig,
    dtypes: Vec<String>,
}

#[derive(Serialize, tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    parameters: usize,
    dtypes: Vec<String>,
    in_channels: usize,
    sample_size: Option<usize>,
    num_classes: Option<usize>,
    /// The label that means "no class": what a run without a class uses.
    null_class: Option<usize>,
    default_settings: SamplerSettings,
    scheduler: SchedulerConfig,
}

#[wasm_bindgen]
impl Model {
    /// Loads from `{ "config.json": Uint8Array, "diffusion_pytorch_model.safetensors": … }`
    /// (or `….bin`, or a pipeline's `model_index.json`, `unet/…`, `scheduler/…`).
    #[wasm_bindgen(js_name = fromFiles)]
    pub fn from_files(files: Object) -> Result<Model, JsError> {
        let loaded = checkpoint::load(&file_map(&files)?, &device()).map_err(js_error)?;
        let scheduler = match &loaded.scheduler_config {
            Some(json) => SchedulerConfig::parse(json).map_err(js_error)?,
            None => SchedulerConfig::default(),
        };
        let Network::UNet(unet) = loaded.network else {
            return Err(js_error("this is a 2-D model (Mlp2D): load it with SpiralModel, not Model"));
        };
        Ok(Model { unet: Rc::new(unet), config: loaded.config, scheduler, dtypes: loaded.dtypes })
    }

    #[wasm_bindgen(unchecked_return_type = "ModelInfo")]
    pub fn info(&self) -> Result<JsValue, JsError> {
        let NetworkConfig::UNet(config) = &self.config else { unreachable!("Model holds a UNet") };
        let info = ModelInfo {
            parameters: burn::module::Module::num_params(self.unet.as_ref()),
            dtypes: self.dtypes.clone(),
            in_channels: config.in_channels,
            sample_size: config.sample_size,
            num_classes: self.unet.num_classes(),
            null_class: self.unet.null_class(),
            default_settings: self.scheduler.default_settings().map_err(js_error)?,
            scheduler: self.scheduler.clone(),
        };
        Ok(serde_wasm_bindgen::to_value(&info)?)
    }

    /// One ε_θ(x, t) evaluation on an NCHW array; resolves to a Float32Array.
    pub async fn eps(&self, x: Vec<f32>, shape: Vec<usize>, t: u32, labels: Option<Vec<u32>>) -> Result<Float32Array, JsError> {
        let dims: [usize; 4] = shape.try_into().map_err(|_| js_error("shape must have 4 entries [N, C, H, W]"))?;
        check_run_shape(&dims).map_err(js_error)?;
        if x.len() != dims.iter().product::<usize>() {
            return Err(js_error(format!("{} values do not fill shape {dims:?}", x.len())));
        }
        self.unet.check_input(dims).map_err(js_error)?;
        let labels: Option<Vec<usize>> = labels.map(|l| l.into_iter().map(|v| v as usize).collect());
        self.unet.check_labels(labels.as_deref(), dims[0]).map_err(js_error)?;
        let input = Tensor::from_data(TensorData::new(x, dims), &device());
        let out = self.unet.forward(input, &vec![t as f32; dims[0]], labels.as_deref());
        to_f32(out).await
    }

    /// Starts a sampling run.
    pub fn sampler(&self, #[wasm_bindgen(unchecked_param_type = "RunSettings")] settings: JsValue) -> Result<SamplerSession, JsError> {
        check_keys::<SamplerSettings>(&field(&settings, "sampler"), "run settings: sampler")?;
        check_keys::<GuidanceSettings>(&field(&settings, "guidance"), "run settings: guidance")?;
        check_keys::<StartState>(&field(&settings, "start"), "run settings: start")?;
        let run: RunSettings = from_js(settings, "run settings")?;
        let NetworkConfig::UNet(config) = &self.config else { unreachable!("Model holds a UNet") };
        let size = run.size.or(config.sample_size).ok_or_else(|| js_error("size is needed: the config has no sample_size"))?;
        let dims = [run.batch, config.in_channels, size, size];
        check_run_shape(&dims).map_err(js_error)?;
        self.unet.check_input(dims).map_err(js_error)?;
        let schedule = self.scheduler.schedule().map_err(js_error)?;
        let mut settings = match run.sampler {
            Some(settings) => settings,
            None => self.scheduler.default_settings().map_err(js_error)?,
        };
        let model: Rc<dyn EpsModel<4>> = match run.guidance {
            Some(g) => {
                settings = settings.guided();
                Rc::new(Guided::new(self.unet.clone(), g.weight).map_err(js_error)?)
            }
            None => self.unet.clone(),
        };
        let mut sampler = match run.start {
            None => Sampler::new(schedule, settings, dims, run.seed, &device()).map_err(js_error)?,
            Some(start) => {
                let one = [1, dims[1], dims[2], dims[3]];
                if start.xt.len() != one.iter().product::<usize>() {
                    return Err(js_error(format!("start.xt has {} values, one sample of {one:?} is needed", start.xt.len())));
                }
                let x_t = Tensor::from_data(TensorData::new(start.xt, one), &device());
                Sampler::fork(schedule, settings, x_t, start.t, dims[0], run.seed).map_err(js_error)?
            }
        };
        if let Some(labels) = self.unet.class_labels(run.class, dims[0]).map_err(js_error)? {
            sampler = sampler.with_labels(labels).map_err(js_error)?;
        }
        Ok(SamplerSession { run: Sampling { model, sampler } })
    }

    /// Starts an inpainting run.
    pub fn inpainter(
        &self,
        #[wasm_bindgen(unchecked_param_type = "InpaintSettings")] settings: JsValue,
    ) -> Result<InpaintSession, JsError> {
        check_keys::<SamplerSettings>(&field(&field(&settings, "method"), "sampler"), "inpaint settings: method.sampler")?;
        let settings: InpaintSettings = from_js(settings, "inpaint settings")?;
        let NetworkConfig::UNet(config) = &self.config else { unreachable!("Model holds a UNet") };
        let channels = config.in_channels;
        let size = config.sample_size.unwrap_or_else(|| ((settings.image.len() / channels) as f64).sqrt() as usize);
        let schedule = self.scheduler.schedule().map_err(js_error)?;
        let defaults = self.scheduler.default_settings().map_err(js_error)?;
        InpaintSession::new(self.unet.clone(), schedule, defaults, [channels, size], settings)
    }
}

/// Settings of one run, as a plain JS object.
#[derive(Deserialize, tsify::Tsify)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RunSettings {
    seed: u64,
    #[serde(default = "one")]
    #[tsify(optional)]
    batch: usize,
    /// Image side for models whose config has no sample_size.
    #[tsify(optional)]
    size: Option<usize>,
    /// DDPM/DDIM settings; absent: the checkpoint's scheduler defaults.
    #[tsify(optional)]
    sampler: Option<SamplerSettings>,
    #[tsify(optional)]
    class: Option<usize>,
    /// Classifier-free guidance with weight w (class-conditional models; DDIM then steps with the clipped x̂_0's ε).
    #[tsify(optional)]
    guidance: Option<GuidanceSettings>,
    /// Continue from one x_t at timestep t instead of x_T: `batch` samples of p(x_0 | x_t).
    #[tsify(optional)]
    start: Option<StartState>,
}

#[derive(Deserialize, tsify::Tsify)]
#[serde(deny_unknown_fields)]
pub struct StartState {
    #[tsify(type = "Float32Array | number[]")]
    xt: Vec<f32>,
    t: usize,
}

#[derive(Clone, Copy, Deserialize, tsify::Tsify)]
#[serde(deny_unknown_fields)]
pub struct GuidanceSettings {
    weight: f64,
}

fn one() -> usize {
    1
}

/// A sampling run in progress: each step advances a timestep (`wanted.k` of them) and resolves
/// to `{ t, next, xt, x0?, eps? }` (Float32Arrays, NCHW): ε_θ was evaluated at `t`; `xt` is the
/// new, less noisy state, at timestep `next` (−1 once it is x_0).
#[wasm_bindgen]
pub struct SamplerSession {
    run: Sampling<4>,
}

#[wasm_bindgen]
impl SamplerSession {
    /// The timesteps this run visits, noisiest first.
    pub fn timesteps(&self) -> Vec<u32> {
        self.run.timesteps()
    }
}

export_run!(SamplerSession, "Promise<StepOutput>");
