//! `UNet2DModel`'s config.json, as diffusers writes it, with diffusers' defaults for absent
//! fields. Options this crate does not implement are refused by name in `validate`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schedule::MAX_TIMESTEPS;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UNet2DConfig {
    #[serde(rename = "_class_name")]
    pub class_name: String,
    pub sample_size: Option<usize>,
    pub in_channels: usize,
    pub out_channels: usize,
    pub center_input_sample: bool,
    pub time_embedding_type: String,
    pub freq_shift: f64,
    pub flip_sin_to_cos: bool,
    pub down_block_types: Vec<String>,
    pub up_block_types: Vec<String>,
    pub mid_block_type: Option<String>,
    pub block_out_channels: Vec<usize>,
    pub layers_per_block: usize,
    pub mid_block_scale_factor: f64,
    pub downsample_padding: usize,
    pub downsample_type: String,
    pub upsample_type: String,
    pub act_fn: String,
    pub attention_head_dim: Option<usize>,
    pub norm_num_groups: Option<usize>,
    pub attn_norm_num_groups: Option<usize>,
    pub norm_eps: f64,
    pub resnet_time_scale_shift: String,
    pub add_attention: bool,
    pub class_embed_type: Option<String>,
    pub num_class_embeds: Option<usize>,
    pub time_embedding_dim: Option<usize>,
    pub num_train_timesteps: Option<usize>,
    /// Training-time dropout in each ResNet block; ε_θ at inference (all this crate runs) is the
    /// same for every value, so it is only range-checked.
    pub dropout: f64,
}

impl Default for UNet2DConfig {
    fn default() -> Self {
        Self {
            class_name: "UNet2DModel".into(),
            sample_size: None,
            in_channels: 3,
            out_channels: 3,
            center_input_sample: false,
            time_embedding_type: "positional".into(),
            freq_shift: 0.0,
            flip_sin_to_cos: true,
            down_block_types: ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"].map(String::from).to_vec(),
            up_block_types: ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"].map(String::from).to_vec(),
            mid_block_type: Some("UNetMidBlock2D".into()),
            block_out_channels: vec![224, 448, 672, 896],
            layers_per_block: 2,
            mid_block_scale_factor: 1.0,
            downsample_padding: 1,
            downsample_type: "conv".into(),
            upsample_type: "conv".into(),
            act_fn: "silu".into(),
            attention_head_dim: Some(8),
            norm_num_groups: Some(32),
            attn_norm_num_groups: None,
            norm_eps: 1e-5,
            resnet_time_scale_shift: "default".into(),
            add_attention: true,
            class_embed_type: None,
            num_class_embeds: None,
            time_embedding_dim: None,
            num_train_timesteps: None,
            dropout: 0.0,
        }
    }
}

/// Bounds on every size a config names: far beyond any real UNet2DModel (Ho et al.'s CelebA-HQ
/// model has 6 levels of at most 512 channels), and small enough that nothing sized from a
/// config can exhaust memory before the weights are checked against it.
pub const MAX_LEVELS: usize = 8;
pub const MAX_CHANNELS: usize = 4096;
pub const MAX_LAYERS_PER_BLOCK: usize = 16;
pub const MAX_SAMPLE_SIZE: usize = 2048;
pub const MAX_CLASSES: usize = 1 << 20;

/// `Err` naming `field` unless `value` is in `range`.
pub(crate) fn in_range(field: &str, value: usize, range: std::ops::RangeInclusive<usize>) -> Result<()> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(Error::Config(format!("{field} = {value} is outside {}..={}", range.start(), range.end())))
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

impl UNet2DConfig {
    /// google/ddpm-cifar10-32 (Ho et al.'s CIFAR10 model, 35.7M parameters).
    pub fn ddpm_cifar10_32() -> Self {
        Self {
            sample_size: Some(32),
            block_out_channels: vec![128, 256, 256, 256],
            down_block_types: strings(&["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"]),
            up_block_types: strings(&["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"]),
            ..Self::ddpm_common()
        }
    }

