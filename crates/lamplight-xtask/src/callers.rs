//! Calling functions the way the tools around Lambda do, for checks that a function answers
//! them: the Python client `lambda-httpx` (httpx over aioboto3, minimal REST proxy events).

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
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
