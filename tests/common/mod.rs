//! Shared by the integration tests: the diffusers fixtures under tests/reference/fixtures.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::{Device, Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors};

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/reference/fixtures")
}

pub struct Array {
    pub shape: Vec<usize>,
    pub values: Vec<f64>,
}

/// Every tensor of a safetensors file, as f64 (ints included).
pub fn read_arrays(path: &std::path::Path) -> HashMap<String, Array> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let parsed = SafeTensors::deserialize(&bytes).expect("valid fixture");
    parsed
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            let d = v.data();
            let values: Vec<f64> = match v.dtype() {
                Dtype::F32 => d.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
                Dtype::I64 => d.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
                other => panic!("fixture dtype {other:?}"),
            };
            (k, Array { shape: v.shape().to_vec(), values })
        })
        .collect()
}

impl Array {
    pub fn tensor<const D: usize>(&self, device: &Device) -> Tensor<D> {
        let values: Vec<f32> = self.values.iter().map(|&v| v as f32).collect();
        let shape: [usize; D] = self.shape.clone().try_into().expect("rank");
        Tensor::from_data(TensorData::new(values, shape), device)
    }
}

pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

pub fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (*x as f64 - y).abs()).fold(0.0, f64::max)
}
