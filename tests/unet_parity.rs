//! ε_θ against diffusers' UNet2DModel on the committed fixtures (tests/reference): every
//! option the real DDPM checkpoints use, within 1e-4.

mod common;

use burn::module::Module;
use burn::tensor::Device;
use common::*;
use ddpm_web::checkpoint::{self, Directory, Network};
use ddpm_web::model::{RandomParams, UNet2DConfig, UNet2DModel};

fn check_case(name: &str) {
    let device = Device::flex();
    let dir = fixtures().join("unet").join(name);
    let loaded = checkpoint::load(&Directory(dir.clone()), &device).unwrap_or_else(|e| panic!("{name}: {e}"));
    let Network::UNet(model) = loaded.network else { panic!("{name}: not a UNet") };
    let io = read_arrays(&dir.join("io.safetensors"));
    let timesteps: Vec<f32> = io["timesteps"].values.iter().map(|&t| t as f32).collect();
    let labels: Option<Vec<usize>> = io.get("class_labels").map(|a| a.values.iter().map(|&l| l as usize).collect());
    let out = model.forward(io["sample"].tensor::<4>(&device), &timesteps, labels.as_deref());
    assert_eq!(out.dims().to_vec(), io["output"].shape);
    let diff = max_abs_diff(&host(out), &io["output"].values);
    println!("{name}: max |ours − diffusers| = {diff:.2e}");
    assert!(diff < 1e-4, "{name}: max abs diff {diff}");
}

#[test]
fn padding1_new_keys() {
    check_case("padding1_new_keys");
}

#[test]
fn padding0_old_keys() {
    check_case("padding0_old_keys");
}

#[test]
fn f16_grey() {
    check_case("f16_grey");
}

#[test]
fn class_conditional() {
    check_case("class_cond");
}

#[test]
fn scale_shift() {
    check_case("scale_shift");
}

#[test]
fn fixture_parameter_counts_match_diffusers() {
    let cases: serde_json::Value = serde_json::from_slice(&std::fs::read(fixtures().join("unet/cases.json")).unwrap()).unwrap();
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let loaded = checkpoint::load(&Directory(fixtures().join("unet").join(name)), &Device::flex()).unwrap();
        assert_eq!(loaded.network.num_params() as u64, case["num_parameters"].as_u64().unwrap(), "{name}");
    }
}

#[test]
fn real_ddpm_presets_have_diffusers_parameter_counts() {
    let counts: serde_json::Value = serde_json::from_slice(&std::fs::read(fixtures().join("unet/param_counts.json")).unwrap()).unwrap();
    for (key, preset) in [("cifar10", UNet2DConfig::ddpm_cifar10_32()), ("celebahq256", UNet2DConfig::ddpm_celebahq_256())] {
        // The preset must be the config diffusers used, and build to the same size.
        let theirs: UNet2DConfig = serde_json::from_value(counts[key]["config"].clone()).unwrap();
        assert_eq!(theirs, UNet2DConfig { class_name: preset.class_name.clone(), ..preset.clone() }, "{key} config");
        let model = UNet2DModel::load(&preset, &mut RandomParams::new(0, &Device::flex())).unwrap();
        assert_eq!(model.num_params() as u64, counts[key]["num_parameters"].as_u64().unwrap(), "{key}");
    }
}
