//! Fused kernels for the CPU backend (burn-flex), where profiles of ε_θ found its time: burn runs
//! a GroupNorm, its affine, the ResNet block's timestep conditioning and the SiLU after it as six
//! or seven passes over the activations, each allocating, flex's sigmoid calls a scalar `expf`
//! per element, and its convolution copies input and weights to channels-last before an im2col.
//! Here a norm is one pass that LLVM vectorises (wasm simd128; SSE2, or AVX2 picked at run time
//! natively) and a convolution an im2col from NCHW into a GEMM that writes the output in place.
//!
//! A kernel runs only on plain f32 flex tensors; anything else (WebGPU, f16, autodiff) gets its
//! input back and takes burn's ops, so the two paths compute the same function.

mod conv2d;
mod exp;
mod group_norm;

pub use conv2d::conv2d;
pub use group_norm::{group_norm, Conditioning};

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

/// `kernel(i, chunk)` for each `len`-long chunk of `out`: on every core natively (rayon, as flex
/// does), in order on wasm's one thread.
fn for_each_slab(out: &mut [f32], len: usize, kernel: impl Fn(usize, &mut [f32]) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(len).enumerate().for_each(|(i, chunk)| kernel(i, chunk));
    }
    #[cfg(target_arch = "wasm32")]
    out.chunks_mut(len).enumerate().for_each(|(i, chunk)| kernel(i, chunk));
}

/// Runs `f` compiled for AVX2 where the CPU has it (x86-64 builds target SSE2 only); as it is
/// elsewhere (wasm is built with simd128, see .cargo/config.toml).
#[inline(always)]
fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the features were just detected on this CPU.
            return unsafe { avx2(f) };
        }
    }
    f()
}

