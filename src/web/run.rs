//! The one run every operation of the core is: sampling (the fork grid and guidance rows
//! included), inpainting, the spiral's particles and its live training. It is all the worker
//! knows of a session: `open` makes one, `step` advances it, `stop` frees it.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::js_error;
use super::readback::{Wanted, current_promise, step_to_js};
use crate::model::EpsModel;
use crate::sampler::Sampler;
use crate::schedule::MAX_TIMESTEPS;

pub(crate) trait Run {
    /// Steps in the whole run (inpainting's RePaint: its moves, the jumps back up included).
    fn total(&self) -> usize;
    fn done(&self) -> bool;
    /// The state now, read back when the promise resolves.
    fn current(&self) -> js_sys::Promise;
    /// `wanted.k` more steps (fewer at the end; inpainting takes 1), queued on the device before
    /// this returns, so calls may overlap; the promise resolves to the last one's output.
    fn step(&mut self, wanted: Wanted) -> Result<js_sys::Promise, JsError>;
}

/// A sampler stepping ε_θ: the image runs (guided or not) and the spiral's particles. A step
/// resolves to the last of its `k` steps' `StepOutput`.
pub(crate) struct Sampling<const D: usize> {
    pub model: Rc<dyn EpsModel<D>>,
    pub sampler: Sampler<D>,
}

impl<const D: usize> Sampling<D> {
    /// The timesteps the run visits, noisiest first.
    pub fn timesteps(&self) -> Vec<u32> {
        self.sampler.timesteps().iter().map(|&t| t as u32).collect()
    }
}

impl<const D: usize> Run for Sampling<D> {
    fn total(&self) -> usize {
        self.sampler.timesteps().len()
    }

    fn done(&self) -> bool {
        self.sampler.is_done()
    }

    fn current(&self) -> js_sys::Promise {
        current_promise(self.sampler.current().clone())
    }

    fn step(&mut self, wanted: Wanted) -> Result<js_sys::Promise, JsError> {
        let mut last = None;
        for _ in 0..wanted.steps(MAX_TIMESTEPS)? {
            if self.sampler.is_done() {
                break;
            }
            last = Some(self.sampler.step(self.model.as_ref()).map_err(js_error)?);
        }
        let last = last.ok_or_else(|| js_error("sampling is already finished"))?;
        Ok(wasm_bindgen_futures::future_to_promise(async move { Ok(step_to_js(last, wanted).await?.into()) }))
    }
}

/// The JS surface of a session whose `run` field is a `Run` (wasm-bindgen exports methods, not
/// traits): `total`, `done`, `current()` and `step(wanted)`, whose promise resolves to `$output`
/// (a TypeScript type).
macro_rules! export_run {
    ($session:ty, $output:tt) => {
        #[wasm_bindgen]
        impl $session {
            #[wasm_bindgen(getter)]
            pub fn total(&self) -> usize {
                $crate::web::run::Run::total(&self.run)
            }

            #[wasm_bindgen(getter)]
            pub fn done(&self) -> bool {
                $crate::web::run::Run::done(&self.run)
            }

            pub fn current(&self) -> js_sys::Promise {
                $crate::web::run::Run::current(&self.run)
            }

            /// `wanted`: `k`, the steps to take (1 when absent), and for a sampling run which of
            /// a step's predictions come back (x_t always; absent fields mean yes).
            #[wasm_bindgen(unchecked_return_type = $output)]
            pub fn step(
                &mut self,
                #[wasm_bindgen(unchecked_param_type = "Wanted | undefined")] wanted: JsValue,
            ) -> Result<js_sys::Promise, JsError> {
                $crate::web::run::Run::step(&mut self.run, $crate::web::readback::Wanted::read(wanted)?)
            }
        }
    };
}

pub(crate) use export_run;
