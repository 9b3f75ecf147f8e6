//! X-Ray segments that would not fit a daemon datagram, sent through the real exporter to a
//! real UDP socket on loopback: they must arrive cut to size, linked, and scrubbed.
#![cfg(feature = "xray")]

use std::net::UdpSocket;
use std::sync::atomic::Ordering;
use std::time::Duration;

use lamplight_telemetry::traces::{TraceExport, Tracing};
use lamplight_xray::daemon::{self, MAX_DATAGRAM};
use lamplight_xray::{Segment, document};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// A trace header for Lambda's function segment: the trace id is fresh, as the translator
/// refuses ids older than 30 days.
fn header() -> String {
    format!(
        "Root={};Parent=53995c3f42cd8ad8;Sampled=1",
        lamplight_xray::TraceId::generate()
    )
}

/// Runs `f` with spans going to a tracer that sends to a daemon socket on loopback; returns
/// the tracer (for its stats) and every datagram that arrived.
fn with_daemon(f: impl FnOnce()) -> (Tracing, Vec<Vec<u8>>) {
    let daemon = UdpSocket::bind("127.0.0.1:0").expect("bind");
    daemon
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let tracing =
        Tracing::new(&TraceExport::XrayDaemon(daemon.local_addr().expect("addr"))).expect("tracer");
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracing.tracer()));
    tracing::subscriber::with_default(subscriber, f);
    tracing.flush();
    let mut datagrams = Vec::new();
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    while let Ok(n) = daemon.recv(&mut buf) {
        datagrams.push(buf[..n].to_vec());
    }

    (tracing, datagrams)
}

fn segments(datagrams: &[Vec<u8>]) -> Vec<(Segment, serde_json::Value)> {
    datagrams
        .iter()
        .flat_map(|d| {
            assert!(d.len() <= MAX_DATAGRAM, "datagram of {} bytes", d.len());
            let doc = daemon::decode(d).expect("a daemon datagram");
            let value: serde_json::Value = serde_json::from_slice(doc).expect("JSON");
            document::parse(doc)
                .expect("a valid segment document")
                .into_iter()
                .map(move |s| (s, value.clone()))
        })
        .collect()
}

#[test]
fn a_70_kb_error_arrives_truncated_with_its_child_linked() {
    let message = format!("payload rejected: {}", "x".repeat(70 * 1024));
    let (tracing, datagrams) = with_daemon(|| {
        let handler = tracing::info_span!("invocation", otel.name = "handler");
        let _ = handler.set_parent(Tracing::parent_context(&header()));
        handler.in_scope(|| {
            tracing::info_span!("greet").in_scope(|| {});
        });
        lamplight_telemetry::record_failure(&handler, "GreetError", &message);
    });
    let segments = segments(&datagrams);
    let find = |name: &str| {
        segments
            .iter()
            .find(|(s, _)| s.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "`{name}` never arrived: {:?}",
                    segments.iter().map(|(s, _)| &s.name).collect::<Vec<_>>()
                )
            })
    };
    let (handler, handler_doc) = find("handler");
    let (greet, _) = find("greet");
    assert_eq!(greet.parent_id, Some(handler.id), "the child is linked");
    assert_eq!(
        handler.parent_id.map(|p| p.to_string()).as_deref(),
        Some("53995c3f42cd8ad8")
    );
    assert!(handler.fault);
    let cause = handler_doc["cause"]["exceptions"][0]["message"]
        .as_str()
        .expect("the cause survives");
    assert!(
        cause.starts_with("payload rejected: xxx"),
        "{}",
        &cause[..40]
    );
    assert!(cause.contains("…[truncated "), "marked");
    assert_eq!(handler_doc["metadata"]["lamplight"]["truncated"], true);
    let stats = tracing.stats();
    assert_eq!(stats.dropped.load(Ordering::Relaxed), 0);
    assert_eq!(stats.exported.load(Ordering::Relaxed), 2);
    assert_eq!(stats.truncated.load(Ordering::Relaxed), 1);
}

#[test]
fn secrets_in_causes_annotations_and_metadata_are_scrubbed() {
    let (_tracing, datagrams) = with_daemon(|| {
        let handler = tracing::info_span!("invocation", otel.name = "handler");
        let _ = handler.set_parent(Tracing::parent_context(&header()));
        handler.in_scope(|| {
            lamplight_telemetry::annotate("dsn", "postgres://app:hunter2@db/app");
            lamplight_telemetry::metadata("request", "sent with token=abc123def");
            lamplight_telemetry::metadata("client_secret", "plain-secret-value");
        });
        lamplight_telemetry::record_failure(
            &handler,
            "DbError",
            "connect to postgres://app:hunter2@db/app failed: password=hunter2",
        );
    });
    let text = datagrams
        .iter()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect::<String>();
    assert!(text.contains("postgres://[redacted]@db/app"), "{text}");
    for secret in ["hunter2", "abc123def", "plain-secret-value"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn a_span_that_cannot_be_sent_is_counted_and_the_others_still_arrive() {
    // The translator refuses trace ids older than 30 days: this span cannot become a document.
    let stale = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let (tracing, datagrams) = with_daemon(|| {
        let lost = tracing::info_span!("invocation", otel.name = "lost");
        let _ = lost.set_parent(Tracing::parent_context(stale));
        lost.in_scope(|| {});
        drop(lost);
        let kept = tracing::info_span!("invocation", otel.name = "kept");
        let _ = kept.set_parent(Tracing::parent_context(&header()));
        kept.in_scope(|| tracing::info_span!("child").in_scope(|| {}));
    });
    let names: Vec<String> = segments(&datagrams)
        .into_iter()
        .map(|(s, _)| s.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"kept".to_owned()) && names.contains(&"child".to_owned()));
    assert_eq!(tracing.stats().dropped.load(Ordering::Relaxed), 1);
    assert_eq!(tracing.stats().exported.load(Ordering::Relaxed), 2);
}
