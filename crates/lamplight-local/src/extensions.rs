//! The Extensions API (2020-01-01) of one execution environment, and its external extensions.
//!
//! Served on the environment's `AWS_LAMBDA_RUNTIME_API` address next to the Runtime API:
//! `POST /2020-01-01/extension/register`, `GET /2020-01-01/extension/event/next`,
//! `POST /2020-01-01/extension/init/error` and `POST /2020-01-01/extension/exit/error`.
//!
//! What matches Lambda:
//! - external extensions are the executables in each layer's `extensions/` directory, started
//!   before the runtime with the function's environment, their output in the function's log;
//!   the runtime starts once each has registered (or exited);
//! - init completes only when the runtime and every registered extension have called `next`,
//!   and an environment takes its next invocation only once every extension has called `next`
//!   again after its `INVOKE` event ([`Extensions::wait_ready`]);
//! - internal extensions (any other name, registered from the runtime's process) cannot
//!   subscribe to `SHUTDOWN`;
//! - shutdown ([`Extensions::begin_shutdown`]): `SHUTDOWN` to the subscribed extensions, a
//!   grace period of 0 ms without extensions, 500 ms with internal ones only and 2000 ms with an
//!   external one, then everything is killed.
//!
//! An extension is arbitrary code: a request without a name or identifier, with an unknown
//! identifier, a second registration of a name, or one after init is refused with a 4xx and an
//! `errorType`, never a panic.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::invocation::error_body;
use crate::logs::now_ms;
use crate::output::Output;
use crate::process::{Process, describe};

/// How long extensions and the runtime get after `SHUTDOWN` when only internal extensions are
/// registered.
pub(crate) const GRACE_INTERNAL: Duration = Duration::from_millis(500);
/// ... and when an external extension is registered.
pub(crate) const GRACE_EXTERNAL: Duration = Duration::from_millis(2000);
/// The most extensions a function may have, as Lambda.
pub(crate) const MAX_EXTENSIONS: usize = 10;
/// The largest register or error body read.
const MAX_BODY: usize = 64 * 1024;

const NAME: &str = "lambda-extension-name";
const IDENTIFIER: &str = "lambda-extension-identifier";
const ACCEPT_FEATURE: &str = "lambda-extension-accept-feature";
const ERROR_TYPE: &str = "lambda-extension-function-error-type";

/// Why an environment shuts down, as `SHUTDOWN`'s `shutdownReason` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShutdownReason {
    /// Recycled, replaced, or the service stopping.
    Spindown,
    /// An invocation timed out.
    Timeout,
    /// The runtime failed (crashed, or init failed).
    Failure,
}

impl ShutdownReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::Spindown => "spindown",
            Self::Timeout => "timeout",
            Self::Failure => "failure",
        }
    }
}

/// What the register answer tells an extension about the function.
pub(crate) struct FunctionInfo {
    pub name: String,
    pub version: String,
    pub handler: String,
    pub account: String,
}

/// What the environment lends its extensions: its log, and its way of failing init.
pub(crate) struct Hooks {
    pub log: Arc<dyn Fn(String) + Send + Sync>,
    /// An extension failed init: `(errorType, error document)`, the document's request id
    /// still the `{id}` placeholder.
    pub init_failed: Arc<dyn Fn(String, Bytes) + Send + Sync>,
}

/// One registered extension.
struct Registered {
    id: String,
    name: String,
    external: bool,
    invoke: bool,
    shutdown: bool,
    /// Events not yet handed over by `next`.
    events: VecDeque<Value>,
    /// Handed an event (or registered) and has not called `next` since.
    busy: bool,
    /// Its process exited: no longer waited for.
    gone: bool,
}

/// An external extension's process.
struct Launched {
    name: String,
    process: Arc<Process>,
    running: bool,
}

#[derive(Default)]
struct ExtState {
    registered: Vec<Registered>,
    launched: Vec<Launched>,
    init_done: bool,
    init_failed: bool,
    /// When shutdown began, the moment everything is killed.
    shutdown_deadline: Option<Instant>,
    stopped: bool,
}

