//! Lambda Managed Instances end to end: a real function (`concfn`) under the local service with
//! `max_concurrency`, one process answering overlapping invocations, each traced to its caller.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use bytes::Bytes;
use common::LONG;
use lamplight_local::{Code, FunctionConfig, FunctionResult, InvokeRequest, LocalLambda};
use lamplight_xray::TraceId;
use serde_json::{Value, json};

fn concfn() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_concfn"))
}

/// `concfn` serving up to `n` invocations at once in its one environment.
fn config(name: &str, n: usize) -> FunctionConfig {
    FunctionConfig::new(name, Code::Bootstrap(concfn()))
        .max_concurrency(n)
        .max_environments(1)
        .timeout(std::time::Duration::from_secs(20))
}

struct Answer {
    body: Value,
    request_id: String,
    logs: String,
    root: String,
}

/// Invokes `name` with `event` under a trace of the caller's own (`root`).
async fn invoke(service: &LocalLambda, name: &str, event: Value, root: String) -> Answer {
    let response = service
        .call(InvokeRequest {
            function: name.into(),
            qualifier: None,
            invocation_type: lamplight_local::InvocationType::RequestResponse,
            log_tail: true,
            payload: Bytes::from(serde_json::to_vec(&event).expect("json")),
            client_context: None,
            trace_header: Some(format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1")),
        })
        .await
        .expect("invoke");
    let outcome = response.outcome.expect("a synchronous outcome");
    let body = match &outcome.result {
        FunctionResult::Response(body) => serde_json::from_slice(body).expect("json response"),
        FunctionResult::Error { body, .. } => {
            panic!(
                "failed: {}\n{}",
                String::from_utf8_lossy(body),
                outcome.logs
            )
        }
    };
    Answer {
        body,
        request_id: outcome.request_id,
        logs: outcome.logs,
        root,
    }
}

/// A trace root of the caller's, distinct per `i` (stamped now: X-Ray drops segments of
/// traces older than 30 days).
fn root(i: usize) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    format!("1-{now:08x}-{:024x}", 0x00c0_ffee_0000_u64 + i as u64)
}

async fn service(functions: Vec<FunctionConfig>) -> LocalLambda {
    common::service(functions).await
}

async fn overlapping_invocations_share_one_process_and_keep_their_own_traces(mode: &str) {
    const N: usize = 8;
    let name = format!("managed-{mode}");
    let service = service(vec![config(&name, N).env("CONCFN_MODE", mode)]).await;
    let answers = futures::future::join_all((0..N).map(|i| {
        invoke(
            &service,
            &name,
            json!({"wait_ms": 300, "gather": N}),
            root(i),
        )
    }))
    .await;

    let pids: BTreeSet<u64> = answers
        .iter()
        .map(|a| a.body["pid"].as_u64().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 1, "one process answered them all: {pids:?}");
    let handle = service.function(&name).expect("registered");
    assert_eq!(
        handle.environments(),
        1,
        "one environment in the service's view"
    );
    assert_eq!(handle.log_streams().len(), 1, "one log stream");
    for a in &answers {
        // Every invocation was running at once with the others before any answered.
        assert_eq!(a.body["peak"], N, "{}", a.body);
        let header = a.body["traceHeader"].as_str().expect("a trace header");
        assert!(
            header.starts_with(&format!("Root={};", a.root)),
            "its own caller's trace: {header} for {}",
            a.root
        );
        assert_eq!(
            a.body["envTrace"],
            Value::Null,
            "no process-wide trace variable in concurrent mode"
        );
        assert_eq!(a.body["requestId"], a.request_id.as_str());
        // One START (and END and REPORT) per invocation, its own, in its own log.
        let starts: Vec<&str> = a.logs.lines().filter(|l| l.starts_with("START ")).collect();
        assert_eq!(starts.len(), 1, "{}", a.logs);
        assert!(starts[0].contains(&a.request_id), "{}", a.logs);
        assert!(
            a.logs.contains(&format!("END RequestId: {}", a.request_id)),
            "{}",
            a.logs
        );
        assert!(
            a.logs
                .lines()
                .any(|l| l.starts_with(&format!("REPORT RequestId: {}", a.request_id))),
            "{}",
            a.logs
        );
        // The EMF line of this invocation, and no other's.
        let emf: Vec<Value> = a
            .logs
            .lines()
            .filter(|l| l.contains("\"_aws\""))
            .map(|l| serde_json::from_str(l).expect("EMF json"))
            .collect();
        assert_eq!(emf.len(), 1, "{}", a.logs);
        assert_eq!(emf[0]["requestId"], a.request_id.as_str());
        assert_eq!(emf[0]["traceId"], a.root.as_str());
        assert_eq!(emf[0]["Waited"], 1.0);
        for other in answers.iter().filter(|o| o.request_id != a.request_id) {
            assert!(
                !a.logs.contains(&other.request_id),
                "another invocation's lines in this one's log:\n{}",
                a.logs
            );
        }
    }
    let all_logs: Vec<String> = handle.log_streams().into_values().flatten().collect();
    assert_eq!(
        all_logs.iter().filter(|l| l.starts_with("START ")).count(),
        N,
        "one START per invocation"
    );

    // Each trace holds the function's spans for its own caller: the handler subsegment and
    // its `wait` child, parented under that trace's function segment.
    for a in &answers {
        let id: TraceId = a.root.parse().expect("trace id");
        let trace = service
            .traces()
            .wait_for(&id, LONG, |t| {
                ["handler", "wait"]
                    .iter()
                    .all(|n| t.segments.iter().any(|s| s.name == *n))
            })
            .await
            .expect("trace received");
        let function = trace
            .segments
            .iter()
            .find(|s| s.origin.as_deref() == Some("AWS::Lambda::Function"))
            .expect("function segment");
        let handler = trace
            .segments
            .iter()
            .find(|s| s.name == "handler")
            .unwrap_or_else(|| {
                panic!(
                    "no handler in {}\nsink: {:?}\nrejected: {:?}\ntraces: {:?}",
                    trace.waterfall(30),
                    service.traces().stats(),
                    service.traces().rejections(),
                    service
                        .traces()
                        .traces()
                        .iter()
                        .map(|t| (t.id.to_string(), t.segments.len()))
                        .collect::<Vec<_>>()
                )
            });
        assert_eq!(handler.trace_id.to_string(), a.root);
        assert_eq!(
            handler.parent_id.as_ref().map(ToString::to_string),
            Some(function.id.to_string()),
            "{}",
            trace.waterfall(30)
        );
        assert_eq!(
            trace
                .segments
                .iter()
                .filter(|s| s.name == "handler")
                .count(),
            1,
            "only this invocation's handler: {}",
            trace.waterfall(30)
        );
    }
}

