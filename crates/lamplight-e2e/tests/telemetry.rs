//! Telemetry end to end: a real function under the local service, its segments received over
//! real UDP by the service's X-Ray sink, its logs and metrics in the log tail.

mod common;

use std::time::Duration;

use common::*;
use lamplight_local::LocalLambda;
use lamplight_xray::{Segment, Trace, TraceId};
use serde_json::{Value, json};

/// Waits for the trace of `root` to hold every named segment (the service's own segments are
/// recorded at once; the function's arrive over UDP just after).
async fn trace_with(service: &LocalLambda, root: &str, names: &[&str]) -> Trace {
    let id: TraceId = root.parse().expect("trace id");
    service
        .traces()
        .wait_for(&id, LONG, |t| {
            names
                .iter()
                .all(|n| t.segments.iter().any(|s| s.name == *n))
        })
        .await
        .expect("trace received")
}

fn named<'a>(trace: &'a Trace, name: &str) -> &'a Segment {
    trace
        .segments
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no `{name}` segment in {}", trace.waterfall(30)))
}

fn function_segment(trace: &Trace) -> &Segment {
    trace
        .segments
        .iter()
        .find(|s| s.origin.as_deref() == Some("AWS::Lambda::Function"))
        .expect("function segment")
}

/// The root of the trace Lambda passed to the invocation, from the REPORT line's XRAY part.
fn root_of(logs: &str) -> String {
    logs.lines()
        .find_map(|l| l.strip_prefix("XRAY TraceId: "))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no XRAY line in {logs}"))
        .to_owned()
}

#[tokio::test]
async fn instrumented_spans_form_the_tree_under_lambdas_function_segment() {
    let service = service(vec![testfn_config("traced")]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "traced",
        json!({"action": "nested", "customer": "c-42"}),
    )
    .await;
    assert_eq!(out.payload["result"]["total"], 42);
    let trace = trace_with(
        &service,
        &root_of(&out.logs),
        &["handler", "outer", "inner"],
    )
    .await;
    let function = function_segment(&trace);
    let handler = named(&trace, "handler");
    let outer = named(&trace, "outer");
    let inner = named(&trace, "inner");
    assert_eq!(
        handler.trace_id, trace.id,
        "the handler is in the invocation's trace"
    );
    assert_eq!(
        handler.parent_id,
        Some(function.id),
        "the handler's parent is Lambda's function segment"
    );
    assert_eq!(outer.parent_id, Some(handler.id));
    assert_eq!(inner.parent_id, Some(outer.id));
    assert!(trace.orphans().is_empty(), "{}", trace.waterfall(30));
    assert_eq!(outer.field("annotations.Customer"), Some(&json!("c-42")));
    assert!(outer.start_time >= handler.start_time && outer.end_time <= handler.end_time);

    let documents: Vec<&Segment> = vec![handler, outer, inner];
    insta::assert_json_snapshot!("handler_outer_inner", documents, {
        "[].id" => "[id]",
        "[].parent_id" => "[parent]",
        "[].trace_id" => "[trace]",
        "[].start_time" => "[time]",
        "[].end_time" => "[time]",
        "[].fields.id" => "[id]",
        "[].fields.parent_id" => "[parent]",
        "[].fields.trace_id" => "[trace]",
        "[].fields.start_time" => "[time]",
        "[].fields.end_time" => "[time]",
        "[].fields.metadata[\"faas.invocation_id\"]" => "[request id]",
        "[].fields.metadata[\"faas.coldstart\"]" => "[cold start]",
        "[].fields.annotations.ColdStart" => "[cold start]",
    });
}

#[tokio::test]
async fn an_error_marks_the_handler_a_fault_with_its_cause() {
    let service = service(vec![testfn_config("failing")]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "failing",
        json!({"action": "fail", "message": "no stock"}),
    )
    .await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let trace = trace_with(&service, &root_of(&out.logs), &["handler"]).await;
    let handler = named(&trace, "handler");
    assert!(handler.fault, "{:#?}", handler.fields);
    let exception = handler
        .field("cause.exceptions")
        .and_then(|e| e.get(0))
        .expect("an exception");
    assert_eq!(exception["type"], "TestFnError");
    assert_eq!(exception["message"], "refused: no stock: the cause");
    assert!(
        function_segment(&trace).fault,
        "Lambda's function segment shows the error too"
    );
}

