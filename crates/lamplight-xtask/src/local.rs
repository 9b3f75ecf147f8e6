//! `cargo xtask local` (run functions under the local Lambda service) and
//! `cargo xtask invoke --local` (invoke one and show its response, logs and trace).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use bytes::Bytes;
use http::Method;
use lamplight_local::xray::TraceStore;
use lamplight_local::{Code, FunctionConfig, FunctionResult, InvokeRequest, LocalLambda};
use lamplight_xray::{Trace, TraceHeader, TraceId};
use xshell::Shell;

use crate::flags;
use crate::http::Client;
use crate::payload;
use crate::workspace::{FunctionPackage, Workspace};

/// The default address of `cargo xtask local`.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9001";

/// A function's configuration from `[package.metadata.lamplight]` and the command's flags.
pub fn function_config(
    name: &str,
    bootstrap: PathBuf,
    package: Option<&FunctionPackage>,
    overrides: &flags::FunctionSettings,
) -> Result<FunctionConfig> {
    let mut config = FunctionConfig::new(name, Code::Bootstrap(bootstrap));
    if let Some(settings) = package.map(|p| &p.settings) {
        if let Some(memory) = settings["memory"].as_u64() {
            config.memory_mb = u32::try_from(memory).context("memory is too large")?;
        }
        if let Some(timeout) = settings["timeout"].as_u64() {
            config.timeout = Duration::from_secs(timeout);
        }
        if let Some(env) = settings["env"].as_object() {
            for (k, v) in env {
                let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                config.environment.insert(k.clone(), value);
            }
        }
    }
    if let Some(memory) = overrides.memory {
        config.memory_mb = memory;
    }
    if let Some(timeout) = overrides.timeout {
        config.timeout = Duration::from_secs(timeout);
    }
    for pair in &overrides.env {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("--env `{pair}` is not KEY=VALUE");
        };
        config.environment.insert(k.to_owned(), v.to_owned());
    }
    config.max_environments = overrides.max_environments.max(1);
    Ok(config)
}

/// `cargo xtask local`.
pub async fn serve(sh: &Shell, flags: flags::Local) -> Result<()> {
    let mut configs = Vec::new();
    if let Some(bootstrap) = &flags.bootstrap {
        let name = flags
            .name
            .clone()
            .or_else(|| {
                bootstrap
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .map(str::to_owned)
            })
            .context("give the function a --name")?;
        configs.push(function_config(
            &name,
            bootstrap.clone(),
            None,
            &flags.settings,
        )?);
    } else {
        let ws = Workspace::load(sh)?;
        let names: Vec<String> = if flags.functions.is_empty() {
            ws.functions.iter().map(|f| f.bin.clone()).collect()
        } else {
            flags.functions.clone()
        };
        if names.is_empty() {
            bail!(
                "no functions to run: this workspace has no function binary; pass --bootstrap PATH"
            );
        }
        for name in names {
            let package = ws.function(&name)?;
            eprintln!("building {name} ...");
            let path = ws.build_local(sh, package, flags.release)?;
            configs.push(function_config(
                &name,
                path,
                Some(package),
                &flags.settings,
            )?);
        }
    }
    let api: SocketAddr = format!("127.0.0.1:{}", flags.port).parse()?;
    let xray: SocketAddr = format!("127.0.0.1:{}", flags.xray_port).parse()?;
    let store_slot: Arc<std::sync::OnceLock<Arc<TraceStore>>> = Arc::default();
    let observer_slot = store_slot.clone();
    let show_traces = !flags.no_traces;
    let mut builder = LocalLambda::builder()
        .api_addr(api)
        .xray_addr(xray)
        .echo(Arc::new(|function: &str, _stream: &str, line: &str| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{function} | {line}");
        }))
        .observe(Arc::new(move |_function, outcome| {
            if let (true, Some(id), Some(store)) = (
                show_traces,
                outcome.trace_id.clone(),
                observer_slot.get().cloned(),
            ) {
                tokio::spawn(async move {
                    if let Some(trace) = settled_trace(&store, &id).await {
                        println!("{}", trace.waterfall(40));
                    }
                });
            }
        }));
    for config in configs {
        builder = builder.function(config);
    }
    for origin in &flags.allow_origin {
        builder = builder.allow_origin(origin.clone());
    }
    let service = builder.start().await.map_err(|e| {
        anyhow::anyhow!("{e}\n(is another `cargo xtask local` running? pick other ports with --port and --xray-port)")
    })?;
    // Before anything is printed: a signal from now on stops the service cleanly.
    let signals = StopSignals::install()?;
    let _ = store_slot.set(service.traces().clone());
    let endpoint = service.endpoint_url();
    println!("lamplight local Lambda service");
    println!("  Lambda API   {endpoint}   (aws-sdk-lambda / AWS CLI: --endpoint-url {endpoint})");
    println!("  X-Ray sink   udp://{}", service.xray_addr());
    for name in service_function_names(&service, &flags, sh)? {
        println!("  function     {name}:  cargo xtask invoke {name} --local --payload '{{}}'");
    }
    println!("Ctrl-C stops it.");
    let signal = stop_on_signal(service, signals).await;
    eprintln!("{}: stopped the local Lambda service", signal.name());
    let _ = std::io::stdout().flush();
    // As a process killed by the signal would, for the shell and for whoever supervises us.
    std::process::exit(signal.exit_code());
}

