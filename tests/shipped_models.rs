//! Every model shipped in www/models loads in the core and gives finite ε_θ; the three of the
//! page are there, and their weights together stay under 30 MB.

use burn::tensor::{Device, Tensor};
use ddpm_web::checkpoint::{self, Network};
use ddpm_web::model::EpsModel;
use ddpm_web::noise::BatchNoise;

#[test]
fn shipped_models_load_and_give_finite_outputs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/models");
    let mut seen = Vec::new();
    let mut weight_bytes = 0;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let loaded = checkpoint::load_dir(&dir, &Device::flex()).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert!(loaded.dtypes.iter().all(|d| d == "F16"), "{}: ships as float16", dir.display());
        let values: Vec<f32> = match loaded.network {
            Network::UNet(unet) => {
                let ddpm_web::checkpoint::NetworkConfig::UNet(config) = &loaded.config else { unreachable!() };
                let size = config.sample_size.unwrap();
                let x: Tensor<4> = BatchNoise::new(0, 2).draw([2, config.in_channels, size, size], &Device::flex());
                let labels = unet.num_classes().map(|k| vec![0, k - 1]);
                unet.eps(x, 500, labels.as_deref()).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
            }
            Network::Mlp2D(mlp) => {
                let x: Tensor<2> = BatchNoise::new(0, 64).draw([64, 2], &Device::flex());
                mlp.eps(x, 500, None).into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
            }
        };
        assert!(values.iter().all(|v| v.is_finite()), "{}", dir.display());
        assert!(values.iter().any(|v| v.abs() > 1e-3), "{}: ε̂ is not all zero", dir.display());
        for file in ["diffusion_pytorch_model.safetensors", "unet/diffusion_pytorch_model.safetensors"] {
            weight_bytes += std::fs::metadata(dir.join(file)).map_or(0, |m| m.len());
        }
        seen.push(dir.file_name().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    assert_eq!(seen, ["faces64", "fashion32", "spiral2d"]);
    assert!(weight_bytes < 30_000_000, "the shipped weights take {weight_bytes} bytes");
}
