//! DDPM, DDIM and RePaint steps against diffusers' schedulers on the committed fixtures: given
//! the same x_t, model output and noise, the same x_{t−1} and x̂_0 within 1e-5.

mod common;

use burn::tensor::{Device, Tensor};
use common::*;
use ddpm_web::inpaint::{Known, repaint_renoise, repaint_step, repaint_timesteps};
use ddpm_web::sampler::{SchedulerConfig, Spacing, Variance, ddim, ddpm, timesteps};
use serde_json::Value;

const TOLERANCE: f64 = 1e-5;

fn spacing(config: &SchedulerConfig) -> Spacing {
    match config.timestep_spacing.as_str() {
        "trailing" => Spacing::Trailing,
        "linspace" => Spacing::Linspace,
        _ => Spacing::Leading,
    }
}

#[test]
fn schedulers_match_diffusers() {
    let device = Device::flex();
    let cases: Value = serde_json::from_slice(&std::fs::read(fixtures().join("schedulers.json")).unwrap()).unwrap();
    let arrays = read_arrays(&fixtures().join("schedulers.safetensors"));
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config = SchedulerConfig::parse(&case["config"].to_string()).unwrap();
        let schedule = config.schedule().unwrap();
        let n = case["set_timesteps"]["num_inference_steps"].as_u64().unwrap() as usize;
        let expected_ts: Vec<usize> = case["timesteps"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as usize).collect();
        let kind = case["scheduler"].as_str().unwrap();
        let ts = if kind == "repaint" {
            let j = case["set_timesteps"]["jump_length"].as_u64().unwrap() as usize;
            let r = case["set_timesteps"]["jump_n_sample"].as_u64().unwrap() as usize;
            repaint_timesteps(schedule.num_train_timesteps(), n, j, r).unwrap()
        } else {
            timesteps::timesteps(schedule.num_train_timesteps(), n, spacing(&config), config.steps_offset).unwrap()
        };
        assert_eq!(ts, expected_ts, "{name}: timesteps");
        let clip = config.clip_sample.then_some(config.clip_sample_range);
        let eta = case["eta"].as_f64().unwrap_or(0.0);

        for step in case["steps"].as_array().unwrap() {
            let key = step["key"].as_str().unwrap();
            let get = |field: &str| &arrays[&format!("{key}/{field}")];
            let t = step["timestep"].as_u64().unwrap() as usize;
            let x_t: Tensor<4> = get("sample").tensor(&device);
            let (prev_sample, pred_x0) = match (kind, step["kind"].as_str().unwrap()) {
                ("ddpm", _) => {
                    let index = step["index"].as_u64().unwrap() as usize;
                    let prev = ts.get(index + 1).copied();
                    let variance = if config.variance_type == "fixed_large" { Variance::FixedLarge } else { Variance::FixedSmall };
                    let (eps, z) = (get("model_output").tensor(&device), get("noise").tensor(&device));
                    let out = ddpm::step(&schedule, variance, clip, eps, t, prev, x_t, z);
                    (out.prev_sample, Some(out.pred_original_sample))
                }
                ("ddim", _) => {
                    let index = step["index"].as_u64().unwrap() as usize;
                    let prev = ts.get(index + 1).copied();
                    // set_alpha_to_one is read from the config into the schedule.
                    assert_eq!(schedule.final_alpha_cumprod as f32 as f64, case["final_alpha_cumprod"].as_f64().unwrap(), "{name}");
                    let clipped_eps = case["use_clipped_model_output"].as_bool().unwrap_or(false);
                    let (eps, z) = (get("model_output").tensor(&device), get("noise").tensor(&device));
                    let out = ddim::step(&schedule, eta, schedule.final_alpha_cumprod, clip, clipped_eps, eps, t, prev, x_t, z);
                    (out.prev_sample, Some(out.pred_original_sample))
                }
                ("repaint", "step") => {
                    let known = Known { image: get("original_image").tensor(&device), mask: get("mask").tensor(&device) };
                    let stride = schedule.num_train_timesteps() / n;
                    let (sample, x0) = repaint_step(
                        &schedule,
                        eta,
                        clip,
                        stride,
                        get("model_output").tensor(&device),
                        t,
                        x_t,
                        &known,
                        get("noise").tensor(&device),
                    );
                    (sample, Some(x0))
                }
                ("repaint", "undo") => {
                    let from = step["undo_step_timestep"].as_u64().unwrap() as usize;
                    let noise: Tensor<5> = get("noise").tensor(&device);
                    let [_, b, c, h, w] = noise.dims();
                    let stride = schedule.num_train_timesteps() / n;
                    let out = repaint_renoise(&schedule, stride, from, x_t, |i| noise.clone().narrow(0, i, 1).reshape([b, c, h, w]));
                    (out, None)
                }
                other => panic!("unknown step kind {other:?}"),
            };
            // Unclipped trajectories grow past 100 (x̂_0 at t ≈ T is x_t / √ᾱ_T), where one
            // float32 ulp is 1.5e-5: differences are measured relative to max(1, |reference|).
            let check = |ours: Tensor<4>, field: &str| {
                let reference = &get(field).values;
                let scale = reference.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                let diff = max_abs_diff(&host(ours), reference) / scale;
                assert!(diff < TOLERANCE, "{key} (t = {t}): {field} differs by {diff:.3e} (relative to {scale:.1})");
            };
            check(prev_sample, "prev_sample");
            if let Some(x0) = pred_x0 {
                check(x0, "pred_original_sample");
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} steps checked");
}
