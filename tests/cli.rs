//! The `ddpm` command line, end to end, on the diffusers fixtures.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use ddpm_web::npy;

fn ddpm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ddpm")).args(args).output().expect("ddpm runs")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ddpm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Writes the fixture's first sample as .npy and returns (path, diffusers' ε for it).
fn first_sample(case: &str) -> (PathBuf, Vec<f64>, usize) {
    let io = read_arrays(&fixtures().join("unet").join(case).join("io.safetensors"));
    let (x, out) = (&io["sample"], &io["output"]);
    let per = x.values.len() / x.shape[0];
    let shape = [1, x.shape[1], x.shape[2], x.shape[3]];
    let values: Vec<f32> = x.values[..per].iter().map(|&v| v as f32).collect();
    let path = temp(&format!("{case}-x.npy"));
    std::fs::write(&path, npy::write_f32(&shape, &values)).unwrap();
    (path, out.values[..per].to_vec(), io["timesteps"].values[0] as usize)
}

#[test]
fn eps_matches_diffusers() {
    for case in ["padding0_old_keys", "f16_grey"] {
        let (x, expected, t) = first_sample(case);
        let out = temp(&format!("{case}-eps.npy"));
        let model = fixtures().join("unet").join(case);
        let run = ddpm(&["eps", "--model", p(&model), "--x", p(&x), "--t", &t.to_string(), "--out", p(&out)]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let (_, values) = npy::read_f32(&std::fs::read(&out).unwrap(), "out").unwrap();
        assert!(max_abs_diff(&values, &expected) < 1e-4, "{case}");
    }
}

#[test]
fn eps_errors_are_clear() {
    let model = fixtures().join("unet/padding1_new_keys");
    let bad = temp("bad-shape.npy");
    std::fs::write(&bad, npy::write_f32(&[1, 1, 16, 16], &[0.0; 256])).unwrap();
    let run = ddpm(&["eps", "--model", p(&model), "--x", p(&bad), "--t", "3", "--out", p(&temp("never.npy"))]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && err.contains("this model takes [N ≥ 1, 3, H, W]"), "{err}");

    let (x, _, _) = first_sample("padding1_new_keys");
    let run = ddpm(&["eps", "--model", p(&model), "--x", p(&x), "--t", "1000", "--out", p(&temp("never.npy"))]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("t = 1000 is outside 0..1000"));

    let cond = fixtures().join("unet/class_cond");
    let (x, _, _) = first_sample("class_cond");
    let run = ddpm(&["eps", "--model", p(&cond), "--x", p(&x), "--t", "3", "--out", p(&temp("never.npy"))]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("class-conditional: give --class 0..11"));

    let run = ddpm(&["eps", "--model", "/nonexistent", "--x", p(&x), "--t", "3", "--out", p(&temp("never.npy"))]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("config.json: not found"));
}

#[test]
fn eps_class_conditional() {
    let io = read_arrays(&fixtures().join("unet/class_cond/io.safetensors"));
    let (x, expected, t) = first_sample("class_cond");
    let class = io["class_labels"].values[0] as usize;
    let out = temp("cond-eps.npy");
    let model = fixtures().join("unet/class_cond");
    let run = ddpm(&["eps", "--model", p(&model), "--x", p(&x), "--t", &t.to_string(), "--class", &class.to_string(), "--out", p(&out)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let (_, values) = npy::read_f32(&std::fs::read(&out).unwrap(), "out").unwrap();
    assert!(max_abs_diff(&values, &expected) < 1e-4);
}

#[test]
fn convert_pickle_pipeline_to_f16_safetensors() {
    let out = temp("converted");
    let src = fixtures().join("pipeline_pickle");
    let run = ddpm(&["convert", "--model", p(&src), "--out", p(&out), "--f16"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(out.join("unet/diffusion_pytorch_model.safetensors").exists());
    assert!(out.join("scheduler/scheduler_config.json").exists());

    let info = ddpm(&["info", "--model", p(&out)]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    assert!(text.contains("parameters: 71075") && text.contains("stored dtype: F16") && text.contains("variance fixed_large"), "{text}");

    // Same ε_θ as diffusers, up to float16 rounding of the weights.
    let (x, expected, t) = first_sample("padding0_old_keys");
    let eps = temp("converted-eps.npy");
    let run = ddpm(&["eps", "--model", p(&out), "--x", p(&x), "--t", &t.to_string(), "--out", p(&eps)]);
    assert!(run.status.success());
    let (_, values) = npy::read_f32(&std::fs::read(&eps).unwrap(), "out").unwrap();
    let diff = max_abs_diff(&values, &expected);
    assert!(diff < 2e-2, "f16 converted model differs by {diff}");
}

#[test]
fn sample_writes_a_grid_and_is_reproducible() {
    let model = fixtures().join("unet/f16_grey");
    let run_once = |name: &str| {
        let out = temp(name);
        let run = ddpm(&["sample", "--model", p(&model), "--sampler", "ddim", "--steps", "5", "--seed", "3", "--n", "4", "--out", p(&out)]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        std::fs::read(out).unwrap()
    };
    let (a, b) = (run_once("a.png"), run_once("b.png"));
    assert_eq!(&a[1..4], b"PNG");
    assert_eq!(a, b, "same seed, same settings → same pixels");
    let decoder = png::Decoder::new(std::io::Cursor::new(a));
    let reader = decoder.read_info().unwrap();
    // 2×2 grid of 16×16 with a 2-pixel border
    assert_eq!((reader.info().width, reader.info().height), (38, 38));
}

#[test]
fn train_2d_lowers_the_loss_and_writes_a_loadable_model() {
    use burn::tensor::Device;
    use ddpm_web::model::Mlp2DConfig;
    use ddpm_web::schedule::Schedule;
    use ddpm_web::train2d::{Train2d, Train2dSettings};

    let settings = Train2dSettings { steps: 300, batch: 128, ..Default::default() };
    let mut run = Train2d::new(&Mlp2DConfig::default(), Schedule::ho_linear(), settings, &Device::flex()).unwrap();
    let losses: Vec<f32> = (0..300).map(|_| run.step().into_scalar::<f32>()).collect();
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&losses[..30]), mean(&losses[270..]));
    assert!(last < 0.8 * first, "L_simple should fall: {first} → {last}");

    let out = temp("spiral");
    let run = ddpm(&["train-2d", "--steps", "20", "--batch", "32", "--samples", "200", "--out", p(&out)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("sliced Wasserstein to the spiral"));
    let info = ddpm(&["info", "--model", p(&out)]);
    assert!(String::from_utf8_lossy(&info.stdout).contains("\"_class_name\": \"Mlp2D\""));
}
