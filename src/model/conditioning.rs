//! What a ResNet block does with its timestep embedding to a GroupNorm's input or output.

use burn::tensor::Tensor;

/// Per sample and channel (tensors [n, c]), read by the norm's kernels on either backend and by
/// its reference in burn's ops.
#[allow(clippy::large_enum_variant)] // one lives per call, on the stack
pub enum Conditioning {
    None,
    /// Added to the input before the statistics (diffusers' `time_embedding_norm = "default"`).
    Shift(Tensor<2>),
    /// `y·(1 + scale) + shift` after the affine (`"scale_shift"`, FiLM).
    ScaleShift(Tensor<2>, Tensor<2>),
}