#[tokio::test]
async fn run_concurrent_answers_overlapping_invocations_from_one_process_each_traced_to_its_caller()
{
    overlapping_invocations_share_one_process_and_keep_their_own_traces("run_concurrent").await;
}

#[tokio::test]
async fn run_answers_overlapping_invocations_from_one_process_each_traced_to_its_caller() {
    overlapping_invocations_share_one_process_and_keep_their_own_traces("run").await;
}

#[tokio::test]
async fn invocations_over_the_concurrency_wait_for_a_place_in_the_one_environment() {
    const N: usize = 3;
    const CALLS: usize = 10;
    let service = service(vec![config("queued", N)]).await;
    let answers = futures::future::join_all(
        (0..CALLS).map(|i| invoke(&service, "queued", json!({"wait_ms": 100}), root(100 + i))),
    )
    .await;
    let pids: BTreeSet<u64> = answers
        .iter()
        .map(|a| a.body["pid"].as_u64().expect("pid"))
        .collect();
    assert_eq!(pids.len(), 1, "{pids:?}");
    let peak = answers
        .iter()
        .map(|a| a.body["peak"].as_u64().expect("peak"))
        .max();
    assert_eq!(
        peak,
        Some(N as u64),
        "never more than the concurrency at once, and that many when busy"
    );
    let ids: BTreeSet<&str> = answers.iter().map(|a| a.request_id.as_str()).collect();
    assert_eq!(ids.len(), CALLS, "each its own request id");
}

#[tokio::test]
async fn a_timed_out_invocation_fails_alone_and_the_environment_keeps_serving() {
    let service = service(vec![
        FunctionConfig::new("slow", Code::Bootstrap(concfn()))
            .max_concurrency(4)
            .max_environments(1)
            .timeout(std::time::Duration::from_secs(1)),
    ])
    .await;
    let slow = service.call(InvokeRequest {
        function: "slow".into(),
        qualifier: None,
        invocation_type: lamplight_local::InvocationType::RequestResponse,
        log_tail: true,
        payload: Bytes::from_static(br#"{"wait_ms": 3000}"#),
        client_context: None,
        trace_header: None,
    });
    let quick = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        invoke(&service, "slow", json!({"wait_ms": 10}), root(200)).await
    };
    let (slow, quick) = tokio::join!(slow, quick);
    let slow = slow.expect("invoke").outcome.expect("outcome");
    match &slow.result {
        FunctionResult::Error { error_type, .. } => assert_eq!(error_type, "Sandbox.Timedout"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The other invocation running in the same process was not failed with it, and the
    // environment serves the next one.
    let after = invoke(&service, "slow", json!({"wait_ms": 10}), root(201)).await;
    assert_eq!(quick.body["pid"], after.body["pid"], "the same process");
    assert_eq!(service.function("slow").expect("fn").environments(), 1);
}

#[tokio::test]
async fn a_concurrency_that_is_not_a_number_above_zero_stops_the_runtime_naming_the_variable() {
    // The function's own variable, as a misconfigured deployment would set it.
    let service = service(vec![
        FunctionConfig::new("misconfigured", Code::Bootstrap(concfn()))
            .env("AWS_LAMBDA_MAX_CONCURRENCY", "0"),
    ])
    .await;
    let outcome = service.invoke("misconfigured", "{}").await.expect("invoke");
    match &outcome.result {
        FunctionResult::Error { error_type, .. } => assert_eq!(error_type, "Runtime.ExitError"),
        other => panic!("expected the runtime to exit, got {other:?}"),
    }
    assert!(
        outcome.logs.contains("AWS_LAMBDA_MAX_CONCURRENCY")
            && outcome.logs.contains("it must be at least 1"),
        "{}",
        outcome.logs
    );
}
