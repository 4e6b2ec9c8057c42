//! softmax(QKᵀ/√d)·V for every head in one dispatch: one unit per query token, walking the keys
//! once with an online softmax (Milakov & Gimelshein 2018), so no score matrix is written.
//! burn's attention on WebGPU without its flash kernel takes about thirteen dispatches (the
//! scores, their scale, max, clamp, shift, exp, sum, clamp, division, the second product).

use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::prelude::*;

/// Query tokens per cube.
const UNITS: usize = 64;

/// `q`, `k`, `v` and `out` are [n, tokens, heads · head_dim]; cube (x, y) takes `UNITS` query
/// tokens of sample and head y.
#[cube(launch)]
fn attention_kernel(
    q: &Tensor<f32>,
    k: &Tensor<f32>,
    v: &Tensor<f32>,
    out: &mut Tensor<f32>,
    heads: usize,
    scale: f32,
    #[comptime] head_dim: usize,
) {
    let token = CUBE_POS_X as usize * UNITS + UNIT_POS as usize;
    let tokens = q.shape(1);
    if token >= tokens {
        terminate!();
    }
    let sample = CUBE_POS_Y as usize / heads;
    let first = (CUBE_POS_Y as usize % heads) * head_dim;

    let mut query = Array::<f32>::new(head_dim);
    let mut acc = Array::<f32>::new(head_dim);
    let q_row = sample * q.stride(0) + token * q.stride(1);
    #[unroll]
    for d in 0..head_dim {
        query[d] = q[q_row + (first + d) * q.stride(2)] * scale;
        acc[d] = 0.0;
    }
    // The running maximum of the scores and the sum of their exponentials relative to it.
    let mut max = f32::new(-3.0e38);
    let mut sum = f32::new(0.0);
    for key in 0..tokens {
        let k_row = sample * k.stride(0) + key * k.stride(1);
        let mut score = f32::new(0.0);
        #[unroll]
        for d in 0..head_dim {
            score += query[d] * k[k_row + (first + d) * k.stride(2)];
        }
        let new_max = select(score > max, score, max);
        let correction = f32::exp(max - new_max);
        let weight = f32::exp(score - new_max);
        sum = sum * correction + weight;
        let v_row = sample * v.stride(0) + key * v.stride(1);
        #[unroll]
        for d in 0..head_dim {
            acc[d] = acc[d] * correction + weight * v[v_row + (first + d) * v.stride(2)];
        }
        max = new_max;
    }
    let out_row = sample * out.stride(0) + token * out.stride(1);
    let out_stride = out.stride(2);
    #[unroll]
    for d in 0..head_dim {
        out[out_row + (first + d) * out_stride] = acc[d] / sum;
    }
}

/// See `GpuKernels::attention`.
pub(super) fn attention(q: CubeTensor, k: CubeTensor, v: CubeTensor, heads: usize) -> CubeTensor {
    let [n, tokens, channels]: [usize; 3] = q.meta.shape().dims();
    let head_dim = channels / heads;
    let out = empty_device_dtype(q.client.clone(), q.device.clone(), [n, tokens, channels].into(), q.dtype);
    attention_kernel::launch(
        &q.client,
        CubeCount::Static(tokens.div_ceil(UNITS) as u32, (n * heads) as u32, 1),
        CubeDim::new_1d(UNITS as u32),
        q.clone().into_tensor_arg(),
        k.into_tensor_arg(),
        v.into_tensor_arg(),
        out.clone().into_tensor_arg(),
        heads,
        1.0 / (head_dim as f32).sqrt(),
        head_dim,
    );
    out
}
