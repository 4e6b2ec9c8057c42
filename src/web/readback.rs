//! Device → JS: every read-back is asynchronous (`into_data_async`; a synchronous read panics on
//! WebGPU), and a step's tensors come back in one read, so a step costs the page at most one
//! device round trip, and only for what it will draw.

use burn::tensor::Tensor;
use js_sys::{Float32Array, Object};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

use super::settings::from_js;
use super::{js_error, set};
use crate::sampler::StepOutput;

/// A run's state as `current()` gives it: a promise of its values, read back when it resolves.
pub(crate) fn current_promise<const D: usize>(x: Tensor<D>) -> js_sys::Promise {
    wasm_bindgen_futures::future_to_promise(async move { Ok(to_f32(x).await?.into()) })
}

pub(crate) async fn to_f32<const D: usize>(t: Tensor<D>) -> Result<Float32Array, JsError> {
    Ok(Float32Array::from(host_f32(t).await?.as_slice()))
}

async fn host_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, JsError> {
    let data = t.into_data_async().await.map_err(|e| js_error(format!("{e:?}")))?;
    data.convert::<f32>().try_into_vec::<f32>().map_err(|e| js_error(format!("{e:?}")))
}

/// What one `step()` of a run is asked for, the same argument for every run: which of a step's
/// predictions the page will draw (x_t always comes back; absent fields mean yes, so `step()`
/// with no argument returns everything), and `k`, how many steps to take at once (the spiral
/// draws its particles a hundred times a run, not every step; inpainting takes one move a call).
#[derive(Clone, Copy, Deserialize, tsify::Tsify)]
#[serde(deny_unknown_fields, default)]
pub struct Wanted {
    x0: bool,
    eps: bool,
    #[tsify(optional)]
    k: usize,
}

impl Default for Wanted {
    fn default() -> Self {
        Self { x0: true, eps: true, k: 1 }
    }
}

impl Wanted {
    pub(crate) fn read(value: JsValue) -> Result<Self, JsError> {
        if value.is_undefined() || value.is_null() {
            return Ok(Self::default());
        }
        from_js(value, "wanted")
    }

    /// The steps to take: 1 to `most`.
    pub(crate) fn steps(&self, most: usize) -> Result<usize, JsError> {
        if !(1..=most).contains(&self.k) {
            return Err(js_error(format!("k = {}: this run takes 1 to {most} steps a call", self.k)));
        }
        Ok(self.k)
    }
}

// The object `step_to_js` builds by hand (typed arrays, which serde would turn into lists).
#[wasm_bindgen(typescript_custom_section)]
const STEP_OUTPUT: &str = r#"
/** One reverse step: ε_θ was evaluated at `t`; `xt` is the new state at `next` (−1: x_0). Images NCHW, points [N, 2]. */
export interface StepOutput {
    t: number;
    next: number;
    xt: Float32Array;
    /** Absent when the step was asked for without it (`Wanted`). */
    x0?: Float32Array;
    eps?: Float32Array;
}
/** One of RePaint's jumps back up: x_t re-noised. */
export interface Renoise {
    renoise: true;
    xt: Float32Array;
}
"#;

/// `{ t, next, xt, x0?, eps? }` of one step of any sampling run (images NCHW, the spiral's
/// particles [N, 2]). The wanted tensors are joined on the device and read as one: a transaction
/// of three tensors would still map three buffers on WebGPU.
pub(crate) async fn step_to_js<const D: usize>(out: StepOutput<D>, wanted: Wanted) -> Result<Object, JsError> {
    let mut names = vec!["xt"];
    let mut parts = vec![out.sample];
    if wanted.x0 {
        names.push("x0");
        parts.push(out.pred_x0);
    }
    if wanted.eps {
        names.push("eps");
        parts.push(out.pred_eps);
    }
    let per_part = parts[0].shape().num_elements();
    let joined = if parts.len() == 1 { parts.pop().expect("x_t") } else { Tensor::cat(parts, 0) };
    let values = host_f32(joined).await?;
    let obj = Object::new();
    set(&obj, "t", out.t as u32);
    set(&obj, "next", out.next_t.map_or(-1, |t| t as i32));
    for (name, chunk) in names.into_iter().zip(values.chunks(per_part)) {
        set(&obj, name, Float32Array::from(chunk));
    }
    Ok(obj)
}
