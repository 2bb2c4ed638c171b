//! Zeroing secret values when the structures holding them are dropped, so decrypted secrets do not
//! linger in freed memory. (Copies made for templating live inside minijinja values, which cannot
//! be wiped; they are dropped with the run.)

use serde_json::Value;
use zeroize::Zeroize;

/// Overwrite every string in a value with zeros, then clear it.
pub fn wipe_value(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_value),
        Value::Object(map) => map.values_mut().for_each(wipe_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wipes_nested_strings() {
        let mut v = serde_json::json!({"a": {"b": ["secret", 1]}, "c": "other"});
        wipe_value(&mut v);
        assert_eq!(v, serde_json::json!({"a": {"b": ["", 1]}, "c": ""}));
    }
}