/// One environment's extensions.
pub(crate) struct Extensions {
    info: FunctionInfo,
    hooks: Hooks,
    state: Mutex<ExtState>,
    /// Bumped on every change waiters look at.
    changed: watch::Sender<()>,
    output: Output,
}

impl Extensions {
    pub fn new(info: FunctionInfo, hooks: Hooks) -> Arc<Self> {
        Arc::new(Self {
            info,
            hooks,
            state: Mutex::default(),
            changed: watch::Sender::new(()),
            output: Output::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, ExtState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake(&self) {
        self.changed.send_replace(());
    }

    /// Waits until `done` holds for the state (checked after every change).
    async fn wait_until(&self, mut done: impl FnMut(&ExtState) -> bool) {
        let mut rx = self.changed.subscribe();
        loop {
            if done(&self.state()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// The executables in each layer's `extensions/`, in name order per layer as Lambda starts
    /// them.
    pub fn find(layers: &[PathBuf]) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for layer in layers {
            let Ok(entries) = std::fs::read_dir(layer.join("extensions")) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| is_executable(p))
                .collect();
            files.sort();
            found.extend(files);
        }
        found
    }

    /// Starts the external extensions `paths` with `env`, then waits until each has registered
    /// or exited, or `deadline`. An extension that exits before init is over fails it.
    pub async fn launch(
        self: &Arc<Self>,
        paths: Vec<PathBuf>,
        env: &[(String, String)],
        deadline: Instant,
    ) {
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut command = tokio::process::Command::new(&path);
            command
                .env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                // Its own group: killing it ends what it started too.
                .process_group(0)
                .kill_on_drop(true);
            if let Some(layer) = path.parent().and_then(Path::parent) {
                command.current_dir(layer);
            }
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => {
                    self.fail_init(
                        "Extension.LaunchError",
                        &format!("could not start the extension {}: {e}", path.display()),
                    );
                    return;
                }
            };
            let process = Arc::new(Process::default());
            let group = process.adopt(&child);
            for pipe in [
                child.stdout.take().map(Pipe::Out),
                child.stderr.take().map(Pipe::Err),
            ]
            .into_iter()
            .flatten()
            {
                let log = self.hooks.log.clone();
                match pipe {
                    Pipe::Out(p) => self.output.capture(p, move |line| log(line)),
                    Pipe::Err(p) => self.output.capture(p, move |line| log(line)),
                }
            }
            self.state().launched.push(Launched {
                name: name.clone(),
                process: process.clone(),
                running: true,
            });
            let this = self.clone();
            tokio::spawn(async move {
                let status = process.wait(child, group).await;
                this.exited(&name, status);
            });
        }
        let waited = tokio::time::timeout_at(
            deadline.into(),
            self.wait_until(|s| {
                s.stopped
                    || s.init_failed
                    || s.launched
                        .iter()
                        .all(|l| !l.running || s.registered.iter().any(|r| r.name == l.name))
            }),
        )
        .await;
        if waited.is_err() {
            (self.hooks.log)(
                "EXTENSION\tthe external extensions did not all register before the init timeout"
                    .to_owned(),
            );
        }
    }

    /// An external extension's process is gone.
    fn exited(&self, name: &str, status: Option<ExitStatus>) {
        let (during_init, shutting_down) = {
            let mut state = self.state();
            for l in state.launched.iter_mut().filter(|l| l.name == name) {
                l.running = false;
            }
            for r in state.registered.iter_mut().filter(|r| r.name == name) {
                r.gone = true;
            }
            (
                !state.init_done && !state.stopped,
                state.shutdown_deadline.is_some() || state.stopped,
            )
        };
        self.wake();
        let how = status.map_or_else(
            || "exited".to_owned(),
            |s| format!("exited: {}", describe(s)),
        );
        if during_init {
            self.fail_init(
                "Extension.Crash",
                &format!("the extension {name} {how} during init"),
            );
        } else if !shutting_down {
            (self.hooks.log)(format!("EXTENSION\tName: {name}\tState: Crashed\t{how}"));
        }
    }

    /// Fails the environment's init with `error_type`, once.
    fn fail_init(&self, error_type: &str, message: &str) {
        {
            let mut state = self.state();
            if state.init_failed {
                return;
            }
            state.init_failed = true;
        }
        (self.hooks.log)(format!("EXTENSION\t{message}"));
        let body = error_body(error_type, &format!("RequestId: {{id}} Error: {message}"));
        // The environment holds the error before anything waiting on init can see it fail.
        (self.hooks.init_failed)(error_type.to_owned(), body);
        self.wake();
    }

    /// Queues `INVOKE` for the extensions subscribed to it.
    pub fn invoke(&self, event: &Value) {
        {
            let mut state = self.state();
            for r in state.registered.iter_mut().filter(|r| r.invoke && !r.gone) {
                r.events.push_back(event.clone());
            }
        }
        self.wake();
    }

    /// Waits until every registered extension has called `next` and has nothing left to take,
    /// for at most `limit`; false when one did not in time or an extension failed init (the
    /// environment is then stopped). The first call ends init.
    pub async fn wait_ready(&self, limit: Duration) -> bool {
        let ready = tokio::time::timeout(
            limit,
            self.wait_until(|s| {
                s.stopped
                    || s.init_failed
                    || s.registered
                        .iter()
                        .all(|r| r.gone || (!r.busy && r.events.is_empty()))
            }),
        )
        .await
        .is_ok();
        let (stopped, late) = {
            let mut state = self.state();
            if state.init_failed {
                return false;
            }
            let late: Vec<String> = state
                .registered
                .iter()
                .filter(|r| !r.gone && (r.busy || !r.events.is_empty()))
                .map(|r| r.name.clone())
                .collect();
            if ready && !state.stopped {
                state.init_done = true;
            }
            (state.stopped, late)
        };
        if !late.is_empty() && (!ready || stopped) {
            let late = late.join(", ");
            (self.hooks.log)(if ready {
                format!(
                    "EXTENSION\tthe extensions [{late}] had not called next when the environment stopped"
                )
            } else {
                format!(
                    "EXTENSION\tthe extensions [{late}] did not call next within {:.2} seconds",
                    limit.as_secs_f64()
                )
            });
        }
        ready && !stopped
    }

    /// Starts shutdown: `SHUTDOWN` to the subscribed extensions. Returns when everything is to
    /// be killed, or `None` when no extension is registered or running (Lambda then gives no
    /// grace period). Later calls return the first deadline.
    pub fn begin_shutdown(&self, reason: ShutdownReason) -> Option<Instant> {
        let deadline = {
            let mut state = self.state();
            if let Some(deadline) = state.shutdown_deadline {
                return Some(deadline);
            }
            let external = state.registered.iter().any(|r| r.external)
                || state.launched.iter().any(|l| l.running);
            if state.registered.is_empty() && !external {
                return None;
            }
            let grace = if external {
                GRACE_EXTERNAL
            } else {
                GRACE_INTERNAL
            };
            let deadline = Instant::now() + grace;
            state.shutdown_deadline = Some(deadline);
            let event = json!({
                "eventType": "SHUTDOWN",
                "shutdownReason": reason.as_str(),
                "deadlineMs": now_ms() + grace.as_millis() as u64,
            });
            for r in state
                .registered
                .iter_mut()
                .filter(|r| r.shutdown && !r.gone)
            {
                r.events.push_back(event.clone());
            }
            deadline
        };
        self.wake();
        Some(deadline)
    }

    /// After the runtime is gone: shutdown (reason `failure` unless it already began), then a
    /// wait until the extensions' processes exit or the grace period ends, then they are killed.
    pub async fn wind_down(&self, reason: ShutdownReason) {
        if let Some(deadline) = self.begin_shutdown(reason) {
            let _ = tokio::time::timeout_at(
                deadline.into(),
                self.wait_until(|s| s.launched.iter().all(|l| !l.running)),
            )
            .await;
        }
        self.kill();
        // Gone means reaped: the environment ends with its processes.
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            self.wait_until(|s| s.launched.iter().all(|l| !l.running)),
        )
        .await;
        self.output.drain().await;
    }

    /// Whether [`Self::kill`] ran: the environment is stopping.
    pub fn is_stopped(&self) -> bool {
        self.state().stopped
    }

    /// Kills every extension process now.
    pub fn kill(&self) {
        let processes: Vec<Arc<Process>> = {
            let mut state = self.state();
            state.stopped = true;
            state.launched.iter().map(|l| l.process.clone()).collect()
        };
        for p in processes {
            p.stop();
        }
        self.wake();
    }

    /// The Extensions API's routes, to serve next to the Runtime API.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/2020-01-01/extension/register", post(register))
            .route("/2020-01-01/extension/event/next", get(next))
            .route("/2020-01-01/extension/init/error", post(init_error))
            .route("/2020-01-01/extension/exit/error", post(exit_error))
            .with_state(self.clone())
    }

