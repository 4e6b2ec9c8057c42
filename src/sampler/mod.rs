//! Samplers that run the reverse process one step at a time and expose, after every step, the
//! new x_t, the predicted x̂_0 and ε̂ — what the page shows. DDPM (Algorithm 2) and DDIM;
//! forks (N samples of p(x_0 | x_t) from one x_t); classifier-free guidance.

pub mod bounds;
pub mod ddim;
pub mod ddpm;
pub mod guidance;
pub mod scheduler_config;
pub mod timesteps;

use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub use bounds::{MAX_BATCH, MAX_POINTS, MAX_STATE_VALUES, check_clip, check_eta, check_run_shape};
pub use ddpm::Variance;
pub use guidance::Guided;
pub use scheduler_config::SchedulerConfig;
pub use timesteps::Spacing;

use crate::error::{Error, Result};
use crate::model::EpsModel;
use crate::noise::BatchNoise;
use crate::schedule::Schedule;

/// x̂_0 from ε̂, clipped to [−range, range] when the model was trained on images.
pub fn predict_x0<const D: usize>(schedule: &Schedule, x_t: Tensor<D>, eps: Tensor<D>, t: usize, clip: Option<f64>) -> Tensor<D> {
    let x0 = schedule.predict_x0(x_t, eps, t);
    match clip {
        Some(range) => x0.clamp(-range, range),
        None => x0,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Method {
    Ddpm {
        variance: Variance,
    },
    /// `use_clipped_model_output` (diffusers' name and default, false) steps with the ε implied
    /// by the clipped x̂_0; `SamplerSettings::guided` turns it on, see `ddim`. Where the last
    /// step lands (`set_alpha_to_one`) belongs to the scheduler config: `Schedule::final_alpha_cumprod`.
    Ddim {
        eta: f64,
        #[serde(default)]
        #[cfg_attr(target_arch = "wasm32", tsify(optional))]
        use_clipped_model_output: bool,
    },
}

impl Method {
    /// The steps a run takes when none are asked for: Algorithm 2 visits every timestep; DDIM
    /// skips, and 50 is where Song et al.'s Table 1 has it close to 1000 DDPM steps.
    pub fn default_steps(&self, num_train_timesteps: usize) -> usize {
        match self {
            Self::Ddpm { .. } => num_train_timesteps,
            Self::Ddim { .. } => 50,
        }
    }
}

/// The samplers by the names the page's menu, the CLI's `--sampler` and train/evaluate.py share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum SamplerName {
    /// Algorithm 2 with σ_t² = β̃_t (eq. 7's posterior variance)
    DdpmSmall,
    /// Algorithm 2 with σ_t² = β_t
    DdpmLarge,
    /// DDIM (Song et al. 2021), η from 0 (deterministic) to 1
    Ddim,
}

impl SamplerName {
    pub fn method(self, eta: f64) -> Method {
        match self {
            Self::DdpmSmall => Method::Ddpm { variance: Variance::FixedSmall },
            Self::DdpmLarge => Method::Ddpm { variance: Variance::FixedLarge },
            Self::Ddim => Method::Ddim { eta, use_clipped_model_output: false },
        }
    }
}

/// The drift of one reverse step, μ_θ(x_t, t) − x_t, from `t` to `prev`: where eq. 14's mean
/// moves a point, before the noise σ_t z is added (the arrows of the page's spiral view).
pub fn drift<const D: usize, M: EpsModel<D>>(
    schedule: &Schedule,
    model: &M,
    x_t: Tensor<D>,
    t: usize,
    prev: Option<usize>,
    clip: Option<f64>,
) -> Tensor<D> {
    let eps = model.eps(x_t.clone(), t, None);
    let x0 = predict_x0(schedule, x_t.clone(), eps, t, clip);
    schedule.posterior(t, prev).mean(x_t.clone(), x0).sub(x_t)
}

/// Everything that decides a run besides the model and the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct SamplerSettings {
    pub method: Method,
    /// Number of denoising steps (≤ T).
    pub steps: usize,
    pub spacing: Spacing,
    pub steps_offset: usize,
    /// Clip x̂_0 to [−range, range] (models trained on images in [−1, 1]).
    pub clip_sample: Option<f64>,
}

