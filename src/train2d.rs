//! Algorithm 1 of Ho et al. for the 2-D MLP ε_θ, in burn autodiff: the same code trains the
//! spiral model natively (`ddpm train-2d`) and live in the page.
//!
//! repeat: x_0 ~ q(x_0); t ~ U{0..T−1}; ε ~ N(0, I);
//!         gradient step on ‖ε − ε_θ(√ᾱ_t x_0 + √(1 − ᾱ_t) ε, t)‖²   (eq. 14's L_simple)

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};

use crate::data2d::spiral;
use crate::error::Result;
use crate::model::{Mlp2D, Mlp2DConfig, RandomParams};
use crate::noise::NormalStream;
use crate::schedule::Schedule;

#[derive(Clone, Debug)]
pub struct Train2dSettings {
    pub steps: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for Train2dSettings {
    fn default() -> Self {
        Self { steps: 3000, batch: 256, learning_rate: 2e-3, seed: 0 }
    }
}

/// A training run, advanced a step at a time so a caller can report progress or stop.
pub struct Train2d {
    model: Option<Mlp2D>,
    optimizer: burn::optim::ModuleOptimizer,
    schedule: Schedule,
    settings: Train2dSettings,
    rng: NormalStream,
    device: Device,
    pub step: usize,
}

impl Train2d {
    /// Fresh weights on `device` (autodiff is added here).
    pub fn new(config: &Mlp2DConfig, schedule: Schedule, settings: Train2dSettings, device: &Device) -> Result<Self> {
        let device = device.clone().autodiff();
        let model = Mlp2D::load(config, &mut RandomParams::new(settings.seed, &device))?;
        Ok(Self {
            model: Some(model),
            optimizer: AdamConfig::new().init(),
            schedule,
            rng: NormalStream::new(settings.seed, 0x7_2a_17),
            settings,
            device,
            step: 0,
        })
    }

    /// One step of Algorithm 1; returns L_simple of the batch (read back: native only).
    pub fn step(&mut self) -> Tensor<1> {
        let batch = self.settings.batch;
        let t_count = self.schedule.num_train_timesteps();
        let x0 = spiral(batch, self.settings.seed.wrapping_add(1 + self.step as u64));
        let timesteps: Vec<usize> = (0..batch).map(|_| ((self.rng.next_uniform() * t_count as f64) as usize).min(t_count - 1)).collect();
        let noise: Vec<f32> = (0..2 * batch).map(|_| self.rng.next_normal()).collect();
        let tensor = |v: Vec<f32>, shape: [usize; 2]| Tensor::<2>::from_data(TensorData::new(v, shape), &self.device);
        let noise = tensor(noise, [batch, 2]);
        let x_t = self.schedule.q_sample(tensor(x0, [batch, 2]), &timesteps, noise.clone());
        let model = self.model.take().expect("model present between steps");
        let t_float: Vec<f32> = timesteps.iter().map(|&t| t as f32).collect();
        let loss = model.forward(x_t, &t_float).sub(noise).powf_scalar(2.0).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        // Cosine decay to 0 over the run: the last steps refine the thin arms of the spiral.
        let progress = self.step as f64 / self.settings.steps.max(1) as f64;
        let lr = self.settings.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos());
        self.model = Some(self.optimizer.step(lr, model, grads));
        self.step += 1;
        loss
    }

    pub fn is_done(&self) -> bool {
        self.step >= self.settings.steps
    }

    pub fn total(&self) -> usize {
        self.settings.steps
    }

    /// The trained network without autodiff, for sampling.
    pub fn model(&self) -> Mlp2D {
        self.model.as_ref().expect("model present between steps").valid()
    }
}
