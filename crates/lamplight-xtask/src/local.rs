//! `cargo xtask local`: the workspace's functions (or a given bootstrap) under the local Lambda
//! service, each invocation's trace printed; and what `invoke --local` and `traces --local`
//! share with it.

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use lamplight_local::HttpShape;
use lamplight_local::serve::{Spec, StopSignals};
use lamplight_xray::Trace;
use xshell::Shell;

use crate::flags;
use crate::service;
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
    let bootstrap_shape = match &flags.http_trigger {
        Some(kind) => Some(HttpShape::from_trigger(kind, false).with_context(|| {
            format!(
                "--http-trigger {kind}: not an HTTP trigger; use http-api, function-url, rest-api or alb"
            )
        })?),
        None => None,
    };
    let ws = Workspace::load(sh)?;
    // Built while the functions build: after the first time, cargo finds it fresh at once.
    let program = service::Build::start(&ws.root, &ws.target_dir)?;
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
        // The service runs elsewhere: a relative path means the caller's directory.
        let bootstrap = std::path::absolute(bootstrap)
            .with_context(|| format!("the bootstrap path {}", bootstrap.display()))?;
        if let Some(shape) = bootstrap_shape {
            http_functions.push((name.clone(), shape));
        }
        configs.push(function_config(&name, bootstrap, None, &flags.settings)?);
    } else {
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
    let program = program.finish()?;
    let spec = Spec {
        api_addr: SocketAddr::from(([127, 0, 0, 1], flags.port)),
        xray_addr: SocketAddr::from(([127, 0, 0, 1], flags.xray_port)),
        http_addr: (!http_functions.is_empty())
            .then(|| SocketAddr::from(([127, 0, 0, 1], flags.http_port))),
        functions: configs,
        http_functions,
        allow_origins: flags.allow_origin.clone(),
        show_traces: !flags.no_traces,
    };
    // Before the service starts: from now on a signal is forwarded to it, and this process
    // waits for it to stop rather than leaving it behind.
    let signals = StopSignals::install().context("cannot handle SIGINT, SIGTERM and SIGHUP")?;
    let (service, control) = service::Service::start(&program, &spec).await?;
    let watched = async {
        match watching {
            Some((ws, names, snapshots)) => {
                if let Err(e) = watch::run(ws, control, names, &flags, snapshots).await {
                    eprintln!("{e:#}\nnot watching any more: the service goes on; Ctrl-C stops it");
                }
                std::future::pending::<()>().await;
            }
            None => {
                // Held open: the service stops when its input ends.
                let _control = control;
                std::future::pending::<()>().await;
            }
        }
    };
    let status = tokio::select! {
        status = service.wait(signals) => status?,
        () = watched => 1,
    };
    let _ = std::io::stdout().flush();
    // As the service ended (128 + n after signal n), for the shell and for whoever supervises us.
    std::process::exit(status);
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
