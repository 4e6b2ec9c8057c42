//! diffusers model folders ↔ ε_θ: `config.json` + `diffusion_pytorch_model.safetensors` or `.bin` (a
//! UNet folder), or a pipeline folder (`model_index.json`, `unet/`, `scheduler/`). Weights may be f32,
//! f16 or bf16, and attention keys old (`query/key/value/proj_attn`) or new
//! (`to_q/to_k/to_v/to_out.0`). Every defect of a file is an `Error` naming the file and the key.
//!
//! Files come from a `FileSource`: a directory natively, a name → bytes map in the page.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, Result};
use crate::model::{Mlp2D, Mlp2DConfig, ParamKind, ParamSource, UNet2DConfig, UNet2DModel};

pub const WEIGHTS_FILE: &str = "diffusion_pytorch_model.safetensors";
pub const PICKLE_WEIGHTS_FILE: &str = "diffusion_pytorch_model.bin";

/// diffusers renamed the attention projections; old checkpoints (the real DDPM ones) keep the
/// old names. Loading accepts both.
const OLD_ATTENTION_NAMES: [(&str, &str); 4] =
    [(".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0.")];

fn modern_key(key: &str) -> String {
    OLD_ATTENTION_NAMES.iter().fold(key.to_string(), |k, (old, new)| k.replace(old, new))
}

/// Read access to the files of a model folder, by path relative to the folder.
pub trait FileSource {
    fn read(&self, relative: &str) -> Result<Option<Vec<u8>>>;
    fn describe(&self, relative: &str) -> String;
}

/// Files handed over in memory (the page's file picker or fetch).
impl FileSource for HashMap<String, Vec<u8>> {
    fn read(&self, relative: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.get(relative).cloned())
    }
    fn describe(&self, relative: &str) -> String {
        relative.to_string()
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub struct Directory(pub std::path::PathBuf);

#[cfg(not(target_arch = "wasm32"))]
impl FileSource for Directory {
    fn read(&self, relative: &str) -> Result<Option<Vec<u8>>> {
        let path = self.0.join(relative);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, e)),
        }
    }
    fn describe(&self, relative: &str) -> String {
        self.0.join(relative).display().to_string()
    }
}

/// One tensor of a checkpoint, as f32 on the host.
#[derive(Clone, Debug)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// The weights of a checkpoint by (modern) key, consumed as a model is built.
pub struct Weights {
    file: String,
    device: Device,
    tensors: BTreeMap<String, HostTensor>,
    /// The file's own dtype names, e.g. {"F16"}.
    pub dtypes: BTreeSet<String>,
}

/// The float widths either weight format stores, little-endian.
#[derive(Clone, Copy)]
enum Stored {
    F32,
    F16,
    Bf16,
    F64,
}

fn le_floats(bytes: &[u8], stored: Stored) -> Vec<f32> {
    match stored {
        Stored::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Stored::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Stored::Bf16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Stored::F64 => bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")) as f32).collect(),
    }
}

fn to_f32(view: &TensorView<'_>, file: &str, key: &str) -> Result<Vec<f32>> {
    let stored = match view.dtype() {
        Dtype::F32 => Stored::F32,
        Dtype::F16 => Stored::F16,
        Dtype::BF16 => Stored::Bf16,
        other => return Err(Error::checkpoint(file, format!("{key}: dtype {other:?} is not a float type (expected F32, F16 or BF16)"))),
    };
    Ok(le_floats(view.data(), stored))
}

impl Weights {
    pub fn from_safetensors(bytes: &[u8], file: &str, device: &Device) -> Result<Self> {
        let parsed = SafeTensors::deserialize(bytes).map_err(|e| Error::checkpoint(file, format!("not a valid safetensors file ({e})")))?;
        let mut tensors = BTreeMap::new();
        let mut dtypes = BTreeSet::new();
        for (key, view) in parsed.tensors() {
            dtypes.insert(format!("{:?}", view.dtype()));
            let values = to_f32(&view, file, &key)?;
            tensors.insert(modern_key(&key), HostTensor { shape: view.shape().to_vec(), values });
        }
        Ok(Self { file: file.to_string(), device: device.clone(), tensors, dtypes })
    }

