//! Generated malformed model folders and what the core does with them: the fuzz test
//! (`tests/fuzz.rs`, a few thousand cases in `make test`) and the long command
//! (`cargo run --release --example fuzz -- --cases 1000000`) share it.
//!
//! Each case starts from a real folder (the diffusers fixtures, a pipeline with a scheduler, the
//! shipped 2-D model) and applies one to three mutations, chosen by the case number alone so a
//! failure is replayed by its number: a JSON field of any file replaced by a hostile value or
//! removed, an unknown field added, a safetensors header field (dtype, shape, offsets, the header
//! length) changed, a `.bin`'s pickle or storage damaged and its zip written again with valid
//! checksums, bytes flipped, cut or inserted, a file removed. Then it does what the page does
//! with a folder it is given: load it, read its scheduler, start a sampler and take one step (or
//! evaluate the 2-D model). Every case must end in `Ok` or a clear `Err`; a panic is a failure.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::tensor::{Device, Tensor, TensorData};
use ddpm_web::checkpoint::{self, Network, NetworkConfig, WEIGHTS_FILE};
use ddpm_web::sampler::{Sampler, SchedulerConfig};
use serde_json::{Value, json};

pub type Files = HashMap<String, Vec<u8>>;

/// The folders every case starts from.
pub fn seeds() -> Vec<(String, Files)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let unet = root.join("tests/reference/fixtures/unet");
    let mut seeds = Vec::new();
    for case in ["padding0_old_keys", "padding1_new_keys", "class_cond", "f16_grey", "scale_shift"] {
        seeds.push((case.to_string(), folder(&unet.join(case), "")));
    }
    // A pipeline: model_index.json, unet/, scheduler/ (every scheduler field written out).
    let mut pipeline = folder(&unet.join("class_cond"), "unet/");
    pipeline.insert(
        "model_index.json".into(),
        br#"{"_class_name": "DDPMPipeline", "scheduler": ["diffusers", "DDPMScheduler"], "unet": ["diffusers", "UNet2DModel"]}"#.to_vec(),
    );
    let scheduler = serde_json::to_vec_pretty(&SchedulerConfig { num_train_timesteps: 50, ..Default::default() }).unwrap();
    pipeline.insert("scheduler/scheduler_config.json".into(), scheduler);
    seeds.push(("pipeline".into(), pipeline));
    // A pipeline as google/ddpm-* ship it: PyTorch pickle weights (`.bin`), old attention keys.
    let pickle = root.join("tests/reference/fixtures/pipeline_pickle");
    let pickle_files = ["model_index.json", "scheduler/scheduler_config.json", "unet/config.json", "unet/diffusion_pytorch_model.bin"];
    seeds.push(("pipeline_pickle".into(), pickle_files.iter().map(|f| (f.to_string(), std::fs::read(pickle.join(f)).unwrap())).collect()));
    seeds.push(("spiral2d".into(), folder(&root.join("www/models/spiral2d"), "")));
    seeds
}

fn folder(dir: &Path, prefix: &str) -> Files {
    ["config.json", WEIGHTS_FILE]
        .iter()
        .map(|f| (format!("{prefix}{f}"), std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))))
        .collect()
}

/// SplitMix64: the whole case follows from its number.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values no field should choke on.
fn hostile(rng: &mut Rng, current: &Value) -> Value {
    let scaled = |f: f64| current.as_f64().map(|v| v * f);
    match rng.below(24) {
        0 => json!(0),
        1 => json!(1),
        2 => json!(2),
        3 => json!(3),
        4 => json!(-1),
        5 => json!(u64::MAX),
        6 => json!(1u64 << 32),
        7 => json!(1e308),
        8 => json!(-1e308),
        9 => json!(0.5),
        10 => json!(1e-300),
        11 => json!(""),
        12 => json!("NaN"),
        13 => Value::Null,
        14 => json!(true),
        15 => json!([]),
        16 => json!({}),
        17 => json!(vec![8; 64]),
        18 => scaled(2.0).map_or(json!(7), |v| json!(v)),
        19 => scaled(1000.0).map_or(json!(1_000_000), |v| json!(v)),
        20 => current.as_u64().map_or(json!(-7), |v| json!(v.saturating_add(1))),
        21 => current.as_u64().map_or(json!(13), |v| json!(v.saturating_sub(1))),
        22 => json!(["DownBlock2D", "AttnDownBlock2D", "UpBlock2D", "x"][rng.below(4)]),
        _ => json!(rng.next() % 100_000),
    }
}

