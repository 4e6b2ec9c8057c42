//! Spatial self-attention as diffusers' `Attention` runs it inside UNet2D blocks: GroupNorm,
//! multi-head scaled dot-product attention over the H·W positions, output projection, residual.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;

use super::cpu_kernels;
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
use super::gpu_kernels;
use super::layers::{GroupNorm, Linear, rescale};
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

    /// GEMMs on the planes as they lie on the CPU (`cpu_kernels`); burn's ops on other backends.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let normed = match &self.group_norm {
            Some(norm) => norm.forward(x.clone()),
            None => x.clone(),
        };
        let [q, k, v, out] = [&self.to_q, &self.to_k, &self.to_v, &self.to_out[0]].map(|l| (l.weight.val(), l.bias.val()));
        cpu_kernels::attention(normed, &x, [&q, &k, &v, &out], self.heads, self.rescale_output_factor)
            .unwrap_or_else(|normed| self.forward_burn(normed, x))
    }

    /// burn's ops, but for the attention itself on the GPU (`attend`).
    fn forward_burn(&self, normed: Tensor<4>, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let tokens = normed.reshape([n, c, h * w]).swap_dims(1, 2);
        let [q, k, v] = [&self.to_q, &self.to_k, &self.to_v].map(|linear| linear.forward(tokens.clone()));
        let out = self.to_out[0].forward(self.attend(q, k, v)).swap_dims(1, 2).reshape([n, c, h, w]);
        rescale(out.add(x), self.rescale_output_factor)
    }

    /// softmax(QKᵀ/√d)·V per head of `q`, `k`, `v` [n, tokens, c]: one dispatch on the GPU
    /// (`gpu_kernels`), burn's fused scaled dot-product attention otherwise.
    fn attend(&self, q: Tensor<3>, k: Tensor<3>, v: Tensor<3>) -> Tensor<3> {
        #[cfg(any(feature = "wgpu", feature = "webgpu"))]
        let [q, k, v] = match gpu_kernels::attention(q, k, v, self.heads) {
            Ok(attended) => return attended,
            Err(operands) => operands,
        };
        let [n, tokens, c] = q.dims();
        let split = |t: Tensor<3>| t.reshape([n, tokens, self.heads, c / self.heads]).swap_dims(1, 2);
        attention(split(q), split(k), split(v), None, None, AttentionModuleOptions::default()).swap_dims(1, 2).reshape([n, tokens, c])
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::tensor::{Distribution, Tolerance};

    use super::*;
    use crate::model::params::RandomParams;

    /// The CPU kernel against burn's ops, one head and several, over several samples, with and
    /// without a rescale, on two threads.
    #[test]
    fn cpu_attention_matches_burns() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a thread pool");
        pool.install(|| {
            let device = burn::tensor::Device::flex();
            for ([n, c, h, w], head_dim, rescale) in [([2, 8, 3, 5], 4, 1.0), ([1, 6, 4, 4], 6, 2.0), ([3, 16, 2, 2], 4, 1.0)] {
                let mut src = RandomParams::new(7, &device);
                let mut attention = Attention::load(&mut src, "attn", c, head_dim, Some(2), 1e-5, rescale).expect("random weights");
                // RandomParams' biases are zero.
                for linear in [&mut attention.to_q, &mut attention.to_k, &mut attention.to_v, &mut attention.to_out[0]] {
                    linear.bias = Param::from_tensor(Tensor::random([c], Distribution::Normal(0.0, 1.0), &device));
                }
                let x = Tensor::<4>::random([n, c, h, w], Distribution::Normal(0.0, 2.0), &device);
                let normed = attention.group_norm.as_ref().expect("a norm").forward(x.clone());
                let ours = attention.forward(x.clone());
                let reference = attention.forward_burn(normed, x);
                ours.into_data().assert_approx_eq::<f32>(&reference.into_data(), Tolerance::absolute(2e-5));
            }
        });
    }
}
