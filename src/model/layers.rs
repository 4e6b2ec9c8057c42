//! The three layers every ε_θ here is made of, with PyTorch's parameter names and layouts
//! (weight, bias), so a diffusers state dict maps onto them key for key.

use burn::module::{Module, Param};
use burn::tensor::activation::silu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::conditioning::{Conditioning, NormCall};
use super::cpu_kernels::{self, FilterCache};
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
use super::gpu_kernels;
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
    /// What the CPU kernel transforms the weight into, kept between calls.
    #[module(skip)]
    filters: FilterCache,
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
        let weight = src.take(&key(prefix, "weight"), [c_out, c_in, kernel, kernel], ParamKind::Weight { fan_in })?;
        let weight = if weight.device() == Device::flex() { weight } else { channels_last(weight) };
        Ok(Self {
            weight: Param::from_tensor(weight),
            bias: Param::from_tensor(src.take(&key(prefix, "bias"), [c_out], ParamKind::Bias)?),
            stride,
            padding,
            filters: FilterCache::default(),
        })
    }

    /// One im2col and GEMM on the CPU (`cpu_kernels`); burn's conv2d on other backends.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        cpu_kernels::conv2d(x, &self.weight.val(), &self.bias.val(), self.stride, self.padding, &self.filters)
            .unwrap_or_else(|x| self.forward_burn(x))
    }

    fn forward_burn(&self, x: Tensor<4>) -> Tensor<4> {
        let [top, bottom, left, right] = self.padding;
        let options = ConvOptions::new_with_padding([self.stride; 2], [(top, bottom), (left, right)], [1, 1], 1);
        conv2d(x, self.weight.val(), Some(self.bias.val()), options)
    }
}

