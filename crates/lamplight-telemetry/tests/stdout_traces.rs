//! `LAMPLIGHT_TRACES=stdout`: segment documents on a real child process's stdout, one JSON
//! document per line, each a valid segment document.
#![cfg(feature = "xray")]

use std::process::Command;

use lamplight_telemetry::traces::{TraceExport, Tracing};
use lamplight_xray::document;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Set in the child: it records spans instead of checking them.
const CHILD: &str = "LAMPLIGHT_STDOUT_TRACES_CHILD";
const TEST: &str = "segment_documents_are_printed_one_per_line";

/// The child: a handler span with a child span, exported to stdout.
fn record_spans() {
    let tracing = Tracing::new(&TraceExport::Stdout).expect("tracer");
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracing.tracer()));
    tracing::subscriber::with_default(subscriber, || {
        let handler = tracing::info_span!("invocation", otel.name = "handler");
        // A fresh trace id: the translator refuses ids older than 30 days.
        let header = format!(
            "Root={};Parent=53995c3f42cd8ad8;Sampled=1",
            lamplight_xray::TraceId::generate()
        );
        let _ = handler.set_parent(Tracing::parent_context(&header));
        handler.in_scope(|| {
            tracing::info_span!("greet").in_scope(|| {});
        });
    });
    tracing.flush();
}

#[test]
fn segment_documents_are_printed_one_per_line() {
    if std::env::var_os(CHILD).is_some() {
        record_spans();
        return;
    }
    let output = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("the child test runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    // The harness prints its own text, and the first document follows `test ... ` on its line.
    let documents: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.find('{').map(|i| &l[i..]))
        .collect();
    let mut names: Vec<String> = documents
        .iter()
        .flat_map(|line| {
            document::parse(line.as_bytes())
                .unwrap_or_else(|e| panic!("not a whole segment document on one line: {e}: {line}"))
        })
        .map(|segment| segment.name)
        .collect();
    names.sort();
    assert_eq!(names, ["greet", "handler"], "stdout was:\n{stdout}");
}
