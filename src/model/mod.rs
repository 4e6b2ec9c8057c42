//! ε_θ: the networks that predict the noise in x_t (Ho et al. eq. 14's ε_θ(x_t, t)).

pub mod attention;
pub mod blocks;
pub mod conditioning;
pub mod config;
mod cpu_kernels;
pub mod embedding;
#[cfg(any(feature = "wgpu", feature = "webgpu"))]
mod gpu_kernels;
pub mod layers;
pub mod mlp;
pub mod params;
pub mod unet;

pub use config::UNet2DConfig;
pub use mlp::{Mlp2D, Mlp2DConfig};
pub use params::{ParamKind, ParamSource, RandomParams};
pub use unet::UNet2DModel;

use burn::tensor::Tensor;

/// What a sampler needs from a network: ε̂ for a batch at one timestep.
pub trait EpsModel<const D: usize> {
    /// `labels`, one per sample, select classes of a class-conditional model; None samples it
    /// unconditionally.
    fn eps(&self, x_t: Tensor<D>, t: usize, labels: Option<&[usize]>) -> Tensor<D>;

    /// The label that stands for "no class" in a class-conditional model; None otherwise.
    fn null_class(&self) -> Option<usize> {
        None
    }
}

/// A shared network is the network: guidance wraps `&unet` natively and an `Rc` in the page.
impl<const D: usize, M: EpsModel<D> + ?Sized> EpsModel<D> for &M {
    fn eps(&self, x_t: Tensor<D>, t: usize, labels: Option<&[usize]>) -> Tensor<D> {
        (**self).eps(x_t, t, labels)
    }

    fn null_class(&self) -> Option<usize> {
        (**self).null_class()
    }
}

impl<const D: usize, M: EpsModel<D> + ?Sized> EpsModel<D> for std::rc::Rc<M> {
    fn eps(&self, x_t: Tensor<D>, t: usize, labels: Option<&[usize]>) -> Tensor<D> {
        (**self).eps(x_t, t, labels)
    }

    fn null_class(&self) -> Option<usize> {
        (**self).null_class()
    }
}

impl EpsModel<4> for UNet2DModel {
    fn eps(&self, x_t: Tensor<4>, t: usize, labels: Option<&[usize]>) -> Tensor<4> {
        let n = x_t.dims()[0];
        self.forward(x_t, &vec![t as f32; n], labels)
    }

    fn null_class(&self) -> Option<usize> {
        UNet2DModel::null_class(self)
    }
}

impl EpsModel<2> for Mlp2D {
    fn eps(&self, x_t: Tensor<2>, t: usize, _labels: Option<&[usize]>) -> Tensor<2> {
        let n = x_t.dims()[0];
        self.forward(x_t, &vec![t as f32; n])
    }
}
