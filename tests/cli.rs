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
    // No class on a class-conditional model is the null class, the last (10 of 0..11).
    let (unconditional, null) = (temp("eps_no_class.npy"), temp("eps_null_class.npy"));
    assert!(ddpm(&["eps", "--model", p(&cond), "--x", p(&x), "--t", "3", "--out", p(&unconditional)]).status.success());
    assert!(ddpm(&["eps", "--model", p(&cond), "--x", p(&x), "--t", "3", "--class", "10", "--out", p(&null)]).status.success());
    assert_eq!(std::fs::read(&unconditional).unwrap(), std::fs::read(&null).unwrap());
    let run = ddpm(&["eps", "--model", p(&cond), "--x", p(&x), "--t", "3", "--class", "11", "--out", p(&temp("never.npy"))]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("class 11 is outside this model's classes 0..11"));
    let run = ddpm(&[
        "eps",
        "--model",
        p(&model),
        "--x",
        p(&first_sample("padding1_new_keys").0),
        "--t",
        "3",
        "--class",
        "0",
        "--out",
        p(&temp("never.npy")),
    ]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("not class-conditional"));

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

/// `--sampler` takes the page's names; without it the checkpoint's scheduler config decides (the
/// fixture has none: diffusers' default, σ_t² = β̃_t).
#[test]
fn sampler_names_are_the_pages() {
    let model = fixtures().join("unet/f16_grey");
    let run = |sampler: &[&str], name: &str| {
        let (out, npy_path) = (temp(&format!("{name}.png")), temp(&format!("{name}.npy")));
        let mut args =
            vec!["sample", "--model", p(&model), "--steps", "4", "--seed", "5", "--n", "2", "--out", p(&out), "--npy", p(&npy_path)];
        args.extend_from_slice(sampler);
        let output = ddpm(&args);
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        npy::read_f32(&std::fs::read(npy_path).unwrap(), name).unwrap().1
    };
    let default = run(&[], "default");
    assert_eq!(run(&["--sampler", "ddpm-small"], "small"), default);
    assert_ne!(run(&["--sampler", "ddpm-large"], "large"), default);
    assert_ne!(run(&["--sampler", "ddim", "--eta", "1"], "ddim"), default);
    let old = ddpm(&["sample", "--model", p(&model), "--sampler", "ddpm", "--out", p(&temp("old.png"))]);
    let message = String::from_utf8_lossy(&old.stderr);
    assert!(!old.status.success() && message.contains("ddpm-small") && message.contains("ddpm-large"), "{message}");
}

/// What train/ asks the core: a folder's class rules (`info --json`) and the quadrant masks.
#[test]
fn info_json_and_mask_answer_trains_questions() {
    let model = fixtures().join("unet/class_cond");
    let info = ddpm(&["info", "--model", p(&model), "--json"]);
    assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
    let report: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let classes = report["config"]["num_class_embeds"].as_u64().unwrap();
    assert_eq!(report["num_classes"].as_u64(), Some(classes));
    assert_eq!(report["null_class"].as_u64(), Some(classes - 1), "the null class is the last");
    assert!(report["parameters"].as_u64().unwrap() > 0);
    assert_eq!(report["samplers"], serde_json::json!(["ddpm-small", "ddpm-large", "ddim"]), "the page's and the CLI's names");
    let unconditional = ddpm(&["info", "--model", p(&fixtures().join("unet/f16_grey")), "--json"]);
    assert!(serde_json::from_slice::<serde_json::Value>(&unconditional.stdout).unwrap()["null_class"].is_null());

    let out = temp("mask.npy");
    assert!(ddpm(&["mask", "--known", "0111", "--size", "4", "--out", p(&out)]).status.success());
    let (shape, mask) = npy::read_f32(&std::fs::read(&out).unwrap(), "mask").unwrap();
    assert_eq!(shape, [4, 4]);
    #[rustfmt::skip]
    assert_eq!(mask, [0., 0., 1., 1., 0., 0., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1.], "top-left unknown");
    for bad in [["--known", "01", "--size", "4"], ["--known", "0111", "--size", "0"], ["--known", "0111", "--size", "99999"]] {
        let run = ddpm(&["mask", bad[0], bad[1], bad[2], bad[3], "--out", p(&out)]);
        assert!(!run.status.success() && !String::from_utf8_lossy(&run.stderr).contains("panicked"), "{bad:?}");
    }
}

/// A GIF's frames as (delay in centiseconds, grey values: the red channel).
fn gif_frames(bytes: &[u8]) -> (u16, u16, Vec<(u16, Vec<u8>)>) {
    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(bytes).expect("a GIF");
    let (width, height) = (decoder.width(), decoder.height());
    let mut frames = Vec::new();
    while let Some(frame) = decoder.read_next_frame().expect("a frame") {
        frames.push((frame.delay, frame.buffer.chunks(4).map(|px| px[0]).collect()));
    }
    (width, height, frames)
}