    /// google/ddpm-celebahq-256 (Ho et al.'s CelebA-HQ model, 114M parameters).
    pub fn ddpm_celebahq_256() -> Self {
        Self {
            sample_size: Some(256),
            block_out_channels: vec![128, 128, 256, 256, 512, 512],
            down_block_types: strings(&["DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"]),
            up_block_types: strings(&["UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"]),
            ..Self::ddpm_common()
        }
    }

    /// What the original DDPM checkpoints share (the TF code's conventions).
    fn ddpm_common() -> Self {
        Self { downsample_padding: 0, flip_sin_to_cos: false, freq_shift: 1.0, norm_eps: 1e-6, attention_head_dim: None, ..Self::default() }
    }

    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "ddpm-cifar10-32" => Ok(Self::ddpm_cifar10_32()),
            "ddpm-celebahq-256" => Ok(Self::ddpm_celebahq_256()),
            other => Err(Error::Config(format!("unknown preset `{other}` (known: ddpm-cifar10-32, ddpm-celebahq-256)"))),
        }
    }

    pub fn time_embed_dim(&self) -> usize {
        self.time_embedding_dim.unwrap_or(self.block_out_channels[0] * 4)
    }

    /// GroupNorm groups for the resnets: diffusers' `norm_num_groups`, or its fallback.
    pub fn groups(&self) -> usize {
        self.norm_num_groups.unwrap_or((self.block_out_channels[0] / 4).min(32))
    }

    pub fn validate(&self) -> Result<()> {
        let unsupported = |what: &str, value: &str| Err(Error::Config(format!("{what} = \"{value}\" is not supported by ddpm-web")));
        if self.class_name != "UNet2DModel" {
            return unsupported("_class_name", &self.class_name);
        }
        if self.time_embedding_type != "positional" {
            return unsupported("time_embedding_type", &self.time_embedding_type);
        }
        if self.act_fn != "silu" {
            return unsupported("act_fn", &self.act_fn);
        }
        if self.downsample_type != "conv" {
            return unsupported("downsample_type", &self.downsample_type);
        }
        if self.upsample_type != "conv" {
            return unsupported("upsample_type", &self.upsample_type);
        }
        if !matches!(self.resnet_time_scale_shift.as_str(), "default" | "scale_shift") {
            return unsupported("resnet_time_scale_shift", &self.resnet_time_scale_shift);
        }
        if let Some(t) = &self.class_embed_type {
            return unsupported("class_embed_type", t);
        }
        if let Some(m) = &self.mid_block_type
            && m != "UNetMidBlock2D"
        {
            return unsupported("mid_block_type", m);
        }
        for t in &self.down_block_types {
            if !matches!(t.as_str(), "DownBlock2D" | "AttnDownBlock2D") {
                return unsupported("down_block_types[…]", t);
            }
        }
        for t in &self.up_block_types {
            if !matches!(t.as_str(), "UpBlock2D" | "AttnUpBlock2D") {
                return unsupported("up_block_types[…]", t);
            }
        }
        let levels = self.block_out_channels.len();
        in_range("the number of levels (block_out_channels)", levels, 1..=MAX_LEVELS)?;
        if self.down_block_types.len() != levels || self.up_block_types.len() != levels {
            return Err(Error::Config(format!(
                "block_out_channels ({levels}), down_block_types ({}) and up_block_types ({}) must have the same, non-zero length",
                self.down_block_types.len(),
                self.up_block_types.len()
            )));
        }
        in_range("in_channels", self.in_channels, 1..=MAX_CHANNELS)?;
        in_range("out_channels", self.out_channels, 1..=MAX_CHANNELS)?;
        in_range("layers_per_block", self.layers_per_block, 1..=MAX_LAYERS_PER_BLOCK)?;
        for &c in &self.block_out_channels {
            in_range("block_out_channels[…]", c, 1..=MAX_CHANNELS)?;
        }
        // diffusers' two paddings: 1 (symmetric) and 0 (the TF code's, right and bottom only). Any
        // other leaves the down path's sizes unequal to the up path's.
        in_range("downsample_padding", self.downsample_padding, 0..=1)?;
        if let Some(size) = self.sample_size {
            let factor = 1 << (levels - 1);
            in_range("sample_size", size, 1..=MAX_SAMPLE_SIZE)?;
            if size % factor != 0 {
                return Err(Error::Config(format!(
                    "sample_size = {size} does not halve cleanly {} times (a multiple of {factor} is needed)",
                    levels - 1
                )));
            }
        }
        if let Some(d) = self.time_embedding_dim {
            in_range("time_embedding_dim", d, 1..=4 * MAX_CHANNELS)?;
        }
        if let Some(n) = self.num_class_embeds {
            in_range("num_class_embeds", n, 1..=MAX_CLASSES)?;
        }
        if let Some(n) = self.num_train_timesteps {
            in_range("num_train_timesteps", n, 1..=MAX_TIMESTEPS)?;
        }
        let positive = |field: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(Error::Config(format!("{field} = {value} must be a positive finite number")))
            }
        };
        positive("norm_eps", self.norm_eps)?;
        positive("mid_block_scale_factor", self.mid_block_scale_factor)?;
        let groups = self.groups();
        for &c in &self.block_out_channels {
            if groups == 0 || c % groups != 0 {
                return Err(Error::Config(format!("{c} channels do not split into {groups} groups")));
            }
        }
        if let Some(g) = self.attn_norm_num_groups {
            let c = self.block_out_channels[levels - 1];
            if g == 0 || !c.is_multiple_of(g) {
                return Err(Error::Config(format!(
                    "{c} channels (the middle attention) do not split into attn_norm_num_groups = {g} groups"
                )));
            }
        }
        // Heads only matter where there is attention: as in diffusers, other widths need not
        // divide by attention_head_dim.
        if let Some(d) = self.attention_head_dim {
            let down = self.down_block_types.iter().zip(&self.block_out_channels);
            let up = self.up_block_types.iter().zip(self.block_out_channels.iter().rev());
            let mut attended: Vec<usize> = down.chain(up).filter(|(t, _)| t.starts_with("Attn")).map(|(_, &c)| c).collect();
            if self.add_attention {
                attended.push(self.block_out_channels[levels - 1]);
            }
            if let Some(c) = attended.into_iter().find(|&c| d == 0 || c % d != 0) {
                return Err(Error::Config(format!("{c} channels (an attention block) do not split into heads of {d}")));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!("dropout = {} is not a probability in [0, 1)", self.dropout)));
        }
        if !self.block_out_channels[0].is_multiple_of(2) {
            return Err(Error::Config("block_out_channels[0] must be even (sinusoidal embedding)".into()));
        }
        // The embedding's frequencies divide by half its width less the shift.
        let half = (self.block_out_channels[0] / 2) as f64;
        if !self.freq_shift.is_finite() || self.freq_shift >= half {
            return Err(Error::Config(format!(
                "freq_shift = {} must be finite and below {half} (half of block_out_channels[0])",
                self.freq_shift
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faces64() -> UNet2DConfig {
        UNet2DConfig {
            block_out_channels: vec![16, 32, 64, 128],
            down_block_types: ["DownBlock2D", "DownBlock2D", "AttnDownBlock2D", "DownBlock2D"].map(String::from).to_vec(),
            up_block_types: ["UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D"].map(String::from).to_vec(),
            norm_num_groups: Some(8),
            attention_head_dim: Some(32),
            layers_per_block: 1,
            ..Default::default()
        }
    }

    #[test]
    fn head_width_is_checked_only_where_there_is_attention() {
        // 16 and 32 channels have no attention: diffusers accepts this config, so must we.
        faces64().validate().unwrap();
        let mut narrow = faces64();
        narrow.block_out_channels = vec![16, 32, 48, 128];
        let err = narrow.validate().unwrap_err().to_string();
        assert!(err.contains("48 channels (an attention block) do not split into heads of 32"), "{err}");
    }

    #[test]
    fn every_size_and_number_is_range_checked_before_a_tensor_exists() {
        let faces = faces64();
        let cases: Vec<(UNet2DConfig, &str)> = vec![
            (UNet2DConfig { downsample_padding: 3, ..faces.clone() }, "downsample_padding = 3 is outside 0..=1"),
            (UNet2DConfig { downsample_padding: usize::MAX, ..faces.clone() }, "downsample_padding"),
            (UNet2DConfig { attn_norm_num_groups: Some(0), ..faces.clone() }, "attn_norm_num_groups = 0 groups"),
            (UNet2DConfig { attn_norm_num_groups: Some(3), ..faces.clone() }, "128 channels (the middle attention) do not split"),
            (UNet2DConfig { attn_norm_num_groups: Some(usize::MAX), ..faces.clone() }, "attn_norm_num_groups"),
            (UNet2DConfig { sample_size: Some(63), ..faces.clone() }, "sample_size = 63 does not halve cleanly 3 times"),
            (UNet2DConfig { sample_size: Some(0), ..faces.clone() }, "sample_size = 0 is outside"),
            (UNet2DConfig { sample_size: Some(1 << 40), ..faces.clone() }, "sample_size"),
            (UNet2DConfig { in_channels: usize::MAX, ..faces.clone() }, "in_channels"),
            (UNet2DConfig { out_channels: 0, ..faces.clone() }, "out_channels = 0"),
            (UNet2DConfig { layers_per_block: 1000, ..faces.clone() }, "layers_per_block = 1000"),
            (UNet2DConfig { block_out_channels: vec![16, 32, 64, usize::MAX], ..faces.clone() }, "block_out_channels"),
            (UNet2DConfig { time_embedding_dim: Some(0), ..faces.clone() }, "time_embedding_dim = 0"),
            (UNet2DConfig { num_class_embeds: Some(0), ..faces.clone() }, "num_class_embeds = 0"),
            (UNet2DConfig { num_train_timesteps: Some(usize::MAX), ..faces.clone() }, "num_train_timesteps"),
            (UNet2DConfig { norm_eps: f64::NAN, ..faces.clone() }, "norm_eps = NaN must be a positive finite number"),
            (UNet2DConfig { norm_eps: -1e-5, ..faces.clone() }, "norm_eps"),
            (UNet2DConfig { mid_block_scale_factor: 0.0, ..faces.clone() }, "mid_block_scale_factor"),
            (UNet2DConfig { freq_shift: 8.0, ..faces.clone() }, "freq_shift = 8 must be finite and below 8"),
            (UNet2DConfig { freq_shift: f64::INFINITY, ..faces.clone() }, "freq_shift"),
        ];
        for (config, expected) in cases {
            let err = config.validate().expect_err(expected).to_string();
            assert!(err.contains(expected), "expected `{expected}`, got `{err}`");
        }
        let mut deep = faces64();
        deep.block_out_channels = vec![16; 9];
        deep.down_block_types = vec!["DownBlock2D".into(); 9];
        deep.up_block_types = vec!["UpBlock2D".into(); 9];
        assert!(deep.validate().unwrap_err().to_string().contains("number of levels"));
        // The real checkpoints' values pass.
        for real in
            [UNet2DConfig::ddpm_cifar10_32(), UNet2DConfig::ddpm_celebahq_256(), UNet2DConfig { sample_size: Some(64), ..faces64() }]
        {
            real.validate().unwrap();
        }
    }

    #[test]
    fn dropout_is_read_and_range_checked() {
        let trained: UNet2DConfig = serde_json::from_str(r#"{"dropout": 0.1, "block_out_channels": [16, 32, 64, 128]}"#).unwrap();
        assert_eq!(trained.dropout, 0.1);
        for bad in [-0.1, 1.0, f64::NAN] {
            let config = UNet2DConfig { dropout: bad, ..faces64() };
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains("is not a probability"), "{bad}: {err}");
        }
    }
}
