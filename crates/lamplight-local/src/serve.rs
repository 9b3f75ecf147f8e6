//! The `lamplight-local` program: the service as a process of its own, driven over its stdin.
//!
//! `cargo xtask local` and `cargo xtask watch` build this program once, optimized, and run it:
//! `cargo xtask` itself is a debug build (cargo's `dev` profile, so that the first `cargo
//! xtask` stays quick to compile), and the service's hot path (hyper, tokio, serde_json) runs
//! several times slower unoptimized. The debug process keeps what it is good at (reading the
//! workspace, running cargo, watching files) and sends the service what to do:
//!
//! 1. the first line on stdin is the [`Spec`], as JSON: addresses, functions, HTTP front;
//! 2. every later line is a [`Command`] (hold invocations while a rebuild runs, deploy a new
//!    build, release the hold);
//! 3. end of input means `cargo xtask` is gone: the service stops, so it never outlives it.
//!
//! Functions' configurations travel on stdin rather than in arguments or a file because they
//! carry environment variables (an `--env-file` may hold secrets): a pipe is seen by no one
//! else. SIGINT, SIGTERM and SIGHUP stop the service (every function's process group killed,
//! the work directory removed) and the program exits as the signal would (128 + its number).

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use lamplight_xray::{Trace, TraceId};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _};

use crate::config::FunctionConfig;
use crate::service::{AccessEntry, Hold, HttpShape, LocalLambda};
use crate::xray::TraceStore;

/// The service to run: the first line of the program's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// The Lambda API (Invoke, control plane, traces, the trace page).
    pub api_addr: SocketAddr,
    /// The X-Ray daemon sink.
    pub xray_addr: SocketAddr,
    /// The HTTP front, when there are HTTP functions.
    pub http_addr: Option<SocketAddr>,
    /// The functions, registered at start.
    pub functions: Vec<FunctionConfig>,
    /// The functions the HTTP front serves, with the shape of their trigger's events.
    pub http_functions: Vec<(String, HttpShape)>,
    /// Browser origins allowed besides loopback ones.
    pub allow_origins: Vec<String>,
    /// Print each invocation's trace waterfall once its segments have arrived.
    pub show_traces: bool,
}

/// What `cargo xtask watch` asks of a running service: one JSON line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// New invocations of these functions wait (a rebuild is running) until [`Command::Release`].
    Hold {
        /// Function names.
        functions: Vec<String>,
    },
    /// Register this build of a function in place of the running one, and say so with how long
    /// the reload took since the save that started it.
    Deploy {
        /// The function as it is now.
        function: Box<FunctionConfig>,
        /// Milliseconds between the save and this command.
        since_ms: u64,
    },
    /// Invocations held by [`Command::Hold`] go on (on whatever is registered by now).
    Release,
}

/// A signal that stops the service.
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
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hang_up: signal(SignalKind::hangup())?,
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
    shutdown(service).await;
    signal
}

/// Stops the service: every execution environment shuts down as Lambda's do (with extensions,
/// SHUTDOWN and SIGTERM, then a kill after the grace period of at most 2 s; without, a kill at
/// once), then the service's work directory is removed. All of it happens before this returns,
/// so the process may exit right after.
pub async fn shutdown(service: LocalLambda) {
    service.shutdown().await;
    // `LocalLambda`'s `Drop` kills what is left, synchronously, and its temporary work
    // directory is removed as it is dropped.
    drop(service);
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

/// Why the program could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Nothing arrived on stdin.
    #[error(
        "no service spec on stdin: `lamplight-local` is run by `cargo xtask local`, which writes a JSON `Spec` line to it"
    )]
    NoSpec,
    /// The first line is not a spec.
    #[error("the service spec on stdin is not valid: {0}")]
    BadSpec(#[source] serde_path_to_error::Error<serde_json::Error>),
    /// Reading stdin failed.
    #[error("cannot read stdin: {0}")]
    Stdin(#[source] std::io::Error),
    /// The service did not start.
    #[error(
        "cannot start the local Lambda service: {0} (is another `cargo xtask local` running? pick other ports with --port, --xray-port and --http-port)"
    )]
    Start(#[source] crate::error::ApiError),
    /// The signal handlers could not be installed.
    #[error("cannot handle SIGINT, SIGTERM and SIGHUP: {0}")]
    Signals(#[source] std::io::Error),
}

/// The program: reads the spec from `input`, serves, follows the commands after it, and returns
/// the exit status (0 when input ended, 128 + n after signal n).
pub async fn serve(input: impl AsyncBufRead + Unpin) -> Result<i32, ServeError> {
    let mut lines = input.lines();
    let first = lines
        .next_line()
        .await
        .map_err(ServeError::Stdin)?
        .ok_or(ServeError::NoSpec)?;
    let spec: Spec =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(&first))
            .map_err(ServeError::BadSpec)?;
    let service = start(&spec).await?;
    // Before anything is printed: a signal from now on stops the service cleanly.
    let mut signals = StopSignals::install().map_err(ServeError::Signals)?;
    banner(&service, &spec);
    let mut holds: Vec<Hold> = Vec::new();
    loop {
        tokio::select! {
            signal = signals.recv() => {
                drop(holds);
                shutdown(service).await;
                eprintln!("{}: stopped the local Lambda service", signal.name());
                let _ = std::io::stdout().flush();
                return Ok(signal.exit_code());
            }
            line = lines.next_line() => match line {
                Ok(Some(line)) if line.trim().is_empty() => {}
                Ok(Some(line)) => match serde_json::from_str::<Command>(&line) {
                    Ok(command) => follow(&service, command, &mut holds).await,
                    Err(e) => eprintln!("lamplight-local: ignored a command that is not valid ({e}): {line}"),
                },
                // `cargo xtask` is gone (or closed its end): so is the service.
                Ok(None) | Err(_) => {
                    drop(holds);
                    shutdown(service).await;
                    let _ = std::io::stdout().flush();
                    return Ok(0);
                }
            },
        }
    }
}