#[tokio::test]
async fn an_s3_call_is_an_aws_subsegment_with_service_operation_region_bucket_and_key() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("photos/2026")).expect("bucket");
    std::fs::write(root.path().join("photos/2026/cat.jpg"), vec![7u8; 1234]).expect("object");
    let s3 = s3_server(root.path()).await;
    let config = testfn_config("s3fn")
        .env("AWS_ENDPOINT_URL", format!("http://{s3}"))
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("LAMPLIGHT_AWS_MAX_ATTEMPTS", "1");
    let service = service(vec![config]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "s3fn",
        json!({"action": "s3", "bucket": "photos", "key": "2026/cat.jpg"}),
    )
    .await;
    assert_eq!(out.payload["result"]["bytes"], 1234, "{}", out.payload);
    let trace = trace_with(&service, &root_of(&out.logs), &["handler", "S3"]).await;
    let call = named(&trace, "S3");
    assert_eq!(call.namespace.as_deref(), Some("aws"));
    assert_eq!(call.parent_id, Some(named(&trace, "handler").id));
    assert_eq!(call.field("aws.operation"), Some(&json!("GetObject")));
    assert_eq!(call.field("aws.region"), Some(&json!("us-east-1")));
    assert_eq!(call.field("http.response.status"), Some(&json!(200)));
    assert_eq!(
        call.field("metadata"),
        Some(&json!({"aws.s3.bucket": "photos", "aws.s3.key": "2026/cat.jpg"}))
    );

    let missing = invoke(
        &client,
        "s3fn",
        json!({"action": "s3", "bucket": "photos", "key": "nope.jpg"}),
    )
    .await;
    assert_eq!(missing.function_error.as_deref(), Some("Unhandled"));
    let trace = trace_with(&service, &root_of(&missing.logs), &["handler", "S3"]).await;
    let call = named(&trace, "S3");
    assert!(
        call.error || call.fault,
        "a 404 from S3 is marked: {:#?}",
        call.fields
    );
    assert_eq!(call.field("http.response.status"), Some(&json!(404)));
}

#[tokio::test]
async fn an_http_call_is_a_remote_subsegment_and_carries_the_trace_on() {
    let (server, received) = lamplight_test::servers::http().await;
    let service = service(vec![testfn_config("caller")]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "caller",
        json!({"action": "http", "url": format!("http://{server}/status/503?token=secret")}),
    )
    .await;
    assert_eq!(out.payload["result"]["status"], 503, "{}", out.payload);
    let trace = trace_with(&service, &root_of(&out.logs), &["handler", "127.0.0.1"]).await;
    let call = named(&trace, "127.0.0.1");
    assert_eq!(call.namespace.as_deref(), Some("remote"));
    assert_eq!(call.parent_id, Some(named(&trace, "handler").id));
    assert_eq!(call.field("http.request.method"), Some(&json!("GET")));
    assert_eq!(
        call.field("http.request.url"),
        Some(&json!(format!("http://{server}/status/503"))),
        "the query string stays out of the trace"
    );
    assert_eq!(call.field("http.response.status"), Some(&json!(503)));
    assert!(
        call.fault && !call.error,
        "a 503 is a fault: {:#?}",
        call.fields
    );
    assert!(call.field("cause").is_some(), "{:#?}", call.fields);

    // The callee got a trace header naming this subsegment as its parent.
    let header = received.trace_headers().pop().expect("a trace header");
    assert!(
        header.contains(&format!("Root={}", trace.id)),
        "{header} is in trace {}",
        trace.id
    );
    assert!(
        header.contains(&format!("Parent={}", call.id)),
        "{header} names the remote subsegment {}",
        call.id
    );
    assert!(header.contains("Sampled=1"), "{header}");

    let out = invoke(
        &client,
        "caller",
        json!({"action": "http", "url": format!("http://{server}/status/404")}),
    )
    .await;
    let trace = trace_with(&service, &root_of(&out.logs), &["handler", "127.0.0.1"]).await;
    let call = named(&trace, "127.0.0.1");
    assert!(
        call.error && !call.fault,
        "a 404 is an error: {:#?}",
        call.fields
    );
}

