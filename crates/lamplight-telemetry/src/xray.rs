//! X-Ray through OpenTelemetry (the `xray` feature). `xray_off.rs` is its twin without the
//! feature: the same items, doing nothing, so no function elsewhere needs a `cfg`.

use opentelemetry::KeyValue;
use opentelemetry::trace::Status;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, Registry};

use crate::logs;
use crate::traces::{TraceExport, Tracing};

/// A value for [`annotate`](crate::annotate) and [`metadata`](crate::metadata).
pub type AttributeValue = opentelemetry::Value;

/// Where spans go: the tracer, when traces are exported.
#[derive(Debug)]
pub(crate) struct Spans {
    tracing: Option<Tracing>,
}

impl Spans {
    /// Installs the subscriber: `logs`' layer, and spans to the tracer when traces are on.
    pub fn install(settings: &logs::LogSettings) -> Self {
        let tracing = Tracing::new(&TraceExport::from_env());
        let spans = tracing.as_ref().map(|t| {
            let level = std::env::var("LAMPLIGHT_TRACE_LEVEL").unwrap_or_else(|_| "info".into());
            tracing_opentelemetry::layer()
                .with_tracer(t.tracer())
                .with_threads(false)
                .with_location(false)
                .with_tracked_inactivity(false)
                .with_target(false)
                .with_filter(logs::targets(&level))
        });
        // An application that set its own subscriber keeps it.
        let _ = Registry::default()
            .with(logs::layer(settings))
            .with(spans)
            .try_init();
        Self { tracing }
    }

    /// Makes `span` a child of the segment `header` names (Lambda's function segment).
    pub fn set_parent(&self, span: &tracing::Span, header: Option<&str>) {
        if let (Some(_), Some(header)) = (&self.tracing, header) {
            // Before the span is entered, or its parent is whatever was current.
            let _ = span.set_parent(Tracing::parent_context(header));
        }
    }

    pub fn flush(&self) {
        if let Some(tracing) = &self.tracing {
            tracing.flush();
        }
    }

    pub async fn flush_async(&self) {
        if let Some(tracing) = &self.tracing {
            tracing.flush_async().await;
        }
    }

    /// The trace `span` belongs to, for [`Self::flush_trace_async`].
    pub fn trace_of(&self, span: &tracing::Span, header: Option<&str>) -> Option<TraceKey> {
        use opentelemetry::trace::TraceContextExt as _;
        self.tracing.as_ref()?;
        // The header the span was parented from names its trace; a span without one is a
        // root whose trace the tracer chose.
        let context = match header {
            Some(header) => Tracing::parent_context(header),
            None => span.context(),
        };
        let span_context = context.span().span_context().clone();
        span_context
            .is_valid()
            .then(|| TraceKey(span_context.trace_id()))
    }

    pub async fn flush_trace_async(&self, key: TraceKey) {
        if let Some(tracing) = &self.tracing {
            tracing.flush_trace_async(key.0).await;
        }
    }

    pub fn tracing(&self) -> Option<&Tracing> {
        self.tracing.as_ref()
    }
}

/// The trace an invocation's spans belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceKey(opentelemetry::trace::TraceId);

/// Marks `span` failed, with an `exception` event X-Ray turns into the fault's cause.
pub(crate) fn record_failure(span: &tracing::Span, error_type: &str, message: &str) {
    span.set_status(Status::error(message.to_owned()));
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.type", error_type.to_owned()),
            KeyValue::new("exception.message", message.to_owned()),
        ],
    );
}

/// Sets `<kind>.<key>` on the current span (`annotation` or `metadata`, as the exporter reads them).
pub(crate) fn set_attribute(kind: &str, key: &str, value: AttributeValue) {
    tracing::Span::current().set_attribute(format!("{kind}.{key}"), value);
}

/// Adds the trace header naming `span` as the parent to an outgoing request.
pub(crate) fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    use opentelemetry::propagation::{Injector, TextMapPropagator as _};
    use opentelemetry::trace::TraceContextExt as _;

    struct Headers<'a>(&'a mut http::HeaderMap);
    impl Injector for Headers<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(key.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }

    let context = span.context();
    // No tracer (tracing off, or a disabled span): the request leaves as it came.
    if !context.span().span_context().is_valid() {
        return;
    }
    opentelemetry_aws::trace::XrayPropagator::default()
        .inject_context(&context, &mut Headers(headers));
}