    /// The registered extension `headers` name, or the answer refusing the request.
    fn identify(&self, headers: &HeaderMap) -> Result<(String, String), Refusal> {
        let Some(id) = header(headers, IDENTIFIER) else {
            return Err(Refusal {
                error_type: "Extension.MissingExtensionIdentifier",
                message: "missing the Lambda-Extension-Identifier header: register first",
            });
        };
        self.state()
            .registered
            .iter()
            .find(|r| r.id == id)
            .map(|r| (r.id.clone(), r.name.clone()))
            .ok_or(Refusal {
                error_type: "Extension.UnknownExtensionIdentifier",
                message: "no extension is registered with this Lambda-Extension-Identifier",
            })
    }
}

/// A request from no registered extension: 403, as Lambda answers it.
struct Refusal {
    error_type: &'static str,
    message: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        refuse(StatusCode::FORBIDDEN, self.error_type, self.message)
    }
}

enum Pipe {
    Out(tokio::process::ChildStdout),
    Err(tokio::process::ChildStderr),
}

#[derive(Deserialize)]
struct RegisterBody {
    #[serde(default)]
    events: Vec<EventType>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
enum EventType {
    Invoke,
    Shutdown,
}

async fn register(State(ext): State<Arc<Extensions>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(name) = header(&headers, NAME) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "missing the Lambda-Extension-Name header",
        );
    };
    let parsed: RegisterBody = if body.is_empty() {
        RegisterBody { events: Vec::new() }
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    &format!(
                        "the register body must be {{\"events\": [\"INVOKE\" | \"SHUTDOWN\", ...]}}: {e}"
                    ),
                );
            }
        }
    };
    let invoke = parsed.events.contains(&EventType::Invoke);
    let shutdown = parsed.events.contains(&EventType::Shutdown);
    let id = uuid::Uuid::new_v4().to_string();
    let external = {
        let mut state = ext.state();
        if state.init_done {
            return refuse(
                StatusCode::FORBIDDEN,
                "Extension.RegistrationAfterInit",
                "extensions register during init; this execution environment's init is over",
            );
        }
        if state.registered.iter().any(|r| r.name == name) {
            return refuse(
                StatusCode::CONFLICT,
                "Extension.AlreadyRegistered",
                &format!("an extension named {name} is already registered"),
            );
        }
        if state.registered.len() >= MAX_EXTENSIONS {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Extension.TooManyExtensions",
                &format!("a function has at most {MAX_EXTENSIONS} extensions"),
            );
        }
        let external = state.launched.iter().any(|l| l.name == name && l.running);
        if shutdown && !external {
            return refuse(
                StatusCode::BAD_REQUEST,
                "ShutdownEventNotSupportedForInternalExtension",
                &format!(
                    "{name} is an internal extension (no executable of that name in a layer's extensions/), and internal extensions cannot subscribe to SHUTDOWN"
                ),
            );
        }
        state.registered.push(Registered {
            id: id.clone(),
            name: name.clone(),
            external,
            invoke,
            shutdown,
            events: VecDeque::new(),
            busy: true,
            gone: false,
        });
        external
    };
    ext.wake();
    if !external {
        return registered(&ext, &headers, &id);
    }
    let events: Vec<&str> = [(invoke, "INVOKE"), (shutdown, "SHUTDOWN")]
        .into_iter()
        .filter_map(|(on, e)| on.then_some(e))
        .collect();
    (ext.hooks.log)(format!(
        "EXTENSION\tName: {name}\tState: Registered\tEvents: [{}]",
        events.join(", ")
    ));
    registered(&ext, &headers, &id)
}

