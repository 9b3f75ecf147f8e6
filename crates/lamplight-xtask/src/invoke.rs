//! `cargo xtask invoke`: a function invoked locally (`--local`: through a running
//! `cargo xtask local`, else a service started for the call) or on AWS, and its response, log
//! tail and trace printed.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use bytes::Bytes;
use http::Method;
use lamplight_deploy::aws::Aws;
use lamplight_deploy::ops;
use lamplight_local::serve::settled_trace;
use lamplight_local::{FunctionResult, InvokeRequest, LocalLambda};
use lamplight_xray::{Trace, TraceHeader};
use xshell::Shell;

use crate::flags;
use crate::http::Client;
use crate::local::{DEFAULT_ENDPOINT, parse_trace};
use crate::payload;
use crate::workspace::Workspace;
use crate::workspace::function_config;

pub(crate) async fn run(sh: &Shell, f: &flags::Invoke) -> Result<()> {
    if f.local {
        local(sh, f).await?.print();
        return Ok(());
    }
    let ws = Workspace::load(sh).ok();
    let dir = ws
        .as_ref()
        .and_then(|w| w.function(&f.function).ok())
        .map(|p| p.dir.clone());
    let payload = payload::resolve(f.payload.as_deref(), dir.as_deref())?;
    let aws = Aws::connect(&f.aws.connection()).await?;
    let out = ops::invoke(&aws, &f.function, f.qualifier.as_deref(), payload).await?;
    let shown = Shown {
        payload: out.payload.into(),
        function_error: out.function_error,
        logs: out.logs,
        trace: None,
    };
    shown.print();
    if shown.function_error.is_some() {
        bail!("the function returned an error");
    }
    Ok(())
}

/// What one invocation produced, for printing.
#[derive(Debug)]
pub struct Shown {
    /// The response or error document.
    pub payload: Bytes,
    /// `X-Amz-Function-Error`.
    pub function_error: Option<String>,
    /// The log tail.
    pub logs: String,
    /// The trace, if sampled.
    pub trace: Option<Trace>,
}

impl Shown {
    /// Prints response, error, logs and trace.
    pub fn print(&self) {
        let body = serde_json::from_slice::<serde_json::Value>(&self.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&self.payload).into_owned());
        match &self.function_error {
            None => println!("── response ──\n{body}"),
            Some(kind) => println!("── function error ({kind}) ──\n{body}"),
        }
        println!("── logs ──\n{}", self.logs.trim_end());
        match &self.trace {
            Some(trace) => println!("── trace ──\n{}", trace.waterfall(40).trim_end()),
            None => println!("── trace ──\n(not sampled)"),
        }
    }
}

/// Through a running `cargo xtask local`, or else a service started in this process.
async fn local(sh: &Shell, flags: &flags::Invoke) -> Result<Shown> {
    let ws = Workspace::load(sh).ok();
    let package = ws
        .as_ref()
        .and_then(|ws| ws.function(&flags.function).ok().cloned());
    let payload = payload::resolve(
        flags.payload.as_deref(),
        package.as_ref().map(|p| p.dir.as_path()),
    )?;
    let endpoint = flags
        .aws
        .endpoint_url
        .clone()
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let client = Client::default();
    let running = client
        .send(
            Method::GET,
            &format!("{endpoint}/lamplight/xray"),
            &[],
            Bytes::new(),
        )
        .await
        .is_ok_and(|r| r.status.is_success());
    if running {
        return invoke_running(&client, &endpoint, &flags.function, payload).await;
    }
    if flags.aws.endpoint_url.is_some() {
        bail!("no local Lambda service answers at {endpoint}: start one with `cargo xtask local`");
    }
    let ws = ws.context(
        "no service is running and this is not a cargo workspace to build the function from",
    )?;
    let package = ws.function(&flags.function)?.clone();
    eprintln!(
        "no service at {endpoint}: running {} in-process",
        flags.function
    );
    let bootstrap = ws.build_local(sh, &package, false)?;
    let config = function_config(&flags.function, bootstrap, Some(&package), &flags.settings)?;
    let service = LocalLambda::builder().function(config).start().await?;
    invoke_in_process(&service, &flags.function, payload).await
}

/// Invokes through the service object and collects what to show.
pub async fn invoke_in_process(
    service: &LocalLambda,
    function: &str,
    payload: Vec<u8>,
) -> Result<Shown> {
    let response = service
        .call(InvokeRequest {
            function: function.to_owned(),
            payload: payload.into(),
            log_tail: true,
            ..InvokeRequest::default()
        })
        .await?;
    let outcome = response
        .outcome
        .context("the invocation ended without an outcome")?;
    let trace = match &outcome.trace_id {
        Some(id) => settled_trace(service.traces(), id).await,
        None => None,
    };
    Ok(Shown {
        function_error: matches!(outcome.result, FunctionResult::Error { .. })
            .then(|| "Unhandled".to_owned()),
        payload: response.payload,
        logs: outcome.logs,
        trace,
    })
}

async fn invoke_running(
    client: &Client,
    endpoint: &str,
    function: &str,
    payload: Vec<u8>,
) -> Result<Shown> {
    let reply = client
        .send(
            Method::POST,
            &format!("{endpoint}/2015-03-31/functions/{function}/invocations"),
            &[
                ("X-Amz-Log-Type", "Tail"),
                ("Content-Type", "application/json"),
            ],
            payload.into(),
        )
        .await?;
    if !reply.status.is_success() {
        bail!(
            "the service refused the invocation ({}, {}): {}",
            reply.status,
            reply.header("x-amzn-errortype").unwrap_or("error"),
            String::from_utf8_lossy(&reply.body)
        );
    }
    let logs = reply
        .header("x-amz-log-result")
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default();
    let mut trace = None;
    if let Some(header) = reply
        .header("x-amzn-trace-id")
        .and_then(|h| h.parse::<TraceHeader>().ok())
        && header.is_sampled()
    {
        let url = format!("{endpoint}/lamplight/traces/{}", header.root);
        let mut last: Option<Trace> = None;
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let Ok(r) = client.send(Method::GET, &url, &[], Bytes::new()).await else {
                break;
            };
            let current = parse_trace(&r.body);
            let settled = match (&last, &current) {
                (Some(a), Some(b)) => a.segments.len() == b.segments.len(),
                _ => false,
            };
            last = current;
            if settled {
                break;
            }
        }
        trace = last;
    }
    Ok(Shown {
        function_error: reply.header("x-amz-function-error").map(str::to_owned),
        payload: reply.body,
        logs,
        trace,
    })
}
