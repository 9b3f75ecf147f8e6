//! The twin of `xray.rs` without the `xray` feature: spans stay in the process (they still
//! give log lines their request and trace ids), and nothing is exported.

use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::logs;

/// A value for [`annotate`](crate::annotate) and [`metadata`](crate::metadata) (ignored
/// without the `xray` feature).
pub type AttributeValue = String;

#[derive(Debug)]
pub(crate) struct Spans;

impl Spans {
    pub fn install(settings: &logs::LogSettings) -> Self {
        // An application that set its own subscriber keeps it.
        let _ = Registry::default().with(logs::layer(settings)).try_init();
        Self
    }

    pub fn set_parent(&self, _span: &tracing::Span, _header: Option<&str>) {}

    pub fn flush(&self) {}

    pub async fn flush_async(&self) {}

    pub fn trace_of(&self, _span: &tracing::Span, _header: Option<&str>) -> Option<TraceKey> {
        None
    }

    pub async fn flush_trace_async(&self, _key: TraceKey) {}
}

/// The trace an invocation's spans belong to (none without the `xray` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceKey;

pub(crate) fn record_failure(_span: &tracing::Span, _error_type: &str, _message: &str) {}

pub(crate) fn set_attribute(_kind: &str, _key: &str, _value: AttributeValue) {}

pub(crate) fn inject(_span: &tracing::Span, _headers: &mut http::HeaderMap) {}
