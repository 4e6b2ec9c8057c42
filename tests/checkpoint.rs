//! Loading and saving diffusers folders: every defect gives an error that names it; what we
//! save loads back (in our loader) to the same numbers; pipeline folders and PyTorch pickle
//! weights load natively.

mod common;

use std::collections::HashMap;
use std::path::Path;

use burn::tensor::Device;
use common::*;
use ddpm_web::checkpoint::{self, HostTensor, Network, WEIGHTS_FILE};
use ddpm_web::sampler::{Method, SchedulerConfig, Variance};

const CASE: &str = "padding1_new_keys";

fn case_files(name: &str) -> HashMap<String, Vec<u8>> {
    let dir = fixtures().join("unet").join(name);
    ["config.json", WEIGHTS_FILE].iter().map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap())).collect()
}

fn load_err(files: &HashMap<String, Vec<u8>>) -> String {
    match checkpoint::load(files, &Device::flex()) {
        Ok(_) => panic!("loading a defective checkpoint succeeded"),
        Err(e) => e.to_string(),
    }
}

/// The fixture's weights with `edit` applied, re-serialised.
fn edited(edit: impl FnOnce(&mut std::collections::BTreeMap<String, HostTensor>)) -> HashMap<String, Vec<u8>> {
    let mut files = case_files(CASE);
    let mut tensors = checkpoint::Weights::from_safetensors(&files[WEIGHTS_FILE], "w", &Device::flex()).unwrap().into_host();
    edit(&mut tensors);
    files.insert(WEIGHTS_FILE.into(), checkpoint::to_safetensors(&tensors, false).unwrap());
    files
}

#[test]
fn truncated_file() {
    let mut files = case_files(CASE);
    let w = files.get_mut(WEIGHTS_FILE).unwrap();
    w.truncate(w.len() / 2);
    let err = load_err(&files);
    assert!(err.contains(WEIGHTS_FILE) && err.contains("not a valid safetensors file"), "{err}");
}

#[test]
fn bad_header() {
    let mut files = case_files(CASE);
    files.get_mut(WEIGHTS_FILE).unwrap()[8..16].copy_from_slice(b"{garbage");
    let err = load_err(&files);
    assert!(err.contains("not a valid safetensors file"), "{err}");
}

#[test]
fn wrong_shape() {
    let files = edited(|t| {
        let w = t.get_mut("conv_in.weight").unwrap();
        w.shape = vec![w.values.len()];
    });
    let err = load_err(&files);
    assert!(err.contains("`conv_in.weight` has shape") && err.contains("needs [8, 3, 3, 3]"), "{err}");
}

#[test]
fn missing_key() {
    let files = edited(|t| {
        t.remove("mid_block.attentions.0.to_v.bias");
    });
    let err = load_err(&files);
    assert!(err.contains("missing key `mid_block.attentions.0.to_v.bias`"), "{err}");
}

#[test]
fn unexpected_key() {
    let files = edited(|t| {
        t.insert("extra.weight".into(), HostTensor { shape: vec![1], values: vec![0.0] });
    });
    let err = load_err(&files);
    assert!(err.contains("unexpected key") && err.contains("extra.weight"), "{err}");
}

#[test]
fn nan_weight() {
    let files = edited(|t| t.get_mut("conv_out.bias").unwrap().values[0] = f32::NAN);
    let err = load_err(&files);
    assert!(err.contains("`conv_out.bias` contains a non-finite value"), "{err}");
}

#[test]
fn config_that_does_not_fit_the_weights() {
    let mut files = case_files(CASE);
    let config = String::from_utf8(files["config.json"].clone()).unwrap().replace("\"layers_per_block\": 1", "\"layers_per_block\": 2");
    files.insert("config.json".into(), config.into_bytes());
    let err = load_err(&files);
    assert!(err.contains("missing key `down_blocks.0.resnets.1."), "{err}");
}

#[test]
fn malformed_and_unsupported_configs() {
    let mut files = case_files(CASE);
    files.insert("config.json".into(), b"{ not json".to_vec());
    assert!(load_err(&files).contains("config.json: not valid JSON"));
    files.insert("config.json".into(), br#"{"act_fn": "gelu"}"#.to_vec());
    assert!(load_err(&files).contains("act_fn = \"gelu\" is not supported"));
    files.remove("config.json");
    assert!(load_err(&files).contains("config.json: not found"));
}

#[test]
fn integer_weights_are_refused() {
    let mut files = case_files(CASE);
    let bytes = [0u8; 8];
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::I64, vec![1], &bytes).unwrap();
    files.insert(WEIGHTS_FILE.into(), safetensors::tensor::serialize([("conv_in.weight", view)], None).unwrap());
    assert!(load_err(&files).contains("conv_in.weight: dtype I64 is not a float type"));
}

fn eps_of(dir: &Path) -> Vec<f32> {
    let loaded = checkpoint::load_dir(dir, &Device::flex()).unwrap();
    let Network::UNet(model) = loaded.network else { panic!() };
    let io = read_arrays(&fixtures().join("unet").join(CASE).join("io.safetensors"));
    let t: Vec<f32> = io["timesteps"].values.iter().map(|&v| v as f32).collect();
    host(model.forward(io["sample"].tensor(&Device::flex()), &t, None))
}