/// A path to a value inside `root`: an object key or array index, one or two levels down.
fn mutate_json(rng: &mut Rng, root: &mut Value) {
    let Some(object) = root.as_object_mut() else { return };
    if object.is_empty() || rng.below(12) == 0 {
        object.insert(format!("unknown_{}", rng.below(4)), hostile(rng, &Value::Null));
        return;
    }
    let key = object.keys().nth(rng.below(object.len())).unwrap().clone();
    match rng.below(10) {
        0 => {
            object.remove(&key);
        }
        1 | 2 if object[&key].is_array() => {
            let array = object.get_mut(&key).unwrap().as_array_mut().unwrap();
            match rng.below(4) {
                0 if !array.is_empty() => {
                    array.remove(rng.below(array.len()));
                }
                1 if !array.is_empty() => {
                    let copy = array[rng.below(array.len())].clone();
                    array.push(copy);
                }
                _ if !array.is_empty() => {
                    let i = rng.below(array.len());
                    array[i] = hostile(rng, &array[i].clone());
                }
                _ => array.push(json!(8)),
            }
        }
        _ => {
            let current = object[&key].clone();
            object.insert(key, hostile(rng, &current));
        }
    }
}

/// A safetensors file with one header field changed, or its header length.
fn mutate_safetensors(rng: &mut Rng, bytes: &mut Vec<u8>) {
    if bytes.len() < 8 {
        return;
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    if rng.below(8) == 0 || n > bytes.len() - 8 {
        let lengths = [0, 1, n.saturating_sub(1), n.saturating_add(1), bytes.len(), u64::MAX as usize, 1 << 40];
        bytes[..8].copy_from_slice(&(*rng.pick(&lengths) as u64).to_le_bytes());
        return;
    }
    let Ok(mut header) = serde_json::from_slice::<Value>(&bytes[8..8 + n]) else { return };
    let Some(tensors) = header.as_object_mut() else { return };
    let keys: Vec<String> = tensors.keys().filter(|k| *k != "__metadata__").cloned().collect();
    if keys.is_empty() {
        return;
    }
    let key = rng.pick(&keys).clone();
    let entry = tensors.get_mut(&key).unwrap();
    match rng.below(6) {
        0 if entry.is_object() => {
            entry["dtype"] = json!(*rng.pick(&["F32", "F16", "BF16", "F64", "I64", "I8", "U8", "BOOL", "F8_E4M3", "X"]))
        }
        1 | 2 => {
            let Some(shape) = entry.get_mut("shape").and_then(Value::as_array_mut) else { return };
            match rng.below(4) {
                0 => shape.push(json!(1)),
                1 if !shape.is_empty() => {
                    shape.pop();
                }
                _ if !shape.is_empty() => {
                    let i = rng.below(shape.len());
                    shape[i] = json!(*rng.pick(&[0u64, 1, 2, 3, 1 << 20, 1 << 32, u64::MAX]));
                }
                _ => shape.push(json!(0)),
            }
        }
        3 | 4 => {
            let Some(offsets) = entry.get_mut("data_offsets").and_then(Value::as_array_mut).filter(|o| o.len() == 2) else { return };
            let i = rng.below(2);
            let v = offsets[i].as_u64().unwrap_or(0);
            offsets[i] = json!(*rng.pick(&[0, v.saturating_sub(2), v.saturating_add(2), v.saturating_mul(2), u64::MAX]));
        }
        _ => {
            tensors.remove(&key);
        }
    }
    let text = serde_json::to_vec(&header).unwrap();
    let data = bytes[8 + n..].to_vec();
    bytes.clear();
    bytes.extend_from_slice(&(text.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&text);
    bytes.extend_from_slice(&data);
}

/// A `.bin` (torch.save's zip) with one entry's bytes mutated, mostly the pickle, and the
/// archive written again with fresh checksums, so the pickle parser sees the damage instead of
/// the zip's CRC refusing it first.
fn mutate_pickle(rng: &mut Rng, bytes: &mut Vec<u8>) {
    use std::io::{Cursor, Read, Write};
    let read_all = || -> zip::result::ZipResult<Vec<(String, Vec<u8>)>> {
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes.as_slice()))?;
        let mut entries = Vec::new();
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index)?;
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            entries.push((entry.name()?.to_string(), data));
        }
        Ok(entries)
    };
    // An archive an earlier mutation broke gets plain byte mutations.
    let Ok(mut entries) = read_all().map_err(drop) else { return mutate_bytes(rng, bytes) };
    if entries.is_empty() {
        return mutate_bytes(rng, bytes);
    }
    let target = match entries.iter().position(|(name, _)| name.ends_with("data.pkl")) {
        Some(pickle) if rng.below(10) < 7 => pickle,
        _ => rng.below(entries.len()),
    };
    mutate_bytes(rng, &mut entries[target].1);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in &entries {
        writer.start_file(name.as_str(), stored).unwrap();
        writer.write_all(data).unwrap();
    }
    *bytes = writer.finish().unwrap().into_inner();
}

fn mutate_bytes(rng: &mut Rng, bytes: &mut Vec<u8>) {
    if bytes.is_empty() {
        bytes.push(rng.next() as u8);
        return;
    }
    // Headers and JSON text are at the front: aim there most of the time.
    let span = if rng.below(3) == 0 { bytes.len() } else { bytes.len().min(512) };
    let at = rng.below(span);
    match rng.below(5) {
        0 => bytes[at] ^= 1 << rng.below(8),
        1 => bytes[at] = rng.next() as u8,
        2 => bytes.truncate(at),
        3 => {
            let insert: Vec<u8> = (0..1 + rng.below(8)).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, insert);
        }
        _ => {
            let end = (at + 1 + rng.below(16)).min(bytes.len());
            bytes.drain(at..end);
        }
    }
}

