//! The wasm-bindgen API: the one interface the page, its worker and the embeddable element use.
//! Settings go in and out as plain JS objects (serde-wasm-bindgen), pixels as typed arrays.
//! Every read-back is asynchronous (`into_data_async`): a synchronous read panics on WebGPU.

mod backend;
mod inpaint;
mod readback;
mod schedule;
mod session;
mod spiral;

pub use backend::init_backend;
pub use inpaint::InpaintSession;
pub use schedule::NoiseSchedule;
pub use session::{Model, SamplerSession};
pub use spiral::{sliced_wasserstein, spiral_points, SpiralModel, SpiralSession, SpiralTrainer};

use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
pub fn start() {
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
