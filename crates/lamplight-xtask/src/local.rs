//! `cargo xtask local`: the workspace's functions (or a given bootstrap) under the local Lambda
//! service, each invocation's trace printed; and what `invoke --local` and `traces --local`
//! share with it.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lamplight_local::xray::TraceStore;
use lamplight_local::{AccessEntry, HttpShape, LocalLambda};
use lamplight_xray::{Trace, TraceId};
use xshell::Shell;

use crate::flags;
use crate::signals::{StopSignals, shutdown, stop_on_signal};
use crate::watch;
use crate::workspace::{FunctionPackage, Workspace, function_config};

/// Where `cargo xtask local` serves the Lambda API unless told otherwise.
pub(crate) const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9001";

/// The shape of the events a function's trigger sends, when it is an HTTP trigger
/// (`trigger.kind` `http-api`, `function-url`, `rest-api` or `alb`).
pub(crate) fn http_shape(package: &FunctionPackage) -> Option<HttpShape> {
    let trigger = &package.settings["trigger"];
    HttpShape::from_trigger(
        trigger["kind"].as_str()?,
        trigger["multi_value_headers"].as_bool().unwrap_or(false),
    )
}

pub(crate) async fn run(sh: &Shell, flags: flags::Local) -> Result<()> {
    let mut configs = Vec::new();
    // With --watch: the workspace, the functions rebuilt on save, and copies of their builds.
    let mut watching: Option<(Workspace, Vec<String>, watch::Snapshots)> = None;
    let mut http_functions = Vec::new();
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
        let mut snapshots = if flags.watch {
            Some(watch::Snapshots::new()?)
        } else {
            None
        };
        for name in &names {
            let package = ws.function(name)?;
            eprintln!("building {name} ...");
            let mut path = ws.build_local(sh, package, flags.release)?;
            if let Some(snapshots) = &mut snapshots {
                path = snapshots.take(name, &path)?;
            }
            if let Some(shape) = http_shape(package) {
                http_functions.push((name.clone(), shape));
            }
            configs.push(function_config(name, path, Some(package), &flags.settings)?);
        }
        if let Some(snapshots) = snapshots {
            watching = Some((ws, names, snapshots));
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
    if !http_functions.is_empty() {
        let http: SocketAddr = format!("127.0.0.1:{}", flags.http_port).parse()?;
        builder = builder
            .http_addr(http)
            .access_log(Arc::new(|entry: &AccessEntry| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "http | {entry}");
            }));
        for (name, shape) in http_functions {
            builder = builder.http_function(name, shape);
        }
    }
    for origin in &flags.allow_origin {
        builder = builder.allow_origin(origin.clone());
    }
    let service = builder.start().await.context(
        "cannot start the local Lambda service (is another `cargo xtask local` running? pick other ports with --port, --xray-port and --http-port)",
    )?;
    // Before anything is printed: a signal from now on stops the service cleanly.
    let signals = StopSignals::install()?;
    let _ = store_slot.set(service.traces().clone());
    let endpoint = service.endpoint_url();
    println!("lamplight local Lambda service");
    println!("  Lambda API   {endpoint}   (aws-sdk-lambda / AWS CLI: --endpoint-url {endpoint})");
    println!(
        "  Traces       {endpoint}/lamplight/   (invocations, logs and trace waterfalls, live)"
    );
    println!("  X-Ray sink   udp://{}", service.xray_addr());
    for name in service_function_names(&service, &flags, sh)? {
        println!("  function     {name}:  cargo xtask invoke {name} --local --payload '{{}}'");
    }
    let http = service.http_functions();
    for (name, shape) in &http {
        if let Some(url) = service.http_url(name) {
            println!("  HTTP         {url}   ({})", shape.kind());
        }
    }
    if let (1, Some(addr)) = (http.len(), service.http_addr()) {
        println!("  HTTP         http://{addr}/   (the only HTTP function, at every path)");
    }
    println!("Ctrl-C stops it.");
    let signal = match watching {
        Some((ws, names, snapshots)) => {
            let mut signals = signals;
            let watched = watch::run(ws.root, ws.target_dir, &service, names, &flags, snapshots);
            let signal = tokio::select! {
                signal = signals.recv() => signal,
                watched = watched => {
                    if let Err(e) = watched {
                        eprintln!("{e:#}\nnot watching any more: the service goes on; Ctrl-C stops it");
                    }
                    signals.recv().await
                }
            };
            shutdown(service).await;
            signal
        }
        None => stop_on_signal(service, signals).await,
    };
    eprintln!("{}: stopped the local Lambda service", signal.name());
    let _ = std::io::stdout().flush();
    // As a process killed by the signal would, for the shell and for whoever supervises us.
    std::process::exit(signal.exit_code());
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
pub(crate) async fn settled_trace(store: &TraceStore, id: &TraceId) -> Option<Trace> {
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

/// The trace from the service's `/lamplight/traces/{id}` answer.
pub(crate) fn parse_trace(body: &[u8]) -> Option<Trace> {
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn package(settings: serde_json::Value) -> FunctionPackage {
        FunctionPackage {
            package: "f".into(),
            bin: "f".into(),
            dir: PathBuf::from("functions/f"),
            metadata: serde_json::json!({ "lamplight": settings.clone() }),
            settings,
        }
    }

    #[test]
    fn http_triggers_make_http_functions() {
        let shape = |settings| http_shape(&package(settings));
        use serde_json::json;
        assert_eq!(
            shape(json!({"trigger": {"kind": "http-api"}})),
            Some(HttpShape::HttpApi)
        );
        assert_eq!(
            shape(json!({"trigger": {"kind": "function-url", "auth": "NONE"}})),
            Some(HttpShape::FunctionUrl)
        );
        assert_eq!(
            shape(json!({"trigger": {"kind": "rest-api"}})),
            Some(HttpShape::RestApi)
        );
        assert_eq!(
            shape(json!({"trigger": {"kind": "alb", "multi_value_headers": true}})),
            Some(HttpShape::Alb {
                multi_value_headers: true
            })
        );
        assert_eq!(
            shape(json!({"trigger": {"kind": "alb"}})),
            Some(HttpShape::Alb {
                multi_value_headers: false
            })
        );
        assert_eq!(shape(json!({"trigger": {"kind": "sqs"}})), None);
        assert_eq!(shape(json!({})), None);
    }
}
