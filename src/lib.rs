//! ddpm-web: denoising diffusion (Ho et al. 2020) natively and in the browser.
//!
//! Layers, each using only those above it: `schedule` (the maths of §2) → `model` (ε_θ) →
//! `checkpoint` (diffusers folders) → `sampler`, `inpaint` and `train2d` (Algorithm 1 for the
//! 2-D model) → `web` (the wasm API).
//! `noise`, `npy`, `grid`, `animation` (GIF) and `data2d` (the spiral) are leaf utilities.

pub mod animation;
pub mod checkpoint;
pub mod data2d;
pub mod error;
pub mod grid;
pub mod inpaint;
pub mod model;
pub mod noise;
pub mod npy;
pub mod sampler;
pub mod schedule;
pub mod train2d;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use error::{Error, Result};