/// The answer to a registration: the function, and the extension's identifier.
fn registered(ext: &Extensions, headers: &HeaderMap, id: &str) -> Response {
    let mut answer = json!({
        "functionName": ext.info.name,
        "functionVersion": ext.info.version,
        "handler": ext.info.handler,
    });
    if header(headers, ACCEPT_FEATURE)
        .is_some_and(|f| f.split(',').any(|f| f.trim() == "accountId"))
    {
        answer["accountId"] = Value::String(ext.info.account.clone());
    }
    let mut response = (StatusCode::OK, axum::Json(answer)).into_response();
    if let Ok(value) = HeaderValue::from_str(id) {
        response.headers_mut().insert(IDENTIFIER, value);
    }
    response
}

async fn next(State(ext): State<Arc<Extensions>>, headers: HeaderMap) -> Response {
    let id = match ext.identify(&headers) {
        Ok((id, _)) => id,
        Err(refused) => return refused.into_response(),
    };
    let mut rx = ext.changed.subscribe();
    loop {
        let (event, now_idle) = {
            let mut state = ext.state();
            let Some(r) = state.registered.iter_mut().find(|r| r.id == id) else {
                break;
            };
            match r.events.pop_front() {
                Some(event) => {
                    r.busy = true;
                    (Some(event), false)
                }
                None => (None, std::mem::replace(&mut r.busy, false)),
            }
        };
        if let Some(event) = event {
            let mut response = (StatusCode::OK, axum::Json(event)).into_response();
            if let Ok(value) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
                response
                    .headers_mut()
                    .insert("lambda-extension-event-identifier", value);
            }
            return response;
        }
        if now_idle {
            // Init, or the environment's next invocation, may have been waiting for this one.
            ext.wake();
        }
        if rx.changed().await.is_err() {
            break;
        }
    }
    refuse(
        StatusCode::GONE,
        "EnvironmentStopped",
        "this execution environment is shutting down",
    )
}

