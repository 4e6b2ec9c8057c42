//! The U-Net's building blocks, one struct per diffusers block, with diffusers' field names so
//! that module paths equal state-dict keys: `ResnetBlock2D`, `Downsample2D`, `Upsample2D`, the
//! down/up blocks (with attention or without) and `UNetMidBlock2D`.

use burn::module::Module;
use burn::tensor::Tensor;

use super::attention::Attention;
use super::conditioning::Conditioning;
use super::cpu_kernels::upsample_nearest2;
use super::layers::{Conv2d, GroupNorm, Linear, rescale};
use super::params::ParamSource;
use crate::error::Result;

/// What every block of one U-Net shares.
#[derive(Clone, Copy, Debug)]
pub struct BlockSettings {
    pub temb_channels: usize,
    pub groups: usize,
    pub eps: f64,
    /// `resnet_time_scale_shift == "scale_shift"`: the time embedding scales and shifts the
    /// second norm (FiLM) instead of being added.
    pub scale_shift: bool,
    /// `attention_head_dim`; None means one head over all channels.
    pub head_dim: Option<usize>,
    /// GroupNorm groups of the mid block's attention (None: no norm, as diffusers does for
    /// `scale_shift` models without `attn_norm_num_groups`).
    pub mid_attn_groups: Option<usize>,
}

#[derive(Module, Debug)]
pub struct ResnetBlock2D {
    pub norm1: GroupNorm,
    pub conv1: Conv2d,
    pub time_emb_proj: Linear,
    pub norm2: GroupNorm,
    pub conv2: Conv2d,
    pub conv_shortcut: Option<Conv2d>,
    scale_shift: bool,
    output_scale_factor: f64,
}

impl ResnetBlock2D {
    pub fn load<S: ParamSource>(
        src: &mut S,
        prefix: &str,
        [c_in, c_out]: [usize; 2],
        s: &BlockSettings,
        output_scale_factor: f64,
    ) -> Result<Self> {
        let p = |name: &str| format!("{prefix}.{name}");
        let temb_out = if s.scale_shift { 2 * c_out } else { c_out };
        Ok(Self {
            norm1: GroupNorm::load(src, &p("norm1"), c_in, s.groups, s.eps)?,
            conv1: Conv2d::load(src, &p("conv1"), [c_in, c_out, 3], 1, [1; 4])?,
            time_emb_proj: Linear::load(src, &p("time_emb_proj"), [s.temb_channels, temb_out])?,
            norm2: GroupNorm::load(src, &p("norm2"), c_out, s.groups, s.eps)?,
            conv2: Conv2d::load(src, &p("conv2"), [c_out, c_out, 3], 1, [1; 4])?,
            conv_shortcut: if c_in != c_out { Some(Conv2d::load(src, &p("conv_shortcut"), [c_in, c_out, 1], 1, [0; 4])?) } else { None },
            scale_shift: s.scale_shift,
            output_scale_factor,
        })
    }

    /// `silu_temb` is SiLU of the time embedding, which diffusers applies in every block and
    /// `UNet2DModel::forward` once for all.
    pub fn forward(&self, x: Tensor<4>, silu_temb: Tensor<2>) -> Tensor<4> {
        let h = self.conv1.forward(self.norm1.forward_silu(x.clone(), &Conditioning::None));
        let temb = self.time_emb_proj.forward(silu_temb);
        let conditioning = if self.scale_shift {
            let [scale, shift]: [Tensor<2>; 2] = temb.chunk(2, 1).try_into().expect("two halves");
            Conditioning::ScaleShift(scale, shift)
        } else {
            Conditioning::Shift(temb)
        };
        let h = self.conv2.forward(self.norm2.forward_silu(h, &conditioning));
        let x = match &self.conv_shortcut {
            Some(conv) => conv.forward(x),
            None => x,
        };
        rescale(x.add(h), self.output_scale_factor)
    }
}