/// A signal that stops `cargo xtask local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP (the terminal went away).
    HangUp,
}

impl StopSignal {
    /// The signal's number.
    pub fn number(self) -> i32 {
        match self {
            Self::HangUp => 1,
            Self::Interrupt => 2,
            Self::Terminate => 15,
        }
    }

    /// The exit status a shell reports for a process the signal ended: 128 plus its number.
    pub fn exit_code(self) -> i32 {
        128 + self.number()
    }

    /// `SIGINT`, `SIGTERM` or `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            Self::HangUp => "SIGHUP",
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }
}

/// Handlers for the signals that stop the service. Once installed, those signals no longer end
/// the process: [`StopSignals::recv`] reports them instead.
#[derive(Debug)]
pub struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hang_up: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs handlers for SIGINT, SIGTERM and SIGHUP.
    pub fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot handle {name}"))
        };
        Ok(Self {
            interrupt: install(SignalKind::interrupt(), "SIGINT")?,
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
            hang_up: install(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// The next stop signal.
    pub async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
            _ = self.hang_up.recv() => StopSignal::HangUp,
        }
    }
}

/// Runs until a stop signal arrives, then shuts `service` down; returns the signal.
pub async fn stop_on_signal(service: LocalLambda, mut signals: StopSignals) -> StopSignal {
    let signal = signals.recv().await;
    shutdown(service);
    signal
}

/// Stops the service now: every execution environment stops and its process group (the
/// `bootstrap` and whatever it started) is killed, and the service's work directory is removed.
/// All of it happens before this returns, so the process may exit right after.
pub fn shutdown(service: LocalLambda) {
    // `LocalLambda`'s `Drop` stops every environment, killing their process groups
    // synchronously, and its temporary work directory is removed as it is dropped.
    drop(service);
}

fn service_function_names(
    service: &LocalLambda,
    flags: &flags::Local,
    sh: &Shell,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    if let Some(name) = flags.name.clone().or_else(|| {
        flags
            .bootstrap
            .as_ref()
            .and_then(|b| b.file_stem()?.to_str().map(str::to_owned))
    }) {
        names.push(name);
    } else if flags.functions.is_empty() {
        names.extend(Workspace::load(sh)?.functions.into_iter().map(|f| f.bin));
    } else {
        names.extend(flags.functions.iter().cloned());
    }
    names.retain(|n| service.function(n).is_some());
    Ok(names)
}

/// Waits until a trace stops growing (segments arrive over UDP after the response).
pub async fn settled_trace(store: &TraceStore, id: &TraceId) -> Option<Trace> {
    let mut last = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let count = store.trace(id).map_or(0, |t| t.segments.len());
        if count > 0 && count == last {
            break;
        }
        last = count;
    }
    store.trace(id)
}

/// What one invocation produced, for printing.
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

/// `cargo xtask invoke --local`: through a running `cargo xtask local`, or else in-process.
pub async fn invoke(sh: &Shell, flags: &flags::Invoke) -> Result<Shown> {
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

/// Traces of `function` kept by a running local service (or the given ids).
pub async fn local_traces(endpoint: &str, function: &str, ids: &[String]) -> Result<Vec<Trace>> {
    let client = Client::default();
    let ids: Vec<String> = if ids.is_empty() {
        let reply = client
            .send(
                Method::GET,
                &format!("{endpoint}/lamplight/traces"),
                &[],
                Bytes::new(),
            )
            .await
            .with_context(|| {
                format!("no local Lambda service at {endpoint}: start one with `cargo xtask local`")
            })?;
        let listing: serde_json::Value =
            serde_json::from_slice(&reply.body).context("the service's trace list is not JSON")?;
        listing["traces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["id"].as_str().map(str::to_owned))
            .collect()
    } else {
        ids.to_vec()
    };
    let mut traces = Vec::new();
    for id in ids {
        let reply = client
            .send(
                Method::GET,
                &format!("{endpoint}/lamplight/traces/{id}"),
                &[],
                Bytes::new(),
            )
            .await?;
        if let Some(trace) = parse_trace(&reply.body)
            && trace.segments.iter().any(|s| s.name == function)
        {
            traces.push(trace);
        }
    }
    Ok(traces)
}

/// The trace from the service's `/lamplight/traces/{id}` answer.
fn parse_trace(body: &[u8]) -> Option<Trace> {
    serde_json::from_slice(body).ok()
}
