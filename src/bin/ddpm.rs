//! `ddpm`: the command-line tool that tests, benchmarks and users share.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::{Device, Tensor, TensorData};
use clap::{Parser, Subcommand, ValueEnum};
use ddpm_web::checkpoint::{self, LoadedModel, Network, NetworkConfig};
use ddpm_web::data2d::{sliced_wasserstein, spiral};
use ddpm_web::inpaint::{Known, Quadrants, RePaint, RePaintSettings, Replacement};
use ddpm_web::model::{Mlp2DConfig, RandomParams, UNet2DConfig, UNet2DModel};
use ddpm_web::sampler::{Guided, Method, Sampler, SamplerName, SamplerSettings, SchedulerConfig, Variance};
use ddpm_web::schedule::Schedule;
use ddpm_web::train2d::{Train2d, Train2dSettings};
use ddpm_web::{Error, Result, animation, grid, npy};
use indicatif::{ProgressBar, ProgressStyle};

#[path = "ddpm/picture.rs"]
mod picture;

#[derive(Parser)]
#[command(name = "ddpm", version, about = "Denoising diffusion (Ho et al. 2020) with diffusers-compatible checkpoints")]
struct Cli {
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex, global = true)]
    device: Backend,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Backend {
    /// burn's pure-Rust CPU backend
    Flex,
    /// the GPU through wgpu (Vulkan, Metal, DX12); needs the `wgpu` feature
    Wgpu,
}