/// Stride-2 3×3 convolution. `padding = 0` is the original DDPM's TF "SAME" padding: pad one
/// row and column at the bottom/right only, then convolve.
#[derive(Module, Debug)]
pub struct Downsample2D {
    pub conv: Conv2d,
}

impl Downsample2D {
    pub fn load<S: ParamSource>(src: &mut S, prefix: &str, channels: usize, padding: usize) -> Result<Self> {
        let pad = if padding == 0 { [0, 1, 0, 1] } else { [padding; 4] };
        Ok(Self { conv: Conv2d::load(src, &format!("{prefix}.conv"), [channels, channels, 3], 2, pad)? })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(x)
    }
}

/// Nearest-neighbour ×2 upsampling, then a 3×3 convolution.
#[derive(Module, Debug)]
pub struct Upsample2D {
    pub conv: Conv2d,
}

impl Upsample2D {
    pub fn load<S: ParamSource>(src: &mut S, prefix: &str, channels: usize) -> Result<Self> {
        Ok(Self { conv: Conv2d::load(src, &format!("{prefix}.conv"), [channels, channels, 3], 1, [1; 4])? })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(upsample_nearest2(x).unwrap_or_else(upsample_nearest2_burn))
    }
}

/// burn's ops on backends without the CPU kernel.
fn upsample_nearest2_burn(x: Tensor<4>) -> Tensor<4> {
    let [n, c, h, w] = x.dims();
    x.reshape([n, c, h, 1, w, 1]).expand([n, c, h, 2, w, 2]).reshape([n, c, 2 * h, 2 * w])
}

fn attention<S: ParamSource>(
    src: &mut S,
    prefix: &str,
    channels: usize,
    s: &BlockSettings,
    groups: Option<usize>,
    rescale_output: f64,
) -> Result<Attention> {
    let head_dim = s.head_dim.unwrap_or(channels);
    Attention::load(src, prefix, channels, head_dim, groups, s.eps, rescale_output)
}

/// `DownBlock2D` (no `attentions`) or `AttnDownBlock2D`.
#[derive(Module, Debug)]
pub struct DownBlock {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Attention>,
    pub downsamplers: Vec<Downsample2D>,
}

pub struct DownBlockShape {
    pub c_in: usize,
    pub c_out: usize,
    pub layers: usize,
    pub with_attention: bool,
    pub downsample_padding: Option<usize>,
}

impl DownBlock {
    pub fn load<S: ParamSource>(src: &mut S, prefix: &str, shape: &DownBlockShape, s: &BlockSettings) -> Result<Self> {
        let mut block = Self { resnets: vec![], attentions: vec![], downsamplers: vec![] };
        for i in 0..shape.layers {
            let c_in = if i == 0 { shape.c_in } else { shape.c_out };
            block.resnets.push(ResnetBlock2D::load(src, &format!("{prefix}.resnets.{i}"), [c_in, shape.c_out], s, 1.0)?);
            if shape.with_attention {
                block.attentions.push(attention(src, &format!("{prefix}.attentions.{i}"), shape.c_out, s, Some(s.groups), 1.0)?);
            }
        }
        if let Some(padding) = shape.downsample_padding {
            block.downsamplers.push(Downsample2D::load(src, &format!("{prefix}.downsamplers.0"), shape.c_out, padding)?);
        }
        Ok(block)
    }

    /// The block's output and every intermediate state the up path will concatenate back.
    pub fn forward(&self, mut x: Tensor<4>, silu_temb: &Tensor<2>, skips: &mut Vec<Tensor<4>>) -> Tensor<4> {
        for (i, resnet) in self.resnets.iter().enumerate() {
            x = resnet.forward(x, silu_temb.clone());
            if let Some(attn) = self.attentions.get(i) {
                x = attn.forward(x);
            }
            skips.push(x.clone());
        }
        for down in &self.downsamplers {
            x = down.forward(x);
            skips.push(x.clone());
        }
        x
    }
}