#[test]
fn saved_keys_are_the_keys_diffusers_writes() {
    for case in ["padding1_new_keys", "padding0_old_keys", "f16_grey", "class_cond", "scale_shift"] {
        let dir = fixtures().join("unet").join(case);
        let Network::UNet(model) = checkpoint::load_dir(&dir, &Device::flex()).unwrap().network else { panic!() };
        let ours: Vec<String> = checkpoint::state_dict(&model).into_keys().collect();
        // diffusers' own key names, modernised (old attention names map to the new ones)
        let stored = checkpoint::Weights::from_safetensors(&std::fs::read(dir.join(WEIGHTS_FILE)).unwrap(), "w", &Device::flex()).unwrap();
        let theirs: Vec<String> = stored.into_host().into_keys().collect();
        assert_eq!(ours, theirs, "{case}");
    }
}

#[test]
fn saved_folders_load_back_f32_exactly_and_f16_closely() {
    let original = fixtures().join("unet").join(CASE);
    let loaded = checkpoint::load_dir(&original, &Device::flex()).unwrap();
    let Network::UNet(model) = &loaded.network else { panic!() };
    let state = checkpoint::state_dict(model);

    let reference = eps_of(&original);
    for f16 in [false, true] {
        let out = std::env::temp_dir().join(format!("ddpm-save-{}-{f16}", std::process::id()));
        checkpoint::save_dir(&out, &loaded.config, &state, f16).unwrap();
        let again = eps_of(&out);
        let diff = reference.iter().zip(&again).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        if f16 {
            assert!(diff < 0.05 && diff > 0.0, "f16 round trip: {diff}");
        } else {
            assert_eq!(diff, 0.0);
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// The pipeline folder as the page hands it over: every file by its path in the folder.
fn folder_files(dir: &Path) -> HashMap<String, Vec<u8>> {
    ["model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "unet/diffusion_pytorch_model.bin"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
        .collect()
}

#[test]
fn pickle_pipeline_folder_loads_with_its_scheduler() {
    let dir = fixtures().join("pipeline_pickle");
    let from_disk = checkpoint::load_dir(&dir, &Device::flex()).unwrap();
    let in_memory = checkpoint::load(&folder_files(&dir), &Device::flex()).unwrap();
    for loaded in [from_disk, in_memory] {
        let scheduler = SchedulerConfig::parse(loaded.scheduler_config.as_deref().unwrap()).unwrap();
        let settings = scheduler.default_settings().unwrap();
        assert_eq!(settings.method, Method::Ddpm { variance: Variance::FixedLarge });
        assert_eq!(settings.clip_sample, None);
        assert_eq!(loaded.dtypes, ["F32"]);

        let Network::UNet(model) = loaded.network else { panic!() };
        let io = read_arrays(&fixtures().join("unet/padding0_old_keys/io.safetensors"));
        let t: Vec<f32> = io["timesteps"].values.iter().map(|&v| v as f32).collect();
        let out = host(model.forward(io["sample"].tensor(&Device::flex()), &t, None));
        assert!(max_abs_diff(&out, &io["output"].values) < 1e-4);
    }
}

/// Every way a `.bin` can be broken is an error naming the file, never a panic: cut short
/// anywhere, any byte flipped (a sample of positions across the zip headers, the pickle and
/// the storages), not a checkpoint at all, or a checkpoint that is not a state dict.
#[test]
fn broken_pickle_weights_are_errors() {
    let dir = fixtures().join("pipeline_pickle");
    let good = folder_files(&dir);
    let bin = "unet/diffusion_pytorch_model.bin";
    let bytes = &good[bin];
    let with = |weights: Vec<u8>| {
        let mut files = good.clone();
        files.insert(bin.to_string(), weights);
        files
    };
    let mut broken: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("text".into(), b"version https://git-lfs.github.com/spec/v1\n".to_vec()),
        ("safetensors under the .bin name".into(), std::fs::read(fixtures().join("unet/padding0_old_keys").join(WEIGHTS_FILE)).unwrap()),
    ];
    for cut in [4, 30, 200, bytes.len() / 2, bytes.len() - 100, bytes.len() - 1] {
        broken.push((format!("cut at {cut}"), bytes[..cut].to_vec()));
    }
    let mut seed = 0x2545f491u64;
    for _ in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let at = (seed % bytes.len() as u64) as usize;
        let mut flipped = bytes.clone();
        flipped[at] ^= 0xff;
        broken.push((format!("byte {at} flipped"), flipped));
    }
    let mut errors = 0;
    for (what, weights) in broken {
        // A flipped byte in a storage's middle is data, not structure: it may load (the zip's
        // CRC catches most), and must then still be finite or refused.
        match std::panic::catch_unwind(|| checkpoint::load(&with(weights), &Device::flex())) {
            Err(_) => panic!("{what}: panicked"),
            Ok(Err(e)) => {
                let message = e.to_string();
                assert!(message.contains(bin) || message.contains("config.json"), "{what}: {message}");
                errors += 1;
            }
            Ok(Ok(_)) => assert!(what.contains("flipped"), "{what}: loaded"),
        }
    }
    assert!(errors > 250, "only {errors} of the broken files were refused");
}
