//! Kernels for the CPU backend (burn-flex), where profiles of ε_θ found its time: burn runs a
//! GroupNorm, its affine, the ResNet block's timestep conditioning and the SiLU after it as six
//! or seven passes over the activations, each allocating, with a scalar `expf` per element; its
//! convolution copies input and weights to channels-last before an im2col; its attention
//! transposes the tokens and splits the heads with copies. Here a norm is one pass that LLVM
//! vectorises (wasm simd128; SSE2, or AVX2 picked at run time natively), a convolution an im2col
//! from NCHW into GEMMs that write the output in place (or, in wasm, Winograd's F(2×2, 3×3)),
//! attention GEMMs on the planes as they lie, and ε_θ runs on rayon's pool as a whole.
//!
//! A kernel runs only on plain f32 flex tensors; anything else (WebGPU, f16, autodiff) gets its
//! input back and takes burn's ops, so the two paths compute the same function.

// A kernel's Err hands its (large) input tensor back for burn's path: boxing it would allocate
// on every call to save a move.
#![allow(clippy::result_large_err)]

mod attention;
mod conv2d;
mod exp;
mod group_norm;
mod upsample;
mod winograd;

pub use attention::attention;
pub use conv2d::conv2d;
pub use group_norm::group_norm;
pub use upsample::upsample_nearest2;
pub use winograd::FilterCache;

use std::mem::MaybeUninit;

use burn::backend::flex::{Flex, FlexTensor, Layout};
use burn::backend::{BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind};
use burn::tensor::{Bytes, DType, Tensor};
/// The contiguous f32 data of a plain flex tensor, or the tensor back.
fn flex_f32<const D: usize>(x: Tensor<D>) -> Result<FlexTensor, Tensor<D>> {
    match x.into_dispatch() {
        DispatchTensor { kind: DispatchTensorKind::Flex(BackendTensor::Float(t)), autodiff: DispatchAutodiffContext::Disabled }
            if t.dtype() == DType::F32 =>
        {
            Ok(if t.is_contiguous() { t } else { t.to_contiguous() })
        }
        other => Err(Tensor::from_dispatch(other)),
    }
}

fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice().expect("flex_f32 makes tensors contiguous")
}

fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    let layout = Layout::contiguous(shape.into());
    Tensor::from_primitive::<Flex>(FlexTensor::new(Bytes::from_elems(data), layout, DType::F32))
}

/// A `len`-long output written by `kernel(i, chunk)` for each `slab`-long chunk: on every core
/// natively and in the threaded wasm module (rayon, as flex does), in order on wasm's one thread.
/// Not zeroed first: `kernel` must write every element of its chunk.
fn filled(len: usize, slab: usize, kernel: impl Fn(usize, &mut [MaybeUninit<f32>]) + Sync + Send) -> Vec<f32> {
    let mut out = Vec::with_capacity(len);
    let spare = &mut out.spare_capacity_mut()[..len];
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    {
        use rayon::prelude::*;
        spare.par_chunks_mut(slab).enumerate().for_each(|(i, chunk)| kernel(i, chunk));
    }
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    spare.chunks_mut(slab).enumerate().for_each(|(i, chunk)| kernel(i, chunk));
    // SAFETY: the kernels wrote all `len` elements.
    unsafe { out.set_len(len) };
    out
}

/// `f` run on a thread of rayon's pool (natively, and in the threaded wasm module), so that every
/// parallel loop inside it (the kernels' and flex's) starts from a pool thread: a push onto a
/// deque that the pool's other threads, still spinning from the last op, steal from. Started
/// from outside the pool, each loop is a hand-off that wakes a thread and blocks the caller (in
/// the page, an `Atomics.wait` round trip per op), which at batch 1 cost two threads their gain.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    return rayon::scope(|_| f());
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    f()
}

/// How many threads `for_each_task` spreads over: rayon's pool, or wasm's one thread.
fn workers() -> usize {
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    return rayon::current_num_threads();
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    1
}

/// `task(i)` for i in 0..count, spread over the cores as `filled`.
fn for_each_task(count: usize, task: impl Fn(usize) + Sync + Send) {
    #[cfg(any(not(target_arch = "wasm32"), feature = "threads"))]
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().for_each(task);
    }
    #[cfg(all(target_arch = "wasm32", not(feature = "threads")))]
    (0..count).for_each(task);
}

/// An output buffer shared by tasks that write disjoint blocks of it.
struct Output(*mut f32);

// SAFETY: each kernel's tasks write disjoint elements, and the buffer outlives them all.
unsafe impl Sync for Output {}

impl Output {
    /// SAFETY: `offset` lies inside the buffer.
    unsafe fn at(&self, offset: usize) -> *mut f32 {
        unsafe { self.0.add(offset) }
    }
}

/// A matrix operand: its first element and its row and column strides.
type Strided<P> = (P, usize, usize);

/// dst [m, n] = scale·lhs [m, k]·rhs [k, n], added to dst's values if `accumulate`; one
/// thread (the kernels spread their own tasks).
///
/// SAFETY: every operand lies inside its buffer at its strides; dst overlaps neither the other
/// operands nor any other running task's dst.
unsafe fn matmul(
    [m, n, k]: [usize; 3],
    (dst, dst_rs, dst_cs): Strided<*mut f32>,
    accumulate: bool,
    (lhs, lhs_rs, lhs_cs): Strided<*const f32>,
    (rhs, rhs_rs, rhs_cs): Strided<*const f32>,
    scale: f32,
) {
    let s = |stride: usize| stride as isize;
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            s(dst_cs),
            s(dst_rs),
            accumulate,
            lhs,
            s(lhs_cs),
            s(lhs_rs),
            rhs,
            s(rhs_cs),
            s(rhs_rs),
            1.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}