#[derive(Subcommand)]
enum Command {
    /// One ε_θ(x, t) evaluation on a float32 NCHW .npy array, written as float32 .npy.
    Eps {
        /// A diffusers model or pipeline folder.
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        x: PathBuf,
        #[arg(long)]
        t: usize,
        /// Class label, for a class-conditional model.
        #[arg(long)]
        class: Option<usize>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Draws samples and writes them as one PNG grid.
    Sample {
        #[arg(long)]
        model: PathBuf,
        /// The page's names (default: the checkpoint's scheduler config, DDPM over all T steps).
        #[arg(long, value_enum)]
        sampler: Option<SamplerName>,
        /// Denoising steps (default: all T for DDPM, 50 for DDIM).
        #[arg(long)]
        steps: Option<usize>,
        /// DDIM's η (0 deterministic, 1 ancestral).
        #[arg(long, default_value_t = 0.0)]
        eta: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of samples.
        #[arg(long, default_value_t = 16)]
        n: usize,
        /// Class label for a class-conditional model.
        #[arg(long)]
        class: Option<usize>,
        /// Classifier-free guidance weight w (class-conditional models).
        #[arg(long, default_value_t = 0.0)]
        guidance: f64,
        /// Image size (default: the config's sample_size).
        #[arg(long)]
        size: Option<usize>,
        #[arg(long)]
        out: PathBuf,
        /// Also write the samples as a float32 NCHW .npy (model range, before quantising).
        #[arg(long)]
        npy: Option<PathBuf>,
        /// Also write the run as an animated GIF: the grid of x_t (or x̂_0, --animate-of x0) as t falls.
        #[arg(long)]
        animate: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = AnimateOf::Xt, requires = "animate")]
        animate_of: AnimateOf,
        /// Frames in the animation: evenly spaced steps, the first and the last always.
        #[arg(long, default_value_t = animation::DEFAULT_FRAMES, requires = "animate")]
        frames: usize,
    },
    /// Fills the unknown part of an image and writes one PNG: the input, its known part (the rest
    /// grey) and the n results, side by side.
    Inpaint {
        #[arg(long)]
        model: PathBuf,
        /// A PNG, centre-cropped and resized to the model's size, grey or colour as the model is.
        #[arg(long)]
        image: PathBuf,
        /// Known quadrants TL TR BL BR as four 0/1, e.g. 1100 (top half known).
        #[arg(long, required_unless_present = "mask", conflicts_with = "mask")]
        known: Option<String>,
        /// Or a mask PNG of the same framing: white known, black to fill.
        #[arg(long)]
        mask: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = InpaintArg::Repaint)]
        method: InpaintArg,
        /// Denoising steps (default: RePaint 50, replacement 100, strided DDPM).
        #[arg(long)]
        steps: Option<usize>,
        /// RePaint: how far each resampling jumps back up, in steps.
        #[arg(long, default_value_t = 5)]
        jump: usize,
        /// RePaint: how many times each stretch is denoised (1 = no resampling).
        #[arg(long, default_value_t = 5)]
        resample: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Number of fills.
        #[arg(long, default_value_t = 4)]
        n: usize,
        #[arg(long)]
        out: PathBuf,
        /// Also write the fills as a float32 NCHW .npy (model range).
        #[arg(long)]
        npy: Option<PathBuf>,
    },
    /// Prints the config, parameter count and stored dtype of a model folder.
    Info {
        #[arg(long)]
        model: PathBuf,
        /// One JSON object instead (with the class rules: `num_classes`, `null_class`; and the
        /// names `sample --sampler` takes: `samplers`), which is how train/ asks the core.
        #[arg(long)]
        json: bool,
    },
    /// Writes the inpainting mask of known quadrants, [size, size] float32 .npy, 1 where known:
    /// the mask the page and `inpaint --known` use.
    Mask {
        /// Known quadrants TL TR BL BR as four 0/1, e.g. 1100 (top half known).
        #[arg(long)]
        known: String,
        #[arg(long)]
        size: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Rewrites a model folder (safetensors or PyTorch .bin weights) as a page-ready folder:
    /// safetensors with current key names, optionally float16.
    Convert {
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        f16: bool,
    },
    /// Trains the 2-D MLP ε_θ on the spiral (Algorithm 1, burn autodiff), writes it as a model
    /// folder and reports its sliced Wasserstein distance to the spiral.
    #[command(name = "train-2d")]
    Train2d {
        #[arg(long, default_value_t = 3000)]
        steps: usize,
        #[arg(long, default_value_t = 256)]
        batch: usize,
        #[arg(long, default_value_t = 2e-3)]
        lr: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        /// Store the weights as float16.
        #[arg(long)]
        f16: bool,
        /// Samples drawn to measure the distance to the spiral.
        #[arg(long, default_value_t = 5000)]
        samples: usize,
    },
    /// Median ε_θ evaluation time; with --vs-diffusers, diffusers' on the same weights.
    Bench {
        /// A model folder; or use --preset.
        #[arg(long, required_unless_present = "preset")]
        model: Option<PathBuf>,
        /// ddpm-cifar10-32 or ddpm-celebahq-256 with random weights (saved to a temporary
        /// folder so diffusers runs the same weights).
        #[arg(long, conflicts_with = "model")]
        preset: Option<String>,
        /// Batch sizes to time ε_θ at, e.g. `1,8`.
        #[arg(long, value_delimiter = ',', default_value = "1")]
        batch: Vec<usize>,
        /// Also time a whole DDIM run of this many steps (η = 0), at --ddim-batch samples.
        #[arg(long)]
        ddim: Option<usize>,
        #[arg(long, default_value_t = 8)]
        ddim_batch: usize,
        /// Timed runs per measurement (after one warm-up); the median is reported.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// The same measurements with diffusers (PyTorch) on the same weights, in the same run.
        #[arg(long)]
        vs_diffusers: bool,
        /// With --preset: write the random-weight folder here and keep it (for the browser bench).
        #[arg(long, requires = "preset")]
        keep: Option<PathBuf>,
        /// One JSON line instead of the table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum InpaintArg {
    /// RePaint (Lugmayr et al. 2022): resampling so the fill agrees with the known part
    Repaint,
    /// replacement: the known part, forward-noised, overwrites the state after every step
    Replacement,
}

fn device(backend: Backend) -> Result<Device> {
    match backend {
        Backend::Flex => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        Backend::Wgpu => Device::wgpu_options().init().map_err(|e| Error::Backend(format!("no wgpu adapter: {e}"))),
        #[cfg(not(feature = "wgpu"))]
        Backend::Wgpu => Err(Error::Backend("this ddpm was built without the `wgpu` feature (cargo build --features wgpu)".into())),
    }
}

fn load_unet(path: &Path, device: &Device) -> Result<(UNet2DModel, UNet2DConfig, SchedulerConfig)> {
    let loaded = checkpoint::load_dir(path, device)?;
    let scheduler = match &loaded.scheduler_config {
        Some(json) => SchedulerConfig::parse(json)?,
        None => SchedulerConfig::default(),
    };
    match (loaded.network, loaded.config) {
        (Network::UNet(model), NetworkConfig::UNet(config)) => Ok((model, config, scheduler)),
        _ => Err(Error::Input(format!("{}: not a UNet2DModel folder", path.display()))),
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

fn host(t: Tensor<4>) -> Result<Vec<f32>> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Backend(format!("{e:?}")))
}

fn eps(device: &Device, model: &Path, x: &Path, t: usize, class: Option<usize>, out: &Path) -> Result<()> {
    let (unet, _, scheduler) = load_unet(model, device)?;
    if t >= scheduler.num_train_timesteps {
        return Err(Error::Input(format!("t = {t} is outside 0..{}", scheduler.num_train_timesteps)));
    }
    let (shape, values) = npy::read_f32(&read_file(x)?, &x.display().to_string())?;
    let dims: [usize; 4] =
        shape.clone().try_into().map_err(|_| Error::Input(format!("x has shape {shape:?}; expected 4 dimensions [N, C, H, W]")))?;
    unet.check_input(dims)?;
    let labels = unet.class_labels(class, dims[0])?;
    let input = Tensor::from_data(TensorData::new(values, dims), device);
    let output = unet.forward(input, &vec![t as f32; dims[0]], labels.as_deref());
    write_file(out, &npy::write_f32(&shape, &host(output)?))
}

#[allow(clippy::too_many_arguments)]
fn sample(
    device: &Device,
    model: &Path,
    sampler: Option<SamplerName>,
    steps: Option<usize>,
    eta: f64,
    seed: u64,
    n: usize,
    class: Option<usize>,
    guidance: f64,
    size: Option<usize>,
    out: &Path,
    npy_out: Option<&Path>,
    animation: Option<Animation>,
) -> Result<()> {
    if let Some(a) = &animation
        && !(1..=animation::MAX_FRAMES).contains(&a.frames)
    {
        return Err(Error::Input(format!("--frames {}: give 1..={}", a.frames, animation::MAX_FRAMES)));
    }
    let (unet, config, scheduler) = load_unet(model, device)?;
    let mut settings = scheduler.default_settings()?;
    if let Some(name) = sampler {
        settings.method = name.method(eta);
    }
    settings.steps = steps.unwrap_or(settings.method.default_steps(scheduler.num_train_timesteps));
    let size = size.or(config.sample_size).ok_or_else(|| Error::Input("give --size: the config has no sample_size".into()))?;
    let dims = [n.max(1), config.in_channels, size, size];
    unet.check_input(dims)?;
    let guided = (guidance != 0.0).then(|| Guided::new(&unet, guidance)).transpose()?;
    if guided.is_some() {
        settings = settings.guided();
    }
    let mut sampler = Sampler::new(scheduler.schedule()?, settings, dims, seed, device)?;
    if let Some(labels) = unet.class_labels(class, dims[0])? {
        sampler = sampler.with_labels(labels)?;
    }
    let bar = ProgressBar::new(sampler.timesteps().len() as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} steps  t = {msg}  {per_sec}  ETA {eta}").expect("template"));
    let columns = (dims[0] as f64).sqrt().ceil() as usize;
    let shown = animation.as_ref().map(|a| animation::frame_steps(sampler.timesteps().len(), a.frames)).unwrap_or_default();
    let mut frames = Vec::with_capacity(shown.len());
    for step in 0.. {
        let Some(t) = sampler.next_t() else { break };
        bar.set_message(t.to_string());
        let output = match &guided {
            Some(guided) => sampler.step(guided)?,
            None => sampler.step(&unet)?,
        };
        if shown.binary_search(&step).is_ok() {
            let of_x0 = matches!(animation.as_ref().map(|a| a.of), Some(AnimateOf::X0));
            let values = host(if of_x0 { output.pred_x0 } else { output.sample })?;
            frames.push(grid::tile(&values, dims, columns, 2));
        }
        bar.inc(1);
    }
    bar.finish();
    let values = host(sampler.current().clone())?;
    if let Some(path) = npy_out {
        write_file(path, &npy::write_f32(&dims, &values))?;
    }
    let pixels = grid::tile(&values, dims, columns, 2);
    write_png(out, &pixels)?;
    println!("wrote {} ({} samples, {}×{})", out.display(), dims[0], size, size);
    if let Some(a) = animation {
        write_file(&a.path, &animation::encode_gif(&frames, animation::FRAME_MS, animation::HOLD_LAST_MS)?)?;
        println!("wrote {} ({} frames of {})", a.path.display(), frames.len(), if a.of == AnimateOf::X0 { "x̂_0" } else { "x_t" });
    }
    Ok(())
}

/// `ddpm sample --animate`: where, what and how many frames.
struct Animation {
    path: PathBuf,
    of: AnimateOf,
    frames: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AnimateOf {
    /// The state as it is denoised.
    Xt,
    /// The model's prediction of the clean image at each step.
    X0,
}

struct InpaintArgs {
    model: PathBuf,
    image: PathBuf,
    known: Option<String>,
    mask: Option<PathBuf>,
    method: InpaintArg,
    steps: Option<usize>,
    jump: usize,
    resample: usize,
    seed: u64,
    n: usize,
    out: PathBuf,
    npy: Option<PathBuf>,
}

fn inpaint(device: &Device, a: InpaintArgs) -> Result<()> {
    let (unet, config, scheduler) = load_unet(&a.model, device)?;
    let size = config.sample_size.ok_or_else(|| Error::Input("the model's config has no sample_size".into()))?;
    let channels = config.in_channels;
    let image = picture::read_image(&a.image, channels, size)?;
    let mask = match (&a.known, &a.mask) {
        (Some(known), None) => Quadrants::parse(known)?.mask(size, size),
        (None, Some(path)) => picture::read_mask(path, size)?,
        _ => return Err(Error::Input("give --known or --mask".into())),
    };
    if mask.iter().all(|&m| m == 1.0) {
        return Err(Error::Input("the mask marks every pixel known: there is nothing to fill".into()));
    }
    let dims = [a.n.max(1), channels, size, size];
    unet.check_input(dims)?;
    let known = Known::new(Tensor::from_data(TensorData::new(image.clone(), [1, channels, size, size]), device), &mask, device)?;
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len}  {per_sec}  ETA {eta}").expect("template"));
    let fills = match a.method {
        InpaintArg::Replacement => {
            let mut settings = scheduler.default_settings()?;
            settings.steps = a.steps.unwrap_or(100);
            let sampler = Sampler::new(scheduler.schedule()?, settings, dims, a.seed, device)?;
            bar.set_length(sampler.timesteps().len() as u64);
            let mut run = Replacement::new(sampler, known, a.seed);
            while !run.sampler.is_done() {
                run.step(&unet)?;
                bar.inc(1);
            }
            run.sampler.current().clone()
        }
        InpaintArg::Repaint => {
            let settings = RePaintSettings {
                steps: a.steps.unwrap_or(50),
                jump_length: a.jump,
                jump_n_sample: a.resample,
                ..RePaintSettings::default()
            };
            let mut run = RePaint::new(scheduler.schedule()?, settings, known, dims[0], a.seed)?;
            bar.set_length(run.total_moves() as u64);
            while !run.is_done() {
                run.step(&unet)?;
                bar.inc(1);
            }
            run.current().clone()
        }
    };
    bar.finish();
    let values = host(fills)?;
    if let Some(path) = &a.npy {
        write_file(path, &npy::write_f32(&dims, &values))?;
    }
    // The input, its known part on mid-grey (0 in the model's range), then the fills.
    let plane = size * size;
    let shown_known: Vec<f32> = image.iter().enumerate().map(|(i, &v)| v * mask[i % plane]).collect();
    let strip: Vec<f32> = image.iter().chain(&shown_known).chain(&values).copied().collect();
    let count = dims[0] + 2;
    write_png(&a.out, &grid::tile(&strip, [count, channels, size, size], count, 2))?;
    println!("wrote {} (input, known part, {} fills; {}×{})", a.out.display(), dims[0], size, size);
    Ok(())
}

fn write_png(path: &Path, pixels: &grid::Pixels) -> Result<()> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, pixels.width as u32, pixels.height as u32);
        encoder.set_color(if pixels.channels == 1 { png::ColorType::Grayscale } else { png::ColorType::Rgb });
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|e| Error::Input(format!("png: {e}")))?;
        writer.write_image_data(&pixels.data).map_err(|e| Error::Input(format!("png: {e}")))?;
    }
    write_file(path, &bytes)
}