async fn start(spec: &Spec) -> Result<LocalLambda, ServeError> {
    let store_slot: Arc<OnceLock<Arc<TraceStore>>> = Arc::default();
    let observer_slot = store_slot.clone();
    let show_traces = spec.show_traces;
    let mut builder = LocalLambda::builder()
        .api_addr(spec.api_addr)
        .xray_addr(spec.xray_addr)
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
    for config in &spec.functions {
        builder = builder.function(config.clone());
    }
    if let Some(http) = spec.http_addr
        && !spec.http_functions.is_empty()
    {
        builder = builder
            .http_addr(http)
            .access_log(Arc::new(|entry: &AccessEntry| {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "http | {entry}");
            }));
        for (name, shape) in &spec.http_functions {
            builder = builder.http_function(name.clone(), *shape);
        }
    }
    for origin in &spec.allow_origins {
        builder = builder.allow_origin(origin.clone());
    }
    let service = builder.start().await.map_err(ServeError::Start)?;
    let _ = store_slot.set(service.traces().clone());
    Ok(service)
}

fn banner(service: &LocalLambda, spec: &Spec) {
    let endpoint = service.endpoint_url();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "lamplight local Lambda service");
    let _ = writeln!(
        out,
        "  Lambda API   {endpoint}   (aws-sdk-lambda / AWS CLI: --endpoint-url {endpoint})"
    );
    let _ = writeln!(
        out,
        "  Traces       {endpoint}/lamplight/   (invocations, logs and trace waterfalls, live)"
    );
    let _ = writeln!(out, "  X-Ray sink   udp://{}", service.xray_addr());
    for config in &spec.functions {
        let name = &config.name;
        let _ = writeln!(
            out,
            "  function     {name}:  cargo xtask invoke {name} --local --payload '{{}}'"
        );
    }
    let http = service.http_functions();
    for (name, shape) in &http {
        if let Some(url) = service.http_url(name) {
            let _ = writeln!(out, "  HTTP         {url}   ({})", shape.kind());
        }
    }
    if let (1, Some(addr)) = (http.len(), service.http_addr()) {
        let _ = writeln!(
            out,
            "  HTTP         http://{addr}/   (the only HTTP function, at every path)"
        );
    }
    let _ = writeln!(out, "Ctrl-C stops it.");
}

async fn follow(service: &LocalLambda, command: Command, holds: &mut Vec<Hold>) {
    match command {
        Command::Hold { functions } => {
            for name in functions {
                holds.push(service.hold(&name).await);
            }
        }
        Command::Deploy { function, since_ms } => {
            let received = Instant::now();
            let name = function.name.clone();
            match service.add_function(*function).await {
                Ok(_) => {
                    let took = Duration::from_millis(since_ms) + received.elapsed();
                    println!("reloaded {name} in {:.1} s", took.as_secs_f64());
                }
                Err(e) => eprintln!("reloading {name} failed: {e}"),
            }
        }
        Command::Release => holds.clear(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Code;

    #[test]
    fn commands_are_one_json_line_each_and_round_trip() {
        let commands = [
            Command::Hold {
                functions: vec!["a".into(), "b".into()],
            },
            Command::Deploy {
                function: Box::new(
                    FunctionConfig::new("a", Code::Bootstrap("/x/bootstrap".into())).env("K", "V"),
                ),
                since_ms: 1200,
            },
            Command::Release,
        ];
        for command in commands {
            let line = serde_json::to_string(&command).expect("serialize");
            assert!(!line.contains('\n'), "{line}");
            let back: Command = serde_json::from_str(&line).expect("parse");
            assert_eq!(back, command);
        }
    }

    #[tokio::test]
    async fn no_spec_or_a_bad_one_is_a_clear_error() {
        let empty: &[u8] = b"";
        assert!(matches!(serve(empty).await, Err(ServeError::NoSpec)));
        let bad: &[u8] = b"{\"api_addr\": 1}\n";
        let err = serve(bad).await.expect_err("bad spec");
        assert!(matches!(err, ServeError::BadSpec(_)), "{err}");
        assert!(err.to_string().contains("api_addr"), "{err}");
    }

    #[tokio::test]
    async fn the_service_stops_when_its_input_ends() {
        let spec = Spec {
            api_addr: "127.0.0.1:0".parse().expect("addr"),
            xray_addr: "127.0.0.1:0".parse().expect("addr"),
            http_addr: None,
            functions: Vec::new(),
            http_functions: Vec::new(),
            allow_origins: Vec::new(),
            show_traces: false,
        };
        let input = format!(
            "{}\n{}\n",
            serde_json::to_string(&spec).expect("spec"),
            serde_json::to_string(&Command::Release).expect("command")
        );
        let status = tokio::time::timeout(Duration::from_secs(20), serve(input.as_bytes()))
            .await
            .expect("stops at the end of input")
            .expect("serves");
        assert_eq!(status, 0);
    }
}
