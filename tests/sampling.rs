//! Samplers, forks, guidance and inpainting on a small model (the f16_grey fixture).

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use ddpm_web::checkpoint::{self, Directory, Network};
use ddpm_web::inpaint::{Known, Quadrants, RePaint, RePaintSettings, Replacement};
use ddpm_web::model::{EpsModel, Mlp2D, Mlp2DConfig, RandomParams, UNet2DModel};
use ddpm_web::sampler::{Guided, Method, Sampler, SamplerSettings, Variance};
use ddpm_web::schedule::Schedule;

fn model(name: &str) -> UNet2DModel {
    let loaded = checkpoint::load(&Directory(fixtures().join("unet").join(name)), &Device::flex()).unwrap();
    let Network::UNet(unet) = loaded.network else { panic!() };
    unet
}

fn ddpm(steps: usize) -> SamplerSettings {
    SamplerSettings { method: Method::Ddpm { variance: Variance::FixedSmall }, steps, ..Default::default() }
}

fn run<const D: usize, M: EpsModel<D>>(mut sampler: Sampler<D>, m: &M) -> Vec<f32> {
    while !sampler.is_done() {
        let out = sampler.step(m).unwrap();
        assert!(host_any(out.pred_eps).iter().all(|v| v.is_finite()));
    }
    host_any(sampler.current().clone())
}

fn host_any<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn same_seed_same_numbers_other_seed_other_numbers() {
    let m = model("f16_grey");
    let device = Device::flex();
    let a = run(Sampler::new(Schedule::ho_linear(), ddpm(10), [2, 1, 16, 16], 5, &device).unwrap(), &m);
    let b = run(Sampler::new(Schedule::ho_linear(), ddpm(10), [2, 1, 16, 16], 5, &device).unwrap(), &m);
    let c = run(Sampler::new(Schedule::ho_linear(), ddpm(10), [2, 1, 16, 16], 6, &device).unwrap(), &m);
    assert_eq!(a, b);
    assert!(max_diff(&a, &c) > 0.1);
    // clip_sample keeps the final x_0 = clipped x̂_0 within [−1, 1]
    assert!(a.iter().all(|v| v.abs() <= 1.0 + 1e-6));
    // sample 0 of a batch of 2 is sample 0 of a batch of 1
    let single = run(Sampler::new(Schedule::ho_linear(), ddpm(10), [1, 1, 16, 16], 5, &device).unwrap(), &m);
    assert_eq!(single[..], a[..256]);
}

#[test]
fn ddim_image_runs_start_on_the_sphere_and_ddpm_as_written() {
    let device = Device::flex();
    let ddim = SamplerSettings { method: Method::Ddim { eta: 0.0, use_clipped_model_output: false }, steps: 10, ..Default::default() };
    let start = |settings: &SamplerSettings, shape: [usize; 4]| {
        host_any(Sampler::new(Schedule::ho_linear(), settings.clone(), shape, 9, &device).unwrap().current().clone())
    };
    let squares = |v: &[f32]| v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
    let (d, batch) = (3 * 32 * 32, 8);
    let on_sphere = start(&ddim, [batch, 3, 32, 32]);
    let as_written = start(&ddpm(10), [batch, 3, 32, 32]);
    let mut radii_as_written = vec![];
    for (sphere, gaussian) in on_sphere.chunks(d).zip(as_written.chunks(d)) {
        assert!((squares(sphere) / d as f64 - 1.0).abs() < 1e-5, "|x_T|² = d");
        // The same direction: DDIM and DDPM runs of one seed start from one x_T up to its length.
        let cosine = sphere.iter().zip(gaussian).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum::<f64>()
            / (squares(sphere) * squares(gaussian)).sqrt();
        assert!(cosine > 1.0 - 1e-6, "cosine {cosine}");
        radii_as_written.push(squares(gaussian) / d as f64);
    }
    // N(0, I)'s |z|²/d varies by √(2/d) ≈ 0.026 here: eight draws as written are not all on the sphere.
    assert!(radii_as_written.iter().any(|r| (r - 1.0).abs() > 0.01), "{radii_as_written:?}");
    // A particle run's points keep N(0, I): two values do not concentrate.
    let points = host_any(Sampler::new(Schedule::ho_linear(), ddim, [1000, 2], 9, &device).unwrap().current().clone());
    let lengths: Vec<f64> = points.chunks(2).map(squares).collect();
    assert!(lengths.iter().any(|&r| r < 0.5) && lengths.iter().any(|&r| r > 4.0));
}