fn info(device: &Device, model: &Path, json: bool) -> Result<()> {
    let LoadedModel { network, config, scheduler_config, dtypes } = checkpoint::load_dir(model, device)?;
    if json {
        let (num_classes, null_class) = match &network {
            Network::UNet(unet) => (unet.num_classes(), unet.null_class()),
            Network::Mlp2D(_) => (None, None),
        };
        let scheduler = scheduler_config.map(|s| SchedulerConfig::parse(&s)).transpose()?;
        let report = serde_json::json!({
            "config": serde_json::from_str::<serde_json::Value>(&config.to_json()).expect("configs serialise as JSON"),
            "parameters": network.num_params(),
            "dtypes": dtypes,
            "num_classes": num_classes,
            "null_class": null_class,
            "scheduler": scheduler,
            "samplers": SamplerName::value_variants(),
        });
        println!("{report}");
        return Ok(());
    }
    println!("{}", config.to_json());
    println!("parameters: {}", network.num_params());
    println!("stored dtype: {}", dtypes.join(", "));
    if let Some(s) = scheduler_config {
        let s = SchedulerConfig::parse(&s)?;
        println!(
            "scheduler: {} β {}..{} over T = {}, variance {}, clip_sample {}",
            s.beta_schedule, s.beta_start, s.beta_end, s.num_train_timesteps, s.variance_type, s.clip_sample
        );
    }
    Ok(())
}

