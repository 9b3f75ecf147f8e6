//! Extensions and graceful shutdown end to end: a real external extension (`extfn`, linked into
//! a layer's `extensions/` as `probe`) next to a real lamplight function under the local
//! service, and the function's own internal extension that makes Lambda send it SIGTERM.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use lamplight_local::{Code, FunctionConfig, FunctionResult, LocalLambda, Outcome};
use serde_json::{Value, json};

/// The probe extension binary.
fn extfn() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_extfn"))
}

/// A layer directory whose `extensions/` holds the probe as `name`.
fn layer(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("layer dir");
    std::fs::create_dir(dir.path().join("extensions")).expect("extensions dir");
    std::os::unix::fs::symlink(extfn(), dir.path().join("extensions").join(name))
        .expect("link the probe");
    dir
}

/// `testfn` as `name` with `layer`, the probe told `mode`.
fn with_probe(name: &str, layer: &Path, mode: &str) -> FunctionConfig {
    testfn_config(name).layer(layer).env("PROBE_MODE", mode)
}

fn lines(service: &LocalLambda, name: &str) -> Vec<String> {
    service
        .function(name)
        .expect("function")
        .log_streams()
        .into_values()
        .flatten()
        .collect()
}

/// The events the probe printed, in order.
fn probe_events(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("PROBE probe event "))
        .map(|e| serde_json::from_str(e).expect("event JSON"))
        .collect()
}

fn response(outcome: &Outcome) -> Value {
    match &outcome.result {
        FunctionResult::Response(body) => serde_json::from_slice(body).expect("JSON response"),
        FunctionResult::Error { error_type, body } => panic!(
            "{error_type}: {}\n{}",
            String::from_utf8_lossy(body),
            outcome.logs
        ),
    }
}

fn error(outcome: &Outcome) -> (String, Value) {
    match &outcome.result {
        FunctionResult::Error { error_type, body } => (
            error_type.clone(),
            serde_json::from_slice(body).expect("JSON error document"),
        ),
        FunctionResult::Response(body) => {
            panic!("expected an error, got {}", String::from_utf8_lossy(body))
        }
    }
}