#[test]
fn sample_animates_x_t_and_x0_as_t_falls() {
    let model = fixtures().join("unet/f16_grey");
    let animate = |of: &str, frames: &str| {
        let (out, gif) = (temp(&format!("anim-{of}.png")), temp(&format!("anim-{of}.gif")));
        let run = ddpm(&[
            "sample",
            "--model",
            p(&model),
            "--sampler",
            "ddim",
            "--steps",
            "12",
            "--seed",
            "3",
            "--n",
            "4",
            "--out",
            p(&out),
            "--animate",
            p(&gif),
            "--animate-of",
            of,
            "--frames",
            frames,
        ]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let mut reader = png::Decoder::new(std::io::Cursor::new(std::fs::read(out).unwrap())).read_info().unwrap();
        let mut grid = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut grid).unwrap();
        (grid, gif_frames(&std::fs::read(gif).unwrap()))
    };
    let (grid, (width, height, frames)) = animate("xt", "5");
    assert_eq!((width, height), (38, 38), "the animation is the PNG's grid");
    assert_eq!(frames.len(), 5, "steps 1, 4, 7, 9, 12 of 12");
    assert_eq!(frames.iter().map(|(delay, _)| *delay).collect::<Vec<_>>(), [8, 8, 8, 8, 200]);
    assert_eq!(frames.last().unwrap().1, grid, "the last frame is the sample, grey level for grey level");
    let change = |a: &[u8], b: &[u8]| a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / a.len() as f64;
    assert!(change(&frames[0].1, &grid) > 10.0, "the first frame is still noisy: {}", change(&frames[0].1, &grid));

    let (_, (_, _, predictions)) = animate("x0", "12");
    assert_eq!(predictions.len(), 12);
    // x̂_0 settles: it moves less over the last steps than over the first ones.
    let (early, late) = (change(&predictions[0].1, &predictions[3].1), change(&predictions[8].1, &predictions[11].1));
    assert!(late < early, "x̂_0 changes {early:.2} early, {late:.2} late");

    let gif = temp("never.gif");
    let run =
        ddpm(&["sample", "--model", p(&model), "--steps", "3", "--out", p(&temp("never.png")), "--animate", p(&gif), "--frames", "0"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && err.contains("--frames 0: give 1..=2000"), "{err}");
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

/// The first held-out face of the page's sprite, as its own 64×64 grey PNG → (path, its pixels).
fn held_out_face() -> (PathBuf, Vec<u8>) {
    let sprite = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("www/samples/faces-heldout.png")).unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(sprite)).read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    let face: Vec<u8> = (0..64).flat_map(|y| buffer[y * frame.line_size..y * frame.line_size + 64].to_vec()).collect();
    let path = temp("face.png");
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 64, 64);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header().unwrap().write_image_data(&face).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    (path, face)
}

#[test]
fn inpaint_keeps_the_known_half_and_fills_the_rest() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/faces64");
    let (face, pixels) = held_out_face();
    for method in ["replacement", "repaint"] {
        let (out, fills) = (temp(&format!("inpaint-{method}.png")), temp(&format!("inpaint-{method}.npy")));
        let run = ddpm(&[
            "inpaint",
            "--model",
            p(&model),
            "--image",
            p(&face),
            "--known",
            "1100",
            "--method",
            method,
            "--steps",
            "10",
            "--jump",
            "2",
            "--resample",
            "2",
            "--n",
            "2",
            "--seed",
            "3",
            "--out",
            p(&out),
            "--npy",
            p(&fills),
        ]);
        assert!(run.status.success(), "{method}: {}", String::from_utf8_lossy(&run.stderr));
        let (shape, values) = npy::read_f32(&std::fs::read(&fills).unwrap(), "fills").unwrap();
        assert_eq!(shape, vec![2, 1, 64, 64]);
        for fill in values.chunks(64 * 64) {
            // Top half known: exactly the input at the end.
            for (i, &v) in fill[..32 * 64].iter().enumerate() {
                let input = f32::from(pixels[i]) / 127.5 - 1.0;
                assert!((v - input).abs() < 1e-4, "{method}: known pixel {i} is {v}, the input {input}");
            }
            // Bottom half filled: an image, not noise, not a constant.
            let bottom = &fill[32 * 64..];
            let mean = bottom.iter().sum::<f32>() / bottom.len() as f32;
            let spread = (bottom.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / bottom.len() as f32).sqrt();
            assert!(spread > 0.05 && bottom.iter().all(|v| v.abs() <= 1.0), "{method}: fill spread {spread}");
        }
        assert_ne!(values[..64 * 64], values[64 * 64..], "{method}: two fills are the same");
        let png = std::fs::read(&out).unwrap();
        let info = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap().info().clone();
        assert!(info.height < 2 * 64 && info.width > 4 * 64, "{method}: input, known part and 2 fills side by side in one row");
    }
}

#[test]
fn inpaint_errors_are_clear() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models/faces64");
    let (face, _) = held_out_face();
    let out = temp("never.png");
    let not_png = model.join("model_index.json");
    let cases: [(&[&str], &str); 3] = [
        (&["--image", p(&face), "--known", "11"], "give four 0/1"),
        (&["--image", p(&face), "--known", "1111"], "nothing to fill"),
        (&["--image", p(&not_png), "--known", "1100"], "not a readable PNG"),
    ];
    for (args, expected) in cases {
        let run = ddpm(&[&["inpaint", "--model", p(&model), "--out", p(&out)], args].concat());
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success() && err.contains(expected), "{args:?}: {err}");
    }
}