async fn init_error(
    State(ext): State<Arc<Extensions>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, name) = match ext.identify(&headers) {
        Ok(found) => found,
        Err(refused) => return refused.into_response(),
    };
    if ext.state().init_done {
        return refuse(
            StatusCode::FORBIDDEN,
            "Extension.InvalidStateTransition",
            "init/error is for init; this execution environment's init is over (use exit/error)",
        );
    }
    let reported = header(&headers, ERROR_TYPE).unwrap_or_else(|| "Extension.Unknown".into());
    let detail = error_message(&body);
    ext.fail_init(
        "Extension.InitError",
        &format!("the extension {name} failed to initialise: {reported}{detail}"),
    );
    accepted()
}

async fn exit_error(
    State(ext): State<Arc<Extensions>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, name) = match ext.identify(&headers) {
        Ok(found) => found,
        Err(refused) => return refused.into_response(),
    };
    let reported = header(&headers, ERROR_TYPE).unwrap_or_else(|| "Extension.Unknown".into());
    let detail = error_message(&body);
    (ext.hooks.log)(format!(
        "EXTENSION\tName: {name}\tState: ExitError\tError Type: {reported}{detail}"
    ));
    accepted()
}

/// `: <errorMessage>` from an error body, when it has one (at most [`MAX_BODY`] bytes read).
fn error_message(body: &[u8]) -> String {
    let body = &body[..body.len().min(MAX_BODY)];
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn refuse(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