#[test]
fn forks_spread_more_the_earlier_they_start() {
    let m = model("f16_grey");
    let device = Device::flex();
    let mut trunk = Sampler::new(Schedule::ho_linear(), ddpm(20), [1, 1, 16, 16], 1, &device).unwrap();
    let mut states = vec![];
    while let Some(t) = trunk.next_t() {
        states.push((t, trunk.current().clone()));
        trunk.step(&m).unwrap();
    }
    let spread = |t: usize, x: &Tensor<4>| {
        let fork = Sampler::fork(Schedule::ho_linear(), ddpm(20), x.clone(), t, 4, 9).unwrap();
        let out = run(fork, &m);
        let (a, b) = out.split_at(256);
        max_diff(a, &b[..256])
    };
    let (t_late, x_late) = states.last().unwrap();
    assert_eq!(*t_late, 0);
    // From x at t = 0 only the noiseless last step remains: every fork is the same.
    assert_eq!(spread(*t_late, x_late), 0.0);
    let (t_early, x_early) = &states[1];
    assert!(spread(*t_early, x_early) > 0.1, "forks from t = {t_early} should differ");
    assert!(Sampler::fork(Schedule::ho_linear(), ddpm(20), x_early.clone().repeat_dim(0, 2), 5, 3, 0).is_err());
}

#[test]
fn guidance_is_one_batched_pass_of_the_formula() {
    let m = model("class_cond");
    let device = Device::flex();
    let x = ddpm_web::noise::BatchNoise::new(0, 2).draw([2, 1, 8, 8], &device);
    let labels = [3usize, 7];
    let w = 2.5;
    // ∅ is the last of the fixture's 11 classes, and no label at all means ∅ too.
    assert_eq!(m.null_class(), Some(10));
    let guided = Guided::new(&m, w).unwrap();
    let ours = host_any(guided.eps(x.clone(), 400, Some(&labels)));
    let cond = host_any(m.eps(x.clone(), 400, Some(&labels)));
    let uncond = host_any(m.eps(x.clone(), 400, Some(&[10, 10])));
    assert_eq!(host_any(m.eps(x.clone(), 400, None)), uncond);
    assert_eq!(host_any(guided.eps(x, 400, None)), uncond, "guidance without a class is unconditional");
    let expected: Vec<f32> = cond.iter().zip(&uncond).map(|(c, u)| (1.0 + w as f32) * c - w as f32 * u).collect();
    assert!(max_diff(&ours, &expected) < 1e-4);
    assert!(max_diff(&cond, &uncond) > 1e-3, "the class must matter");
}

fn known_face(device: &Device) -> (Tensor<4>, Vec<f32>) {
    let values: Vec<f32> = (0..256).map(|i| ((i % 16) as f32 / 7.5) - 1.0).collect();
    (Tensor::from_data(TensorData::new(values.clone(), [1, 1, 16, 16]), device), values)
}

#[test]
fn replacement_inpainting_keeps_the_known_quadrants() {
    let m = model("f16_grey");
    let device = Device::flex();
    let (image, values) = known_face(&device);
    let quadrants = Quadrants { top_left: true, bottom_right: true, ..Default::default() };
    let mask = quadrants.mask(16, 16);
    let known = Known::new(image, &mask, &device).unwrap();
    let sampler = Sampler::new(Schedule::ho_linear(), ddpm(10), [3, 1, 16, 16], 2, &device).unwrap();
    let mut inpaint = Replacement::new(sampler, known, 2);
    while !inpaint.sampler.is_done() {
        inpaint.step(&m).unwrap();
    }
    let out = host_any(inpaint.sampler.current().clone());
    for s in 0..3 {
        for p in 0..256 {
            let v = out[s * 256 + p];
            if mask[p] == 1.0 {
                assert_eq!(v, values[p], "known pixel {p} of sample {s}");
            }
        }
    }
    let unknown_differs = (0..256).filter(|&p| mask[p] == 0.0).any(|p| (out[p] - out[256 + p]).abs() > 1e-3);
    assert!(unknown_differs, "filled regions of different samples should differ");
}

