//! The three layers every ε_θ here is made of, with PyTorch's parameter names and layouts
//! (weight, bias), so a diffusers state dict maps onto them key for key.

use burn::module::{Module, Param};
use burn::tensor::module::{conv2d, layer_norm};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Int, Tensor, TensorData};

use super::params::{ParamKind, ParamSource};
use crate::error::Result;

/// `x / factor`, skipping the pass over every element when the factor is 1 (diffusers' default
/// `output_scale_factor` and `rescale_output_factor`).
pub fn rescale<const D: usize>(x: Tensor<D>, factor: f64) -> Tensor<D> {
    if factor == 1.0 { x } else { x.div_scalar(factor) }
}

fn key(prefix: &str, name: &str) -> String {
    format!("{prefix}.{name}")
}

/// `torch.nn.Conv2d` with a bias.
#[derive(Module, Debug)]
pub struct Conv2d {
    pub weight: Param<Tensor<4>>,
    pub bias: Param<Tensor<1>>,
    stride: usize,
    /// (top, bottom, left, right); asymmetric for diffusers' `downsample_padding = 0`.
    padding: [usize; 4],
}

impl Conv2d {
    pub fn load<S: ParamSource>(
        src: &mut S,
        prefix: &str,
        [c_in, c_out, kernel]: [usize; 3],
        stride: usize,
        padding: [usize; 4],
    ) -> Result<Self> {
        let fan_in = c_in * kernel * kernel;
        Ok(Self {
            weight: Param::from_tensor(src.take(&key(prefix, "weight"), [c_out, c_in, kernel, kernel], ParamKind::Weight { fan_in })?),
            bias: Param::from_tensor(src.take(&key(prefix, "bias"), [c_out], ParamKind::Bias)?),
            stride,
            padding,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [top, bottom, left, right] = self.padding;
        let options =
            ConvOptions::new_with_padding([self.stride; 2], [(top, bottom), (left, right)], [1, 1], 1);
        conv2d(x, self.weight.val(), Some(self.bias.val()), options)
    }
}

/// `torch.nn.Linear` (weight stored [out, in] as in PyTorch).
#[derive(Module, Debug)]
pub struct Linear {
    pub weight: Param<Tensor<2>>,
    pub bias: Param<Tensor<1>>,
}

impl Linear {
    pub fn load<S: ParamSource>(src: &mut S, prefix: &str, [d_in, d_out]: [usize; 2]) -> Result<Self> {
        Ok(Self {
            weight: Param::from_tensor(src.take(&key(prefix, "weight"), [d_out, d_in], ParamKind::Weight { fan_in: d_in })?),
            bias: Param::from_tensor(src.take(&key(prefix, "bias"), [d_out], ParamKind::Bias)?),
        })
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let y = x.matmul(self.weight.val().transpose().unsqueeze());
        y.add(self.bias.val().unsqueeze())
    }
}

/// `torch.nn.GroupNorm` with affine parameters, over [N, C, ...] flattened to [N, C, L].
#[derive(Module, Debug)]
pub struct GroupNorm {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    groups: usize,
    eps: f64,
}

impl GroupNorm {
    pub fn load<S: ParamSource>(src: &mut S, prefix: &str, channels: usize, groups: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: Param::from_tensor(src.take(&key(prefix, "weight"), [channels], ParamKind::NormScale)?),
            bias: Param::from_tensor(src.take(&key(prefix, "bias"), [channels], ParamKind::NormShift)?),
            groups,
            eps,
        })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        // A group's statistics are a layer norm's over its flattened channels: burn's fused
        // layer_norm (one pass on the CPU, instead of a mean, a variance and four element-wise
        // ops), with a unit scale; the per-channel affine follows.
        let len = (c / self.groups) * h * w;
        let unit = Tensor::ones([len], &x.device());
        let normed = layer_norm(x.reshape([n, self.groups, len]), unit, None, self.eps).reshape([n, c, h, w]);
        let scale = self.weight.val().reshape([1, c, 1, 1]);
        let shift = self.bias.val().reshape([1, c, 1, 1]);
        normed.mul(scale).add(shift)
    }
}

/// `torch.nn.Embedding`: one learned row per class.
#[derive(Module, Debug)]
pub struct Embedding {
    pub weight: Param<Tensor<2>>,
}

impl Embedding {
    pub fn load<S: ParamSource>(src: &mut S, prefix: &str, [count, dim]: [usize; 2]) -> Result<Self> {
        Ok(Self { weight: Param::from_tensor(src.take(&key(prefix, "weight"), [count, dim], ParamKind::Embedding)?) })
    }

    pub fn count(&self) -> usize {
        self.weight.dims()[0]
    }

    /// The rows of `ids`: [ids.len(), dim].
    pub fn forward(&self, ids: &[usize]) -> Tensor<2> {
        let device = self.weight.device();
        let ids: Vec<i64> = ids.iter().map(|&i| i as i64).collect();
        let n = ids.len();
        self.weight.val().select(0, Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &device))
    }
}
