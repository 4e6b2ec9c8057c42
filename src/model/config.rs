//! `UNet2DModel`'s config.json, as diffusers writes it, with diffusers' defaults for absent
//! fields. Options this crate does not implement are refused by name in `validate`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
        Self {
            downsample_padding: 0,
            flip_sin_to_cos: false,
            freq_shift: 1.0,
            norm_eps: 1e-6,
            attention_head_dim: None,
            ..Self::default()
        }
    }

    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "ddpm-cifar10-32" => Ok(Self::ddpm_cifar10_32()),
            "ddpm-celebahq-256" => Ok(Self::ddpm_celebahq_256()),
            other => Err(Error::Config(format!(
                "unknown preset `{other}` (known: ddpm-cifar10-32, ddpm-celebahq-256)"
            ))),
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
        let unsupported = |what: &str, value: &str| {
            Err(Error::Config(format!("{what} = \"{value}\" is not supported by ddpm-web")))
        };
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
        if let Some(m) = &self.mid_block_type {
            if m != "UNetMidBlock2D" {
                return unsupported("mid_block_type", m);
            }
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
        if levels == 0 || self.down_block_types.len() != levels || self.up_block_types.len() != levels {
            return Err(Error::Config(format!(
                "block_out_channels ({levels}), down_block_types ({}) and up_block_types ({}) must have the same, non-zero length",
                self.down_block_types.len(),
                self.up_block_types.len()
            )));
        }
        if self.in_channels == 0 || self.out_channels == 0 || self.layers_per_block == 0 {
            return Err(Error::Config("in_channels, out_channels and layers_per_block must be positive".into()));
        }
        let groups = self.groups();
        for &c in &self.block_out_channels {
            if groups == 0 || c % groups != 0 {
                return Err(Error::Config(format!("{c} channels do not split into {groups} groups")));
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
        if self.block_out_channels[0] % 2 != 0 {
            return Err(Error::Config("block_out_channels[0] must be even (sinusoidal embedding)".into()));
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
