//! The local Lambda service running real bootstraps, driven through `aws-sdk-lambda`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lamplight_local::{Code, FunctionConfig};
use serde_json::json;

#[tokio::test]
async fn a_warm_function_answers_through_the_sdk_with_lambdas_headers_and_logs() {
    let service = service(vec![testfn_config("greeter")]).await;
    let client = client(&service).await;

    let first = invoke(
        &client,
        "greeter",
        json!({"action": "echo", "value": {"name": "Ada"}}),
    )
    .await;
    assert_eq!(
        first.payload,
        json!({"greeting": "hello", "result": {"name": "Ada"}})
    );
    assert_eq!(first.function_error, None);
    assert_eq!(first.version.as_deref(), Some("$LATEST"));
    let lines: Vec<&str> = first.logs.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("START RequestId: "))
        .expect("START");
    let end = lines
        .iter()
        .position(|l| l.starts_with("END RequestId: "))
        .expect("END");
    assert!(start < end, "{}", first.logs);
    assert!(
        lines[start].ends_with("Version: $LATEST"),
        "{}",
        lines[start]
    );
    let cold = report(&first.logs);
    assert!(
        cold.contains_key("Init Duration"),
        "first invocation is a cold start: {cold:?}"
    );
    assert_eq!(cold["Memory Size"], "128 MB");
    let max_memory: u64 = cold["Max Memory Used"]
        .trim_end_matches(" MB")
        .parse()
        .expect("MB");
    assert!(max_memory > 0, "{cold:?}");
    let duration: f64 = cold["Duration"]
        .trim_end_matches(" ms")
        .parse()
        .expect("ms");
    let billed: f64 = cold["Billed Duration"]
        .trim_end_matches(" ms")
        .parse()
        .expect("ms");
    let init: f64 = cold["Init Duration"]
        .trim_end_matches(" ms")
        .parse()
        .expect("ms");
    assert!(
        billed >= duration + init,
        "billed {billed} covers init {init} + duration {duration}"
    );
    assert!(first.logs.contains("XRAY TraceId: 1-"), "{}", first.logs);

    let warm = invoke(&client, "greeter", json!({"action": "context"})).await;
    assert!(
        !report(&warm.logs).contains_key("Init Duration"),
        "{}",
        warm.logs
    );
    let ctx = &warm.payload["result"];
    assert_eq!(ctx["coldStart"], json!(false));
    assert_eq!(ctx["functionName"], "greeter");
    assert_eq!(ctx["envFunctionName"], "greeter");
    assert_eq!(ctx["region"], "us-east-1");
    assert_eq!(ctx["account"], "123456789012");
    assert_eq!(ctx["memoryMb"], 128);
    assert_eq!(ctx["sampled"], json!(true));
    assert_eq!(ctx["xrayDaemon"], json!(service.xray_addr().to_string()));
    let remaining = ctx["remainingMs"].as_u64().expect("ms");
    assert!(remaining > 2000 && remaining <= 3000, "{remaining}");
    assert_eq!(
        service
            .function("greeter")
            .expect("registered")
            .environments(),
        1
    );
}

#[tokio::test]
async fn function_errors_reach_the_caller_as_lambda_error_documents() {
    let service = service(vec![testfn_config("f")]).await;
    let client = client(&service).await;
    let out = invoke(&client, "f", json!({"action": "fail", "message": "no"})).await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        out.payload,
        json!({"errorType": "TestFnError", "errorMessage": "refused: no: the cause"})
    );
    // The invalid event never reaches the handler: the error names the event type and field.
    let bad = invoke(&client, "f", json!({"action": "sleep"})).await;
    assert_eq!(bad.payload["errorType"], "InvalidEvent");
    let message = bad.payload["errorMessage"].as_str().expect("message");
    assert!(
        message.contains("does not match `Command`") && message.contains("missing field `ms`"),
        "{message}"
    );
}

#[tokio::test]
async fn a_panic_is_an_error_and_the_same_environment_serves_the_next_invocation() {
    let service = service(vec![testfn_config("f")]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "f",
        json!({"action": "panic", "message": "kaboom"}),
    )
    .await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(out.payload["errorType"], "Panic");
    let message = out.payload["errorMessage"].as_str().expect("message");
    assert!(
        message.starts_with("the handler panicked at ") && message.ends_with(": kaboom"),
        "{message}"
    );
    let frames = out.payload["stackTrace"].as_array().expect("stack trace");
    assert!(
        frames[0].as_str().expect("frame").contains("testfn.rs"),
        "{frames:?}"
    );
    let next = invoke(&client, "f", json!({"action": "echo", "value": 1})).await;
    assert_eq!(next.payload["result"], 1);
    assert!(
        !report(&next.logs).contains_key("Init Duration"),
        "no restart after a caught panic"
    );
    assert_eq!(service.function("f").expect("f").environments(), 1);
}

#[tokio::test]
async fn a_timeout_stops_the_environment_and_the_next_invocation_starts_a_new_one() {
    let service = service(vec![testfn_config("slow").timeout(Duration::from_secs(1))]).await;
    let client = client(&service).await;
    let started = Instant::now();
    let out = invoke(&client, "slow", json!({"action": "sleep", "ms": 5000})).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(out.payload["errorType"], "Sandbox.Timedout");
    let message = out.payload["errorMessage"].as_str().expect("message");
    assert!(
        message.starts_with("RequestId: ")
            && message.ends_with("Error: Task timed out after 1.00 seconds"),
        "{message}"
    );
    assert!(
        out.logs.contains("Task timed out after 1.00 seconds"),
        "{}",
        out.logs
    );
    assert_eq!(report(&out.logs)["Status"], "timeout");
    let next = invoke(&client, "slow", json!({"action": "echo", "value": "again"})).await;
    assert_eq!(next.payload["result"], "again");
    assert!(
        report(&next.logs).contains_key("Init Duration"),
        "a new environment: {}",
        next.logs
    );
}

