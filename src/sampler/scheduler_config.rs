//! diffusers' `scheduler_config.json`: the schedule it defines and the sampler settings a
//! checkpoint starts with.

use serde::{Deserialize, Serialize};

use super::{Method, SamplerSettings, Spacing, Variance};
use crate::error::{Error, Result};
use crate::schedule::{BetaSchedule, MAX_TIMESTEPS, Schedule};

/// The parts of a diffusers `scheduler_config.json` (DDPM/DDIM schedulers) that define the
/// schedule and the sampler's defaults. Its keys are the file's, so they stay snake_case in JS too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(default)]
pub struct SchedulerConfig {
    pub num_train_timesteps: usize,
    pub beta_start: f64,
    pub beta_end: f64,
    pub beta_schedule: String,
    pub trained_betas: Option<Vec<f64>>,
    pub variance_type: String,
    pub clip_sample: bool,
    pub clip_sample_range: f64,
    pub prediction_type: String,
    pub timestep_spacing: String,
    pub steps_offset: usize,
    /// DDIM's ᾱ before the first step: 1, or ᾱ_0 when false.
    pub set_alpha_to_one: bool,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            num_train_timesteps: 1000,
            beta_start: 1e-4,
            beta_end: 0.02,
            beta_schedule: "linear".into(),
            trained_betas: None,
            variance_type: "fixed_small".into(),
            clip_sample: true,
            clip_sample_range: 1.0,
            prediction_type: "epsilon".into(),
            timestep_spacing: "leading".into(),
            steps_offset: 0,
            set_alpha_to_one: true,
        }
    }
}

impl SchedulerConfig {
    /// Parses and range-checks every number (the names are checked where they are used).
    pub fn parse(json: &str) -> Result<Self> {
        let config: Self = serde_json::from_str(json).map_err(|e| Error::Config(format!("scheduler config: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(format!("scheduler config: {what}")));
        if !(1..=MAX_TIMESTEPS).contains(&self.num_train_timesteps) {
            return bad(format!("num_train_timesteps = {} is outside 1..={MAX_TIMESTEPS}", self.num_train_timesteps));
        }
        if self.steps_offset >= self.num_train_timesteps {
            return bad(format!("steps_offset = {} is not below num_train_timesteps = {}", self.steps_offset, self.num_train_timesteps));
        }
        for (field, value) in [("beta_start", self.beta_start), ("beta_end", self.beta_end)] {
            if !(value.is_finite() && value > 0.0 && value < 1.0) {
                return bad(format!("{field} = {value} is outside (0, 1)"));
            }
        }
        if !(self.clip_sample_range.is_finite() && self.clip_sample_range > 0.0) {
            return bad(format!("clip_sample_range = {} must be a positive finite number", self.clip_sample_range));
        }
        Ok(())
    }

    pub fn schedule(&self) -> Result<Schedule> {
        let betas = match (&self.trained_betas, self.beta_schedule.as_str()) {
            (Some(b), _) => BetaSchedule::Given(b.clone()),
            (None, "linear") => BetaSchedule::Linear { start: self.beta_start, end: self.beta_end },
            (None, "scaled_linear") => BetaSchedule::ScaledLinear { start: self.beta_start, end: self.beta_end },
            (None, "squaredcos_cap_v2") => BetaSchedule::Cosine,
            (None, other) => return Err(Error::Config(format!("beta_schedule \"{other}\" is not supported"))),
        };
        Ok(Schedule::new(&betas, self.num_train_timesteps)?.with_alpha_to_one(self.set_alpha_to_one))
    }

    /// DDPM with this config's variance type, clipping and spacing, all T steps.
    pub fn default_settings(&self) -> Result<SamplerSettings> {
        if self.prediction_type != "epsilon" {
            return Err(Error::Config(format!("prediction_type \"{}\" is not supported (epsilon only)", self.prediction_type)));
        }
        let variance = match self.variance_type.as_str() {
            "fixed_small" | "fixed_small_log" => Variance::FixedSmall,
            "fixed_large" | "fixed_large_log" => Variance::FixedLarge,
            other => return Err(Error::Config(format!("variance_type \"{other}\" is not supported"))),
        };
        let spacing = match self.timestep_spacing.as_str() {
            "leading" => Spacing::Leading,
            "trailing" => Spacing::Trailing,
            "linspace" => Spacing::Linspace,
            other => return Err(Error::Config(format!("timestep_spacing \"{other}\" is not supported"))),
        };
        Ok(SamplerSettings {
            method: Method::Ddpm { variance },
            steps: self.num_train_timesteps,
            spacing,
            steps_offset: self.steps_offset,
            clip_sample: self.clip_sample.then_some(self.clip_sample_range),
        })
    }
}