/// diffusers' defaults, written once: those of a scheduler config that sets nothing.
impl Default for SamplerSettings {
    fn default() -> Self {
        SchedulerConfig::default().default_settings().expect("the default scheduler config is valid")
    }
}

impl SamplerSettings {
    /// The settings for classifier-free guidance: DDIM steps with the ε of the clipped x̂_0,
    /// since guided x̂_0 leaves [−1, 1] often (see `ddim`).
    pub fn guided(mut self) -> Self {
        if let Method::Ddim { use_clipped_model_output, .. } = &mut self.method {
            *use_clipped_model_output = true;
        }
        self
    }

    /// η in [0, 1], a positive finite clip range (the step count is checked against T when the
    /// timesteps are made).
    pub fn validate(&self) -> Result<()> {
        if let Method::Ddim { eta, .. } = self.method {
            check_eta(eta, "DDIM")?;
        }
        check_clip(self.clip_sample)
    }
}

/// What one step produced. `t` is the timestep the model was evaluated at.
#[derive(Debug)]
pub struct StepOutput<const D: usize> {
    pub t: usize,
    /// x at the next (less noisy) timestep; x_0 after the last step.
    pub sample: Tensor<D>,
    /// The timestep `sample` sits at: the next step evaluates ε_θ there; None once it is x_0.
    pub next_t: Option<usize>,
    pub pred_x0: Tensor<D>,
    pub pred_eps: Tensor<D>,
}

/// One reverse-process run over a batch, advanced by `step`.
pub struct Sampler<const D: usize> {
    schedule: Schedule,
    settings: SamplerSettings,
    timesteps: Vec<usize>,
    position: usize,
    x: Tensor<D>,
    noise: BatchNoise,
    labels: Option<Vec<usize>>,
}

impl<const D: usize> Sampler<D> {
    /// Starts from x_T ~ N(0, I) drawn with `seed` (sample i from stream i). DDIM image runs
    /// take x_T on the sphere |x_T| = √d instead (`BatchNoise::draw_on_sphere`, same direction):
    /// ε_θ barely follows |x_T|, and DDIM's deterministic path keeps the part of x_T that ε̂
    /// leaves unexplained to the end, as speckle that grows with |x_T| (the faces64 card measures it).
    /// DDPM (Algorithm 2) draws as written: fresh noise at every step washes the radius out.
    /// Particle runs ([N, 2]) draw as written too: two values do not concentrate on a sphere.
    pub fn new(schedule: Schedule, settings: SamplerSettings, shape: [usize; D], seed: u64, device: &Device) -> Result<Self> {
        check_run_shape(&shape)?;
        settings.validate()?;
        let mut noise = BatchNoise::new(seed, shape[0]);
        let x_big_t = match settings.method {
            Method::Ddim { .. } if D > 2 => noise.draw_on_sphere(shape, device),
            _ => noise.draw(shape, device),
        };
        Self::from_state(schedule, settings, x_big_t, None, noise)
    }

    /// Continues from a given x at timestep `start_t` (the first step evaluates ε_θ there).
    pub fn from_state(
        schedule: Schedule,
        settings: SamplerSettings,
        x: Tensor<D>,
        start_t: Option<usize>,
        noise: BatchNoise,
    ) -> Result<Self> {
        check_run_shape(&x.dims())?;
        settings.validate()?;
        let all = timesteps::timesteps(schedule.num_train_timesteps(), settings.steps, settings.spacing, settings.steps_offset)?;
        let timesteps = match start_t {
            None => all,
            Some(t) => {
                if t >= schedule.num_train_timesteps() {
                    return Err(Error::Input(format!("t = {t} is outside 0..{}", schedule.num_train_timesteps())));
                }
                all.into_iter().filter(|&s| s <= t).collect()
            }
        };
        if x.dims()[0] != noise.batch() {
            return Err(Error::Input("noise streams and batch differ".into()));
        }
        Ok(Self { schedule, settings, timesteps, position: 0, x, noise, labels: None })
    }

