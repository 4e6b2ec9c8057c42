//! A small ε_θ for 2-D data (the spiral of the reference's Fig. 4): the point x ∈ R² and a
//! sinusoidal embedding of t go through an MLP with SiLU. Trained by the same Algorithm 1 as
//! the image models, natively and in the page.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;
use serde::{Deserialize, Serialize};

use super::config::{MAX_CHANNELS, MAX_LAYERS_PER_BLOCK, in_range};
use super::embedding::timestep_embedding;
use super::layers::Linear;
use super::params::ParamSource;
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mlp2DConfig {
    #[serde(rename = "_class_name")]
    pub class_name: String,
    pub hidden: usize,
    pub hidden_layers: usize,
    pub time_embedding_dim: usize,
}

impl Default for Mlp2DConfig {
    fn default() -> Self {
        Self { class_name: "Mlp2D".into(), hidden: 128, hidden_layers: 3, time_embedding_dim: 32 }
    }
}

impl Mlp2DConfig {
    pub fn validate(&self) -> Result<()> {
        if self.class_name != "Mlp2D" || !self.time_embedding_dim.is_multiple_of(2) {
            return Err(Error::Config(format!("not a valid Mlp2D config: {self:?}")));
        }
        in_range("hidden", self.hidden, 1..=MAX_CHANNELS)?;
        in_range("hidden_layers", self.hidden_layers, 1..=MAX_LAYERS_PER_BLOCK)?;
        in_range("time_embedding_dim", self.time_embedding_dim, 0..=MAX_CHANNELS)
    }
}

#[derive(Module, Debug)]
pub struct Mlp2D {
    /// Hidden layers, then the output layer back to R².
    pub layers: Vec<Linear>,
    time_embedding_dim: usize,
}

impl Mlp2D {
    pub fn load<S: ParamSource>(config: &Mlp2DConfig, src: &mut S) -> Result<Self> {
        config.validate()?;
        let mut layers = Vec::new();
        let mut d_in = 2 + config.time_embedding_dim;
        for i in 0..config.hidden_layers {
            layers.push(Linear::load(src, &format!("layers.{i}"), [d_in, config.hidden])?);
            d_in = config.hidden;
        }
        layers.push(Linear::load(src, &format!("layers.{}", config.hidden_layers), [d_in, 2])?);
        Ok(Self { layers, time_embedding_dim: config.time_embedding_dim })
    }

    /// ε_θ(x_t, t) for points x [N, 2].
    pub fn forward(&self, x: Tensor<2>, timesteps: &[f32]) -> Tensor<2> {
        let t_emb = timestep_embedding(timesteps, self.time_embedding_dim, true, 0.0, &x.device());
        let mut h = Tensor::cat(vec![x, t_emb], 1);
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = silu(h);
            }
        }
        h
    }
}
