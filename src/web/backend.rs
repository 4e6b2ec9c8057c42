//! Picks the compute device at run time: WebGPU when this module was built with it and the
//! browser gives an adapter, otherwise the CPU (burn's `flex` backend in wasm), and says why.
//!
//! The page ships two builds of this crate (scripts/build-wasm.sh): `pkg/webgpu` (feature
//! `webgpu`, with flex as its fallback) and `pkg/cpu` (flex only). The worker picks one before
//! it downloads anything, so a browser without WebGPU never fetches the GPU code.

use std::cell::RefCell;

use burn::tensor::Device;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[derive(Clone, Serialize, tsify::Tsify)]
pub struct BackendInfo {
    #[tsify(type = "'webgpu' | 'cpu'")]
    pub kind: &'static str,
    /// Why the CPU was chosen (None on WebGPU).
    pub reason: Option<String>,
}

thread_local! {
    static CURRENT: RefCell<Option<(Device, BackendInfo)>> = const { RefCell::new(None) };
}

/// The device chosen by `initBackend` (the CPU if it was never called).
pub(crate) fn device() -> Device {
    CURRENT.with(|c| c.borrow().as_ref().map(|(d, _)| d.clone())).unwrap_or_else(Device::flex)
}

fn cpu(reason: impl Into<String>) -> (Device, BackendInfo) {
    (Device::flex(), BackendInfo { kind: "cpu", reason: Some(reason.into()) })
}

/// Chooses the backend: `{ kind: "webgpu" | "cpu", reason: string | null }`. With a
/// `cpuReason` (the user forced it, the browser has no adapter) the CPU is used and that reason
/// reported; without one WebGPU is tried. May be called again to switch.
#[wasm_bindgen(js_name = initBackend, unchecked_return_type = "BackendInfo")]
pub async fn init_backend(cpu_reason: Option<String>) -> Result<JsValue, JsError> {
    let info = match cpu_reason {
        Some(reason) => cpu(reason),
        None => gpu_or_cpu().await,
    };
    let value = serde_wasm_bindgen::to_value(&info.1)?;
    CURRENT.with(|c| *c.borrow_mut() = Some(info));
    Ok(value)
}

#[cfg(not(feature = "webgpu"))]
async fn gpu_or_cpu() -> (Device, BackendInfo) {
    cpu("this is the CPU-only build of ddpm-web")
}

#[cfg(feature = "webgpu")]
const TASKS_PER_SUBMIT: usize = 256;

#[cfg(feature = "webgpu")]
async fn gpu_or_cpu() -> (Device, BackendInfo) {
    thread_local! {
        static WGPU: RefCell<Option<Device>> = const { RefCell::new(None) };
    }
    if !has_navigator_gpu() {
        return cpu("this browser has no WebGPU (navigator.gpu is missing)");
    }
    if let Some(device) = WGPU.with(|w| w.borrow().clone()) {
        return (device, BackendInfo { kind: "webgpu", reason: None });
    }
    // cubecl submits its queue every `tasks_max` kernels (32 by default): 20 submits per faces64
    // ε_θ. Each submit is a round trip to the browser's GPU process; 256 makes it two or three.
    match Device::wgpu_options().tasks_max(TASKS_PER_SUBMIT).init_async().await {
        Ok(device) => {
            WGPU.with(|w| *w.borrow_mut() = Some(device.clone()));
            (device, BackendInfo { kind: "webgpu", reason: None })
        }
        Err(e) => cpu(format!("WebGPU could not start: {e}")),
    }
}

#[cfg(feature = "webgpu")]
fn has_navigator_gpu() -> bool {
    let global = js_sys::global();
    let navigator = js_sys::Reflect::get(&global, &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    !navigator.is_undefined() && js_sys::Reflect::get(&navigator, &"gpu".into()).map(|g| !g.is_undefined()).unwrap_or(false)
}
