//! Self-attention over a feature map's positions as diffusers' `Attention` runs it inside UNet2D
//! blocks, straight from NCHW. With X a sample's planes [c, L] (L = h·w), Qᵀ = W_q·X + b_q (K and
//! V alike) is a GEMM on the planes as they lie; each head's scores S = QKᵀ/√d and its output
//! Oᵀ = Vᵀ·Pᵀ are GEMMs over strided views of those, and the softmax uses the vectorised exp.
//! burn's path transposes the tokens to [L, c], splits the heads with more copies and calls
//! libm's `expf` once per score.

use std::cell::RefCell;

use burn::backend::flex::Flex;
use burn::tensor::Tensor;

use super::exp::exp;
use super::{Output, flex_f32, for_each_task, matmul, slice, tensor};

/// A linear layer's weight [out, in] (PyTorch's layout) and bias [out].
pub type Projection = (Tensor<2>, Tensor<1>);

/// `(W_out·attention(normed) + b_out + residual) / rescale` for `normed` and `residual`
/// [n, c, h, w], with `heads` heads over the q, k, v and output projections, in that order. Err
/// gives `normed` back when an operand is not a plain f32 flex tensor.
pub fn attention(
    normed: Tensor<4>,
    residual: &Tensor<4>,
    projections: [&Projection; 4],
    heads: usize,
    rescale: f64,
) -> Result<Tensor<4>, Tensor<4>> {
    let dims = normed.dims();
    let [n, c, h, w] = dims;
    let x = flex_f32(normed)?;
    let back = |x| Err(Tensor::from_primitive::<Flex>(x));
    let shaped = projections.iter().all(|(weight, bias)| weight.dims() == [c, c] && bias.dims() == [c]);
    if heads == 0 || c % heads != 0 || residual.dims() != dims || !shaped {
        return back(x);
    }
    let Ok(residual) = flex_f32(residual.clone()) else {
        return back(x);
    };
    let mut weights = Vec::with_capacity(4);
    for (weight, bias) in projections {
        match (flex_f32(weight.clone()), flex_f32(bias.clone())) {
            (Ok(weight), Ok(bias)) => weights.push((weight, bias)),
            _ => return back(x),
        }
    }
    let [q, k, v, out] = [0, 1, 2, 3].map(|i| (slice(&weights[i].0), slice(&weights[i].1)));
    let (input, residual) = (slice(&x), slice(&residual));
    let (length, head_dim) = (h * w, c / heads);
    let plane = c * length;
    if n * plane == 0 {
        return Ok(tensor(Vec::new(), dims));
    }

    // Qᵀ, Kᵀ and Vᵀ of every sample, [n, 3, c, L], each starting as its bias.
    let mut qkv = Vec::with_capacity(3 * n * plane);
    for _ in 0..n {
        for (_, bias) in [q, k, v] {
            for &b in bias {
                qkv.extend(std::iter::repeat_n(b, length));
            }
        }
    }
    let qkv_out = Output(qkv.as_mut_ptr());
    for_each_task(3 * n, |task| {
        let (weight, _) = [q, k, v][task % 3];
        let x = &input[task / 3 * plane..][..plane];
        // SAFETY: task's [c, L] block of qkv is its own; weight is [c, c] and x [c, L], row-major.
        unsafe {
            matmul([c, length, c], (qkv_out.at(task * plane), length, 1), true, (weight.as_ptr(), c, 1), (x.as_ptr(), length, 1), 1.0)
        };
    });

    // Each head's Oᵀ = Vᵀ·softmax(QKᵀ/√d)ᵀ, [n, c, L].
    let mut attended = vec![0.0f32; n * plane];
    let attended_out = Output(attended.as_mut_ptr());
    let scale = 1.0 / (head_dim as f32).sqrt();
    for_each_task(n * heads, |task| {
        let (sample, head) = (task / heads, task % heads);
        let at = |which: usize| qkv[(3 * sample + which) * plane + head * head_dim * length..].as_ptr();
        SCORES.with_borrow_mut(|scores| {
            scores.resize(length * length, 0.0);
            // SAFETY: Qᵀ, Kᵀ, Vᵀ of the head are [d, L] row-major inside qkv; scores is [L, L]; the
            // head's [d, L] rows of `attended` are this task's alone.
            unsafe {
                // S[i, j] = Σ_k Qᵀ[k, i]·Kᵀ[k, j]/√d: Q is Qᵀ read with its strides swapped.
                matmul([length, length, head_dim], (scores.as_mut_ptr(), length, 1), false, (at(0), 1, length), (at(1), length, 1), scale);
            }
            for row in scores.chunks_exact_mut(length) {
                softmax(row);
            }
            unsafe {
                // Oᵀ[k, i] = Σ_j Vᵀ[k, j]·P[i, j]: Pᵀ is P read with its strides swapped.
                let dst = attended_out.at(sample * plane + head * head_dim * length);
                matmul([head_dim, length, length], (dst, length, 1), false, (at(2), length, 1), (scores.as_ptr(), 1, length), 1.0);
            }
        });
    });

    // The output projection onto its bias plus the residual, then the rescale.
    let (out_weight, out_bias) = out;
    let mut result = Vec::with_capacity(n * plane);
    for sample in residual.chunks_exact(plane) {
        for (row, &b) in sample.chunks_exact(length).zip(out_bias) {
            result.extend(row.iter().map(|&r| r + b));
        }
    }
    let result_out = Output(result.as_mut_ptr());
    for_each_task(n, |sample| {
        let o = &attended[sample * plane..][..plane];
        // SAFETY: the sample's [c, L] block of result is its own.
        unsafe {
            matmul(
                [c, length, c],
                (result_out.at(sample * plane), length, 1),
                true,
                (out_weight.as_ptr(), c, 1),
                (o.as_ptr(), length, 1),
                1.0,
            )
        };
    });
    if rescale != 1.0 {
        let inverse = 1.0 / rescale as f32;
        result.iter_mut().for_each(|y| *y *= inverse);
    }
    Ok(tensor(result, dims))
}

thread_local! {
    /// Each thread's [L, L] scores, kept between calls.
    static SCORES: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A row of scores in place: e^(s − max) / Σ.
fn softmax(row: &mut [f32]) {
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
    let mut lanes = [0.0f32; 8];
    let mut chunks = row.chunks_exact_mut(8);
    for chunk in &mut chunks {
        for (lane, s) in lanes.iter_mut().zip(chunk) {
            *s = exp(*s - max);
            *lane += *s;
        }
    }
    let mut total = lanes.iter().sum::<f32>();
    for s in chunks.into_remainder() {
        *s = exp(*s - max);
        total += *s;
    }
    let inverse = 1.0 / total;
    row.iter_mut().for_each(|s| *s *= inverse);
}
