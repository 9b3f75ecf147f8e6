//! X-Ray tracing through OpenTelemetry: `tracing` spans become X-Ray subsegments under the
//! invocation's Lambda segment.
//!
//! The pieces are opentelemetry-aws's: [`XrayIdGenerator`] for ids X-Ray accepts,
//! [`XrayPropagator`] to read the invocation's trace header, the Lambda resource detector, and
//! the X-Ray exporter with its UDP daemon client. What lamplight adds is *when* spans leave:
//! [`InvocationSpans`] keeps the spans an invocation ends and sends them in one burst after the
//! response is posted and before the next poll ([`Tracing::flush`]). The response never waits
//! for the daemon, and nothing is left in a queue when Lambda freezes the process
//! (aws-lambda-rust-runtime#618).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::detector::LambdaResourceDetector;
use opentelemetry_aws::trace::{XrayIdGenerator, XrayPropagator};
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_aws::xray_exporter::stdout_client::StdoutClient;
use opentelemetry_aws::xray_exporter::{SegmentTranslator, XrayExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracer, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
};

/// The most spans kept for one invocation; more are dropped and counted.
pub const MAX_SPANS_PER_INVOCATION: usize = 10_000;

/// Where traces go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceExport {
    /// UDP to the X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`): in Lambda with active tracing, and
    /// under the local Lambda service.
    XrayDaemon(SocketAddr),
    /// Segment documents printed to stdout, one per line (`LAMPLIGHT_TRACES=stdout`).
    Stdout,
    /// Nothing is recorded.
    Off,
}

impl TraceExport {
    /// From `LAMPLIGHT_TRACES` (`off`, `stdout`, `xray`) and `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self::from_values(
            var("LAMPLIGHT_TRACES").as_deref(),
            var("AWS_XRAY_DAEMON_ADDRESS").as_deref(),
        )
    }

    /// From the two variables' values.
    pub fn from_values(choice: Option<&str>, daemon: Option<&str>) -> Self {
        let daemon = daemon.and_then(|d| {
            let udp = d
                .split_whitespace()
                .find_map(|p| p.strip_prefix("udp:"))
                .unwrap_or(d.trim());
            udp.parse().ok()
        });
        match (choice.map(str::to_ascii_lowercase).as_deref(), daemon) {
            (Some("off"), _) => Self::Off,
            (Some("stdout"), _) => Self::Stdout,
            (_, Some(addr)) => Self::XrayDaemon(addr),
            _ => Self::Off,
        }
    }
}

/// Counters of what the tracer did.
#[derive(Debug, Default)]
pub struct TraceStats {
    /// Spans sent to the exporter.
    pub exported: AtomicU64,
    /// Spans dropped: over the per-invocation bound, or refused by the exporter.
    pub dropped: AtomicU64,
}

/// Keeps ended spans until [`Tracing::flush`].
#[derive(Debug)]
pub struct InvocationSpans<E: SpanExporter> {
    pending: Mutex<Vec<SpanData>>,
    exporter: E,
    stats: Arc<TraceStats>,
}

impl<E: SpanExporter> SpanProcessor for InvocationSpans<E> {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() < MAX_SPANS_PER_INVOCATION {
            pending.push(span);
        } else {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if batch.is_empty() {
            return Ok(());
        }
        let n = batch.len() as u64;
        // The daemon client sends with a non-blocking socket: the export is ready at once. A
        // future that is not must not hold the next invocation back, so it is dropped.
        match self.exporter.export(batch).now_or_never() {
            Some(Ok(())) => {
                self.stats.exported.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            Some(Err(e)) => {
                self.stats.dropped.fetch_add(n, Ordering::Relaxed);
                Err(e)
            }
            None => {
                self.stats.dropped.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }
}

/// Span attributes kept as X-Ray metadata: what the exporter has no field of its own for.
const METADATA: &[&str] = &[
    "aws.s3.bucket",
    "aws.s3.key",
    "faas.invocation_id",
    "faas.coldstart",
];

fn translator() -> SegmentTranslator {
    SegmentTranslator::new().with_metadata_attrs(METADATA.iter().map(|a| (*a).to_owned()))
}

/// The tracer of an execution environment.
#[derive(Debug, Clone)]
pub struct Tracing {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    stats: Arc<TraceStats>,
}

impl Tracing {
    /// A tracer exporting to `export`, or `None` for [`TraceExport::Off`] (or a daemon address
    /// the socket cannot be opened for).
    pub fn new(export: &TraceExport) -> Option<Self> {
        let stats = Arc::new(TraceStats::default());
        let resource = Resource::builder_empty()
            .with_detector(Box::new(LambdaResourceDetector))
            .build();
        let builder = SdkTracerProvider::builder()
            .with_id_generator(XrayIdGenerator::default())
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            .with_resource(resource);
        let builder = match export {
            TraceExport::Off => return None,
            TraceExport::XrayDaemon(addr) => {
                let client = XrayDaemonClient::new(*addr).ok()?;
                builder.with_span_processor(InvocationSpans {
                    pending: Mutex::default(),
                    exporter: XrayExporter::new(client).with_translator(translator()),
                    stats: stats.clone(),
                })
            }
            TraceExport::Stdout => builder.with_span_processor(InvocationSpans {
                pending: Mutex::default(),
                exporter: XrayExporter::new(StdoutClient).with_translator(translator()),
                stats: stats.clone(),
            }),
        };
        let provider = builder.build();
        let tracer = provider.tracer("lamplight");
        Some(Self {
            provider,
            tracer,
            stats,
        })
    }

    /// The OpenTelemetry tracer, for the `tracing` layer.
    pub fn tracer(&self) -> SdkTracer {
        self.tracer.clone()
    }

    /// The parent context in an `X-Amzn-Trace-Id` / `Lambda-Runtime-Trace-Id` value.
    pub fn parent_context(header: &str) -> Context {
        // The HashMap extractor lowercases keys it is asked for.
        let carrier = HashMap::from([("x-amzn-trace-id".to_owned(), header.to_owned())]);
        XrayPropagator::default().extract(&carrier)
    }

    /// Sends every span ended since the last flush.
    pub fn flush(&self) {
        let _ = self.provider.force_flush();
    }

    /// What was exported and dropped so far.
    pub fn stats(&self) -> &TraceStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt as _;

    #[test]
    fn the_export_follows_the_environment() {
        assert_eq!(
            TraceExport::from_values(None, Some("169.254.79.129:2000")),
            TraceExport::XrayDaemon("169.254.79.129:2000".parse().expect("addr"))
        );
        assert_eq!(
            TraceExport::from_values(None, Some("tcp:127.0.0.1:2000 udp:127.0.0.2:2001")),
            TraceExport::XrayDaemon("127.0.0.2:2001".parse().expect("addr"))
        );
        assert_eq!(
            TraceExport::from_values(Some("off"), Some("127.0.0.1:2000")),
            TraceExport::Off
        );
        assert_eq!(
            TraceExport::from_values(Some("stdout"), None),
            TraceExport::Stdout
        );
        assert_eq!(TraceExport::from_values(None, None), TraceExport::Off);
    }

    #[test]
    fn the_parent_comes_from_the_trace_header() {
        let cx = Tracing::parent_context(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        );
        let span = cx.span();
        let sc = span.span_context();
        assert_eq!(
            sc.trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
        assert!(sc.is_sampled());
        let unsampled = Tracing::parent_context(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        );
        assert!(!unsampled.span().span_context().is_sampled());
    }
}
