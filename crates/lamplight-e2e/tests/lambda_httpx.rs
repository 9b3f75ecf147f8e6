//! lambda-httpx end to end: the Python httpx transport that invokes functions as
//! `http+lambda://function/path` (PyPI `lambda-httpx`, over aioboto3) calls the real `httpfn`
//! bootstrap (axum on lamplight-http) under the local Lambda service. Its minimal REST proxy
//! events (`"pathParameters": ""`, `"requestContext": {}`) must be answered, and its reading
//! of the proxy response (`statusCode`, `headers`, `body`) must find what it needs.
//!
//! Needs `python3 -m pip install 'lambda-httpx==0.2'`. Without it the test says so and passes,
//! unless `CI` is set: there it fails.

mod common;

use std::process::Command;

use common::*;
use lamplight_local::{Code, FunctionConfig};
use serde_json::{Value, json};

/// The client side, shared with `cargo xtask template-check`: lambda-httpx's
/// `AsyncLambdaTransport`, its aioboto3 client pointed at the local service.
const SCRIPT: &str = include_str!("../../../xtask/src/callers/lambda_httpx.py");

fn python_has_lambda_httpx() -> bool {
    Command::new("python3")
        .args(["-c", "import lambda_httpx, aioboto3, httpx"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_httpx_reads_creates_validates_and_routes_through_lamplight_http() {
    if !python_has_lambda_httpx() {
        let install = "python3 -m pip install 'lambda-httpx==0.2'";
        assert!(
            std::env::var_os("CI").is_none(),
            "lambda-httpx is not installed for python3: run `{install}`"
        );
        eprintln!("SKIPPED: lambda-httpx is not installed for python3 (run `{install}`)");
        return;
    }
    let service = service(vec![FunctionConfig::new(
        "items",
        Code::Bootstrap(httpfn()),
    )])
    .await;
    let plan = json!({
        "requests": [
            {"name": "read", "method": "GET", "path": "/items/5"},
            {"name": "create", "method": "POST", "path": "/items", "json": {"name": "lamp", "qty": 2}},
            {"name": "invalid", "method": "POST", "path": "/items", "json": {"name": "lamp", "qty": -1}},
            {"name": "unknown", "method": "GET", "path": "/no/such/route"},
            {"name": "echo", "method": "GET", "path": "/echo",
             "params": {"tag": "a b", "n": "1"}, "headers": {"X-Custom": "one"}},
        ],
        "concurrent": (1..=10).map(|i| format!("/items/{i}")).collect::<Vec<_>>(),
    });
    let endpoint = service.endpoint_url();
    // The service answers on this runtime while the client runs on a blocking thread.
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new("python3")
            .args(["-c", SCRIPT, &endpoint, "items"])
            .env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, plan.to_string().as_bytes())?;
        }
        child.wait_with_output()
    })
    .await
    .expect("client thread")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the client failed ({}):\n{stderr}",
        output.status
    );
    let results: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}):\n{stdout}\n{stderr}"));

    let read = &results["read"];
    assert_eq!(read["status"], 200, "{read}");
    assert_eq!(read["body"], json!({"id": 5}));
    // The REST proxy response's `headers` reach clients that read only them.
    assert_eq!(read["content_type"], "application/json", "{read}");
    assert!(read["request_id"].is_string(), "{read}");

    let create = &results["create"];
    assert_eq!(create["status"], 201, "{create}");
    assert_eq!(create["location"], "/items/7");
    assert_eq!(create["body"], json!({"id": 7, "name": "lamp", "qty": 2}));

    let invalid = &results["invalid"];
    assert_eq!(invalid["status"], 422, "{invalid}");
    assert_eq!(invalid["body"]["code"], "validation_error");
    assert_eq!(invalid["body"]["fields"][0]["field"], "body.qty");

    let unknown = &results["unknown"];
    assert_eq!(unknown["status"], 404, "{unknown}");
    assert_eq!(unknown["body"], "");

    let echo = &results["echo"];
    assert_eq!(echo["status"], 200, "{echo}");
    assert_eq!(echo["body"]["method"], "GET");
    assert_eq!(echo["body"]["path"], "/echo");
    assert_eq!(echo["body"]["headers"]["x-custom"], "one");
    let query = echo["body"]["query"].as_str().expect("query");
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_unstable();
    assert_eq!(pairs, ["n=1", "tag=a+b"], "{echo}");

    let concurrent = results["concurrent"].as_array().expect("reads");
    assert_eq!(concurrent.len(), 10);
    for (i, read) in concurrent.iter().enumerate() {
        assert_eq!(read["status"], 200, "{read}");
        assert_eq!(read["body"], json!({"id": i + 1}), "{read}");
    }
}