    /// A PyTorch checkpoint (the zip container of `torch.save`, or a plain pickle) holding a
    /// state dict. The pickle is parsed by pytorch-reader, which runs none of its code.
    pub fn from_pickle(bytes: Vec<u8>, file: &str, device: &Device) -> Result<Self> {
        use pytorch_reader::{DType, PytorchReader};
        let reader = PytorchReader::from_bytes(bytes, None)
            .map_err(|e| Error::checkpoint(file, format!("not a readable PyTorch checkpoint ({e})")))?;
        let mut tensors = BTreeMap::new();
        let mut dtypes = BTreeSet::new();
        for (key, tensor) in reader.into_tensors() {
            // Its errors name the tensor.
            let bytes = tensor.read().map_err(|e| Error::checkpoint(file, e.to_string()))?;
            // Storages are little-endian in every container pytorch-reader accepts.
            let stored = match tensor.dtype() {
                DType::F32 => Stored::F32,
                DType::F16 => Stored::F16,
                DType::BF16 => Stored::Bf16,
                DType::F64 => Stored::F64,
                other => return Err(Error::checkpoint(file, format!("{key}: dtype {other:?} is not a float type"))),
            };
            let values = le_floats(&bytes, stored);
            dtypes.insert(format!("{:?}", tensor.dtype()));
            tensors.insert(modern_key(&key), HostTensor { shape: tensor.shape().to_vec(), values });
        }
        Ok(Self { file: file.to_string(), device: device.clone(), tensors, dtypes })
    }

    pub fn from_host(tensors: BTreeMap<String, HostTensor>, file: &str, device: &Device) -> Self {
        let tensors = tensors.into_iter().map(|(k, v)| (modern_key(&k), v)).collect();
        Self { file: file.to_string(), device: device.clone(), tensors, dtypes: BTreeSet::from(["F32".to_string()]) }
    }

    /// Every weight was used: anything left over means the file is not the model the config
    /// describes.
    pub fn finish(self) -> Result<()> {
        if self.tensors.is_empty() {
            return Ok(());
        }
        let keys: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        let shown = keys.iter().take(5).copied().collect::<Vec<_>>().join(", ");
        let more = if keys.len() > 5 { format!(" and {} more", keys.len() - 5) } else { String::new() };
        Err(Error::checkpoint(&self.file, format!("unexpected key(s) not used by the model config: {shown}{more}")))
    }

    pub fn into_host(self) -> BTreeMap<String, HostTensor> {
        self.tensors
    }
}

impl ParamSource for Weights {
    fn take<const D: usize>(&mut self, key: &str, shape: [usize; D], _kind: ParamKind) -> Result<Tensor<D>> {
        let tensor = self.tensors.remove(key).ok_or_else(|| {
            Error::checkpoint(&self.file, format!("missing key `{key}` (the model config needs a tensor of shape {shape:?})"))
        })?;
        if tensor.shape != shape {
            return Err(Error::checkpoint(&self.file, format!("`{key}` has shape {:?}, the model config needs {shape:?}", tensor.shape)));
        }
        if let Some(bad) = tensor.values.iter().find(|v| !v.is_finite()) {
            return Err(Error::checkpoint(&self.file, format!("`{key}` contains a non-finite value ({bad})")));
        }
        Ok(Tensor::from_data(TensorData::new(tensor.values, shape), &self.device))
    }

    fn device(&self) -> &Device {
        &self.device
    }
}

/// A network whose architecture is read from its config.json.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "one per loaded model, matched often: a box would only add a hop")]
pub enum Network {
    UNet(UNet2DModel),
    Mlp2D(Mlp2D),
}

#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant, reason = "one per loaded model, matched often: a box would only add a hop")]
pub enum NetworkConfig {
    UNet(UNet2DConfig),
    Mlp2D(Mlp2DConfig),
}

impl NetworkConfig {
    pub fn parse(json: &[u8], file: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_slice(json).map_err(|e| Error::checkpoint(file, format!("not valid JSON ({e})")))?;
        let class = value.get("_class_name").and_then(|c| c.as_str()).unwrap_or("UNet2DModel").to_string();
        let bad = |e: serde_json::Error| Error::checkpoint(file, format!("invalid {class} config ({e})"));
        match class.as_str() {
            "UNet2DModel" => Ok(Self::UNet(serde_json::from_value(value).map_err(bad)?)),
            "Mlp2D" => Ok(Self::Mlp2D(serde_json::from_value(value).map_err(bad)?)),
            other => Err(Error::checkpoint(file, format!("_class_name `{other}` is not supported (UNet2DModel or Mlp2D)"))),
        }
    }

    pub fn to_json(&self) -> String {
        match self {
            Self::UNet(c) => serde_json::to_string_pretty(c),
            Self::Mlp2D(c) => serde_json::to_string_pretty(c),
        }
        .expect("configs serialise")
    }

    pub fn build(&self, weights: &mut Weights) -> Result<Network> {
        Ok(match self {
            Self::UNet(c) => Network::UNet(UNet2DModel::load(c, weights)?),
            Self::Mlp2D(c) => Network::Mlp2D(Mlp2D::load(c, weights)?),
        })
    }
}

impl Network {
    pub fn num_params(&self) -> usize {
        match self {
            Self::UNet(m) => m.num_params(),
            Self::Mlp2D(m) => m.num_params(),
        }
    }
}

