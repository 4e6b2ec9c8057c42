//! Picks the compute device at run time: WebGPU when the browser gives an adapter, otherwise the
//! CPU (burn's `flex` backend in wasm), and says why.

use std::cell::RefCell;

use burn::tensor::Device;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[derive(Clone, Serialize)]
pub struct BackendInfo {
    /// "webgpu" or "cpu"
    pub kind: &'static str,
    /// Why the CPU was chosen (None on WebGPU).
    pub reason: Option<String>,
}

thread_local! {
    static WGPU: RefCell<Option<Device>> = const { RefCell::new(None) };
    static CURRENT: RefCell<Option<(Device, BackendInfo)>> = const { RefCell::new(None) };
}

/// The device chosen by `initBackend` (the CPU if it was never called).
pub(crate) fn device() -> Device {
    CURRENT.with(|c| c.borrow().as_ref().map(|(d, _)| d.clone())).unwrap_or_else(Device::flex)
}

fn has_navigator_gpu() -> bool {
    let global = js_sys::global();
    let navigator = js_sys::Reflect::get(&global, &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    !navigator.is_undefined() && js_sys::Reflect::get(&navigator, &"gpu".into()).map(|g| !g.is_undefined()).unwrap_or(false)
}

/// Chooses the backend: `{ kind: "webgpu" | "cpu", reason: string | null }`. With `forceCpu`
/// the CPU is used even where WebGPU works. May be called again to switch.
#[wasm_bindgen(js_name = initBackend)]
pub async fn init_backend(force_cpu: bool) -> Result<JsValue, JsError> {
    let info = if force_cpu {
        (Device::flex(), BackendInfo { kind: "cpu", reason: Some("CPU forced by the user".into()) })
    } else if !has_navigator_gpu() {
        (Device::flex(), BackendInfo { kind: "cpu", reason: Some("this browser has no WebGPU (navigator.gpu is missing)".into()) })
    } else {
        match WGPU.with(|w| w.borrow().clone()) {
            Some(device) => (device, BackendInfo { kind: "webgpu", reason: None }),
            None => match Device::wgpu_options().init_async().await {
                Ok(device) => {
                    WGPU.with(|w| *w.borrow_mut() = Some(device.clone()));
                    (device, BackendInfo { kind: "webgpu", reason: None })
                }
                Err(e) => (Device::flex(), BackendInfo { kind: "cpu", reason: Some(format!("WebGPU could not start: {e}")) }),
            },
        }
    };
    let value = serde_wasm_bindgen::to_value(&info.1)?;
    CURRENT.with(|c| *c.borrow_mut() = Some(info));
    Ok(value)
}