#[test]
fn repaint_keeps_the_known_region_and_resamples() {
    let m = model("f16_grey");
    let device = Device::flex();
    let (image, values) = known_face(&device);
    let mask = Quadrants { bottom_right: true, ..Default::default() }.mask(16, 16);
    let known = Known::new(image, &mask, &device).unwrap();
    let settings = RePaintSettings { steps: 10, jump_length: 2, jump_n_sample: 2, ..Default::default() };
    let mut repaint = RePaint::new(Schedule::ho_linear(), settings, known, 2, 4).unwrap();
    let (mut denoise, mut renoise) = (0, 0);
    while !repaint.is_done() {
        match repaint.step(&m).unwrap() {
            Some(_) => denoise += 1,
            None => renoise += 1,
        }
    }
    assert_eq!((denoise, renoise), (18, 8));
    let out = host_any(repaint.current().clone());
    for p in (0..256).filter(|&p| mask[p] == 1.0) {
        assert!((out[p] - values[p]).abs() < 1e-6, "known pixel {p}");
    }
}

#[test]
fn inpainting_rejects_bad_masks() {
    let device = Device::flex();
    let (image, _) = known_face(&device);
    assert!(Known::new(image.clone(), &[1.0; 10], &device).unwrap_err().to_string().contains("mask has 10 values"));
    assert!(Known::new(image, &[2.0; 256], &device).is_err());
}

#[test]
fn mlp_2d_runs_and_saves_under_its_config_names() {
    let device = Device::flex();
    let config = Mlp2DConfig::default();
    let mlp = Mlp2D::load(&config, &mut RandomParams::new(1, &device)).unwrap();
    let x = ddpm_web::noise::BatchNoise::new(0, 5).draw([5, 2], &device);
    let eps = mlp.eps(x, 10, None);
    assert_eq!(eps.dims(), [5, 2]);
    let state = checkpoint::state_dict(&mlp);
    assert_eq!(state.len(), 2 * (config.hidden_layers + 1));
    assert_eq!(state["layers.0.weight"].shape, vec![config.hidden, 2 + config.time_embedding_dim]);
    let mut weights = checkpoint::Weights::from_host(state, "mlp", &device);
    let again = Mlp2D::load(&config, &mut weights).unwrap();
    weights.finish().unwrap();
    let x = ddpm_web::noise::BatchNoise::new(3, 4).draw([4, 2], &device);
    assert_eq!(host_any(again.eps(x.clone(), 7, None)), host_any(mlp.eps(x, 7, None)));
}

#[test]
fn bad_sampler_settings_are_errors() {
    let device = Device::flex();
    let bad_eta = SamplerSettings { method: Method::Ddim { eta: 2.0, use_clipped_model_output: true }, steps: 10, ..Default::default() };
    assert!(Sampler::new(Schedule::ho_linear(), bad_eta, [1, 1, 8, 8], 0, &device).is_err());
    assert!(Sampler::new(Schedule::ho_linear(), ddpm(0), [1, 1, 8, 8], 0, &device).is_err());
    assert!(Sampler::new(Schedule::ho_linear(), ddpm(1001), [1, 1, 8, 8], 0, &device).is_err());
    let mut done = Sampler::new(Schedule::ho_linear(), ddpm(1), [1, 2], 0, &device).unwrap();
    let mlp = Mlp2D::load(&Mlp2DConfig::default(), &mut RandomParams::new(1, &device)).unwrap();
    done.step(&mlp).unwrap();
    assert!(done.step(&mlp).unwrap_err().to_string().contains("already finished"));
}

#[test]
fn each_step_says_which_timestep_its_output_sits_at() {
    let m = model("f16_grey");
    let mut sampler = Sampler::new(Schedule::ho_linear(), ddpm(5), [1, 1, 16, 16], 0, &Device::flex()).unwrap();
    let timesteps = sampler.timesteps().to_vec();
    assert_eq!(timesteps, vec![800, 600, 400, 200, 0]);
    for (i, &t) in timesteps.iter().enumerate() {
        let out = sampler.step(&m).unwrap();
        assert_eq!(out.t, t);
        assert_eq!(out.next_t, timesteps.get(i + 1).copied());
        assert_eq!(sampler.next_t(), out.next_t, "the next step evaluates ε_θ where this output sits");
    }
    assert!(sampler.step(&m).is_err(), "stepping past the end is an error");
}