/// A loaded model folder: the network, its config, and the pipeline's scheduler config if the
/// folder was a pipeline.
#[derive(Debug)]
pub struct LoadedModel {
    pub network: Network,
    pub config: NetworkConfig,
    /// `scheduler/scheduler_config.json` of a pipeline folder, as JSON text.
    pub scheduler_config: Option<String>,
    /// Weight dtypes as stored, e.g. "F16".
    pub dtypes: Vec<String>,
}

/// Where the UNet lives: the folder itself, or `unet/` of a pipeline.
fn unet_dir(files: &impl FileSource) -> Result<(&'static str, Option<String>)> {
    if files.read("model_index.json")?.is_some() {
        let scheduler = files.read("scheduler/scheduler_config.json")?.map(|b| String::from_utf8_lossy(&b).into_owned());
        return Ok(("unet/", scheduler));
    }
    Ok(("", None))
}

/// Loads a diffusers model or pipeline folder, its weights as safetensors or, where a folder
/// has only those, PyTorch's `diffusion_pytorch_model.bin` (as google/ddpm-celebahq-256 ships).
/// The CLI and the page read every checkpoint through here.
pub fn load(files: &impl FileSource, device: &Device) -> Result<LoadedModel> {
    let (dir, scheduler_config) = unet_dir(files)?;
    let config_path = format!("{dir}config.json");
    let config_bytes = files.read(&config_path)?.ok_or_else(|| {
        Error::checkpoint(
            files.describe(&config_path),
            "not found: a diffusers model folder has config.json (or model_index.json and unet/config.json)",
        )
    })?;
    let config = NetworkConfig::parse(&config_bytes, &files.describe(&config_path))?;
    let weights_path = format!("{dir}{WEIGHTS_FILE}");
    let pickle_path = format!("{dir}{PICKLE_WEIGHTS_FILE}");
    let mut weights = if let Some(bytes) = files.read(&weights_path)? {
        Weights::from_safetensors(&bytes, &files.describe(&weights_path), device)?
    } else if let Some(bytes) = files.read(&pickle_path)? {
        Weights::from_pickle(bytes, &files.describe(&pickle_path), device)?
    } else {
        return Err(Error::checkpoint(files.describe(&weights_path), format!("not found (nor {PICKLE_WEIGHTS_FILE})")));
    };
    let network = config.build(&mut weights)?;
    let dtypes = weights.dtypes.iter().cloned().collect();
    weights.finish()?;
    Ok(LoadedModel { network, config, scheduler_config, dtypes })
}

#[cfg(not(target_arch = "wasm32"))]
pub fn load_dir(path: &std::path::Path, device: &Device) -> Result<LoadedModel> {
    load(&Directory(path.to_path_buf()), device)
}

/// Serialises tensors as safetensors, f32 or f16, keys sorted (as diffusers writes them).
pub fn to_safetensors(tensors: &BTreeMap<String, HostTensor>, f16: bool) -> Result<Vec<u8>> {
    let (dtype, buffers): (Dtype, Vec<Vec<u8>>) = if f16 {
        (Dtype::F16, tensors.values().map(|t| t.values.iter().flat_map(|v| half::f16::from_f32(*v).to_le_bytes()).collect()).collect())
    } else {
        (Dtype::F32, tensors.values().map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect())
    };
    let views = tensors
        .iter()
        .zip(&buffers)
        .map(|((k, t), bytes)| TensorView::new(dtype, t.shape.clone(), bytes).map(|v| (k.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::checkpoint("safetensors", e.to_string()))?;
    let metadata = Some(HashMap::from([("format".to_string(), "pt".to_string())]));
    safetensors::tensor::serialize(views, metadata).map_err(|e| Error::checkpoint("safetensors", e.to_string()))
}

/// The parameters of a module by path. Field names mirror diffusers' attribute names, so
/// the paths are the state-dict keys.
pub fn state_dict<M: Module>(module: &M) -> BTreeMap<String, HostTensor> {
    struct Collect {
        path: Vec<String>,
        out: BTreeMap<String, HostTensor>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let tensor = param.val();
            let values = tensor.clone().into_data().convert::<f32>().try_into_vec::<f32>().expect("float tensor");
            self.out.insert(self.path.join("."), HostTensor { shape: tensor.dims().to_vec(), values });
        }
    }
    let mut visitor = Collect { path: vec![], out: BTreeMap::new() };
    module.visit(&mut visitor);
    visitor.out
}

/// Writes a diffusers UNet folder: `config.json` and the weights as safetensors.
#[cfg(not(target_arch = "wasm32"))]
pub fn save_dir(dir: &std::path::Path, config: &NetworkConfig, tensors: &BTreeMap<String, HostTensor>, f16: bool) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let config_path = dir.join("config.json");
    std::fs::write(&config_path, config.to_json()).map_err(|e| Error::io(&config_path, e))?;
    let weights_path = dir.join(WEIGHTS_FILE);
    std::fs::write(&weights_path, to_safetensors(tensors, f16)?).map_err(|e| Error::io(&weights_path, e))
}
