//! The real `testfn` binary under cargo-lambda's emulator (`cargo lambda watch
//! --only-lambda-apis`), which gives functions `AWS_LAMBDA_RUNTIME_API=http://host:port/.rt` (a
//! scheme and a path prefix) and a `Lambda-Runtime-Deadline-Ms` that is a duration, not a time.
//!
//! Needs `cargo-lambda` on `PATH` (`python3 -m pip install cargo-lambda==1.9.2`). Without it the
//! test says so and passes, unless `CI` is set: on CI it must run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use lamplight_test::process::{Spawned, printed_lambda_env};
use serde_json::{Value, json};

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn invoke(client: &Client, url: &str, event: Value) -> (u16, Value) {
    let request = http::Request::post(url)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(event.to_string())))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(60), client.request(request))
        .await
        .unwrap_or_else(|_| panic!("no answer to {event} in 60 s"))
        .expect("invoke");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{event}: not JSON ({e}): {:?}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, value)
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testfn_serves_invocations_in_a_row_under_cargo_lambda_watch() {
    if !on_path("cargo-lambda") {
        assert!(
            std::env::var_os("CI").is_none(),
            "cargo-lambda is not installed and CI is set: install it with \
             `python3 -m pip install cargo-lambda==1.9.2`"
        );
        eprintln!(
            "SKIPPED: cargo-lambda is not on PATH (`python3 -m pip install cargo-lambda==1.9.2` \
             to run this test)"
        );
        return;
    }
    let port = free_port();
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let emulator = Spawned::start(
        Command::new("cargo-lambda")
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .arg("--manifest-path")
            .arg(&manifest)
            .env("NO_COLOR", "1")
            .env("CARGO_TERM_COLOR", "never"),
    )
    .expect("cargo-lambda starts");
    let output = emulator
        .wait_for(Duration::from_secs(120), |out| {
            out.contains("AWS_LAMBDA_RUNTIME_API=") && out.contains("starting Runtime server")
        })
        .unwrap_or_else(|out| {
            panic!("timed out waiting for cargo-lambda's Runtime API; output so far:\n{out}")
        });
    let vars = printed_lambda_env(&output);
    let var = |name: &str| {
        vars.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("cargo-lambda printed no {name}:\n{output}"))
    };
    let runtime_api = var("AWS_LAMBDA_RUNTIME_API");
    assert_eq!(
        runtime_api,
        format!("http://127.0.0.1:{port}/.rt"),
        "the form this test is about"
    );
    let name = var("AWS_LAMBDA_FUNCTION_NAME");

    let function = Spawned::start(
        Command::new(env!("CARGO_BIN_EXE_testfn"))
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_REGION", "us-east-1")
            .env("TZ", ":UTC")
            .env("GREETING", "hello"),
    )
    .expect("testfn starts");

    let client: Client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let url = format!("http://127.0.0.1:{port}/2015-03-31/functions/{name}/invocations");
    let mut request_ids = Vec::new();
    for round in 0..3 {
        let (status, reply) = invoke(&client, &url, json!({"action": "context"})).await;
        assert_eq!(status, 200, "round {round}: {reply}");
        assert_eq!(reply["greeting"], "hello", "{reply}");
        let context = &reply["result"];
        let remaining = context["remainingMs"].as_u64().expect("remainingMs");
        // cargo-lambda sends 600000: a duration in ms, read as from the moment of the poll.
        assert!(
            remaining > 500_000 && remaining <= 600_000,
            "round {round}: remaining time {remaining} ms"
        );
        assert_eq!(context["coldStart"], round == 0, "{reply}");
        request_ids.push(context["requestId"].as_str().expect("id").to_owned());

        let (status, reply) = invoke(
            &client,
            &url,
            json!({"action": "echo", "value": {"round": round}}),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["result"], json!({"round": round}));

        let (status, doc) = invoke(
            &client,
            &url,
            json!({"action": "fail", "message": format!("round {round}")}),
        )
        .await;
        assert_eq!(status, 500, "{doc}");
        assert_eq!(doc["errorType"], "TestFnError", "{doc}");
        assert_eq!(
            doc["errorMessage"],
            format!("refused: round {round}: the cause"),
            "{doc}"
        );
    }
    request_ids.sort();
    request_ids.dedup();
    assert_eq!(request_ids.len(), 3, "one request id per invocation");
    let logs = function.output();
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(!logs.contains("Runtime API failed"), "{logs}");
}
