//! Calling functions the way the tools around Lambda do, for checks that a function answers
//! them: the Python client `lambda-httpx` (httpx over aioboto3, minimal REST proxy events).

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use lamplight_test::process::{Spawned, printed_lambda_env};
use serde_json::Value;

/// The client script: `python3 -c SCRIPT ENDPOINT FUNCTION < plan.json` (see its docstring).
pub const LAMBDA_HTTPX_CLIENT: &str = include_str!("callers/lambda_httpx.py");

/// How to install what the script imports.
pub const LAMBDA_HTTPX_INSTALL: &str = "python3 -m pip install 'lambda-httpx==0.2'";

/// Whether `python3` can import lambda-httpx, aioboto3 and httpx.
pub fn lambda_httpx_installed() -> bool {
    Command::new("python3")
        .args(["-c", "import lambda_httpx, aioboto3, httpx"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `plan` (`{"requests": [{"name", "method", "path", "json"?, "params"?, "headers"?}],
/// "concurrent": ["/path", ...]}`) through lambda-httpx against `function` at the Lambda API
/// `endpoint`; returns what the client saw, by request name (`concurrent`: a list).
pub async fn lambda_httpx(endpoint: &str, function: &str, plan: &Value) -> Result<Value> {
    let plan = serde_json::to_vec(plan).context("encoding the plan")?;
    let (endpoint, function) = (endpoint.to_owned(), function.to_owned());
    // The service answers on this runtime while the client runs on a blocking thread.
    let output = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let mut child = Command::new("python3")
            .args(["-c", LAMBDA_HTTPX_CLIENT])
            .args([&endpoint, &function])
            .env_remove("AWS_PROFILE")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, &plan)?;
        }
        child.wait_with_output()
    })
    .await
    .context("the client thread failed")?
    .context("could not run python3 (is it installed?)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!(
            "the lambda-httpx client failed ({}); is it installed (`{LAMBDA_HTTPX_INSTALL}`)?\n{stderr}",
            output.status
        );
    }
    serde_json::from_str(stdout.trim())
        .with_context(|| format!("the client printed no JSON:\n{stdout}\n{stderr}"))
}

/// How to install cargo-lambda's prebuilt binary.
pub const CARGO_LAMBDA_INSTALL: &str = "python3 -m pip install cargo-lambda==1.9.2";

/// Whether `cargo-lambda` is on `PATH`.
pub fn cargo_lambda_installed() -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("cargo-lambda").is_file())
    })
}

/// Serves `bootstrap` under cargo-lambda's emulator (`cargo lambda watch --only-lambda-apis`,
/// which hands functions `AWS_LAMBDA_RUNTIME_API=http://host:port/.rt`) and invokes it with
/// each event in turn, through cargo-lambda's Invoke endpoint; returns `(status, body)` per
/// event. `manifest` is the function workspace's `Cargo.toml` (cargo-lambda reads it).
pub async fn cargo_lambda(
    manifest: &std::path::Path,
    bootstrap: &std::path::Path,
    env: &[(String, String)],
    events: &[Vec<u8>],
) -> Result<Vec<(u16, Value)>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("no free port")?
        .port();
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
            .arg(manifest)
            .env("NO_COLOR", "1")
            .env("CARGO_TERM_COLOR", "never"),
    )
    .context("could not start cargo-lambda")?;
    let started = std::time::Instant::now();
    let printed = loop {
        let out = emulator.output();
        if out.contains("AWS_LAMBDA_RUNTIME_API=") && out.contains("starting Runtime server") {
            break out;
        }
        if started.elapsed() > std::time::Duration::from_secs(120) {
            bail!("cargo-lambda did not start its Runtime API in 120 s:\n{out}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let vars = printed_lambda_env(&printed);
    let name = vars
        .iter()
        .find(|(k, _)| k == "AWS_LAMBDA_FUNCTION_NAME")
        .map(|(_, v)| v.clone())
        .with_context(|| format!("cargo-lambda printed no function name:\n{printed}"))?;
    let function = Spawned::start(
        Command::new(bootstrap)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_REGION", "us-east-1")
            .env("TZ", ":UTC"),
    )
    .with_context(|| format!("could not start {}", bootstrap.display()))?;
    let client = lamplight_xtask::Client::default();
    let url = format!("http://127.0.0.1:{port}/2015-03-31/functions/{name}/invocations");
    let mut answers = Vec::new();
    for event in events {
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            client.send(
                http::Method::POST,
                &url,
                &[("content-type", "application/json")],
                bytes::Bytes::from(event.clone()),
            ),
        )
        .await
        .with_context(|| {
            format!(
                "no answer through cargo-lambda in 60 s; the function wrote:\n{}",
                function.output()
            )
        })??;
        let body = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&reply.body).into_owned()));
        answers.push((reply.status.as_u16(), body));
    }
    Ok(answers)
}
