//! ε_θ(x_t, t): diffusers' `UNet2DModel`, the U-Net of Ho et al. (2020) as the real DDPM
//! checkpoints (google/ddpm-cifar10-32, google/ddpm-celebahq-256) are laid out, optionally
//! class-conditional (`num_class_embeds`) for classifier-free guidance.

use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::activation::silu;

use super::blocks::{BlockSettings, DownBlock, DownBlockShape, MidBlock, UpBlock, UpBlockShape};
use super::conditioning::Conditioning;
use super::config::UNet2DConfig;
use super::cpu_kernels;
use super::embedding::timestep_embedding;
use super::layers::{Conv2d, Embedding, GroupNorm, Linear};
use super::params::ParamSource;
use crate::error::{Error, Result};

/// diffusers' `TimestepEmbedding`: Linear, SiLU, Linear.
#[derive(Module, Debug)]
pub struct TimestepMlp {
    pub linear_1: Linear,
    pub linear_2: Linear,
}

#[derive(Module, Debug)]
pub struct UNet2DModel {
    pub time_embedding: TimestepMlp,
    pub class_embedding: Option<Embedding>,
    pub conv_in: Conv2d,
    pub down_blocks: Vec<DownBlock>,
    pub mid_block: Option<MidBlock>,
    pub up_blocks: Vec<UpBlock>,
    pub conv_norm_out: GroupNorm,
    pub conv_out: Conv2d,
    embedding_dim: usize,
    flip_sin_to_cos: bool,
    freq_shift: f64,
    center_input_sample: bool,
    in_channels: usize,
}

impl UNet2DModel {
    /// Builds the network of `config`, taking every weight from `src`.
    pub fn load<S: ParamSource>(config: &UNet2DConfig, src: &mut S) -> Result<Self> {
        config.validate()?;
        let channels = &config.block_out_channels;
        let c0 = channels[0];
        let temb = config.time_embed_dim();
        let groups = config.groups();
        let scale_shift = config.resnet_time_scale_shift == "scale_shift";
        let settings = BlockSettings {
            temb_channels: temb,
            groups,
            eps: config.norm_eps,
            scale_shift,
            head_dim: config.attention_head_dim,
            mid_attn_groups: config.attn_norm_num_groups.or(if scale_shift { None } else { Some(groups) }),
        };
        let time_embedding = TimestepMlp {
            linear_1: Linear::load(src, "time_embedding.linear_1", [c0, temb])?,
            linear_2: Linear::load(src, "time_embedding.linear_2", [temb, temb])?,
        };
        let class_embedding = match config.num_class_embeds {
            Some(classes) => Some(Embedding::load(src, "class_embedding", [classes, temb])?),
            None => None,
        };
        let conv_in = Conv2d::load(src, "conv_in", [config.in_channels, c0, 3], 1, [1; 4])?;

        let levels = channels.len();
        let mut down_blocks = Vec::with_capacity(levels);
        let mut c_out = c0;
        for (i, kind) in config.down_block_types.iter().enumerate() {
            let c_in = c_out;
            c_out = channels[i];
            let shape = DownBlockShape {
                c_in,
                c_out,
                layers: config.layers_per_block,
                with_attention: kind == "AttnDownBlock2D",
                downsample_padding: (i + 1 < levels).then_some(config.downsample_padding),
            };
            down_blocks.push(DownBlock::load(src, &format!("down_blocks.{i}"), &shape, &settings)?);
        }

        let c_last = channels[levels - 1];
        let mid_block = match config.mid_block_type {
            Some(_) => Some(MidBlock::load(src, "mid_block", c_last, &settings, config.add_attention, config.mid_block_scale_factor)?),
            None => None,
        };

        let reversed: Vec<usize> = channels.iter().rev().copied().collect();
        let mut up_blocks = Vec::with_capacity(levels);
        let mut c_out = reversed[0];
        for (i, kind) in config.up_block_types.iter().enumerate() {
            let c_prev = c_out;
            c_out = reversed[i];
            let shape = UpBlockShape {
                c_in: reversed[(i + 1).min(levels - 1)],
                c_prev,
                c_out,
                layers: config.layers_per_block + 1,
                with_attention: kind == "AttnUpBlock2D",
                upsample: i + 1 < levels,
            };
            up_blocks.push(UpBlock::load(src, &format!("up_blocks.{i}"), &shape, &settings)?);
        }

        Ok(Self {
            time_embedding,
            class_embedding,
            conv_in,
            down_blocks,
            mid_block,
            up_blocks,
            conv_norm_out: GroupNorm::load(src, "conv_norm_out", c0, groups, config.norm_eps)?,
            conv_out: Conv2d::load(src, "conv_out", [c0, config.out_channels, 3], 1, [1; 4])?,
            embedding_dim: c0,
            flip_sin_to_cos: config.flip_sin_to_cos,
            freq_shift: config.freq_shift,
            center_input_sample: config.center_input_sample,
            in_channels: config.in_channels,
        })
    }

