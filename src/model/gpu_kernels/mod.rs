//! Kernels for burn's cubecl backend (WebGPU in the page, wgpu natively), where the device work
//! of ε_θ went: burn runs a GroupNorm with its affine, the ResNet block's timestep conditioning
//! and the SiLU after it as five or six dispatches even with fusion, and its reshape of a
//! convolution's channels-last output into groups copies the activations, as does the next
//! convolution's copy back to channels-last. Here a norm is one dispatch that reads the input in
//! whatever layout it lies and writes its output in the same one.
//!
//! They are a burn backend extension: with fusion on, a call is registered in the fusion stream
//! like any op, and runs in its order. A kernel runs only on f32 cube tensors without autodiff;
//! anything else gets its input back and takes burn's ops, so the two paths compute the same
//! function.

// A kernel's Err hands its (large) input tensors back for burn's path: boxing them would
// allocate on every call to save a move.
#![allow(clippy::result_large_err)]

mod attention;
mod group_norm;

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind, backend_extension};
use burn::tensor::{DType, Tensor};
use burn_cubecl::CubeBackend;

use super::conditioning::NormCall;

#[backend_extension(Cube, Fusion: cfg(feature = "webgpu"))]
pub trait GpuKernels: Backend {
    /// `torch.nn.GroupNorm` of `x` [n, c, h, w] with its affine `gamma`, `beta` [c]; if
    /// `shifted`, `shift_in` [n, c] added before the statistics; if `film`, `y·(1 + scale) +
    /// shift` after the affine with `film_scale`, `film_shift` [n, c]; then SiLU if `silu`
    /// (`flags` = [shifted, film, silu]).
    /// Operands a call does not use may be any tensor (fusion's lazy calls take no `Option`).
    #[fusion(dtype = x, shape = x)]
    #[allow(clippy::too_many_arguments)]
    fn group_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        shift_in: FloatTensor<Self>,
        film_scale: FloatTensor<Self>,
        film_shift: FloatTensor<Self>,
        groups: usize,
        eps: f32,
        flags: [bool; 3],
    ) -> FloatTensor<Self>;

    /// softmax(QKᵀ/√d)·V of each of `heads` heads; `q`, `k`, `v` [n, tokens, heads · d].
    #[fusion(dtype = q, shape = q)]
    fn attention(q: FloatTensor<Self>, k: FloatTensor<Self>, v: FloatTensor<Self>, heads: usize) -> FloatTensor<Self>;
}

impl GpuKernels for CubeBackend {
    fn group_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        shift_in: FloatTensor<Self>,
        film_scale: FloatTensor<Self>,
        film_shift: FloatTensor<Self>,
        groups: usize,
        eps: f32,
        flags: [bool; 3],
    ) -> FloatTensor<Self> {
        group_norm::group_norm(x, [gamma, beta], [shift_in, film_scale, film_shift], groups, eps, flags)
    }

    fn attention(q: FloatTensor<Self>, k: FloatTensor<Self>, v: FloatTensor<Self>, heads: usize) -> FloatTensor<Self> {
        attention::attention(q, k, v, heads)
    }
}

/// The dispatch primitive of a plain f32 cube tensor, or the tensor back.
fn cube_f32<const D: usize>(x: Tensor<D>) -> Result<DispatchTensor, Tensor<D>> {
    if x.dtype() != DType::F32 {
        return Err(x);
    }
    match x.into_dispatch() {
        t @ DispatchTensor { kind: DispatchTensorKind::Cube(BackendTensor::Float(_)), autodiff: DispatchAutodiffContext::Disabled } => {
            Ok(t)
        }
        other => Err(Tensor::from_dispatch(other)),
    }
}

/// Multi-head attention of `q`, `k`, `v` [n, tokens, heads · d] in one dispatch. Err gives the
/// operands back when one is not a plain f32 cube tensor.
pub fn attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>, heads: usize) -> Result<Tensor<3>, [Tensor<3>; 3]> {
    if heads == 0 || !q.dims()[2].is_multiple_of(heads) {
        return Err([q, k, v]);
    }
    match [q, k, v].map(cube_f32) {
        [Ok(q), Ok(k), Ok(v)] => Ok(Tensor::from_dispatch(burn::backend::Dispatch::attention(q, k, v, heads))),
        operands => Err(operands.map(|t| t.map_or_else(|t| t, Tensor::from_dispatch))),
    }
}

/// GroupNorm as `call` says, in one dispatch. Err gives `x` back when any operand is not a plain
/// f32 cube tensor.
pub fn group_norm(x: Tensor<4>, call: &NormCall) -> Result<Tensor<4>, Tensor<4>> {
    let &NormCall { gamma, beta, groups, eps, conditioning, silu } = call;
    let channels = x.dims()[1];
    if groups == 0 || !channels.is_multiple_of(groups) {
        return Err(x);
    }
    let x = cube_f32(x)?;
    let back = |x: DispatchTensor| Err(Tensor::from_dispatch(x));
    let Some((shift_in, film)) = conditioning.operands(|t| cube_f32(t.clone()).ok()) else {
        return back(x);
    };
    let (Ok(gamma), Ok(beta)) = (cube_f32(gamma.clone()), cube_f32(beta.clone())) else {
        return back(x);
    };
    let flags = [shift_in.is_some(), film.is_some(), silu];
    let unused = || gamma.clone();
    let shift_in = shift_in.unwrap_or_else(unused);
    let (film_scale, film_shift) = film.unwrap_or_else(|| (unused(), unused()));
    let y = burn::backend::Dispatch::group_norm(x, gamma, beta, shift_in, film_scale, film_shift, groups, eps as f32, flags);
    Ok(Tensor::from_dispatch(y))
}