    /// N samples of p(x_0 | x_t) continuing from one x_t ([1, …]): the same state, N noise
    /// streams (seeded by `seed`, sample i from stream i).
    pub fn fork(schedule: Schedule, settings: SamplerSettings, x_t: Tensor<D>, t: usize, n: usize, seed: u64) -> Result<Self> {
        if x_t.dims()[0] != 1 || n == 0 {
            return Err(Error::Input(format!("fork takes one x_t ([1, …]) and n ≥ 1, got batch {} and n = {n}", x_t.dims()[0])));
        }
        let mut shape = x_t.dims();
        shape[0] = n;
        check_run_shape(&shape)?;
        let x = x_t.repeat_dim(0, n);
        Self::from_state(schedule, settings, x, Some(t), BatchNoise::new(seed, n))
    }

    pub fn with_labels(mut self, labels: Vec<usize>) -> Result<Self> {
        if labels.len() != self.x.dims()[0] {
            return Err(Error::Input(format!("{} labels for a batch of {}", labels.len(), self.x.dims()[0])));
        }
        self.labels = Some(labels);
        Ok(self)
    }

    pub fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    /// The timestep the next step will evaluate ε_θ at, None when done.
    pub fn next_t(&self) -> Option<usize> {
        self.timesteps.get(self.position).copied()
    }

    pub fn is_done(&self) -> bool {
        self.position >= self.timesteps.len()
    }

    pub fn current(&self) -> &Tensor<D> {
        &self.x
    }

    /// Replaces the current state (inpainting's projection of the known region).
    pub fn set_current(&mut self, x: Tensor<D>) {
        self.x = x;
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// The timestep after the next step, None at the end.
    pub fn prev_t(&self) -> Option<usize> {
        self.timesteps.get(self.position + 1).copied()
    }

    /// One reverse step with `model`. Errors when the run is already finished.
    pub fn step<M: EpsModel<D> + ?Sized>(&mut self, model: &M) -> Result<StepOutput<D>> {
        let t = self.next_t().ok_or_else(|| Error::Input("sampling is already finished".into()))?;
        let prev = self.prev_t();
        let x_t = self.x.clone();
        let eps = model.eps(x_t.clone(), t, self.labels.as_deref());
        // Draw z only where it is used: every DDPM step but the last, DDIM with η > 0.
        let needs_noise = match self.settings.method {
            Method::Ddpm { .. } => t > 0,
            Method::Ddim { eta, .. } => eta > 0.0,
        };
        let z = if needs_noise { self.noise.draw(x_t.dims(), &x_t.device()) } else { Tensor::zeros(x_t.dims(), &x_t.device()) };
        let clip = self.settings.clip_sample;
        let (sample, pred_x0) = match self.settings.method {
            Method::Ddpm { variance } => {
                let out = ddpm::step(&self.schedule, variance, clip, eps.clone(), t, prev, x_t, z);
                (out.prev_sample, out.pred_original_sample)
            }
            Method::Ddim { eta, use_clipped_model_output } => {
                let final_alpha_bar = self.schedule.final_alpha_cumprod;
                let out = ddim::step(&self.schedule, eta, final_alpha_bar, clip, use_clipped_model_output, eps.clone(), t, prev, x_t, z);
                (out.prev_sample, out.pred_original_sample)
            }
        };
        self.x = sample.clone();
        self.position += 1;
        Ok(StepOutput { t, sample, next_t: prev, pred_x0, pred_eps: eps })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_sizes_and_settings_are_bounded_before_anything_is_drawn() {
        let device = Device::flex();
        let ddpm = SamplerSettings { steps: 10, ..Default::default() };
        let new = |settings: &SamplerSettings, shape: [usize; 4]| {
            Sampler::new(Schedule::ho_linear(), settings.clone(), shape, 0, &device).map(|_| ())
        };
        new(&ddpm, [MAX_BATCH, 1, 8, 8]).unwrap();
        for (shape, expected) in [
            ([0, 1, 8, 8], "1 to 64 samples, not 0"),
            ([MAX_BATCH + 1, 1, 8, 8], "not 65"),
            ([1, 1, 0, 8], "is empty"),
            ([1, 3, 1 << 20, 1 << 20], "over 67108864 values"),
            ([1, usize::MAX, usize::MAX, 2], "over"),
        ] {
            let err = new(&ddpm, shape).unwrap_err().to_string();
            assert!(err.contains(expected), "{shape:?}: {err}");
        }
        for (settings, expected) in [
            (SamplerSettings { method: Method::Ddim { eta: 2.0, use_clipped_model_output: false }, ..ddpm.clone() }, "η must be in [0, 1]"),
            (
                SamplerSettings { method: Method::Ddim { eta: f64::NAN, use_clipped_model_output: false }, ..ddpm.clone() },
                "η must be in [0, 1]",
            ),
            (SamplerSettings { clip_sample: Some(f64::NAN), ..ddpm.clone() }, "clip_sample"),
            (SamplerSettings { clip_sample: Some(-1.0), ..ddpm.clone() }, "clip_sample"),
        ] {
            let err = new(&settings, [1, 1, 8, 8]).unwrap_err().to_string();
            assert!(err.contains(expected), "{settings:?}: {err}");
        }
        let x_t = Tensor::<4>::zeros([1, 1, 8, 8], &device);
        let err = Sampler::fork(Schedule::ho_linear(), ddpm.clone(), x_t, 500, 1000, 0).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("not 1000"), "{err}");
        // 2-D runs are particle clouds.
        Sampler::new(Schedule::ho_linear(), ddpm.clone(), [5000, 2], 0, &device).unwrap();
        let err = Sampler::new(Schedule::ho_linear(), ddpm, [MAX_POINTS + 1, 2], 0, &device).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("1 to 100000 points"), "{err}");
    }

