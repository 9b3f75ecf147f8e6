//! CloudWatch metrics in the Embedded Metric Format: values recorded during an invocation are
//! written as one JSON log line when it ends, which CloudWatch turns into metrics with no API
//! call and no agent.
//!
//! ```
//! use lamplight_telemetry::metrics::{self, Unit};
//!
//! metrics::count("OrdersPlaced", 1.0);
//! metrics::record("CartValue", 42.5, Unit::None);
//! let line = metrics::take_line("checkout", false).expect("values were recorded");
//! let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
//! assert_eq!(doc["OrdersPlaced"], 1.0);
//! assert_eq!(doc["function_name"], "checkout");
//! assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "CartValue");
//! ```
//!
//! Written by hand rather than through a `metrics`-facade exporter: lamplight flushes once per
//! invocation with that invocation's dimensions, which a process-global recorder does not know.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// The most values one metric keeps per invocation (EMF's limit per metric).
pub const MAX_VALUES: usize = 100;

/// A CloudWatch unit: each variant is the unit of its name (`None` is CloudWatch's `None`).
// Variant docs would only repeat their names.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
    Bytes,
    Percent,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
            Self::Seconds => "Seconds",
            Self::Bytes => "Bytes",
            Self::Percent => "Percent",
            Self::None => "None",
        }
    }
}

#[derive(Default)]
struct Pending {
    values: BTreeMap<String, (Unit, Vec<f64>)>,
    properties: Map<String, Value>,
}

static PENDING: Mutex<Option<Pending>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Pending) -> R) -> R {
    let mut guard = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Pending::default))
}

/// Adds `value` to the count `name`.
pub fn count(name: &str, value: f64) {
    record(name, value, Unit::Count);
}

/// Records one value of metric `name`.
pub fn record(name: &str, value: f64, unit: Unit) {
    with(|p| {
        let entry = p
            .values
            .entry(name.to_owned())
            .or_insert((unit, Vec::new()));
        if entry.1.len() < MAX_VALUES {
            entry.1.push(value);
        }
    });
}

/// Adds a property: searchable in CloudWatch Logs Insights, not a dimension.
pub fn property(key: &str, value: impl Into<Value>) {
    with(|p| {
        p.properties.insert(key.to_owned(), value.into());
    });
}

/// The EMF line of what was recorded since the last call (plus `ColdStart` on a cold start),
/// or `None` when there is nothing to write. Namespace: `LAMPLIGHT_METRICS_NAMESPACE`, else
/// `lamplight`. Dimensions: the function name.
pub fn take_line(function_name: &str, cold_start: bool) -> Option<String> {
    let mut pending = PENDING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default();
    if cold_start {
        pending
            .values
            .entry("ColdStart".into())
            .or_insert((Unit::Count, Vec::new()))
            .1
            .push(1.0);
    }
    if pending.values.is_empty() {
        return None;
    }
    let namespace =
        std::env::var("LAMPLIGHT_METRICS_NAMESPACE").unwrap_or_else(|_| "lamplight".into());
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let definitions: Vec<Value> = pending
        .values
        .iter()
        .map(|(name, (unit, _))| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    let mut doc = pending.properties;
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["function_name"]],
                "Metrics": definitions,
            }],
        }),
    );
    doc.insert("function_name".into(), Value::from(function_name));
    for (name, (_, values)) in pending.values {
        let value = match values.as_slice() {
            [one] => Value::from(*one),
            many => Value::from(many.to_vec()),
        };
        doc.insert(name, value);
    }
    Some(Value::Object(doc).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cold_start_alone_writes_the_cold_start_metric_and_repeated_values_become_arrays() {
        let _ = take_line("f", false);
        let line = take_line("f", true).expect("cold start metric");
        let doc: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(doc["ColdStart"], 1.0);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["function_name"]])
        );
        assert!(
            take_line("f", false).is_none(),
            "nothing left after a flush"
        );
        record("Latency", 3.0, Unit::Milliseconds);
        record("Latency", 5.0, Unit::Milliseconds);
        property("orderId", "o-1");
        let doc: Value = serde_json::from_str(&take_line("f", false).expect("line")).expect("json");
        assert_eq!(doc["Latency"], json!([3.0, 5.0]));
        assert_eq!(doc["orderId"], "o-1");
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            json!({"Name": "Latency", "Unit": "Milliseconds"})
        );
    }
}