fn convert(device: &Device, model: &Path, out: &Path, f16: bool) -> Result<()> {
    let loaded = checkpoint::load_dir(model, device)?;
    let tensors = match &loaded.network {
        Network::UNet(m) => checkpoint::state_dict(m),
        Network::Mlp2D(m) => checkpoint::state_dict(m),
    };
    let is_pipeline = model.join("model_index.json").exists();
    let unet_out = if is_pipeline { out.join("unet") } else { out.to_path_buf() };
    checkpoint::save_dir(&unet_out, &loaded.config, &tensors, f16)?;
    if is_pipeline {
        for file in ["model_index.json", "scheduler/scheduler_config.json"] {
            if let Ok(bytes) = std::fs::read(model.join(file)) {
                write_file(&out.join(file), &bytes)?;
            }
        }
    }
    println!("wrote {} ({} tensors, {})", out.display(), tensors.len(), if f16 { "float16" } else { "float32" });
    Ok(())
}

fn median_ms(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// What `ddpm bench` measured on one backend: ε_θ per batch, and the DDIM run.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Timings {
    /// (batch, median ms of one ε_θ evaluation)
    eps: Vec<(usize, f64)>,
    /// Median ms of a whole DDIM run (noise, every step, the final read-back).
    ddim: Option<f64>,
    /// CPU threads it ran on (diffusers reports torch's).
    threads: Option<usize>,
}

