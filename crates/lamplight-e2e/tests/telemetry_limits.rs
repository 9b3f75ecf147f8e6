//! Telemetry limits end to end: a real function under the local service whose handler
//! subsegment would not fit a daemon datagram; it must still arrive, cut and marked, with its
//! child linked under it.

mod common;

use common::*;
use lamplight_xray::TraceId;
use serde_json::json;

#[tokio::test]
async fn a_70_kb_error_message_arrives_truncated_and_the_trace_stays_whole() {
    let service = service(vec![testfn_config("bigfail")]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "bigfail",
        json!({"action": "fail_big", "bytes": 70 * 1024}),
    )
    .await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    let root: TraceId = out
        .logs
        .lines()
        .find_map(|l| l.strip_prefix("XRAY TraceId: "))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no XRAY line in {}", out.logs))
        .parse()
        .expect("trace id");
    let trace = service
        .traces()
        .wait_for(&root, LONG, |t| {
            ["handler", "greet"]
                .iter()
                .all(|n| t.segments.iter().any(|s| s.name == *n))
        })
        .await
        .expect("handler and greet both arrive");
    let handler = trace
        .segments
        .iter()
        .find(|s| s.name == "handler")
        .expect("handler");
    let greet = trace
        .segments
        .iter()
        .find(|s| s.name == "greet")
        .expect("greet");
    assert_eq!(greet.parent_id, Some(handler.id), "{}", trace.waterfall(30));
    assert!(trace.orphans().is_empty(), "{}", trace.waterfall(30));
    assert!(handler.fault);
    let message = handler
        .field("cause.exceptions")
        .and_then(|e| e.get(0))
        .and_then(|e| e["message"].as_str())
        .expect("the cause survives");
    assert!(message.starts_with("refused: xxxx"), "{}", &message[..40]);
    assert!(message.contains("…[truncated "), "marked as cut");
    assert_eq!(
        handler.field("metadata.lamplight.truncated"),
        Some(&json!(true))
    );
    assert!(
        service.traces().rejections().is_empty(),
        "{:?}",
        service.traces().rejections()
    );
}
