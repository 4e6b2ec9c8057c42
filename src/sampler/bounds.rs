//! What one run may ask for, checked before anything is allocated: a request from the page is
//! untrusted input.

use crate::error::{Error, Result};

/// The most samples one run takes: the page asks for at most 16; a bound keeps a hostile request
/// from asking for memory it cannot have (in wasm an allocation failure ends the instance).
pub const MAX_BATCH: usize = 64;
/// A 2-D run ([N, 2]) is a cloud of particles: the spiral view moves thousands.
pub const MAX_POINTS: usize = 100_000;
/// The most values one run's state may hold (64 colour 256×256 samples are 12.6 M).
pub const MAX_STATE_VALUES: usize = 1 << 26;

/// `Err` unless `shape` (batch first) is a run's size: 1..=MAX_BATCH samples (1..=MAX_POINTS
/// points for a 2-D run), no empty axis, at most MAX_STATE_VALUES values.
pub fn check_run_shape(shape: &[usize]) -> Result<()> {
    let batch = shape.first().copied().unwrap_or(0);
    let (most, what) = if shape.len() == 2 { (MAX_POINTS, "points") } else { (MAX_BATCH, "samples") };
    if !(1..=most).contains(&batch) {
        return Err(Error::Input(format!("a run takes 1 to {most} {what}, not {batch}")));
    }
    let values = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).filter(|&n| n > 0 && n <= MAX_STATE_VALUES);
    if values.is_none() {
        return Err(Error::Input(format!("a run of shape {shape:?} is empty or over {MAX_STATE_VALUES} values")));
    }
    Ok(())
}

/// `Err` unless η (DDIM's, RePaint's) lies in [0, 1]: 0 deterministic, 1 ancestral.
pub fn check_eta(eta: f64, sampler: &str) -> Result<()> {
    if !(0.0..=1.0).contains(&eta) {
        return Err(Error::Input(format!("{sampler} η must be in [0, 1], got {eta}")));
    }
    Ok(())
}

/// `Err` unless x̂_0's clip range, if any, is positive and finite.
pub fn check_clip(clip_sample: Option<f64>) -> Result<()> {
    match clip_sample {
        Some(range) if !(range.is_finite() && range > 0.0) => {
            Err(Error::Input(format!("clip_sample must be a positive finite range, got {range}")))
        }
        _ => Ok(()),
    }
}
