//! X-Ray tracing through OpenTelemetry: `tracing` spans become X-Ray subsegments under the
//! invocation's Lambda segment.
//!
//! The pieces are opentelemetry-aws's: [`XrayIdGenerator`] for ids X-Ray accepts,
//! [`XrayPropagator`] to read the invocation's trace header and the Lambda resource detector.
//! Spans become segment documents here ([`segment`]: opentelemetry-aws's translator links a
//! regex engine that weighed more than the rest of the tracing). What lamplight adds is *when*
//! spans leave:
//! [`InvocationSpans`] keeps the spans an invocation ends and sends them in one burst after the
//! response is posted and before the next poll ([`Tracing::flush`]). The response never waits
//! for the daemon, and nothing is left in a queue when Lambda freezes the process
//! (aws-lambda-rust-runtime#618).
//!
//! And *how*: before anything leaves, span names, attributes, events and statuses are scrubbed
//! of secrets ([`crate::redact`]); each segment document then goes to the daemon in its own
//! datagram, cut to fit one when it would not ([`lamplight_xray::shrink`]: a 70 KB error message
//! arrives truncated and marked, not dropped with its children orphaned). A document that still
//! cannot be sent costs only itself: it is counted in [`TraceStats::dropped`] and said on stderr.
//!
//! With the `otlp` feature, setting `OTEL_EXPORTER_OTLP_ENDPOINT` (or the traces-only
//! variable) sends the same spans over OTLP/HTTP instead, to a collector extension or a vendor;
//! that export is awaited after the response, bounded by `LAMPLIGHT_OTLP_FLUSH_TIMEOUT_MS`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt as _;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::Status;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_aws::detector::LambdaResourceDetector;
use opentelemetry_aws::trace::{XrayIdGenerator, XrayPropagator};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    Sampler, SdkTracer, SdkTracerProvider, Span, SpanData, SpanProcessor,
};

pub(crate) mod segment;

#[cfg(feature = "otlp")]
mod otlp;
#[cfg(not(feature = "otlp"))]
#[path = "traces/otlp_off.rs"]
mod otlp;

/// The most spans kept for one invocation; more are dropped and counted.
pub const MAX_SPANS_PER_INVOCATION: usize = 10_000;

/// How long the OTLP export after an invocation may hold the next poll back, unless
/// `LAMPLIGHT_OTLP_FLUSH_TIMEOUT_MS` says otherwise.
pub const OTLP_FLUSH_TIMEOUT: Duration = Duration::from_millis(2000);

/// Where traces go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceExport {
    /// UDP to the X-Ray daemon (`AWS_XRAY_DAEMON_ADDRESS`): in Lambda with active tracing, and
    /// under the local Lambda service.
    XrayDaemon(SocketAddr),
    /// OTLP over HTTP (protobuf) to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (a collector extension, a vendor); its headers, timeout
    /// and compression from the other standard `OTEL_EXPORTER_OTLP_*` variables. Needs the
    /// `otlp` feature.
    Otlp,
    /// Segment documents printed to stdout, one per line (`LAMPLIGHT_TRACES=stdout`).
    Stdout,
    /// Nothing is recorded.
    Off,
}

impl TraceExport {
    /// From the environment: `LAMPLIGHT_TRACES` (`off`, `stdout`, `xray`, `otlp`) when set;
    /// otherwise OTLP when an OTLP endpoint is set, the X-Ray daemon when
    /// `AWS_XRAY_DAEMON_ADDRESS` is set (Lambda sets it when tracing is Active), or off.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same choice, reading variables through `var`.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let daemon = var("AWS_XRAY_DAEMON_ADDRESS").and_then(|d| {
            let udp = d
                .split_whitespace()
                .find_map(|p| p.strip_prefix("udp:"))
                .unwrap_or(d.trim());
            udp.parse().ok()
        });
        let otlp = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .is_some();
        match (
            var("LAMPLIGHT_TRACES")
                .map(|c| c.to_ascii_lowercase())
                .as_deref(),
            daemon,
        ) {
            (Some("off"), _) => Self::Off,
            (Some("stdout"), _) => Self::Stdout,
            (Some("otlp"), _) => Self::Otlp,
            (Some("xray"), Some(addr)) => Self::XrayDaemon(addr),
            (Some("xray"), None) => Self::Off,
            _ if otlp => Self::Otlp,
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
    /// Spans dropped: over the per-invocation bound, refused by the exporter, not sent in
    /// time, or (X-Ray daemon) a document that could not be translated, cut to fit, or sent.
    pub dropped: AtomicU64,
    /// Segment documents sent cut to fit a daemon datagram (and marked so).
    pub truncated: AtomicU64,
}