    /// Classes of a class-conditional model, the null class included.
    pub fn num_classes(&self) -> Option<usize> {
        self.class_embedding.as_ref().map(Embedding::count)
    }

    /// The label a class-conditional model was trained with when the class was dropped
    /// (classifier-free guidance's ∅): the last one, as `train.py` and Ho & Salimans make it.
    pub fn null_class(&self) -> Option<usize> {
        self.num_classes().map(|k| k - 1)
    }

    /// One label per sample of a batch of `n` for `class`, checked against the model. No class
    /// gives no labels, which `forward` reads as unconditional. An unconditional model takes no
    /// class.
    pub fn class_labels(&self, class: Option<usize>, n: usize) -> Result<Option<Vec<usize>>> {
        let labels = class.map(|c| vec![c; n]);
        self.check_labels(labels.as_deref(), n)?;
        Ok(labels)
    }

    /// `Err` unless `labels` (if any) are one per sample of `n` and classes of this model.
    pub fn check_labels(&self, labels: Option<&[usize]>, n: usize) -> Result<()> {
        let Some(labels) = labels else { return Ok(()) };
        if labels.len() != n {
            return Err(Error::Input(format!("{} class labels for a batch of {n}", labels.len())));
        }
        match (labels.iter().max(), self.num_classes()) {
            (Some(&c), Some(k)) if c >= k => Err(Error::Input(format!("class {c} is outside this model's classes 0..{k}"))),
            (Some(&c), None) => Err(Error::Input(format!("this model is not class-conditional: it takes no class (got {c})"))),
            _ => Ok(()),
        }
    }

    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// The spatial size must halve cleanly at every downsampling.
    pub fn check_input(&self, dims: [usize; 4]) -> Result<()> {
        let [n, c, h, w] = dims;
        let factor = 1usize << self.down_blocks.iter().filter(|b| !b.downsamplers.is_empty()).count();
        if n == 0 || c != self.in_channels || h == 0 || w == 0 || h % factor != 0 || w % factor != 0 {
            return Err(Error::Input(format!(
                "x has shape [{n}, {c}, {h}, {w}]; this model takes [N ≥ 1, {}, H, W] with H and W multiples of {factor}",
                self.in_channels
            )));
        }
        Ok(())
    }

    /// ε_θ(x_t, t[, y]) for a batch: `timesteps` and `class_labels` have one entry per sample;
    /// no labels on a class-conditional model means unconditional, the null class.
    /// Call `check_input` first on untrusted shapes, `class_labels` on untrusted classes.
    /// Runs on rayon's pool as a whole (`cpu_kernels::on_pool`).
    pub fn forward(&self, x: Tensor<4>, timesteps: &[f32], class_labels: Option<&[usize]>) -> Tensor<4> {
        cpu_kernels::on_pool(|| self.forward_here(x, timesteps, class_labels))
    }

    fn forward_here(&self, x: Tensor<4>, timesteps: &[f32], class_labels: Option<&[usize]>) -> Tensor<4> {
        let device = x.device();
        let x = if self.center_input_sample { x.mul_scalar(2.0).sub_scalar(1.0) } else { x };
        let t_emb = timestep_embedding(timesteps, self.embedding_dim, self.flip_sin_to_cos, self.freq_shift, &device);
        let mut emb = self.time_embedding.linear_2.forward(silu(self.time_embedding.linear_1.forward(t_emb)));
        if let (Some(table), Some(null)) = (&self.class_embedding, self.null_class()) {
            let unconditional = vec![null; timesteps.len()];
            emb = emb.add(table.forward(class_labels.unwrap_or(&unconditional)));
        }
        // Every ResNet block takes SiLU(emb) (diffusers applies it in each): once here.
        let emb = silu(emb);

        let mut x = self.conv_in.forward(x);
        let mut skips = vec![x.clone()];
        for block in &self.down_blocks {
            x = block.forward(x, &emb, &mut skips);
        }
        if let Some(mid) = &self.mid_block {
            x = mid.forward(x, &emb);
        }
        for block in &self.up_blocks {
            x = block.forward(x, &emb, &mut skips);
        }
        self.conv_out.forward(self.conv_norm_out.forward_silu(x, &Conditioning::None))
    }
}
