//! Test helpers for lamplight functions.
//!
//! - [`event`] / [`event_value`]: the sample events of the package (`events/<name>.json`);
//! - [`invocation`]: an [`Invocation`] with fixed ids, so snapshots are stable;
//! - [`respond`]: what Lambda would return for an event: the response or the error document;
//! - [`settings`] and [`assert_response!`]: insta snapshots with one redaction table for what
//!   changes between runs (request ids and other UUIDs, X-Ray trace and segment ids,
//!   timestamps, dates in log stream names);
//! - [`servers`] (feature `servers`): S3 and HTTP servers on loopback for functions that call out;
//! - [`process`]: programs started beside the function (an emulator, a client), killed on drop;
//! - [`moto`]: a real AWS API server (moto) on loopback, for functions and tests that call AWS;
//! - [`event_names_in`]: the sample events of a directory, the one listing `cargo xtask` uses too.
//!
//! ```no_run
//! // tests/handler.rs of a function
//! let inv = lamplight_test::invocation();
//! assert_eq!(inv.request_id(), lamplight_test::REQUEST_ID);
//! let response = serde_json::json!({"requestId": inv.request_id(), "at": "2026-11-21T22:18:36.123Z"});
//! lamplight_test::assert_response!("greeting", response);
//! ```

pub mod moto;
pub mod process;
#[cfg(feature = "servers")]
pub mod servers;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use insta;
use lamplight::Invocation;
use serde::de::DeserializeOwned;

/// The request id of [`invocation`].
pub const REQUEST_ID: &str = "00000000-0000-4000-8000-000000000001";
/// The trace header of [`invocation`].
pub const TRACE_HEADER: &str =
    "Root=1-00000000-000000000000000000000001;Parent=0000000000000001;Sampled=1";
/// The invoked ARN of [`invocation`].
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:test-function";

fn events_dir() -> PathBuf {
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    PathBuf::from(root).join("events")
}

/// The sample event `events/<name>.json` of the package under test, as JSON.
///
/// # Panics
/// When the file is missing or not JSON, with the path and the reason: this is for tests.
pub fn event_value(name: &str) -> serde_json::Value {
    event(name)
}

/// The sample event `events/<name>.json` of the package under test, as `T`.
///
/// # Panics
/// When the file is missing or does not parse as `T`, naming the file and the field.
pub fn event<T: DeserializeOwned>(name: &str) -> T {
    let path = events_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the sample event {}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the sample event {} does not parse: {e}", path.display()))
}

/// The names of every sample event of the package (`events/*.json`), sorted.
pub fn event_names() -> Vec<String> {
    event_names_in(&events_dir())
}

/// The names of the sample events in `dir` (its `*.json` files, without the extension), sorted;
/// none when `dir` cannot be read. The one listing of sample events: `cargo xtask invoke`
/// names them too.
pub fn event_names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// An invocation with fixed ids ([`REQUEST_ID`], [`TRACE_HEADER`], [`FUNCTION_ARN`]) and 3 s
/// left.
pub fn invocation() -> Invocation {
    Invocation::builder()
        .request_id(REQUEST_ID)
        .trace_header(TRACE_HEADER)
        .function_arn(FUNCTION_ARN)
        .remaining(Duration::from_secs(3))
        .build()
}

/// What Lambda would return for `event`: the handler's response, or the error document
/// (`errorType`, `errorMessage`) of an event that does not parse, an error, or a panic.
pub async fn respond<F, Fut, Ev, R, E>(
    handler: F,
    event: serde_json::Value,
    invocation: Invocation,
) -> serde_json::Value
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: std::future::Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: serde::Serialize,
    E: Into<lamplight::BoxError> + 'static,
{
    let body = serde_json::to_vec(&event).unwrap_or_default();
    match lamplight::respond(handler, &body, invocation).await {
        Ok(response) => serde_json::from_slice(&response).unwrap_or(serde_json::Value::Null),
        Err(document) => serde_json::to_value(document).unwrap_or(serde_json::Value::Null),
    }
}

/// Insta settings with the redaction table: UUIDs, X-Ray ids, RFC 3339 timestamps.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in FILTERS {
        settings.add_filter(pattern, *replacement);
    }
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// The redaction table, applied to the snapshot text.
pub const FILTERS: &[(&str, &str)] = &[
    (r"\b1-[0-9a-f]{8}-[0-9a-f]{24}\b", "[trace-id]"),
    (
        r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
        "[uuid]",
    ),
    (
        r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})\b",
        "[timestamp]",
    ),
    (r"\b\d{4}/\d{2}/\d{2}/\[", "[date]/["),
];

/// Snapshots a serializable response under `name` with [`settings`].
#[macro_export]
macro_rules! assert_response {
    ($name:expr, $value:expr $(,)?) => {
        $crate::settings().bind(|| {
            $crate::insta::assert_json_snapshot!($name, $value);
        })
    };
}