/// Case `number`: a seed folder with one to three mutations. Returns the seed's name and a
/// description of the mutations (for replaying a failure).
pub fn case(seeds: &[(String, Files)], number: u64) -> (String, Files, Vec<String>) {
    let mut rng = Rng::new(number);
    let (name, files) = &seeds[rng.below(seeds.len())];
    let mut files = files.clone();
    let mut done = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let mut names: Vec<String> = files.keys().cloned().collect();
        if names.is_empty() {
            break;
        }
        names.sort();
        let file = rng.pick(&names).clone();
        let bytes = files.get_mut(&file).unwrap();
        let kind = rng.below(10);
        match kind {
            0 => {
                files.remove(&file);
                done.push(format!("removed {file}"));
                continue;
            }
            1 | 2 => mutate_bytes(&mut rng, bytes),
            _ if file.ends_with(".safetensors") => mutate_safetensors(&mut rng, bytes),
            _ if file.ends_with(".bin") => mutate_pickle(&mut rng, bytes),
            _ => match serde_json::from_slice::<Value>(bytes) {
                Ok(mut value) => {
                    mutate_json(&mut rng, &mut value);
                    *bytes = serde_json::to_vec(&value).unwrap();
                }
                Err(_) => mutate_bytes(&mut rng, bytes),
            },
        }
        done.push(format!("mutated {file} ({kind})"));
    }
    (name.clone(), files, done)
}

/// What the page does with a folder: load, read the scheduler, take one sampling step (or one
/// 2-D evaluation). Sizes beyond 32 are evaluated at 32 at most, to keep each case short.
pub fn exercise(files: &Files, device: &Device) -> ddpm_web::Result<()> {
    let loaded = checkpoint::load(files, device)?;
    let scheduler = match &loaded.scheduler_config {
        Some(json) => SchedulerConfig::parse(json)?,
        None => SchedulerConfig::default(),
    };
    let schedule = scheduler.schedule()?;
    let mut settings = scheduler.default_settings()?;
    match (&loaded.network, &loaded.config) {
        (Network::UNet(unet), NetworkConfig::UNet(config)) => {
            let size = config.sample_size.unwrap_or(16).min(32);
            let dims = [1, config.in_channels, size, size];
            unet.check_input(dims)?;
            settings.steps = settings.steps.min(10);
            let mut sampler = Sampler::new(schedule, settings, dims, 0, device)?;
            if let Some(classes) = unet.num_classes() {
                sampler = sampler.with_labels(vec![classes - 1])?;
            }
            let out = sampler.step(unet)?;
            let _ = out.sample.into_data();
        }
        (Network::Mlp2D(mlp), _) => {
            let x = Tensor::from_data(TensorData::new(vec![0.5f32; 8], [4, 2]), device);
            let _ = mlp.forward(x, &[schedule.num_train_timesteps() as f32 - 1.0; 4]).into_data();
        }
        _ => unreachable!("a config builds its own kind of network"),
    }
    Ok(())
}

#[derive(Default, Debug)]
pub struct Report {
    pub cases: u64,
    pub loaded: u64,
    pub refused: u64,
    /// (case number, seed, mutations, panic message)
    pub panics: Vec<(u64, String, Vec<String>, String)>,
    /// Cases over the hang limit.
    pub slow: Vec<(u64, Duration)>,
    pub slowest: Duration,
    /// Error messages by their first words, with a count each.
    pub errors: HashMap<String, u64>,
}

/// Cases `range`, each under `catch_unwind`; a case over `hang` is reported as a hang.
pub fn run(range: std::ops::Range<u64>, hang: Duration, mut progress: impl FnMut(&Report)) -> Report {
    let seeds = seeds();
    let device = Device::flex();
    let mut report = Report::default();
    // A case's panics are counted, not printed; any other panic (the generator's) still is.
    thread_local!(static IN_CASE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_CASE.get() {
            previous(info)
        }
    }));
    let trace = std::env::var_os("DDPM_FUZZ_TRACE").is_some();
    for number in range {
        let (seed, files, mutations) = case(&seeds, number);
        if trace {
            eprintln!("case {number} ({seed}; {})", mutations.join(", "));
        }
        let started = Instant::now();
        IN_CASE.set(true);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&files, &device)));
        IN_CASE.set(false);
        let took = started.elapsed();
        report.cases += 1;
        report.slowest = report.slowest.max(took);
        if took > hang {
            report.slow.push((number, took));
        }
        match outcome {
            Ok(Ok(())) => report.loaded += 1,
            Ok(Err(e)) => {
                report.refused += 1;
                let text = e.to_string();
                let words: String = text.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
                *report.errors.entry(words).or_default() += 1;
            }
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "(no message)".into());
                report.panics.push((number, seed, mutations, message));
            }
        }
        if report.cases % 10_000 == 0 {
            progress(&report);
        }
    }
    let _ = std::panic::take_hook();
    report
}
