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
pub mod logs;
pub mod metrics;
pub mod redact;
#[cfg(feature = "xray")]
pub mod traces;

use std::sync::OnceLock;

#[cfg(feature = "xray")]
use opentelemetry::KeyValue;
#[cfg(feature = "xray")]
use opentelemetry::trace::Status;
#[cfg(feature = "xray")]
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
#[cfg(feature = "xray")]
use tracing_subscriber::{EnvFilter, Layer as _};

#[cfg(feature = "xray")]
pub use traces::{TraceExport, Tracing};

/// A value for [`annotate`] and [`metadata`].
#[cfg(feature = "xray")]
pub type AttributeValue = opentelemetry::Value;
/// A value for [`annotate`] and [`metadata`] (ignored without the `xray` feature).
#[cfg(not(feature = "xray"))]
pub type AttributeValue = String;

/// The telemetry of this execution environment.
#[derive(Debug)]
pub struct Telemetry {
    #[cfg(feature = "xray")]
    tracing: Option<Tracing>,
}

static TELEMETRY: OnceLock<Telemetry> = OnceLock::new();

/// Installs logging and tracing from the environment (once; later calls return the same).
///
/// Logs: see [`logs`]. Traces: see [`traces::TraceExport::from_env`]; spans are recorded at
/// `LAMPLIGHT_TRACE_LEVEL` (default `info`, `RUST_LOG` syntax).
pub fn install() -> &'static Telemetry {
    TELEMETRY.get_or_init(build)
}

#[cfg(feature = "xray")]
fn build() -> Telemetry {
    let settings = logs::LogSettings::from_env();
    let tracing = Tracing::new(&TraceExport::from_env());
    let spans = tracing.as_ref().map(|t| {
        let level = std::env::var("LAMPLIGHT_TRACE_LEVEL").unwrap_or_else(|_| "info".into());
        tracing_opentelemetry::layer()
            .with_tracer(t.tracer())
            .with_threads(false)
            .with_location(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_filter(EnvFilter::builder().parse_lossy(format!("{level},{}", logs::QUIET)))
    });
    // An application that set its own subscriber keeps it.
    let _ = Registry::default()
        .with(logs::layer(&settings))
        .with(spans)
        .try_init();
    Telemetry { tracing }
}

#[cfg(not(feature = "xray"))]
fn build() -> Telemetry {
    let settings = logs::LogSettings::from_env();
    let _ = Registry::default().with(logs::layer(&settings)).try_init();
    Telemetry {}
}

/// What the invocation span is made from.
#[derive(Debug, Clone, Copy)]
pub struct InvocationInfo<'a> {
    /// The request id.
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
        #[cfg(feature = "xray")]
        if let (Some(_), Some(header)) = (&self.tracing, info.trace_header) {
            // Before the span is entered: its parent is Lambda's function segment.
            let _ = span.set_parent(Tracing::parent_context(header));
        }
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
        #[cfg(feature = "xray")]
        if let Some(tracing) = &self.tracing {
            tracing.flush();
        }
    }

    /// Sends the spans of the invocation that just ended and waits for the export, bounded
    /// (see [`Tracing::flush_async`]).
    pub async fn flush_async(&self) {
        #[cfg(feature = "xray")]
        if let Some(tracing) = &self.tracing {
            tracing.flush_async().await;
        }
    }

    /// The tracer, when traces are exported.
    #[cfg(feature = "xray")]
    pub fn tracing(&self) -> Option<&Tracing> {
        self.tracing.as_ref()
    }
}

/// Marks `span` failed: X-Ray shows it as a fault with a cause of `error_type` and `message`
/// (scrubbed of secrets, like everything a span carries when it leaves).
pub fn record_failure(span: &tracing::Span, error_type: &str, message: &str) {
    #[cfg(not(feature = "xray"))]
    let _ = (span, error_type, message);
    #[cfg(feature = "xray")]
    span.set_status(Status::error(message.to_owned()));
    #[cfg(feature = "xray")]
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", error_type.to_owned()),
            KeyValue::new("exception.message", message.to_owned()),
        ],
    );
}

/// Adds an X-Ray annotation (indexed: usable in trace filter expressions) to the current span.
/// Keys are letters, digits and underscores.
pub fn annotate(key: &str, value: impl Into<AttributeValue>) {
    #[cfg(feature = "xray")]
    tracing::Span::current().set_attribute(format!("annotation.{key}"), value);
    #[cfg(not(feature = "xray"))]
    let _ = (key, value.into());
}

/// Adds X-Ray metadata (not indexed) to the current span.
pub fn metadata(key: &str, value: impl Into<AttributeValue>) {
    #[cfg(feature = "xray")]
    tracing::Span::current().set_attribute(format!("metadata.{key}"), value);
    #[cfg(not(feature = "xray"))]
    let _ = (key, value.into());
}
