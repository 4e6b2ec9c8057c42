//! Settings objects from JS, read strictly. serde-wasm-bindgen reads a struct by asking the JS
//! object for each field serde knows, so a key it does not know — a typo, or the snake_case of
//! older releases — would be dropped without a word and its default used. Here it is an error
//! that names the key and the ones expected, as serde's `deny_unknown_fields` words it.

use std::cell::Cell;

use js_sys::{Object, Reflect};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::js_error;

/// The fields serde reads for the struct `T`, learnt by asking `T` to deserialize itself from a
/// probe that records them.
fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Probe<'a>(&'a Cell<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0.set(fields);
            Err(de::Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }
    let fields = Cell::new(&[][..]);
    let _ = T::deserialize(Probe(&fields));
    fields.get()
}

/// Refuses a key of the object `value` that the struct `T` has no field for (`what` names it in
/// the message). Anything but an object is left to serde, which says what it expected.
pub(crate) fn check_keys<T: DeserializeOwned>(value: &JsValue, what: &str) -> Result<(), JsError> {
    let Some(object) = value.dyn_ref::<Object>().filter(|_| !value.is_function()) else { return Ok(()) };
    let known = fields_of::<T>();
    for key in Object::keys(object).iter().filter_map(|k| k.as_string()) {
        if !known.contains(&key.as_str()) {
            let expected = known.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ");
            return Err(js_error(format!("{what}: unknown field `{key}`, expected one of {expected}")));
        }
    }
    Ok(())
}

/// The property `key` of `value` (undefined when absent), to check a nested settings object.
pub(crate) fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `value` as a `T`: its keys checked, then read by serde (whose errors name the field).
pub(crate) fn from_js<T: DeserializeOwned>(value: JsValue, what: &str) -> Result<T, JsError> {
    check_keys::<T>(&value, what)?;
    serde_wasm_bindgen::from_value(value).map_err(|e| js_error(format!("{what}: {e}")))
}
