//! An external Lambda extension for the tests: placed (as a link or copy) in a layer's
//! `extensions/`, it registers under its file name for `PROBE_EVENTS` (default
//! `INVOKE,SHUTDOWN`) and prints every event it receives as `PROBE <name> event <json>`, so the
//! function's log shows what the Extensions API sent.
//!
//! `PROBE_MODE` picks a behaviour: `normal` (exit on SHUTDOWN), `init_error` (report an init
//! error and exit), `crash` (exit 3 right after registering), `ignore_shutdown` (keep running
//! after SHUTDOWN, until killed). `PROBE_FIRST_NEXT_MS` delays the first `next` (init
//! must wait for it); `PROBE_AFTER_INVOKE_MS` delays each `next` after an INVOKE.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

type Http = Client<HttpConnector, Full<Bytes>>;

#[derive(Debug, thiserror::Error)]
enum ProbeError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set")]
    NoApi,
    #[error("{0}")]
    Http(String),
}

fn var_ms(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

async fn call(
    http: &Http,
    request: http::Request<Full<Bytes>>,
) -> Result<(http::StatusCode, http::HeaderMap, Bytes), ProbeError> {
    let response = http
        .request(request)
        .await
        .map_err(|e| ProbeError::Http(e.to_string()))?;
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| ProbeError::Http(e.to_string()))?
        .to_bytes();
    Ok((parts.status, parts.headers, body))
}

fn request(method: &str, url: &str) -> http::request::Builder {
    http::Request::builder().method(method).uri(url)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ProbeError> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| ProbeError::NoApi)?;
    let base = format!("http://{api}/2020-01-01/extension");
    let name = std::env::args()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "probe".into());
    let mode = std::env::var("PROBE_MODE").unwrap_or_else(|_| "normal".into());
    let events: Vec<String> = std::env::var("PROBE_EVENTS")
        .unwrap_or_else(|_| "INVOKE,SHUTDOWN".into())
        .split(',')
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    println!("PROBE {name} pid {}", std::process::id());
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let body = serde_json::json!({ "events": events }).to_string();
    let (status, headers, answer) = call(
        &http,
        request("POST", &format!("{base}/register"))
            .header("Lambda-Extension-Name", &name)
            .header("Lambda-Extension-Accept-Feature", "accountId")
            .body(Full::from(body))
            .map_err(|e| ProbeError::Http(e.to_string()))?,
    )
    .await?;
    let id = headers
        .get("lambda-extension-identifier")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    println!(
        "PROBE {name} registered {} {}",
        status.as_u16(),
        String::from_utf8_lossy(&answer)
    );
    if !status.is_success() {
        return Err(ProbeError::Http(format!("register answered {status}")));
    }
    match mode.as_str() {
        "init_error" => {
            let (status, _, _) = call(
                &http,
                request("POST", &format!("{base}/init/error"))
                    .header("Lambda-Extension-Identifier", &id)
                    .header("Lambda-Extension-Function-Error-Type", "Probe.Broken")
                    .body(Full::from(
                        r#"{"errorType":"Probe.Broken","errorMessage":"the probe was told to fail"}"#,
                    ))
                    .map_err(|e| ProbeError::Http(e.to_string()))?,
            )
            .await?;
            println!("PROBE {name} init/error {}", status.as_u16());
            std::process::exit(1);
        }
        "crash" => std::process::exit(3),
        _ => {}
    }
    if let Some(wait) = var_ms("PROBE_FIRST_NEXT_MS") {
        tokio::time::sleep(wait).await;
    }
    loop {
        println!("PROBE {name} next");
        let (status, _, event) = call(
            &http,
            request("GET", &format!("{base}/event/next"))
                .header("Lambda-Extension-Identifier", &id)
                .body(Full::default())
                .map_err(|e| ProbeError::Http(e.to_string()))?,
        )
        .await?;
        if !status.is_success() {
            return Err(ProbeError::Http(format!("next answered {status}")));
        }
        let event: Value = serde_json::from_slice(&event).unwrap_or(Value::Null);
        println!("PROBE {name} event {event}");
        match event["eventType"].as_str() {
            Some("SHUTDOWN") if mode == "ignore_shutdown" => loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
            },
            Some("SHUTDOWN") => {
                println!("PROBE {name} exiting");
                return Ok(());
            }
            Some("INVOKE") => {
                if let Some(wait) = var_ms("PROBE_AFTER_INVOKE_MS") {
                    tokio::time::sleep(wait).await;
                }
            }
            _ => {}
        }
    }
}