    /// A stand-in ε_θ: zero everywhere, class-conditional with `null_class` when given.
    struct Zero {
        null_class: Option<usize>,
    }

    impl EpsModel<2> for Zero {
        fn eps(&self, x_t: Tensor<2>, _t: usize, _labels: Option<&[usize]>) -> Tensor<2> {
            x_t.zeros_like()
        }

        fn null_class(&self) -> Option<usize> {
            self.null_class
        }
    }

    #[test]
    fn guidance_needs_classes_and_a_weight_in_range() {
        let conditional = Zero { null_class: Some(10) };
        Guided::new(&conditional, 4.0).unwrap();
        for w in [-1.0, f64::NAN, f64::INFINITY, 1e9] {
            let err = Guided::new(&conditional, w).map(|_| ()).unwrap_err().to_string();
            assert!(err.contains("must be in [0, 100]"), "{w}: {err}");
        }
        let err = Guided::new(&Zero { null_class: None }, 1.0).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("needs a class-conditional model"), "{err}");
    }

    #[test]
    fn scheduler_numbers_are_range_checked_when_parsed() {
        SchedulerConfig::parse("{}").unwrap();
        let cases = [
            (r#"{"num_train_timesteps": 0}"#, "num_train_timesteps = 0 is outside"),
            (r#"{"num_train_timesteps": 18446744073709551615}"#, "num_train_timesteps"),
            (r#"{"steps_offset": 1000}"#, "steps_offset = 1000 is not below"),
            (r#"{"steps_offset": 18446744073709551615}"#, "steps_offset"),
            (r#"{"beta_start": 0}"#, "beta_start = 0 is outside (0, 1)"),
            (r#"{"beta_end": 1e308}"#, "beta_end"),
            (r#"{"clip_sample_range": -1}"#, "clip_sample_range = -1"),
        ];
        for (json, expected) in cases {
            let err = SchedulerConfig::parse(json).expect_err(json).to_string();
            assert!(err.contains(expected), "{json}: expected `{expected}`, got `{err}`");
        }
    }
}