#[tokio::test]
async fn a_crash_is_runtime_exit_error_and_the_function_restarts() {
    let service = service(vec![testfn_config("f")]).await;
    let client = client(&service).await;
    let out = invoke(&client, "f", json!({"action": "exit", "code": 3})).await;
    assert_eq!(out.payload["errorType"], "Runtime.ExitError");
    assert!(
        out.payload["errorMessage"]
            .as_str()
            .expect("message")
            .ends_with("Error: Runtime exited with error: exit status 3"),
        "{}",
        out.payload
    );
    let next = invoke(&client, "f", json!({"action": "echo", "value": 2})).await;
    assert_eq!(next.payload["result"], 2);
    assert!(report(&next.logs).contains_key("Init Duration"));
}

#[tokio::test]
async fn an_init_failure_reports_every_missing_variable_and_the_service_keeps_serving() {
    let broken = FunctionConfig::new("broken", Code::Bootstrap(testfn()));
    let service = service(vec![broken, testfn_config("fine")]).await;
    let client = client(&service).await;
    let out = invoke(&client, "broken", json!({"action": "echo", "value": 1})).await;
    assert_eq!(out.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(out.payload["errorType"], "ConfigError");
    let message = out.payload["errorMessage"].as_str().expect("message");
    assert!(message.contains("GREETING: not set"), "{message}");
    assert!(out.logs.contains("INIT_REPORT"), "{}", out.logs);
    let fine = invoke(&client, "fine", json!({"action": "echo", "value": 1})).await;
    assert_eq!(fine.payload["result"], 1);
}

#[tokio::test]
async fn concurrent_invocations_get_more_environments_up_to_the_limit() {
    let service = service(vec![testfn_config("wide").max_environments(4)]).await;
    let client = client(&service).await;
    let started = Instant::now();
    let calls = (0..12).map(|i| {
        let client = client.clone();
        async move { invoke(&client, "wide", json!({"action": "sleep", "ms": 300 + i})).await }
    });
    let results = futures::future::join_all(calls).await;
    for (i, r) in results.iter().enumerate() {
        assert_eq!(
            r.payload["result"]["slept"],
            300 + i as u64,
            "{:?}",
            r.payload
        );
    }
    // 12 calls of 300 ms on 4 environments: three waves, far less than 3.6 s in sequence.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    let handle = service.function("wide").expect("wide");
    assert_eq!(
        handle.log_streams().len(),
        4,
        "one log stream per environment"
    );
    assert_eq!(handle.environments(), 4);
}

#[tokio::test]
async fn the_function_log_lines_land_in_the_invocation_tail_before_end() {
    let service = service(vec![testfn_config("f")]).await;
    let client = client(&service).await;
    let out = invoke(
        &client,
        "f",
        json!({"action": "log", "lines": ["one", "two", "three"]}),
    )
    .await;
    let lines: Vec<&str> = out.logs.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("END"))
        .expect("END");
    for word in ["one", "two", "three"] {
        let at = lines
            .iter()
            .position(|l| l.ends_with(word))
            .unwrap_or_else(|| panic!("{word} in {lines:?}"));
        assert!(at < end, "{word} logged before END: {lines:?}");
    }
}

#[tokio::test]
async fn a_bare_lambda_runtime_function_and_a_shell_script_both_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("bootstrap");
    std::fs::write(&script, SHELL_BOOTSTRAP).expect("write");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let service = service(vec![
        FunctionConfig::new("plain", Code::Bootstrap(plainfn())),
        FunctionConfig::new("shell", Code::Bootstrap(script)),
    ])
    .await;
    let client = client(&service).await;
    let plain = invoke(&client, "plain", json!({"x": 1})).await;
    assert_eq!(plain.payload["plain"], json!({"x": 1}));
    for i in 0..3 {
        let shell = invoke(&client, "shell", json!({"n": i})).await;
        assert_eq!(shell.function_error, None, "{}", shell.logs);
        assert_eq!(shell.payload["echo"], json!({"n": i}), "{}", shell.logs);
        assert!(shell.logs.contains("shell handled "), "{}", shell.logs);
    }
}

/// A bootstrap in bash alone (no curl): HTTP/1.0 over /dev/tcp.
const SHELL_BOOTSTRAP: &str = r#"#!/usr/bin/env bash
set -euo pipefail
host="${AWS_LAMBDA_RUNTIME_API%:*}"; port="${AWS_LAMBDA_RUNTIME_API#*:}"
while true; do
  exec 3<>"/dev/tcp/$host/$port"
  printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
  response="$(cat <&3)"; exec 3<&-
  headers="${response%%$'\r\n\r\n'*}"; body="${response#*$'\r\n\r\n'}"
  id="$(printf '%s\n' "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="lambda-runtime-aws-request-id"{print $2}')"
  echo "shell handled $id"
  reply="{\"echo\":$body}"
  exec 3<>"/dev/tcp/$host/$port"
  printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "$id" "$host" "${#reply}" "$reply" >&3
  cat <&3 >/dev/null; exec 3<&-
done
"#;
