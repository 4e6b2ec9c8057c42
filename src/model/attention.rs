//! Spatial self-attention as diffusers' `Attention` runs it inside UNet2D blocks: GroupNorm,
//! multi-head scaled dot-product attention over the H·W positions, output projection, residual.

use burn::module::Module;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::Tensor;

use super::layers::{rescale, GroupNorm, Linear};
use super::params::ParamSource;
use crate::error::Result;

#[derive(Module, Debug)]
pub struct Attention {
    pub group_norm: Option<GroupNorm>,
    pub to_q: Linear,
    pub to_k: Linear,
    pub to_v: Linear,
    /// diffusers' `to_out` is [Linear, Dropout]; only the Linear has weights (`to_out.0`).
    pub to_out: Vec<Linear>,
    heads: usize,
    rescale_output_factor: f64,
}

impl Attention {
    pub fn load<S: ParamSource>(
        src: &mut S,
        prefix: &str,
        channels: usize,
        head_dim: usize,
        groups: Option<usize>,
        eps: f64,
        rescale_output_factor: f64,
    ) -> Result<Self> {
        let p = |name: &str| format!("{prefix}.{name}");
        Ok(Self {
            group_norm: groups.map(|g| GroupNorm::load(src, &p("group_norm"), channels, g, eps)).transpose()?,
            to_q: Linear::load(src, &p("to_q"), [channels, channels])?,
            to_k: Linear::load(src, &p("to_k"), [channels, channels])?,
            to_v: Linear::load(src, &p("to_v"), [channels, channels])?,
            to_out: vec![Linear::load(src, &p("to_out.0"), [channels, channels])?],
            heads: channels / head_dim,
            rescale_output_factor,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let (heads, head_dim) = (self.heads, c / self.heads);
        let normed = match &self.group_norm {
            Some(norm) => norm.forward(x.clone()),
            None => x.clone(),
        };
        let tokens = normed.reshape([n, c, h * w]).swap_dims(1, 2);
        let split = |t: Tensor<3>| t.reshape([n, h * w, heads, head_dim]).swap_dims(1, 2);
        let q = split(self.to_q.forward(tokens.clone()));
        let k = split(self.to_k.forward(tokens.clone()));
        let v = split(self.to_v.forward(tokens));
        // burn's fused scaled dot-product attention (softmax(QKᵀ/√d)V, no score tensor kept).
        let attended = attention(q, k, v, None, None, AttentionModuleOptions::default()).swap_dims(1, 2).reshape([n, h * w, c]);
        let out = self.to_out[0].forward(attended).swap_dims(1, 2).reshape([n, c, h, w]);
        rescale(out.add(x), self.rescale_output_factor)
    }
}