/// `UpBlock2D` or `AttnUpBlock2D`.
#[derive(Module, Debug)]
pub struct UpBlock {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Attention>,
    pub upsamplers: Vec<Upsample2D>,
}

pub struct UpBlockShape {
    /// Channels of the skip connection taken last (the matching down block's input).
    pub c_in: usize,
    pub c_prev: usize,
    pub c_out: usize,
    pub layers: usize,
    pub with_attention: bool,
    pub upsample: bool,
}

impl UpBlock {
    pub fn load<S: ParamSource>(src: &mut S, prefix: &str, shape: &UpBlockShape, s: &BlockSettings) -> Result<Self> {
        let mut block = Self { resnets: vec![], attentions: vec![], upsamplers: vec![] };
        for i in 0..shape.layers {
            let skip = if i == shape.layers - 1 { shape.c_in } else { shape.c_out };
            let c_in = if i == 0 { shape.c_prev } else { shape.c_out };
            block.resnets.push(ResnetBlock2D::load(src, &format!("{prefix}.resnets.{i}"), [c_in + skip, shape.c_out], s, 1.0)?);
            if shape.with_attention {
                block.attentions.push(attention(src, &format!("{prefix}.attentions.{i}"), shape.c_out, s, Some(s.groups), 1.0)?);
            }
        }
        if shape.upsample {
            block.upsamplers.push(Upsample2D::load(src, &format!("{prefix}.upsamplers.0"), shape.c_out)?);
        }
        Ok(block)
    }

    pub fn forward(&self, mut x: Tensor<4>, silu_temb: &Tensor<2>, skips: &mut Vec<Tensor<4>>) -> Tensor<4> {
        for (i, resnet) in self.resnets.iter().enumerate() {
            let skip = skips.pop().expect("one skip connection per up-block resnet");
            x = resnet.forward(Tensor::cat(vec![x, skip], 1), silu_temb.clone());
            if let Some(attn) = self.attentions.get(i) {
                x = attn.forward(x);
            }
        }
        for up in &self.upsamplers {
            x = up.forward(x);
        }
        x
    }
}

/// `UNetMidBlock2D`: resnet, attention, resnet at the lowest resolution.
#[derive(Module, Debug)]
pub struct MidBlock {
    pub resnets: Vec<ResnetBlock2D>,
    pub attentions: Vec<Attention>,
}

impl MidBlock {
    pub fn load<S: ParamSource>(
        src: &mut S,
        prefix: &str,
        channels: usize,
        s: &BlockSettings,
        with_attention: bool,
        scale: f64,
    ) -> Result<Self> {
        let resnet = |src: &mut S, i: usize| ResnetBlock2D::load(src, &format!("{prefix}.resnets.{i}"), [channels, channels], s, scale);
        let first = resnet(src, 0)?;
        let attentions = if with_attention {
            vec![attention(src, &format!("{prefix}.attentions.0"), channels, s, s.mid_attn_groups, scale)?]
        } else {
            vec![]
        };
        let second = resnet(src, 1)?;
        Ok(Self { resnets: vec![first, second], attentions })
    }

    pub fn forward(&self, x: Tensor<4>, silu_temb: &Tensor<2>) -> Tensor<4> {
        let mut x = self.resnets[0].forward(x, silu_temb.clone());
        if let Some(attn) = self.attentions.first() {
            x = attn.forward(x);
        }
        self.resnets[1].forward(x, silu_temb.clone())
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Distribution, Tensor};

    use super::{upsample_nearest2, upsample_nearest2_burn};

    /// The CPU kernel against burn's expand and reshape, value for value.
    #[test]
    fn cpu_upsample_matches_burns() {
        let device = burn::tensor::Device::flex();
        for shape in [[2, 3, 4, 5], [1, 1, 1, 1], [1, 2, 3, 1]] {
            let x = Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
            let ours = upsample_nearest2(x.clone()).expect("a flex f32 tensor");
            let reference = upsample_nearest2_burn(x);
            assert_eq!(ours.into_data(), reference.into_data(), "{shape:?}");
        }
    }
}