/// Waits until `lines` of `name` satisfy `done`.
async fn wait_for_lines(service: &LocalLambda, name: &str, done: impl Fn(&[String]) -> bool) {
    let deadline = Instant::now() + LONG;
    loop {
        let now = lines(service, name);
        if done(&now) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never happened; log:\n{}",
            now.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_external_extension_receives_invoke_and_shutdown() {
    let layer = layer("probe");
    let service = service(vec![with_probe("ext", layer.path(), "normal")]).await;
    let first = service
        .invoke("ext", r#"{"action": "echo", "value": 1}"#)
        .await
        .expect("invoke");
    assert_eq!(response(&first)["result"], json!(1));
    let second = service
        .invoke("ext", r#"{"action": "echo", "value": 2}"#)
        .await
        .expect("invoke");
    assert_eq!(response(&second)["result"], json!(2));
    service.shutdown().await;
    assert_eq!(service.function("ext").expect("ext").environments(), 0);
    wait_for_lines(&service, "ext", |l| {
        l.iter().any(|l| l == "PROBE probe exiting")
    })
    .await;

    let log = lines(&service, "ext");
    let registered = log
        .iter()
        .find_map(|l| l.strip_prefix("PROBE probe registered 200 "))
        .unwrap_or_else(|| panic!("no registration in\n{}", log.join("\n")));
    let registered: Value = serde_json::from_str(registered).expect("register answer");
    assert_eq!(registered["functionName"], "ext");
    assert_eq!(registered["functionVersion"], "$LATEST");
    assert_eq!(registered["handler"], "bootstrap");
    assert!(registered["accountId"].is_string(), "{registered}");
    assert!(
        log.iter()
            .any(|l| l == "EXTENSION\tName: probe\tState: Registered\tEvents: [INVOKE, SHUTDOWN]"),
        "{}",
        log.join("\n")
    );

    let events = probe_events(&log);
    assert_eq!(events.len(), 3, "{events:#?}");
    for (event, outcome) in events.iter().zip([&first, &second]) {
        assert_eq!(event["eventType"], "INVOKE");
        assert_eq!(event["requestId"], outcome.request_id.as_str());
        assert!(
            event["invokedFunctionArn"]
                .as_str()
                .is_some_and(|a| a.ends_with(":function:ext")),
            "{event}"
        );
        assert_eq!(event["tracing"]["type"], "X-Amzn-Trace-Id");
        let root = outcome.trace_id.as_ref().expect("sampled").to_string();
        assert!(
            event["tracing"]["value"]
                .as_str()
                .is_some_and(|v| v.contains(&root)),
            "{event} vs {root}"
        );
        assert!(event["deadlineMs"].as_u64().is_some(), "{event}");
    }
    assert_eq!(events[2]["eventType"], "SHUTDOWN");
    assert_eq!(events[2]["shutdownReason"], "spindown");
    assert!(events[2]["deadlineMs"].as_u64().is_some());
}

#[tokio::test]
async fn init_completes_only_after_the_extension_calls_next() {
    let layer = layer("probe");
    let config = with_probe("slowext", layer.path(), "normal")
        .env("PROBE_FIRST_NEXT_MS", "700")
        .env("PROBE_AFTER_INVOKE_MS", "600");
    let service = service(vec![config]).await;
    let first = service
        .invoke("slowext", r#"{"action": "echo", "value": 1}"#)
        .await
        .expect("invoke");
    response(&first);
    let init = first
        .report
        .as_ref()
        .and_then(|r| r.init_duration)
        .expect("a cold start reports its init");
    assert!(
        init >= Duration::from_millis(700),
        "init ended after {init:?}, before the extension's first next"
    );
    // The environment is not reused until the extension has called next after its INVOKE.
    let answered = Instant::now();
    let second = service
        .invoke("slowext", r#"{"action": "echo", "value": 2}"#)
        .await
        .expect("invoke");
    response(&second);
    assert!(
        answered.elapsed() >= Duration::from_millis(400),
        "the second invocation started {:?} after the first answered, while the extension was still busy",
        answered.elapsed()
    );
    assert_eq!(service.function("slowext").expect("fn").environments(), 1);
    service.shutdown().await;
}

#[tokio::test]
async fn an_extension_that_never_calls_next_times_init_out() {
    let layer = layer("probe");
    let config = with_probe("stuck", layer.path(), "normal")
        .env("PROBE_FIRST_NEXT_MS", "60000")
        .init_timeout(Duration::from_secs(1));
    let service = service(vec![config]).await;
    let outcome = service
        .invoke("stuck", r#"{"action": "echo", "value": 1}"#)
        .await
        .expect("invoke");
    let (error_type, doc) = error(&outcome);
    assert_eq!(error_type, "Sandbox.Timedout", "{doc}");
    assert!(
        outcome.logs.contains("EXTENSION\tthe extensions [probe]"),
        "{}",
        outcome.logs
    );
}

#[tokio::test]
async fn an_extension_stuck_after_invoke_costs_its_environment_not_the_next_invocation() {
    let layer = layer("probe");
    let config = with_probe("lagging", layer.path(), "normal")
        .env("PROBE_AFTER_INVOKE_MS", "60000")
        .timeout(Duration::from_secs(1));
    let service = service(vec![config]).await;
    response(
        &service
            .invoke("lagging", r#"{"action": "echo", "value": 1}"#)
            .await
            .expect("invoke"),
    );
    // The first environment waits for the extension for the function's timeout, then goes; a
    // new one serves the next invocation.
    let second = service
        .invoke("lagging", r#"{"action": "echo", "value": 2}"#)
        .await
        .expect("invoke");
    assert_eq!(response(&second)["result"], json!(2));
    let log = lines(&service, "lagging");
    assert!(
        log.iter()
            .any(|l| l.starts_with("EXTENSION\tthe extensions [probe] did not call next within")),
        "{}",
        log.join("\n")
    );
    service.shutdown().await;
}

#[tokio::test]
async fn an_extension_init_error_fails_the_invocation() {
    let layer = layer("probe");
    let service = service(vec![with_probe("badext", layer.path(), "init_error")]).await;
    let outcome = service
        .invoke("badext", r#"{"action": "echo", "value": 1}"#)
        .await
        .expect("invoke");
    let (error_type, doc) = error(&outcome);
    assert_eq!(error_type, "Extension.InitError", "{doc}");
    let message = doc["errorMessage"].as_str().expect("message");
    assert!(message.contains(&outcome.request_id), "{message}");
    assert!(message.contains("probe"), "{message}");
    assert!(message.contains("Probe.Broken"), "{message}");
    assert!(message.contains("the probe was told to fail"), "{message}");
    assert!(outcome.logs.contains("INIT_REPORT"), "{}", outcome.logs);
    // The runtime never started: no START of the invocation.
    assert!(
        !outcome.logs.contains("START RequestId"),
        "{}",
        outcome.logs
    );
}

#[tokio::test]
async fn an_extension_that_crashes_during_init_fails_the_invocation() {
    let layer = layer("probe");
    let service = service(vec![with_probe("crashext", layer.path(), "crash")]).await;
    let outcome = service
        .invoke("crashext", r#"{"action": "echo", "value": 1}"#)
        .await
        .expect("invoke");
    let (error_type, doc) = error(&outcome);
    assert_eq!(error_type, "Extension.Crash", "{doc}");
    assert!(
        doc["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("probe") && m.contains("exit status 3")),
        "{doc}"
    );
}

#[tokio::test]
async fn an_extension_that_ignores_shutdown_is_killed_after_the_grace_period() {
    let layer = layer("probe");
    let service = service(vec![with_probe(
        "stubborn",
        layer.path(),
        "ignore_shutdown",
    )])
    .await;
    response(
        &service
            .invoke("stubborn", r#"{"action": "echo", "value": 1}"#)
            .await
            .expect("invoke"),
    );
    let log = lines(&service, "stubborn");
    let pid: u32 = log
        .iter()
        .find_map(|l| l.strip_prefix("PROBE probe pid "))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in\n{}", log.join("\n")));
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    let started = Instant::now();
    service.shutdown().await;
    let took = started.elapsed();
    assert_eq!(service.function("stubborn").expect("fn").environments(), 0);
    assert!(
        took >= Duration::from_millis(1900),
        "killed after {took:?}, before the 2 s an external extension gets"
    );
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the extension outlived its environment"
    );
    let log = lines(&service, "stubborn");
    let events = probe_events(&log);
    assert_eq!(events.last().expect("events")["eventType"], "SHUTDOWN");
    assert!(!log.iter().any(|l| l == "PROBE probe exiting"));
}

#[tokio::test]
async fn a_timeout_sends_shutdown_with_reason_timeout() {
    let layer = layer("probe");
    let config = with_probe("slow", layer.path(), "normal").timeout(Duration::from_secs(1));
    let service = service(vec![config]).await;
    let outcome = service
        .invoke("slow", r#"{"action": "sleep", "ms": 5000}"#)
        .await
        .expect("invoke");
    assert_eq!(error(&outcome).0, "Sandbox.Timedout");
    wait_for_lines(&service, "slow", |l| {
        probe_events(l)
            .iter()
            .any(|e| e["eventType"] == "SHUTDOWN" && e["shutdownReason"] == "timeout")
    })
    .await;
    // A new environment serves the next invocation.
    response(
        &service
            .invoke("slow", r#"{"action": "echo", "value": 1}"#)
            .await
            .expect("invoke"),
    );
    service.shutdown().await;
}

#[tokio::test]
async fn replacing_the_function_shuts_its_environment_down() {
    let layer = layer("probe");
    let service = service(vec![with_probe("replaced", layer.path(), "normal")]).await;
    response(
        &service
            .invoke("replaced", r#"{"action": "echo", "value": 1}"#)
            .await
            .expect("invoke"),
    );
    let old = service.function("replaced").expect("function");
    service
        .add_function(with_probe("replaced", layer.path(), "normal").env("VERSION", "2"))
        .await
        .expect("replace");
    let deadline = Instant::now() + LONG;
    loop {
        let log: Vec<String> = old.log_streams().into_values().flatten().collect();
        let events = probe_events(&log);
        if events
            .iter()
            .any(|e| e["eventType"] == "SHUTDOWN" && e["shutdownReason"] == "spindown")
            && log.iter().any(|l| l == "PROBE probe exiting")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no SHUTDOWN:\n{}",
            log.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    response(
        &service
            .invoke("replaced", r#"{"action": "echo", "value": 2}"#)
            .await
            .expect("invoke"),
    );
    service.shutdown().await;
}

#[tokio::test]
async fn sigterm_sends_the_last_spans_and_runs_the_shutdown_hook() {
    let gracefulfn = PathBuf::from(env!("CARGO_BIN_EXE_gracefulfn"));
    let service = service(vec![FunctionConfig::new(
        "graceful",
        Code::Bootstrap(gracefulfn),
    )])
    .await;
    let outcome = service
        .invoke("graceful", r#"{"linger": 150}"#)
        .await
        .expect("invoke");
    assert_eq!(response(&outcome), json!({"lingering": 150}));
    let root = outcome.trace_id.clone().expect("sampled");
    // The `linger` span ends after the flush that follows the response, and keeps its parent,
    // the handler's span, open until then: both stay queued in the process.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = service
        .traces()
        .trace(&root)
        .expect("the service's own segments");
    assert!(
        !before
            .segments
            .iter()
            .any(|s| s.name == "linger" || s.name == "handler"),
        "the function's spans left before shutdown: {}",
        before.waterfall(30)
    );

    service.shutdown().await;
    let trace = service
        .traces()
        .wait_for(&root, LONG, |t| {
            ["linger", "handler"]
                .iter()
                .all(|n| t.segments.iter().any(|s| s.name == *n))
        })
        .await
        .expect("the spans sent at SIGTERM");
    for name in ["linger", "handler"] {
        assert!(
            trace.segments.iter().any(|s| s.name == name),
            "no {name} after shutdown: {}",
            trace.waterfall(30)
        );
    }
    let log = lines(&service, "graceful");
    assert!(
        log.iter().any(|l| l == "gracefulfn: shutdown hook ran"),
        "{}",
        log.join("\n")
    );
    assert!(
        log.iter().any(|l| l.contains("ShutdownHookRan")),
        "the hook's metric was not written: {}",
        log.join("\n")
    );
    assert_eq!(service.function("graceful").expect("fn").environments(), 0);
}

/// One request to an environment's Extensions API: status and JSON body.
async fn call(
    api: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, Value, http::HeaderMap) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("http://{api}/2020-01-01/extension/{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = tokio::time::timeout(
        Duration::from_secs(5),
        client.request(request.body(Full::from(body.to_owned())).expect("request")),
    )
    .await
    .expect("answered in time")
    .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        headers,
    )
}

#[tokio::test]
async fn hostile_extension_requests_get_clear_4xx_errors() {
    let service = service(vec![FunctionConfig::new("ext-api", Code::External)]).await;
    let api = service
        .external_runtime_api("ext-api")
        .expect("runtime API");

    let (status, body, _) = call(api, "POST", "register", &[], r#"{"events":[]}"#).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], "InvalidRequest");

    let name = [("Lambda-Extension-Name", "helper")];
    let (status, body, _) = call(api, "POST", "register", &name, r#"{"events":["BOGUS"]}"#).await;
    assert_eq!(status, 400, "{body}");
    let (status, body, _) = call(api, "POST", "register", &name, "not json").await;
    assert_eq!(status, 400, "{body}");
    let (status, body, _) =
        call(api, "POST", "register", &name, r#"{"events":["SHUTDOWN"]}"#).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errorType"],
        "ShutdownEventNotSupportedForInternalExtension"
    );

    let (status, body, headers) =
        call(api, "POST", "register", &name, r#"{"events":["INVOKE"]}"#).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["functionName"], "ext-api");
    assert!(headers.contains_key("lambda-extension-identifier"));
    let (status, body, _) = call(api, "POST", "register", &name, r#"{"events":["INVOKE"]}"#).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errorType"], "Extension.AlreadyRegistered");

    let (status, body, _) = call(api, "GET", "event/next", &[], "").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errorType"], "Extension.MissingExtensionIdentifier");
    let unknown = [(
        "Lambda-Extension-Identifier",
        "00000000-0000-0000-0000-000000000000",
    )];
    let (status, body, _) = call(api, "GET", "event/next", &unknown, "").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["errorType"], "Extension.UnknownExtensionIdentifier");
    let (status, body, _) = call(api, "POST", "init/error", &unknown, "{}").await;
    assert_eq!(status, 403, "{body}");
    let (status, body, _) = call(api, "POST", "exit/error", &unknown, "{}").await;
    assert_eq!(status, 403, "{body}");
    let (status, _, _) = call(api, "GET", "nowhere", &[], "").await;
    assert_eq!(status, 404);
}
