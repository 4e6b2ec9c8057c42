//! GroupNorm with its affine, a ResNet block's timestep conditioning and SiLU, in one pass.

use std::mem::MaybeUninit;

use burn::backend::flex::{Flex, FlexTensor};
use burn::tensor::Tensor;

use super::exp::silu;
use super::{filled, flex_f32, slice, tensor};
use crate::model::conditioning::NormCall;

/// `torch.nn.GroupNorm` of `x` [n, c, h, w] as `call` says: one read of `x` for the statistics
/// and one for the output. Err gives `x` back when any operand is not a plain f32 flex tensor.
pub fn group_norm(x: Tensor<4>, call: &NormCall) -> Result<Tensor<4>, Tensor<4>> {
    let &NormCall { gamma, beta, groups, eps, conditioning, silu } = call;
    let dims = x.dims();
    let [_, c, h, w] = dims;
    let x = flex_f32(x)?;
    let back = |x: FlexTensor| Tensor::from_primitive::<Flex>(x);
    if groups == 0 || c % groups != 0 {
        return Err(back(x));
    }
    let (Ok(gamma), Ok(beta)) = (flex_f32(gamma.clone()), flex_f32(beta.clone())) else {
        return Err(back(x));
    };
    let Some((shift_in, film)) = conditioning.operands(|t| flex_f32(t.clone()).ok()) else {
        return Err(back(x));
    };
    let shape = GroupShape { channels: c, per_group: c / groups, plane: h * w };
    let params = GroupParams {
        gamma: slice(&gamma),
        beta: slice(&beta),
        shift_in: shift_in.as_ref().map(slice),
        film: film.as_ref().map(|(scale, shift)| (slice(scale), slice(shift))),
        eps: eps as f32,
        silu,
    };
    let input = slice(&x);
    if input.is_empty() {
        return Ok(tensor(Vec::new(), dims));
    }
    let slab = shape.per_group * shape.plane;
    let out = filled(input.len(), slab, |index, slab_out| {
        let (sample, group) = (index / groups, index % groups);
        normalize_group_widest(&input[index * slab..][..slab], slab_out, sample, group, &shape, &params);
    });
    Ok(tensor(out, dims))
}

struct GroupShape {
    channels: usize,
    per_group: usize,
    plane: usize,
}

struct GroupParams<'a> {
    gamma: &'a [f32],
    beta: &'a [f32],
    shift_in: Option<&'a [f32]>,
    film: Option<(&'a [f32], &'a [f32])>,
    eps: f32,
    silu: bool,
}

/// `normalize_group` compiled for AVX2 where the CPU has it (x86-64 builds target SSE2 only);
/// as it is elsewhere (wasm is built with simd128, see .cargo/config.toml).
fn normalize_group_widest(input: &[f32], out: &mut [MaybeUninit<f32>], sample: usize, group: usize, shape: &GroupShape, p: &GroupParams) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        #[target_feature(enable = "avx2,fma")]
        fn avx2(input: &[f32], out: &mut [MaybeUninit<f32>], sample: usize, group: usize, shape: &GroupShape, p: &GroupParams) {
            normalize_group(input, out, sample, group, shape, p);
        }
        // SAFETY: the features were just detected on this CPU.
        return unsafe { avx2(input, out, sample, group, shape, p) };
    }
    normalize_group(input, out, sample, group, shape, p);
}

/// One group of one sample: its statistics in two passes (mean, then the centred variance, as
/// PyTorch and flex's layer_norm compute them), then `y = (x − mean)·a + b` per channel, SiLU'd.
#[inline(always)]
fn normalize_group(input: &[f32], out: &mut [MaybeUninit<f32>], sample: usize, group: usize, shape: &GroupShape, p: &GroupParams) {
    let first = sample * shape.channels + group * shape.per_group;
    let shift_in = |k: usize| p.shift_in.map_or(0.0, |s| s[first + k]);
    let channels = || input.chunks_exact(shape.plane).enumerate();
    let count = input.len() as f32;
    let mean = channels().map(|(k, plane)| sum(plane) + shift_in(k) * shape.plane as f32).sum::<f32>() / count;
    let variance = channels().map(|(k, plane)| sum_squares(plane, shift_in(k) - mean)).sum::<f32>() / count;
    let inv_std = 1.0 / (variance + p.eps).sqrt();
    for ((k, plane), plane_out) in channels().zip(out.chunks_exact_mut(shape.plane)) {
        let channel = group * shape.per_group + k;
        // Shifted, then centred, then scaled, in PyTorch's order: x·a − mean·a would cancel
        // where the mean is large against the spread.
        let shift = shift_in(k);
        let mut scale = p.gamma[channel] * inv_std;
        let mut offset = p.beta[channel];
        if let Some((film_scale, film_shift)) = p.film {
            let factor = 1.0 + film_scale[first + k];
            scale *= factor;
            offset = offset * factor + film_shift[first + k];
        }
        if p.silu {
            for (y, &v) in plane_out.iter_mut().zip(plane) {
                y.write(silu((v + shift - mean) * scale + offset));
            }
        } else {
            for (y, &v) in plane_out.iter_mut().zip(plane) {
                y.write((v + shift - mean) * scale + offset);
            }
        }
    }
}

/// Eight running sums: f32 addition does not reassociate, so one sum would not vectorise.
#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// Σ (x + shift)².
#[inline(always)]
fn sum_squares(xs: &[f32], shift: f32) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().map(|&v| (v + shift) * (v + shift)).sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += (v + shift) * (v + shift);
        }
    }
    lanes.iter().sum::<f32>() + rest
}
