//! What part of an event identifies a request ([`Selector`]), and how it becomes a record id.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

type SelectFn = dyn Fn(&Value) -> Option<Value> + Send + Sync;

/// A part of the event: the idempotency key, or the payload whose hash is validated.
#[derive(Clone)]
pub enum Selector {
    /// The whole event.
    Whole,
    /// The value at a JSON Pointer (RFC 6901), such as `/order_id` or `/body/items/0`.
    Pointer(String),
    /// Whatever a function picks out of the event (as JSON).
    With(Arc<SelectFn>),
}

impl Selector {
    /// The value at a JSON Pointer (`/order_id`).
    pub fn pointer(pointer: impl Into<String>) -> Self {
        Self::Pointer(pointer.into())
    }

    /// Whatever `f` picks out of the event; `None` means the event has no key.
    pub fn with(f: impl Fn(&Value) -> Option<Value> + Send + Sync + 'static) -> Self {
        Self::With(Arc::new(f))
    }

    /// The selected part; `None` when it is missing or null.
    pub fn select(&self, event: &Value) -> Option<Value> {
        let selected = match self {
            Self::Whole => Some(event.clone()),
            Self::Pointer(pointer) => event.pointer(pointer).cloned(),
            Self::With(f) => f(event),
        };
        selected.filter(|v| !v.is_null())
    }
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Whole => f.write_str("the whole event"),
            Self::Pointer(p) => write!(f, "JSON pointer {p:?}"),
            Self::With(_) => f.write_str("the key function"),
        }
    }
}

/// `value` with every object's keys sorted, so that equal JSON hashes equally whatever order
/// its fields came in (serde_json keeps insertion order when `preserve_order` is on anywhere in
/// the build).
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// The lowercase hex SHA-256 of `value`'s canonical JSON.
pub fn hash(value: &Value) -> String {
    format!("{:x}", Sha256::digest(canonical(value).to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn field_order_does_not_change_the_hash() {
        let a: Value =
            serde_json::from_str(r#"{"a": 1, "b": {"x": [1, 2], "y": "z"}}"#).expect("json");
        let b: Value =
            serde_json::from_str(r#"{"b": {"y": "z", "x": [1, 2]}, "a": 1}"#).expect("json");
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(
            hash(&a),
            hash(&json!({"a": 2, "b": {"x": [1, 2], "y": "z"}}))
        );
        assert_eq!(hash(&a).len(), 64);
    }

    #[test]
    fn missing_and_null_select_nothing() {
        let event = json!({"order_id": "o-1", "gone": null});
        assert_eq!(
            Selector::pointer("/order_id").select(&event),
            Some(json!("o-1"))
        );
        assert_eq!(Selector::pointer("/gone").select(&event), None);
        assert_eq!(Selector::pointer("/nope").select(&event), None);
        assert_eq!(Selector::pointer("order_id").select(&event), None);
        assert_eq!(
            Selector::with(|e| e.get("order_id").cloned()).select(&event),
            Some(json!("o-1"))
        );
    }
}
