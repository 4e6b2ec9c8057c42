//! The wasm-bindgen API: the one interface the page, its worker and the embeddable element use.
//! Settings go in and out as plain JS objects (serde-wasm-bindgen), pixels as typed arrays.
//! Every read-back is asynchronous (`into_data_async`): a synchronous read panics on WebGPU.

mod backend;
mod inpaint;
mod readback;
mod run;
mod schedule;
mod session;
mod settings;
mod spiral;

pub use backend::init_backend;
pub use inpaint::InpaintSession;
pub use schedule::NoiseSchedule;
pub use session::{Model, SamplerSession};
pub use spiral::{SpiralModel, SpiralSession, SpiralTrainer, sliced_wasserstein, spiral_points};
// `initThreadPool(n)` of pkg/cpu-threads: the worker awaits it right after `init()`, before any
// tensor op (a rayon call before it fixes rayon's pool at one thread).
#[cfg(feature = "threads")]
pub use wasm_bindgen_rayon::init_thread_pool;

use wasm_bindgen::prelude::*;

// Constructors (cubecl registers its IR dialects through `inventory`) run once, here. Without a
// call to `__wasm_call_ctors` from an export, wasm-ld links the module as a command and reruns
// every constructor at the top of every export — `__externref_table_alloc` included, so each JS
// object the WebGPU path creates paid for them all (a warm ε_θ ran 45× slower; docs/speed.md).
unsafe extern "C" {
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
pub fn start() {
    // SAFETY: the start function is the first export called, once per instance.
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
}

pub(crate) fn set(obj: &js_sys::Object, key: &str, value: impl Into<JsValue>) {
    js_sys::Reflect::set(obj, &key.into(), &value.into()).expect("setting a property of a fresh object");
}

pub(crate) fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// `{ "name": Uint8Array, … }` → the file map the checkpoint loader reads.
pub(crate) fn file_map(files: &js_sys::Object) -> Result<std::collections::HashMap<String, Vec<u8>>, JsError> {
    let mut map = std::collections::HashMap::new();
    for key in js_sys::Object::keys(files).iter() {
        let name = key.as_string().ok_or_else(|| js_error("file names must be strings"))?;
        let bytes = js_sys::Reflect::get(files, &key).map_err(|_| js_error("unreadable file entry"))?;
        let bytes = bytes.dyn_into::<js_sys::Uint8Array>().map_err(|_| js_error(format!("{name}: expected a Uint8Array")))?;
        map.insert(name, bytes.to_vec());
    }
    Ok(map)
}

/// Parses a float32 `.npy` file: `{ shape: number[], data: Float32Array }`.
#[wasm_bindgen(js_name = parseNpy)]
pub fn parse_npy(bytes: &[u8]) -> Result<JsValue, JsError> {
    let (shape, values) = crate::npy::read_f32(bytes, "npy").map_err(js_error)?;
    let out = js_sys::Object::new();
    set(&out, "shape", serde_wasm_bindgen::to_value(&shape)?);
    set(&out, "data", js_sys::Float32Array::from(values.as_slice()));
    Ok(out.into())
}

/// The inpainting mask [height, width] (1 = known) of a quadrant code: four 0/1 for TL TR BL BR.
#[wasm_bindgen(js_name = quadrantMask)]
pub fn quadrant_mask(code: &str, height: usize, width: usize) -> Result<Vec<f32>, JsError> {
    let pixels = height.checked_mul(width).filter(|&n| n > 0 && n <= crate::sampler::MAX_STATE_VALUES);
    if pixels.is_none() {
        return Err(js_error(format!("a {height}×{width} mask is empty or too large")));
    }
    Ok(crate::inpaint::Quadrants::parse(code).map_err(js_error)?.mask(height, width))
}

/// Which of `total` recorded steps an animation shows (at most `frames`, default
/// `animation::DEFAULT_FRAMES`): evenly spaced, the first and the last always.
#[wasm_bindgen(js_name = frameSteps)]
pub fn frame_steps(total: usize, frames: Option<usize>) -> Vec<u32> {
    crate::animation::frame_steps(total, frames.unwrap_or(crate::animation::DEFAULT_FRAMES)).into_iter().map(|s| s as u32).collect()
}

/// Canvas frames (RGBA, as `getImageData` gives them; all `width`×`height`) → an animated GIF
/// at the CLI's pace.
#[wasm_bindgen(js_name = encodeGif)]
pub fn encode_gif(frames: js_sys::Array, width: usize, height: usize) -> Result<Vec<u8>, JsError> {
    use crate::animation::{MAX_FRAMES, MAX_SIDE};
    if frames.length() as usize > MAX_FRAMES {
        return Err(js_error(format!("{} frames: at most {MAX_FRAMES}", frames.length())));
    }
    if !(1..=MAX_SIDE).contains(&width) || !(1..=MAX_SIDE).contains(&height) {
        return Err(js_error(format!("a {width}×{height} animation: each side must be 1..={MAX_SIDE}")));
    }
    let mut pixels = Vec::with_capacity(frames.length() as usize);
    for (i, frame) in frames.iter().enumerate() {
        // ImageData's Uint8ClampedArray or a Uint8Array; the size is checked before anything is copied.
        let length = |n: u32| -> Result<(), JsError> {
            if n as usize == width * height * 4 {
                return Ok(());
            }
            Err(js_error(format!("frame {i} has {n} bytes; a {width}×{height} RGBA frame has {}", width * height * 4)))
        };
        let rgba = if let Some(clamped) = frame.dyn_ref::<js_sys::Uint8ClampedArray>() {
            length(clamped.length())?;
            clamped.to_vec()
        } else if let Some(bytes) = frame.dyn_ref::<js_sys::Uint8Array>() {
            length(bytes.length())?;
            bytes.to_vec()
        } else {
            return Err(js_error(format!("frame {i}: expected RGBA bytes (ImageData.data)")));
        };
        pixels.push(crate::animation::from_rgba(width, height, &rgba).map_err(js_error)?);
    }
    crate::animation::encode_gif(&pixels, crate::animation::FRAME_MS, crate::animation::HOLD_LAST_MS).map_err(js_error)
}