#[tokio::test]
async fn an_otlp_endpoint_gets_the_same_spans_over_otlp_http() {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;

    let (collector, received) = lamplight_test::servers::recorder().await;
    let config =
        testfn_config("otlpfn").env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{collector}"));
    let service = service(vec![config]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "otlpfn",
        json!({"action": "nested", "customer": "c-9"}),
    )
    .await;
    assert_eq!(out.payload["result"]["total"], 42);
    // The export runs after the response, before the next poll.
    let deadline = std::time::Instant::now() + LONG;
    let spans = loop {
        let spans: Vec<_> = received
            .all()
            .into_iter()
            .filter(|r| r.path == "/v1/traces")
            .inspect(|r| {
                assert_eq!(r.content_type.as_deref(), Some("application/x-protobuf"));
            })
            .flat_map(|r| {
                ExportTraceServiceRequest::decode(r.body)
                    .expect("an OTLP protobuf export")
                    .resource_spans
            })
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .collect();
        if spans.len() >= 3 || std::time::Instant::now() > deadline {
            break spans;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let named = |n: &str| {
        spans.iter().find(|s| s.name == n).unwrap_or_else(|| {
            panic!(
                "no `{n}` span in {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };
    let (handler, outer, inner) = (named("handler"), named("outer"), named("inner"));
    let root = root_of(&out.logs);
    assert_eq!(
        hex(&handler.trace_id),
        root.trim_start_matches("1-").replace('-', ""),
        "the OTLP trace is the invocation's X-Ray trace"
    );
    let trace = trace_with(&service, &root, &[]).await;
    assert_eq!(
        hex(&handler.parent_span_id),
        function_segment(&trace).id.to_string(),
        "the handler's parent is Lambda's function segment"
    );
    assert_eq!(outer.parent_span_id, handler.span_id);
    assert_eq!(inner.parent_span_id, outer.span_id);
    assert!(
        !trace.segments.iter().any(|s| s.name == "handler"),
        "OTLP replaces the daemon export: {}",
        trace.waterfall(30)
    );
}

#[tokio::test]
async fn a_thousand_invocations_lose_no_span() {
    let service = service(vec![testfn_config("busy").max_environments(4)]).await;
    let client = client(&service).await;
    let roots = futures::future::join_all((0..4).map(|worker| {
        let client = client.clone();
        async move {
            let mut roots = Vec::new();
            for i in 0..250 {
                let out = invoke(
                    &client,
                    "busy",
                    json!({"action": "nested", "customer": format!("c-{worker}-{i}")}),
                )
                .await;
                assert_eq!(out.function_error, None);
                roots.push(root_of(&out.logs));
            }
            roots
        }
    }))
    .await
    .concat();
    assert_eq!(roots.len(), 1000);
    let mut complete = 0;
    for root in &roots {
        let trace = trace_with(&service, root, &["handler", "outer", "inner"]).await;
        let has = |name: &str| trace.segments.iter().any(|s| s.name == name);
        if has("handler") && has("outer") && has("inner") {
            complete += 1;
        }
    }
    assert_eq!(
        complete, 1000,
        "every invocation's handler, outer and inner spans arrived"
    );
    assert_eq!(
        service.traces().stats().invalid + service.traces().stats().malformed,
        0
    );
}

#[tokio::test]
async fn an_unreachable_daemon_does_not_delay_responses() {
    // A UDP port nothing listens on: every send is refused by the kernel.
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let nowhere = closed.local_addr().expect("addr");
    drop(closed);
    let service = LocalLambda::builder()
        .function_daemon_address(nowhere)
        .function(testfn_config("lonely"))
        .start()
        .await
        .expect("service");
    let client = client(&service).await;
    let mut durations = Vec::new();
    for i in 0..50 {
        let out = invoke(
            &client,
            "lonely",
            json!({"action": "nested", "customer": format!("c-{i}")}),
        )
        .await;
        assert_eq!(out.payload["result"]["total"], 42);
        let ms: f64 = report(&out.logs)["Duration"]
            .trim_end_matches(" ms")
            .parse()
            .expect("ms");
        durations.push(ms);
    }
    // Not a performance figure (that is `cargo xtask bench`): a stuck export would show as
    // seconds, the timeout of any blocking send.
    let slowest = durations.iter().cloned().fold(0.0, f64::max);
    assert!(slowest < 500.0, "{durations:?}");
    assert_eq!(
        service.traces().stats().datagrams,
        0,
        "nothing reached the sink"
    );
}

#[tokio::test]
async fn json_logs_carry_request_and_trace_ids_and_metrics_are_one_emf_line() {
    let mut config = testfn_config("json");
    config.log_format = "JSON".into();
    let service = service(vec![config]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "json",
        json!({"action": "log", "lines": ["hello from json"]}),
    )
    .await;
    let root = root_of(&out.logs);
    let line: Value = out
        .logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "hello from json")
        .unwrap_or_else(|| panic!("no JSON log line in {}", out.logs));
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["traceId"], json!(root));
    let request_id = out
        .logs
        .lines()
        .find_map(|l| l.strip_prefix("START RequestId: "))
        .expect("START");
    assert_eq!(
        line["requestId"],
        json!(request_id.split(' ').next().expect("id"))
    );

    let emf: Value = out
        .logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("_aws").is_some())
        .expect("the cold start writes an EMF line");
    assert_eq!(emf["ColdStart"], 1.0);
    assert_eq!(emf["function_name"], "json");

    let nested = invoke(
        &client,
        "json",
        json!({"action": "nested", "customer": "c"}),
    )
    .await;
    let emf_lines: Vec<Value> = nested
        .logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(
        emf_lines.len(),
        1,
        "one EMF line per invocation: {}",
        nested.logs
    );
    assert_eq!(emf_lines[0]["OrdersPlaced"], 1.0);
    assert!(emf_lines[0].get("ColdStart").is_none(), "warm");
    tokio::time::sleep(Duration::from_millis(10)).await;
}
