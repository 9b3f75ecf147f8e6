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
//!
//! When one process serves several invocations at once (Lambda Managed Instances), each runs
//! its handler inside [`scope`]: what the handler's task records is that invocation's alone,
//! and [`take_line`] in the scope writes only it. Values recorded from a task the handler
//! spawned land outside the scope, in the process-wide values, and are not written then.

use std::cell::RefCell;
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

tokio::task_local! {
    /// The values of the invocation whose task this is, in concurrent mode.
    static SCOPED: RefCell<Option<Pending>>;
}

fn with<R>(f: impl FnOnce(&mut Pending) -> R) -> R {
    if SCOPED.try_with(|_| ()).is_ok() {
        // Just checked: the scope is set, so `with` cannot panic.
        return SCOPED.with(|cell| f(cell.borrow_mut().get_or_insert_with(Pending::default)));
    }
    let mut guard = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(Pending::default))
}

/// Runs `future` (an invocation) with metrics of its own: what it records, and [`take_line`]
/// called inside it, concern this invocation only (see the [module docs](self)).
pub async fn scope<F: Future>(future: F) -> F::Output {
    SCOPED.scope(RefCell::new(None), future).await
}

fn take_pending() -> Pending {
    SCOPED
        .try_with(|cell| cell.borrow_mut().take().unwrap_or_default())
        .unwrap_or_else(|_| {
            PENDING
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .unwrap_or_default()
        })
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
    let mut pending = take_pending();
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

    #[tokio::test]
    async fn invocations_in_scopes_at_once_each_write_only_their_own_values() {
        let (gate_tx, gate_rx) = tokio::sync::watch::channel(false);
        let invocation = |name: &'static str, value: f64| {
            let mut gate = gate_rx.clone();
            scope(async move {
                count(name, value);
                // Both have recorded before either writes its line.
                let _ = gate.wait_for(|open| *open).await;
                take_line("f", false).expect("its own value")
            })
        };
        let a = tokio::spawn(invocation("A", 1.0));
        let b = tokio::spawn(invocation("B", 2.0));
        tokio::task::yield_now().await;
        let _ = gate_tx.send(true);
        let a: Value = serde_json::from_str(&a.await.expect("a")).expect("json");
        let b: Value = serde_json::from_str(&b.await.expect("b")).expect("json");
        assert_eq!((a["A"].clone(), a.get("B")), (json!(1.0), None));
        assert_eq!((b["B"].clone(), b.get("A")), (json!(2.0), None));
    }

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