/// Ended spans waiting for the flush after the invocation.
#[derive(Debug, Default)]
struct Pending {
    spans: Mutex<Vec<SpanData>>,
    stats: Arc<TraceStats>,
}

impl Pending {
    fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut *self.spans.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Takes the spans of one trace, leaving the others' (invocations still running).
    fn take_trace(&self, trace_id: opentelemetry::trace::TraceId) -> Vec<SpanData> {
        let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, others) = std::mem::take(&mut *spans)
            .into_iter()
            .partition(|s| s.span_context.trace_id() == trace_id);
        *spans = others;
        mine
    }

    /// Puts spans an exporter could not take yet back in front of the queue.
    fn settle(&self, n: usize, result: Option<OTelSdkResult>) {
        let n = n as u64;
        match result {
            Some(Ok(())) => self.stats.exported.fetch_add(n, Ordering::Relaxed),
            _ => self.stats.dropped.fetch_add(n, Ordering::Relaxed),
        };
    }
}

/// The span processor: keeps the spans an invocation ends until [`Tracing::flush`] or
/// [`Tracing::flush_async`] sends them.
#[derive(Debug)]
pub struct InvocationSpans {
    pending: Arc<Pending>,
}

impl SpanProcessor for InvocationSpans {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let mut pending = self.pending.spans.lock().unwrap_or_else(|e| e.into_inner());
        if pending.len() < MAX_SPANS_PER_INVOCATION {
            pending.push(span);
        } else {
            self.pending.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        // The spans leave through `Tracing`, which owns the exporter.
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// Why one segment document did not reach the daemon.
#[derive(Debug, thiserror::Error)]
enum SendError {
    // Causes are in the messages, not `source`s: these errors are only ever shown as text.
    #[error("the segment document could not be encoded as JSON: {0}")]
    Encode(serde_json::Error),
    #[error(transparent)]
    TooBig(#[from] lamplight_xray::shrink::ShrinkError),
    #[error("the UDP send failed: {0}")]
    Io(std::io::Error),
}

/// The X-Ray daemon over UDP: one datagram per document, each cut to fit.
///
/// opentelemetry-aws's own daemon client sends documents as they are (one over 64 KB fails
/// with `EMSGSIZE`) and stops the batch at the first failure, so one oversized subsegment
/// took every later one with it.
#[derive(Debug)]
struct Daemon {
    translator: segment::Translator,
    socket: UdpSocket,
    addr: SocketAddr,
    started: std::time::Instant,
    /// When a drop was last said on stderr, in seconds since `started` plus one (0: never).
    last_said: AtomicU64,
}

/// How often dropped documents are said on stderr, at most.
const REPORT_EVERY: Duration = Duration::from_secs(60);

impl Daemon {
    fn new(addr: SocketAddr) -> std::io::Result<Self> {
        let bind: SocketAddr = if addr.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(bind)?;
        // A full socket buffer drops a document (counted) rather than holding the next poll.
        socket.set_nonblocking(true)?;
        socket.connect(addr)?;
        Ok(Self {
            translator: segment::Translator::from_env(),
            socket,
            addr,
            started: std::time::Instant::now(),
            last_said: AtomicU64::new(0),
        })
    }

    /// Sends `batch`, each document on its own; counts into `stats`.
    fn send_batch(&self, batch: &[SpanData], stats: &TraceStats) {
        let documents: Vec<_> = batch
            .iter()
            .filter_map(|span| self.translator.document(span))
            .collect();
        let mut dropped = (batch.len() - documents.len().min(batch.len())) as u64;
        let mut first_error = (dropped > 0).then(|| {
            format!(
                "{dropped} span{} could not be translated into segment documents",
                if dropped == 1 { "" } else { "s" }
            )
        });
        let (mut sent, mut truncated) = (0, 0);
        let mut buf = Vec::with_capacity(4096);
        for document in &documents {
            match self.send(document, &mut buf) {
                Ok(cut) => {
                    sent += 1;
                    truncated += u64::from(cut);
                }
                Err(e) => {
                    dropped += 1;
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        stats.exported.fetch_add(sent, Ordering::Relaxed);
        stats.truncated.fetch_add(truncated, Ordering::Relaxed);
        if dropped > 0 {
            let total = stats.dropped.fetch_add(dropped, Ordering::Relaxed) + dropped;
            // One line, not one per invocation: a daemon that stays unreachable would
            // otherwise fill the logs. The first drop is always said.
            let now = self.started.elapsed().as_secs() + 1;
            let last = self.last_said.load(Ordering::Relaxed);
            if (last == 0 || now >= last + REPORT_EVERY.as_secs())
                && self
                    .last_said
                    .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                eprintln!(
                    "lamplight: {dropped} of {} X-Ray segment{} not sent to the daemon at {} \
                     ({total} so far; said at most once a minute): {}",
                    batch.len(),
                    if batch.len() == 1 { " was" } else { "s were" },
                    self.addr,
                    first_error.unwrap_or_default()
                );
            }
        }
    }

    /// Sends one document, framed in `buf`; `true` when it had to be cut to fit.
    fn send(&self, document: &segment::Document<'_>, buf: &mut Vec<u8>) -> Result<bool, SendError> {
        use lamplight_xray::daemon;
        buf.clear();
        buf.extend_from_slice(daemon::HEADER.as_bytes());
        buf.push(b'\n');
        serde_json::to_writer(&mut *buf, document).map_err(SendError::Encode)?;
        if buf.len() <= daemon::MAX_UDP_PAYLOAD {
            self.socket.send(buf).map_err(SendError::Io)?;
            return Ok(false);
        }
        // Rare: only an oversized document pays for the JSON tree the shrinker works on.
        let mut value = serde_json::to_value(document).map_err(SendError::Encode)?;
        let (datagram, shrunk) = daemon::encode_fitting(&mut value)?;
        self.socket.send(&datagram).map_err(SendError::Io)?;
        Ok(shrunk.truncated)
    }
}

/// Prints `batch`'s segment documents to stdout, one compact JSON document per line.
fn print_documents(translator: &segment::Translator, batch: &[SpanData]) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    for document in batch.iter().filter_map(|span| translator.document(span)) {
        // A closed stdout loses the trace, never the invocation.
        if serde_json::to_writer(&mut out, &document).is_ok() {
            let _ = out.write_all(b"\n");
        }
    }
    let _ = out.flush();
}

#[derive(Debug)]
enum Exporter {
    Daemon(Daemon),
    /// Documents printed one per line. (opentelemetry-aws's stdout client pretty-prints them
    /// over many lines, and linked serde_json's pretty printer for it.)
    Stdout(segment::Translator),
    Otlp(otlp::Exporter),
}

impl Exporter {
    fn set_resource(&mut self, resource: &Resource) {
        match self {
            // Segment documents take the region and log group from the environment.
            Exporter::Daemon(_) | Exporter::Stdout(_) => {}
            Exporter::Otlp(e) => e.set_resource(resource),
        }
    }

    /// Whether an export waits on the network (and so needs `flush_async`).
    fn is_async(&self) -> bool {
        matches!(self, Exporter::Otlp(_))
    }

    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            // Sent by `Tracing::flush` directly: it counts per document.
            Exporter::Daemon(_) => Ok(()),
            Exporter::Stdout(t) => {
                print_documents(t, &batch);
                Ok(())
            }
            Exporter::Otlp(e) => e.export(batch).await,
        }
    }
}

/// The tracer of an execution environment.
#[derive(Debug, Clone)]
pub struct Tracing {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    pending: Arc<Pending>,
    exporter: Arc<Exporter>,
    flush_timeout: Duration,
}

impl Tracing {
    /// A tracer exporting to `export`, or `None` for [`TraceExport::Off`], or when the export
    /// cannot be set up (said on stderr: a daemon socket that cannot be opened, an OTLP
    /// endpoint that does not parse, OTLP without the `otlp` feature).
    pub fn new(export: &TraceExport) -> Option<Self> {
        let resource = Resource::builder_empty()
            .with_detector(Box::new(LambdaResourceDetector))
            .build();
        let mut exporter = match export {
            TraceExport::Off => return None,
            TraceExport::XrayDaemon(addr) => match Daemon::new(*addr) {
                Ok(daemon) => Exporter::Daemon(daemon),
                Err(e) => {
                    eprintln!(
                        "lamplight: traces are off: no UDP socket for the X-Ray daemon at {addr}: {e}"
                    );
                    return None;
                }
            },
            TraceExport::Stdout => Exporter::Stdout(segment::Translator::from_env()),
            TraceExport::Otlp => Exporter::Otlp(otlp::Exporter::new()?),
        };
        exporter.set_resource(&resource);
        let pending = Arc::new(Pending::default());
        let provider = SdkTracerProvider::builder()
            .with_id_generator(XrayIdGenerator::default())
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
            .with_resource(resource)
            .with_span_processor(InvocationSpans {
                pending: pending.clone(),
            })
            .build();
        let tracer = provider.tracer("lamplight");
        let flush_timeout = std::env::var("LAMPLIGHT_OTLP_FLUSH_TIMEOUT_MS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map_or(OTLP_FLUSH_TIMEOUT, Duration::from_millis);
        Some(Self {
            provider,
            tracer,
            pending,
            exporter: Arc::new(exporter),
            flush_timeout,
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

    /// Sends every span ended since the last flush, without waiting: the X-Ray daemon client
    /// sends with a non-blocking socket, so its export is done at once. OTLP spans stay for
    /// [`flush_async`](Self::flush_async).
    pub fn flush(&self) {
        if self.exporter.is_async() {
            return;
        }
        let mut batch = self.pending.take();
        if batch.is_empty() {
            return;
        }
        batch.iter_mut().for_each(scrub_span);
        if let Exporter::Daemon(daemon) = &*self.exporter {
            daemon.send_batch(&batch, &self.pending.stats);
            return;
        }
        let n = batch.len();
        // A future that is not ready must not hold the next invocation back: it is dropped.
        let result = self.exporter.export(batch).now_or_never();
        self.pending.settle(n, result);
    }

    /// Sends every span ended since the last flush and waits for the export, at most
    /// `LAMPLIGHT_OTLP_FLUSH_TIMEOUT_MS` (default 2 s): what lamplight does after each
    /// response and before the next poll, so nothing is queued when Lambda freezes the process.
    pub async fn flush_async(&self) {
        // The daemon export is done at once: no timer on the hot path for it.
        if !self.exporter.is_async() {
            self.flush();
            return;
        }
        let mut batch = self.pending.take();
        if batch.is_empty() {
            return;
        }
        batch.iter_mut().for_each(scrub_span);
        let n = batch.len();
        let result = tokio::time::timeout(self.flush_timeout, self.exporter.export(batch))
            .await
            .ok();
        self.pending.settle(n, result);
    }

    /// Sends the ended spans of trace `trace_id` only and waits for the export (bounded as
    /// [`flush_async`](Self::flush_async)): when invocations run at once, each sends its own
    /// spans and never waits on the export of another's.
    pub async fn flush_trace_async(&self, trace_id: opentelemetry::trace::TraceId) {
        let mut batch = self.pending.take_trace(trace_id);
        if batch.is_empty() {
            return;
        }
        batch.iter_mut().for_each(scrub_span);
        if let Exporter::Daemon(daemon) = &*self.exporter {
            daemon.send_batch(&batch, &self.pending.stats);
            return;
        }
        let n = batch.len();
        let result = tokio::time::timeout(self.flush_timeout, self.exporter.export(batch))
            .await
            .ok();
        self.pending.settle(n, result);
    }

    /// What was exported and dropped so far.
    pub fn stats(&self) -> &TraceStats {
        &self.pending.stats
    }

    /// The tracer provider (to shut it down, or to make more tracers).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

/// Removes secrets from what a span carries before it leaves the process: its name, string
/// attributes (whole values under secret-looking user keys), event attributes (the exception
/// message of a failure) and error status. Done at flush time, after the response.
fn scrub_span(span: &mut SpanData) {
    if let Cow::Owned(clean) = crate::redact::scrub(&span.name) {
        span.name = Cow::Owned(clean);
    }
    span.attributes.iter_mut().for_each(scrub_attribute);
    for event in span.events.events.iter_mut() {
        event.attributes.iter_mut().for_each(scrub_attribute);
    }
    if let Status::Error { description } = &mut span.status
        && let Cow::Owned(clean) = crate::redact::scrub(description)
    {
        *description = Cow::Owned(clean);
    }
}

/// Whether an attribute is named by the user (`#[instrument]` fields, annotations, metadata,
/// request headers) rather than by a semantic convention whose last word merely looks secret
/// (`aws.s3.key`).
fn user_named(key: &str) -> Option<&str> {
    ["annotation.", "metadata.", "http.request.header."]
        .iter()
        .find_map(|p| key.strip_prefix(p))
        .or_else(|| (!key.contains('.')).then_some(key))
}

fn scrub_attribute(kv: &mut KeyValue) {
    if user_named(kv.key.as_str()).is_some_and(crate::redact::looks_secret) {
        kv.value = Value::from(crate::redact::REDACTED);
        return;
    }
    let scrub = |s: &StringValue| match crate::redact::scrub(s.as_str()) {
        Cow::Owned(clean) => Some(StringValue::from(clean)),
        Cow::Borrowed(_) => None,
    };
    match &mut kv.value {
        Value::String(s) => {
            if let Some(clean) = scrub(s) {
                *s = clean;
            }
        }
        Value::Array(Array::String(items)) => {
            for s in items {
                if let Some(clean) = scrub(s) {
                    *s = clean;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TraceContextExt as _;

    fn export_with(vars: &[(&str, &str)]) -> TraceExport {
        TraceExport::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn the_export_follows_the_environment() {
        const DAEMON: &str = "AWS_XRAY_DAEMON_ADDRESS";
        assert_eq!(
            export_with(&[(DAEMON, "169.254.79.129:2000")]),
            TraceExport::XrayDaemon("169.254.79.129:2000".parse().expect("addr"))
        );
        assert_eq!(
            export_with(&[(DAEMON, "tcp:127.0.0.1:2000 udp:127.0.0.2:2001")]),
            TraceExport::XrayDaemon("127.0.0.2:2001".parse().expect("addr"))
        );
        assert_eq!(
            export_with(&[("LAMPLIGHT_TRACES", "off"), (DAEMON, "127.0.0.1:2000")]),
            TraceExport::Off
        );
        assert_eq!(
            export_with(&[("LAMPLIGHT_TRACES", "stdout")]),
            TraceExport::Stdout
        );
        assert_eq!(export_with(&[]), TraceExport::Off);
        assert_eq!(
            export_with(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"),
                (DAEMON, "127.0.0.1:2000")
            ]),
            TraceExport::Otlp,
            "an OTLP endpoint is a choice the user made"
        );
        assert_eq!(
            export_with(&[
                ("LAMPLIGHT_TRACES", "xray"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://localhost:4318/v1/traces"
                ),
                (DAEMON, "127.0.0.1:2000")
            ]),
            TraceExport::XrayDaemon("127.0.0.1:2000".parse().expect("addr"))
        );
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