/// The weight [c_out, c_in, kh, kw] as it is, lying channels-last in memory. burn's direct
/// convolution on WebGPU (what its convolutions run without autotune) reads the weight so and
/// copies it on every call unless it already lies so (burn-cubecl 0.22 `conv/direct.rs`): laid
/// out once at load, each convolution is one dispatch fewer. The CPU kernel reads [c_out, depth]
/// rows, so flex weights stay as they are.
fn channels_last(weight: Tensor<4>) -> Tensor<4> {
    let [c_out, c_in, kh, kw] = weight.dims();
    // The reshape of the permuted view is what copies; the rest only sets strides.
    weight.permute([0, 2, 3, 1]).reshape([c_out, kh * kw * c_in]).reshape([c_out, kh, kw, c_in]).permute([0, 3, 1, 2])
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
        self.forward_with(x, &Conditioning::None, false)
    }

    /// SiLU(GroupNorm(x)) conditioned as a ResNet block does it with its timestep embedding.
    pub fn forward_silu(&self, x: Tensor<4>, conditioning: &Conditioning) -> Tensor<4> {
        self.forward_with(x, conditioning, true)
    }

    /// One fused pass on the CPU (`cpu_kernels`), one dispatch on the GPU (`gpu_kernels`);
    /// burn's ops otherwise.
    #[allow(clippy::result_large_err)] // the kernels hand the input back for the next one
    fn forward_with(&self, x: Tensor<4>, conditioning: &Conditioning, then_silu: bool) -> Tensor<4> {
        let (gamma, beta) = (self.weight.val(), self.bias.val());
        let call = NormCall { gamma: &gamma, beta: &beta, groups: self.groups, eps: self.eps, conditioning, silu: then_silu };
        let fused = cpu_kernels::group_norm(x, &call);
        #[cfg(any(feature = "wgpu", feature = "webgpu"))]
        let fused = fused.or_else(|x| gpu_kernels::group_norm(x, &call));
        fused.unwrap_or_else(|x| self.forward_burn(x, conditioning, then_silu))
    }

    fn forward_burn(&self, x: Tensor<4>, conditioning: &Conditioning, then_silu: bool) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let per_channel = |t: &Tensor<2>| t.clone().reshape([n, c, 1, 1]);
        let x = match conditioning {
            Conditioning::Shift(shift) => x.add(per_channel(shift)),
            _ => x,
        };
        // Written as its reductions and one element-wise tail, which burn's fusion compiles into
        // three kernels on WebGPU (the mean; the centred variance; normalise, affine,
        // conditioning and SiLU); burn's layer_norm with a unit scale took seven.
        let groups = x.reshape([n, self.groups, (c / self.groups) * h * w]);
        let centred = groups.clone().sub(groups.mean_dim(2));
        let variance = centred.clone().square().mean_dim(2);
        let normed = centred.div(variance.add_scalar(self.eps).sqrt()).reshape([n, c, h, w]);
        let y = normed.mul(self.weight.val().reshape([1, c, 1, 1])).add(self.bias.val().reshape([1, c, 1, 1]));
        let y = match conditioning {
            Conditioning::ScaleShift(scale, shift) => y.mul(per_channel(scale).add_scalar(1.0)).add(per_channel(shift)),
            _ => y,
        };
        if then_silu { silu(y) } else { y }
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

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tolerance};

    use super::*;

    /// The CPU convolution against burn's conv2d: 3×3 at strides 1 and 2, diffusers' symmetric
    /// and the original DDPM's bottom-right padding, 1×1, planes split into several tiles, and
    /// single tiles whose output channels are split into blocks (unevenly) over three threads,
    /// "same" convolutions of other sizes and paddings (the shifted-plane im2col), planes
    /// narrower than the kernel's reach.
    #[test]
    fn cpu_conv2d_matches_burns() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().expect("a thread pool");
        pool.install(cpu_conv2d_cases);
    }

    fn cpu_conv2d_cases() {
        let device = burn::tensor::Device::flex();
        let random = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
        // (input shape, c_out, kernel size, stride, padding)
        type Case = ([usize; 4], usize, usize, usize, [usize; 4]);
        let cases: [Case; 11] = [
            ([2, 3, 9, 7], 5, 3, 1, [1; 4]),
            ([1, 4, 8, 8], 4, 3, 2, [1; 4]),
            ([2, 4, 8, 6], 4, 3, 2, [0, 1, 0, 1]),
            ([2, 6, 5, 5], 3, 1, 1, [0; 4]),
            ([1, 64, 40, 40], 8, 3, 1, [1; 4]),
            ([1, 2, 2, 2], 3, 3, 1, [1; 4]),
            ([1, 8, 6, 6], 37, 3, 1, [1; 4]),
            ([2, 5, 4, 4], 40, 1, 1, [0; 4]),
            ([1, 3, 5, 4], 4, 5, 1, [2; 4]),
            ([2, 3, 5, 6], 4, 2, 1, [0, 1, 0, 1]),
            ([1, 2, 1, 1], 3, 3, 1, [1; 4]),
        ];
        for (shape, c_out, kernel, stride, padding) in cases {
            let conv = Conv2d {
                weight: Param::from_tensor(random([c_out, shape[1], kernel, kernel])),
                bias: Param::from_tensor(random([1, 1, 1, c_out]).reshape([c_out])),
                stride,
                padding,
                filters: FilterCache::default(),
            };
            let x = random(shape);
            let ours = conv.forward(x.clone());
            let reference = conv.forward_burn(x);
            assert_eq!(ours.dims(), reference.dims(), "{shape:?} stride {stride} padding {padding:?}");
            // f32 sums of `depth` unit-variance products, added in another order.
            let depth = shape[1] * kernel * kernel;
            ours.into_data().assert_approx_eq::<f32>(&reference.into_data(), Tolerance::absolute(2e-6 * depth as f64));
        }
    }

    /// A weight laid out channels-last for WebGPU holds the same values at the same indices.
    #[test]
    fn channels_last_keeps_every_value() {
        let device = burn::tensor::Device::flex();
        let weight = Tensor::<4>::random([5, 3, 3, 2], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(channels_last(weight.clone()).into_data(), weight.into_data());
    }

    /// The fused CPU kernel against the same GroupNorm in burn's ops, for every conditioning,
    /// with and without SiLU, on shapes whose planes are and are not multiples of 8.
    #[test]
    fn fused_group_norm_matches_burns_ops() {
        let device = burn::tensor::Device::flex();
        let random = |shape: Vec<usize>, scale: f64| {
            Tensor::<1>::random([shape.iter().product::<usize>()], Distribution::Normal(0.5, scale), &device)
        };
        for [n, c, h, w, groups] in [[2, 16, 8, 8, 4], [3, 6, 5, 3, 3], [1, 32, 1, 1, 32]] {
            let norm = GroupNorm {
                weight: Param::from_tensor(random(vec![c], 1.0)),
                bias: Param::from_tensor(random(vec![c], 1.0)),
                groups,
                eps: 1e-5,
            };
            let x: Tensor<4> = random(vec![n, c, h, w], 3.0).reshape([n, c, h, w]);
            let per_sample = || random(vec![n, c], 1.0).reshape([n, c]);
            for conditioning in
                [Conditioning::None, Conditioning::Shift(per_sample()), Conditioning::ScaleShift(per_sample(), per_sample())]
            {
                for then_silu in [false, true] {
                    let fused = norm.forward_with(x.clone(), &conditioning, then_silu);
                    let reference = norm.forward_burn(x.clone(), &conditioning, then_silu);
                    fused.into_data().assert_approx_eq::<f32>(&reference.into_data(), Tolerance::absolute(2e-5));
                }
            }
        }
    }
}
