//! The wasm-bindgen API: the one interface the page, its worker and the embeddable element use.
//! Settings go in and out as plain JS objects (serde-wasm-bindgen), pixels as typed arrays.
//! Every read-back is asynchronous (`into_data_async`): a synchronous read panics on WebGPU.

mod backend;
mod schedule;
mod session;

pub use backend::init_backend;
pub use schedule::NoiseSchedule;
pub use session::{Model, SamplerSession};

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

/// Parses a float32 `.npy` file: `{ shape: number[], data: Float32Array }`.
#[wasm_bindgen(js_name = parseNpy)]
pub fn parse_npy(bytes: &[u8]) -> Result<JsValue, JsError> {
    let (shape, values) = crate::npy::read_f32(bytes, "npy").map_err(js_error)?;
    let out = js_sys::Object::new();
    set(&out, "shape", serde_wasm_bindgen::to_value(&shape)?);
    set(&out, "data", js_sys::Float32Array::from(values.as_slice()));
    Ok(out.into())
}
