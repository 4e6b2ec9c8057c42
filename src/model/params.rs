//! Where a model's weights come from while it is being built: a checkpoint (by diffusers key
//! names), or seeded random values (presets, benchmarks, fresh training). Building asks for each
//! tensor by name and shape; the source checks both.

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::Result;
use crate::noise::NormalStream;

/// The kind of parameter asked for, so a random source can initialise it sensibly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// A weight with this fan-in (convolution or linear).
    Weight {
        fan_in: usize,
    },
    Bias,
    NormScale,
    NormShift,
    Embedding,
}

pub trait ParamSource {
    /// The tensor stored under `key`, which must have exactly `shape`.
    fn take<const D: usize>(&mut self, key: &str, shape: [usize; D], kind: ParamKind) -> Result<Tensor<D>>;
    fn device(&self) -> &Device;
}

/// Seeded random weights, PyTorch-like: weights N(0, 1/fan_in), biases 0, norms identity.
pub struct RandomParams {
    device: Device,
    stream: NormalStream,
}

impl RandomParams {
    pub fn new(seed: u64, device: &Device) -> Self {
        Self { device: device.clone(), stream: NormalStream::new(seed, u64::MAX) }
    }
}

impl ParamSource for RandomParams {
    fn take<const D: usize>(&mut self, _key: &str, shape: [usize; D], kind: ParamKind) -> Result<Tensor<D>> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = match kind {
            ParamKind::Weight { fan_in } => {
                let std = 1.0 / (fan_in.max(1) as f32).sqrt();
                (0..n).map(|_| self.stream.next_normal() * std).collect()
            }
            ParamKind::Embedding => (0..n).map(|_| self.stream.next_normal()).collect(),
            ParamKind::Bias | ParamKind::NormShift => vec![0.0; n],
            ParamKind::NormScale => vec![1.0; n],
        };
        Ok(Tensor::from_data(TensorData::new(values, shape), &self.device))
    }

    fn device(&self) -> &Device {
        &self.device
    }
}
