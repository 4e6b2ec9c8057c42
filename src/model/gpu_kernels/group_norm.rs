//! GroupNorm with its affine, a ResNet block's timestep conditioning and SiLU: one cube per
//! (sample, group), three passes over the group's elements in one dispatch (the mean, the
//! centred variance, the output), each summed over the cube in shared memory.

use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::ops::permute_nhwc_to_nchw;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// Units per cube.
const UNITS: usize = 256;

/// A group's elements are walked channel-fastest when channels lie innermost in memory (a
/// channels-last activation, as burn's convolutions leave them), pixel-fastest otherwise, so
/// that neighbouring units read neighbouring addresses either way.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn group_norm_kernel(
    x: &Tensor<f32>,
    gamma: &Tensor<f32>,
    beta: &Tensor<f32>,
    shift_in: &Tensor<f32>,
    film_scale: &Tensor<f32>,
    film_shift: &Tensor<f32>,
    out: &mut Tensor<f32>,
    groups: usize,
    eps: f32,
    #[comptime] shifted: bool,
    #[comptime] film: bool,
    #[comptime] silu: bool,
    #[comptime] channels_inner: bool,
) {
    let sample = CUBE_POS_X as usize / groups;
    let per_group = x.shape(1) / groups;
    let first = (CUBE_POS_X as usize % groups) * per_group;
    let width = x.shape(3);
    let plane = x.shape(2) * width;
    let count = per_group * plane;
    let unit = UNIT_POS as usize;
    let mut partial = Shared::<[f32]>::new_slice(UNITS);

    let mut sum = f32::new(0.0);
    for e in range_stepped(unit, count, UNITS) {
        let channel = channel_of(first, e, per_group, plane, channels_inner);
        let pixel = pixel_of(e, per_group, plane, channels_inner);
        sum += input(x, shift_in, sample, channel, pixel, shifted);
    }
    let mean = cube_sum(&mut partial, sum, unit) / f32::cast_from(count);

    let mut squares = f32::new(0.0);
    for e in range_stepped(unit, count, UNITS) {
        let channel = channel_of(first, e, per_group, plane, channels_inner);
        let pixel = pixel_of(e, per_group, plane, channels_inner);
        let d = input(x, shift_in, sample, channel, pixel, shifted) - mean;
        squares += d * d;
    }
    let rstd = f32::inverse_sqrt(cube_sum(&mut partial, squares, unit) / f32::cast_from(count) + eps);

    for e in range_stepped(unit, count, UNITS) {
        let channel = channel_of(first, e, per_group, plane, channels_inner);
        let pixel = pixel_of(e, per_group, plane, channels_inner);
        let v = input(x, shift_in, sample, channel, pixel, shifted);
        let mut y = (v - mean) * rstd * gamma[channel * gamma.stride(0)] + beta[channel * beta.stride(0)];
        if film {
            y = y * (film_scale[per_sample(film_scale, sample, channel)] + 1.0) + film_shift[per_sample(film_shift, sample, channel)];
        }
        if silu {
            y = y / (f32::exp(-y) + 1.0);
        }
        let row = pixel / width;
        let column = pixel % width;
        let at = sample * out.stride(0) + channel * out.stride(1) + row * out.stride(2) + column * out.stride(3);
        out[at] = y;
    }
}

/// The channel of element `e` of a group whose first channel is `first`.
#[cube]
fn channel_of(first: usize, e: usize, per_group: usize, plane: usize, #[comptime] channels_inner: bool) -> usize {
    if channels_inner { first + e % per_group } else { first + e / plane }
}

/// The pixel (row · width + column) of element `e` of a group.
#[cube]
fn pixel_of(e: usize, per_group: usize, plane: usize, #[comptime] channels_inner: bool) -> usize {
    if channels_inner { e / per_group } else { e % plane }
}

/// Where (sample, channel, pixel) lies in the 4-D `t`.
#[cube]
fn at(t: &Tensor<f32>, sample: usize, channel: usize, pixel: usize) -> usize {
    let width = t.shape(3);
    sample * t.stride(0) + channel * t.stride(1) + (pixel / width) * t.stride(2) + (pixel % width) * t.stride(3)
}

/// Where (sample, channel) lies in a [n, c] tensor.
#[cube]
fn per_sample(t: &Tensor<f32>, sample: usize, channel: usize) -> usize {
    sample * t.stride(0) + channel * t.stride(1)
}

/// The norm's input at (sample, channel, pixel), the block's shift added if it conditions it.
#[cube]
fn input(x: &Tensor<f32>, shift_in: &Tensor<f32>, sample: usize, channel: usize, pixel: usize, #[comptime] shifted: bool) -> f32 {
    let mut v = x[at(x, sample, channel, pixel)];
    if shifted {
        v += shift_in[per_sample(shift_in, sample, channel)];
    }
    v
}

/// The sum of every unit's `value`, for every unit: a tree over shared memory.
#[cube]
fn cube_sum(partial: &mut Shared<[f32]>, value: f32, unit: usize) -> f32 {
    partial[unit] = value;
    sync_cube();
    let mut half = (UNITS / 2).runtime();
    while half > 0 {
        if unit < half {
            let mine = partial[unit];
            let theirs = partial[unit + half];
            partial[unit] = mine + theirs;
        }
        sync_cube();
        half /= 2;
    }
    let total = partial[0];
    // Every unit has read the total before the shared memory is written again.
    sync_cube();
    total
}

/// See `GpuKernels::group_norm`.
pub(super) fn group_norm(
    x: CubeTensor,
    [gamma, beta]: [CubeTensor; 2],
    [shift_in, film_scale, film_shift]: [CubeTensor; 3],
    groups: usize,
    eps: f32,
    [shifted, film, silu]: [bool; 3],
) -> CubeTensor {
    let [n, c, h, w]: [usize; 4] = x.meta.shape().dims();
    let channels_inner = x.meta.strides()[1] == 1 && c > 1;
    // The output lies as the input does, so a channels-last activation stays channels-last
    // for the convolution that reads it.
    let out = if channels_inner {
        permute_nhwc_to_nchw(empty_device_dtype(x.client.clone(), x.device.clone(), [n, h, w, c].into(), x.dtype))
    } else {
        empty_device_dtype(x.client.clone(), x.device.clone(), [n, c, h, w].into(), x.dtype)
    };
    group_norm_kernel::launch(
        &x.client,
        CubeCount::Static((n * groups) as u32, 1, 1),
        CubeDim::new_1d(UNITS as u32),
        x.clone().into_tensor_arg(),
        gamma.into_tensor_arg(),
        beta.into_tensor_arg(),
        shift_in.into_tensor_arg(),
        film_scale.into_tensor_arg(),
        film_shift.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        groups,
        eps,
        shifted,
        film,
        silu,
        channels_inner,
    );
    out
}
