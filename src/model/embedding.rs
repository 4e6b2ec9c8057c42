//! The sinusoidal timestep embedding of the Transformer, as DDPM uses it to condition ε_θ on t,
//! with diffusers' knobs `flip_sin_to_cos` and `freq_shift` (the original DDPM code is
//! flip = false, shift = 1). `libm` keeps native and wasm numbers identical.

use burn::tensor::{Device, Tensor, TensorData};

/// [batch] timesteps → [batch, dim] embedding (diffusers' `get_timestep_embedding`).
pub fn timestep_embedding(timesteps: &[f32], dim: usize, flip_sin_to_cos: bool, freq_shift: f64, device: &Device) -> Tensor<2> {
    let half = dim / 2;
    // Frequencies in f32 as diffusers computes them, so the embedding matches to the last bits.
    let freqs: Vec<f32> = (0..half)
        .map(|i| {
            let exponent = (-libm::logf(10000.0) * i as f32) / (half as f32 - freq_shift as f32);
            libm::expf(exponent)
        })
        .collect();
    let mut out = Vec::with_capacity(timesteps.len() * dim);
    for &t in timesteps {
        let args = freqs.iter().map(|f| t * f);
        let (sin, cos): (Vec<f32>, Vec<f32>) = args.map(|a| (libm::sinf(a), libm::cosf(a))).unzip();
        let (first, second) = if flip_sin_to_cos { (cos, sin) } else { (sin, cos) };
        out.extend(first);
        out.extend(second);
        if dim % 2 == 1 {
            out.push(0.0);
        }
    }
    Tensor::from_data(TensorData::new(out, [timesteps.len(), dim]), device)
}
