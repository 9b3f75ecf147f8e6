//! Telemetry for lamplight functions: what a function says (logs), what it did (X-Ray traces),
//! set up once by `lamplight::run` with no collector layer.
//!
//! | module | holds |
//! |---|---|
//! | [`logs`] | the log subscriber: Lambda-shaped JSON or plain text, request and trace ids on every line |
//! | [`traces`] | X-Ray through OpenTelemetry: spans kept per invocation, sent after the response |
//! | [`metrics`] | CloudWatch EMF metrics, one log line per invocation, `ColdStart` included |
//! | [`http_client`] | outgoing HTTP calls as `remote` subsegments, the trace header carried on |
//! | [`redact`] | secret detection in names ([`redact::looks_secret`]) and free text ([`redact::scrub`]) |
//!
//! `#[tracing::instrument]` spans inside a handler become X-Ray subsegments of the invocation;
//! [`annotate`] adds an indexed (searchable) annotation to the current span, [`metadata`] a
//! non-indexed value.

pub mod http_client;
#[cfg(feature = "https")]
mod https;
pub mod logs;
pub mod metrics;
pub mod redact;
#[cfg(feature = "xray")]
pub mod traces;
#[cfg(feature = "xray")]
mod xray;
#[cfg(not(feature = "xray"))]
#[path = "xray_off.rs"]
mod xray;

use std::sync::OnceLock;

#[cfg(feature = "xray")]
pub use traces::{TraceExport, Tracing};
pub use xray::{AttributeValue, TraceKey};

/// Logging and tracing as [`install`]ed for this execution environment: makes each
/// invocation's span and sends its spans after the response.
#[derive(Debug)]
pub struct Telemetry {
    spans: xray::Spans,
}

static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();

/// Installs logging and tracing from the environment (once; later calls return the same).
///
/// Logs: see [`logs`]. Traces (feature `xray`): see `traces::TraceExport::from_env`; spans are
/// recorded at `LAMPLIGHT_TRACE_LEVEL` (default `info`, `RUST_LOG` syntax).
pub fn install() -> &'static Telemetry {
    TELEMETRY.get_or_init(|| Telemetry {
        spans: xray::Spans::install(&logs::LogSettings::from_env()),
    })
}

/// What the invocation span is made from.
#[derive(Debug, Clone, Copy)]
pub struct InvocationInfo<'a> {
    /// `Lambda-Runtime-Aws-Request-Id`: every line logged in the span carries it.
    pub request_id: &'a str,
    /// The invocation's trace header, if Lambda sent one.
    pub trace_header: Option<&'a str>,
    /// The root trace id, for logs.
    pub trace_id: Option<&'a str>,
    /// Whether this invocation started the execution environment.
    pub cold_start: bool,
}

impl Telemetry {
    /// The span an invocation runs in: every log line in it carries `requestId` and `traceId`,
    /// and (when tracing) it is the X-Ray subsegment `handler` under Lambda's function segment.
    pub fn invocation_span(&self, info: InvocationInfo<'_>) -> tracing::Span {
        let span = tracing::info_span!(
            "invocation",
            otel.name = "handler",
            requestId = info.request_id,
            traceId = tracing::field::Empty,
            faas.invocation_id = info.request_id,
            faas.coldstart = info.cold_start,
            "annotation.ColdStart" = info.cold_start,
        );
        if let Some(id) = info.trace_id {
            span.record("traceId", id);
        }
        self.spans.set_parent(&span, info.trace_header);
        span
    }

    /// Writes the invocation's metrics (one EMF line, when there are any) to stdout, before the
    /// response so the line belongs to the invocation.
    pub fn write_metrics(&self, function_name: &str, cold_start: bool) {
        if let Some(line) = metrics::take_line(function_name, cold_start) {
            use std::io::Write as _;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }

    /// Sends the spans of the invocation that just ended, without waiting (OTLP spans wait
    /// for [`flush_async`](Self::flush_async)).
    pub fn flush(&self) {
        self.spans.flush();
    }

    /// Sends the spans of the invocation that just ended and waits for the export, bounded
    /// (see [`Tracing::flush_async`]).
    pub async fn flush_async(&self) {
        self.spans.flush_async().await;
    }

    /// The trace an invocation's span belongs to, when traces are exported: the one its
    /// `trace_header` names (the header the span was made with), else the span's own. Take it
    /// before the span ends, to [`flush_invocation`](Self::flush_invocation) after.
    pub fn trace_of(&self, span: &tracing::Span, trace_header: Option<&str>) -> Option<TraceKey> {
        self.spans.trace_of(span, trace_header)
    }

    /// Sends the spans of one invocation's trace and waits for the export (bounded), leaving
    /// the spans of invocations still running: what lamplight does after each response when
    /// one process serves several invocations at once, so that none waits on another's export.
    pub async fn flush_invocation(&self, trace: Option<TraceKey>) {
        if let Some(key) = trace {
            self.spans.flush_trace_async(key).await;
        }
    }

    /// The tracer, when traces are exported.
    #[cfg(feature = "xray")]
    pub fn tracing(&self) -> Option<&Tracing> {
        self.spans.tracing()
    }
}

/// Marks `span` failed: X-Ray shows it as a fault with a cause of `error_type` and `message`
/// (scrubbed of secrets, like everything a span carries when it leaves).
pub fn record_failure(span: &tracing::Span, error_type: &str, message: &str) {
    xray::record_failure(span, error_type, message);
}

/// Adds an X-Ray annotation (indexed: usable in trace filter expressions) to the current span.
/// Keys are letters, digits and underscores.
pub fn annotate(key: &str, value: impl Into<AttributeValue>) {
    xray::set_attribute("annotation", key, value.into());
}

/// Adds X-Ray metadata (not indexed) to the current span.
pub fn metadata(key: &str, value: impl Into<AttributeValue>) {
    xray::set_attribute("metadata", key, value.into());
}