fn bench_backend(device: &Device, model: &Path, batches: &[usize], ddim: Option<(usize, usize)>, repeats: usize) -> Result<Timings> {
    let (unet, config, scheduler) = load_unet(model, device)?;
    let size = config.sample_size.unwrap_or(32);
    let timed = |run: &dyn Fn() -> Result<()>, repeats: usize| -> Result<f64> {
        run()?; // warm-up: caches, and on a GPU the shaders
        let times = (0..repeats.max(1))
            .map(|_| {
                let start = Instant::now();
                run().map(|()| start.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(median_ms(times))
    };
    let mut out = Timings { threads: std::thread::available_parallelism().ok().map(usize::from), ..Timings::default() };
    for &batch in batches {
        let dims = [batch, config.in_channels, size, size];
        unet.check_input(dims)?;
        let x = ddpm_web::noise::BatchNoise::new(0, batch).draw(dims, device);
        let ms = timed(&|| host(unet.forward(x.clone(), &vec![500.0; batch], None)).map(drop), repeats)?;
        out.eps.push((batch, ms));
    }
    if let Some((steps, batch)) = ddim {
        let mut settings = scheduler.default_settings()?;
        settings.method = Method::Ddim { eta: 0.0, use_clipped_model_output: false };
        settings.steps = steps;
        let dims = [batch, config.in_channels, size, size];
        let run = || -> Result<()> {
            let mut sampler = Sampler::new(scheduler.schedule()?, settings.clone(), dims, 0, device)?;
            while !sampler.is_done() {
                sampler.step(&unet)?;
            }
            host(sampler.current().clone()).map(drop)
        };
        // A whole run is long: half the repeats, as bench_diffusers.py does.
        out.ddim = Some(timed(&run, repeats / 2)?);
    }
    Ok(out)
}

fn python() -> PathBuf {
    std::env::var_os("DDPM_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let cache = std::env::var_os("DDPM_CACHE").map(PathBuf::from).unwrap_or(home.join(".cache/ddpm-web"));
        cache.join("venv/bin/python")
    })
}

fn bench_diffusers(model: &Path, batches: &[usize], ddim: Option<(usize, usize)>, repeats: usize) -> Result<Timings> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/bench_diffusers.py");
    let list = batches.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    let mut command = std::process::Command::new(python());
    command.arg(&script).args(["--model", &model.display().to_string(), "--batches", &list, "--repeats", &repeats.to_string()]);
    if let Some((steps, batch)) = ddim {
        command.args(["--ddim-steps", &steps.to_string(), "--ddim-batch", &batch.to_string()]);
    }
    let output = command.output().map_err(|e| Error::io(python(), e))?;
    if !output.status.success() {
        return Err(Error::Backend(format!("diffusers benchmark failed: {}", String::from_utf8_lossy(&output.stderr))));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let last = text.trim().lines().last().unwrap_or_default();
    serde_json::from_str(last).map_err(|e| Error::Backend(format!("unexpected diffusers output ({e}): {text}")))
}

struct BenchArgs {
    model: Option<PathBuf>,
    preset: Option<String>,
    batches: Vec<usize>,
    ddim: Option<(usize, usize)>,
    repeats: usize,
    vs_diffusers: bool,
    keep: Option<PathBuf>,
    json: bool,
}

fn bench(args: BenchArgs) -> Result<()> {
    let batches: Vec<usize> = args.batches.iter().map(|&b| b.max(1)).collect();
    let mut temp = None;
    let model = match (args.model, args.preset) {
        (Some(m), _) => m,
        (None, Some(name)) => {
            let config = UNet2DConfig::preset(&name)?;
            let unet = UNet2DModel::load(&config, &mut RandomParams::new(0, &Device::flex()))?;
            let dir = args.keep.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("ddpm-bench-{name}-{}", std::process::id())));
            checkpoint::save_dir(&dir, &NetworkConfig::UNet(config), &checkpoint::state_dict(&unet), false)?;
            if args.keep.is_none() {
                temp = Some(dir.clone());
            }
            dir
        }
        (None, None) => return Err(Error::Input("give --model or --preset".into())),
    };
    let flex = bench_backend(&Device::flex(), &model, &batches, args.ddim, args.repeats)?;
    #[cfg(feature = "wgpu")]
    let wgpu = match Device::wgpu_options().init() {
        Ok(device) => Some(bench_backend(&device, &model, &batches, args.ddim, args.repeats)?),
        Err(e) => {
            eprintln!("burn wgpu skipped (no adapter: {e})");
            None
        }
    };
    #[cfg(not(feature = "wgpu"))]
    let wgpu: Option<Timings> = None;
    let diffusers = if args.vs_diffusers { Some(bench_diffusers(&model, &batches, args.ddim, args.repeats)?) } else { None };
    if let Some(dir) = temp {
        let _ = std::fs::remove_dir_all(dir);
    }

    if args.json {
        let mut report = serde_json::Map::new();
        report.insert("model".into(), model.display().to_string().into());
        for (name, t) in [("flex", Some(&flex)), ("wgpu", wgpu.as_ref()), ("diffusers", diffusers.as_ref())] {
            if let Some(t) = t {
                report.insert(name.into(), serde_json::to_value(t).expect("plain numbers"));
            }
        }
        println!("{}", serde_json::Value::Object(report));
        return Ok(());
    }
    println!("{} — median of {} after one warm-up, {} CPU threads", model.display(), args.repeats, flex.threads.unwrap_or(1));
    println!("{:<28} {:>12} {:>12} {:>12} {:>10}", "", "burn flex", "burn wgpu", "diffusers", "flex/diff");
    let cell = |t: Option<&Timings>, i: usize| t.map_or("—".to_string(), |t| format!("{:.1} ms", t.eps[i].1));
    for (i, batch) in batches.iter().enumerate() {
        let ratio = diffusers.as_ref().map_or("—".to_string(), |d| format!("{:.2}×", flex.eps[i].1 / d.eps[i].1));
        println!(
            "{:<28} {:>12} {:>12} {:>12} {:>10}",
            format!("ε_θ, batch {batch}"),
            cell(Some(&flex), i),
            cell(wgpu.as_ref(), i),
            cell(diffusers.as_ref(), i),
            ratio
        );
    }
    if let Some((steps, batch)) = args.ddim {
        let cell = |t: Option<&Timings>| t.and_then(|t| t.ddim).map_or("—".to_string(), |ms| format!("{:.2} s", ms / 1e3));
        let ratio =
            diffusers.as_ref().and_then(|d| d.ddim).map_or("—".to_string(), |d| format!("{:.2}×", flex.ddim.unwrap_or(f64::NAN) / d));
        println!(
            "{:<28} {:>12} {:>12} {:>12} {:>10}",
            format!("DDIM {steps} steps × {batch}"),
            cell(Some(&flex)),
            cell(wgpu.as_ref()),
            cell(diffusers.as_ref()),
            ratio
        );
    }
    Ok(())
}

