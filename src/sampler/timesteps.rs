//! Which timesteps a sampler visits, for a number of inference steps, as diffusers spaces them.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum Spacing {
    /// 0, k, 2k, … (+ offset), reversed, with k = T / n: diffusers' default.
    #[default]
    Leading,
    /// T−1, T−1−k, …: ends short of 0 but starts at the noisiest step.
    Trailing,
    /// n points rounded from linspace(0, T−1).
    Linspace,
}

/// The timesteps, noisiest first.
pub fn timesteps(num_train: usize, num_steps: usize, spacing: Spacing, steps_offset: usize) -> Result<Vec<usize>> {
    if num_steps == 0 || num_steps > num_train {
        return Err(Error::Input(format!("steps must be between 1 and {num_train}, got {num_steps}")));
    }
    let mut ts: Vec<usize> = match spacing {
        Spacing::Leading => {
            let ratio = num_train / num_steps;
            // Saturating: a huge offset must be an error (below), not a wrapped-around timestep.
            (0..num_steps).map(|i| (i * ratio).saturating_add(steps_offset)).collect()
        }
        Spacing::Trailing => {
            let ratio = num_train as f64 / num_steps as f64;
            (0..num_steps).map(|i| (num_train as f64 - i as f64 * ratio).round_ties_even() as usize - 1).rev().collect()
        }
        Spacing::Linspace => {
            let last = (num_train - 1) as f64;
            (0..num_steps)
                .map(|i| if num_steps == 1 { 0.0 } else { last * i as f64 / (num_steps - 1) as f64 })
                .map(|v| v.round_ties_even() as usize)
                .collect()
        }
    };
    if ts.iter().any(|&t| t >= num_train) {
        return Err(Error::Input(format!("steps_offset {steps_offset} pushes timesteps past T = {num_train}")));
    }
    ts.reverse();
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffusers_spacings() {
        assert_eq!(timesteps(1000, 10, Spacing::Leading, 0).unwrap(), vec![900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
        assert_eq!(timesteps(1000, 10, Spacing::Trailing, 0).unwrap(), vec![999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
        assert_eq!(timesteps(1000, 4, Spacing::Linspace, 0).unwrap(), vec![999, 666, 333, 0]);
        assert_eq!(timesteps(1000, 1000, Spacing::Leading, 0).unwrap().len(), 1000);
        assert!(timesteps(1000, 0, Spacing::Leading, 0).is_err());
        assert!(timesteps(10, 11, Spacing::Leading, 0).is_err());
    }
}