fn train_2d(device: &Device, settings: Train2dSettings, out: &Path, f16: bool, n: usize) -> Result<()> {
    let config = Mlp2DConfig::default();
    let schedule = Schedule::ho_linear();
    let mut run = Train2d::new(&config, schedule.clone(), settings.clone(), device)?;
    let bar = ProgressBar::new(settings.steps as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} steps  loss {msg}  {per_sec}  ETA {eta}").expect("template"));
    let mut smoothed = None;
    while !run.is_done() {
        let loss = run.step().into_scalar::<f32>();
        let s = smoothed.map_or(loss, |m: f32| 0.98 * m + 0.02 * loss);
        smoothed = Some(s);
        bar.set_message(format!("{s:.4}"));
        bar.inc(1);
    }
    bar.finish();
    checkpoint::save_dir(out, &NetworkConfig::Mlp2D(config), &checkpoint::state_dict(&run.model()), f16)?;
    println!("wrote {}", out.display());

    // Quality of the model as written (f16 included): n samples by ancestral sampling against
    // n fresh spiral points.
    let Network::Mlp2D(model) = checkpoint::load_dir(out, device)?.network else {
        return Err(Error::Input("the written model is not an Mlp2D".into()));
    };
    let settings =
        SamplerSettings { method: Method::Ddpm { variance: Variance::FixedSmall }, steps: 1000, clip_sample: None, ..Default::default() };
    let mut sampler = Sampler::new(schedule, settings, [n, 2], 12345, device)?;
    while !sampler.is_done() {
        sampler.step(&model)?;
    }
    let samples =
        sampler.current().clone().into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| Error::Backend(format!("{e:?}")))?;
    let distance = sliced_wasserstein(&samples, &spiral(n, 777), 64);
    let floor = sliced_wasserstein(&spiral(n, 778), &spiral(n, 779), 64);
    println!("sliced Wasserstein to the spiral: {distance:.4} (two fresh spiral draws: {floor:.4}; ratio {:.2})", distance / floor);
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let backend = cli.device;
    match cli.command {
        Command::Eps { model, x, t, class, out } => eps(&device(backend)?, &model, &x, t, class, &out),
        Command::Sample { model, sampler, steps, eta, seed, n, class, guidance, size, out, npy, animate, animate_of, frames } => {
            let animation = animate.map(|path| Animation { path, of: animate_of, frames });
            sample(&device(backend)?, &model, sampler, steps, eta, seed, n, class, guidance, size, &out, npy.as_deref(), animation)
        }
        Command::Inpaint { model, image, known, mask, method, steps, jump, resample, seed, n, out, npy } => {
            inpaint(&device(backend)?, InpaintArgs { model, image, known, mask, method, steps, jump, resample, seed, n, out, npy })
        }
        Command::Info { model, json } => info(&device(backend)?, &model, json),
        Command::Mask { known, size, out } => {
            if !(2..=4096).contains(&size) {
                return Err(Error::Input(format!("--size {size}: give 2..=4096 pixels")));
            }
            let mask = Quadrants::parse(&known)?.mask(size, size);
            write_file(&out, &npy::write_f32(&[size, size], &mask))
        }
        Command::Train2d { steps, batch, lr, seed, out, f16, samples } => {
            train_2d(&device(backend)?, Train2dSettings { steps, batch, learning_rate: lr, seed }, &out, f16, samples.max(1))
        }
        Command::Convert { model, out, f16 } => convert(&Device::flex(), &model, &out, f16),
        Command::Bench { model, preset, batch, ddim, ddim_batch, repeats, vs_diffusers, keep, json } => bench(BenchArgs {
            model,
            preset,
            batches: batch,
            ddim: ddim.map(|steps| (steps, ddim_batch)),
            repeats,
            vs_diffusers,
            keep,
            json,
        }),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
