//! One execution environment: the invocations it runs, from the Runtime API's `/next` to the
//! `REPORT` line, composed from its [`Lifecycle`] (the runtime's process and output), its
//! [`Slot`] (what the Runtime API sees) and its deployment (seen as an [`EnvironmentHost`]).
//!
//! Here: handing work over, starting and finishing invocations, timeouts, and what the
//! runtime's exit means for the invocations it held (finished, requeued, or failed as init).

use std::net::SocketAddr;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::net::TcpListener;

use crate::config::Code;
use crate::extensions::{Extensions, FunctionInfo, Hooks, ShutdownReason};
use crate::host::EnvironmentHost;
use crate::invocation::{FunctionResult, Outcome, Pending, StreamTap, error_body};
use crate::lifecycle::{Launch, Lifecycle, exit_reason};
use crate::logs::{Report, now_ms, peak_memory_mb};
use crate::runtime_api::{NextInvocation, RuntimeApiBackend};
use crate::segments::{Finished, invocation_segments};
use crate::slot::{InFlight, Slot, SlotState};

/// The deployment an environment belongs to, seen through [`EnvironmentHost`].
pub(crate) type Host = Arc<dyn EnvironmentHost<Environment = Environment>>;

pub(crate) struct Environment {
    id: u64,
    stream: String,
    deployment: Host,
    runtime_api: SocketAddr,
    slot: Slot,
    lifecycle: Arc<Lifecycle>,
    extensions: Arc<Extensions>,
}

impl Environment {
    /// Starts an environment. On failure before it could take `first`, gives it back.
    #[allow(clippy::type_complexity)]
    pub async fn start(
        deployment: Host,
        id: u64,
        first: Option<Pending>,
    ) -> Result<Arc<Self>, (std::io::Error, Option<Pending>)> {
        let listener = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await {
            Ok(l) => l,
            Err(e) => return Err((e, first)),
        };
        let runtime_api = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return Err((e, first)),
        };
        let has_first = first.is_some();
        let slot = Slot::new(first, deployment.config().concurrency());
        let stream = log_stream_name(deployment.version());
        let env = Arc::new_cyclic(|weak: &std::sync::Weak<Self>| {
            let config = deployment.config();
            let info = FunctionInfo {
                name: config.name.clone(),
                version: deployment.version().to_owned(),
                handler: config.handler.clone(),
                account: deployment.context().account.clone(),
            };
            let log = weak.clone();
            let failed = weak.clone();
            let hooks = Hooks {
                log: Arc::new(move |line| {
                    if let Some(env) = log.upgrade() {
                        env.log_line(line);
                    }
                }),
                init_failed: Arc::new(move |error_type, body| {
                    if let Some(env) = failed.upgrade() {
                        env.init_failed(error_type, body);
                    }
                }),
            };
            Self {
                id,
                stream,
                deployment: deployment.clone(),
                runtime_api,
                slot,
                lifecycle: Lifecycle::new(),
                extensions: Extensions::new(info, hooks),
            }
        });
        deployment.register(env.clone());
        let server = tokio::spawn(crate::runtime_api::serve(
            listener,
            env.clone(),
            env.extensions.router(),
        ));
        env.lifecycle.serving(server.abort_handle());

        match &deployment.config().code {
            Code::External => env.lifecycle.watch_external(env.on_exit()),
            Code::Bootstrap(path) => {
                let external = Extensions::find(&deployment.config().layers);
                if external.is_empty() {
                    env.spawn_runtime(path.clone(), has_first);
                } else {
                    // As Lambda: external extensions start, and register, before the runtime.
                    let env = env.clone();
                    let path = path.clone();
                    tokio::spawn(async move {
                        let vars = env.launch_env();
                        env.extensions
                            .launch(external, &vars, env.init_deadline())
                            .await;
                        if env.state().init_error.is_some() || env.extensions.is_stopped() {
                            env.exited(None).await;
                        } else {
                            env.spawn_runtime(path, has_first);
                        }
                    });
                }
            }
        }
        Ok(env)
    }

    /// The environment variables of the runtime and of external extensions.
    fn launch_env(&self) -> Vec<(String, String)> {
        let d = &self.deployment;
        d.context().environment_for(
            d.config(),
            d.version(),
            d.task_root(),
            self.runtime_api,
            &self.stream,
        )
    }

    /// What the lifecycle calls once the runtime is gone.
    fn on_exit(self: &Arc<Self>) -> crate::lifecycle::OnExit {
        let env = self.clone();
        Box::new(move |status| Box::pin(async move { env.exited(status).await }))
    }

    fn spawn_runtime(self: &Arc<Self>, path: std::path::PathBuf, has_first: bool) {
        let d = &self.deployment;
        let launch = Launch {
            env: self.launch_env(),
            cwd: d.task_root().map(ToOwned::to_owned),
            path,
        };
        let log = {
            let env = self.clone();
            Arc::new(move |line| env.log_line(line))
        };
        if let Err(e) = self.lifecycle.spawn(launch, log, self.on_exit()) {
            self.log_line("INIT_REPORT Init Duration: 0.00 ms\tPhase: init\tStatus: error\tError Type: Runtime.InvalidEntrypoint".to_owned());
            self.state().init_error = Some((
                "Runtime.InvalidEntrypoint".into(),
                error_body(
                    "Runtime.InvalidEntrypoint",
                    &format!("RequestId: {{id}} Error: {e}"),
                ),
            ));
            let this = self.clone();
            tokio::spawn(async move { this.exited(None).await });
            return;
        }
        if has_first {
            let timer = self.clone();
            // From the environment's start: external extensions' init counts too.
            let deadline = self.init_deadline();
            tokio::spawn(async move {
                tokio::time::sleep_until(deadline.into()).await;
                let mut state = timer.state();
                if state.init_duration.is_none() && !state.dead {
                    state.init_timed_out = true;
                    drop(state);
                    timer.stop();
                }
            });
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.slot.state()
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn runtime_api(&self) -> SocketAddr {
        self.runtime_api
    }

    /// Gives this (idle) environment its next invocation; hands it back if the environment is gone.
    // The error is the caller's own value coming back, not a new allocation worth boxing.
    #[allow(clippy::result_large_err)]
    pub fn assign(&self, pending: Pending) -> Result<(), Pending> {
        self.slot.assign(pending)
    }

    /// Concurrent mode: whether nothing is handed over to or running in this environment.
    pub fn is_unloaded(&self) -> bool {
        self.state().load == 0
    }

    /// Stops the environment: kills its process group now (callers include `Drop`, when no
    /// task may run again), then lets the watcher fail or requeue what it held.
    pub fn stop(&self) {
        self.lifecycle.stop();
        self.extensions.kill();
    }

    /// Shuts the environment down as Lambda does: with extensions registered, `SHUTDOWN` to
    /// those subscribed and SIGTERM to the runtime, then everything is killed after the grace
    /// period (500 ms, 2 s with an external extension); without, it is killed at once.
    pub fn shut_down(self: &Arc<Self>, reason: ShutdownReason) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.stop();
            return;
        };
        let Some(deadline) = self.extensions.begin_shutdown(reason) else {
            self.stop();
            return;
        };
        self.lifecycle.terminate();
        let env = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            env.stop();
        });
    }

    /// When the running invocation `request_id` times out, if it is running here.
    pub fn deadline(&self, request_id: &str) -> Option<Instant> {
        let timeout = self.deployment.config().timeout;
        let mut state = self.state();
        if let Some(at) = state.timed_out.iter().position(|id| id == request_id) {
            // The late answer of an invocation that timed out in concurrent mode: its caller
            // has its error already; the place it held is free now.
            state.timed_out.swap_remove(at);
            state.load = state.load.saturating_sub(1);
            return None;
        }
        state.running(request_id).map(|f| f.started + timeout)
    }

    /// When the runtime has to be done initialising.
    pub fn init_deadline(&self) -> Instant {
        self.lifecycle.started() + self.deployment.config().init_timeout
    }

    /// One line of the environment's output (or of the service about it).
    pub fn log_line(&self, line: String) {
        if self.slot.is_concurrent() {
            self.state().route_line(&line);
        } else {
            self.state().log.push_line(&line);
        }
        self.deployment.logs().push(&self.stream, line);
    }

    /// `GET /runtime/invocation/next`: waits for work and starts it.
    pub async fn next_invocation(self: &Arc<Self>) -> Option<NextInvocation> {
        if self.slot.is_concurrent() {
            return self.next_concurrent().await;
        }
        let unanswered = {
            let state = self.state();
            state
                .in_flight
                .first()
                .map(|f| f.pending.request_id.clone())
        };
        if let Some(request_id) = unanswered {
            let message = format!(
                "RequestId: {request_id} Error: the runtime asked for the next invocation without answering this one"
            );
            self.finish(
                &request_id,
                FunctionResult::Error {
                    error_type: "Runtime.NoResponse".into(),
                    body: error_body("Runtime.NoResponse", &message),
                },
                Some("error"),
            )
            .await;
        }
        // Init ends, and an invocation's environment is reused, only once every extension
        // has called `next` too.
        let initialising = self.state().init_duration.is_none();
        let limit = if initialising {
            self.init_deadline()
                .saturating_duration_since(Instant::now())
        } else {
            self.deployment.config().timeout
        };
        if !self.extensions.wait_ready(limit).await {
            {
                let mut state = self.state();
                // An extension that never called next during init times init out, unless
                // one failed it.
                if initialising && state.init_error.is_none() {
                    state.init_timed_out = true;
                }
            }
            self.stop();
            return None;
        }
        {
            let mut state = self.state();
            if state.init_duration.is_none() {
                state.init_duration = Some(self.lifecycle.started().elapsed());
            }
        }
        let pending = {
            let mut slot = self.slot.queue().await;
            match slot.try_recv() {
                Ok(pending) => pending,
                Err(_) => match self.deployment.next_for(self) {
                    Some(pending) => pending,
                    None if self.deployment.is_retired() => {
                        self.shut_down(ShutdownReason::Spindown);
                        return None;
                    }
                    None => slot.recv().await?,
                },
            }
        };
        Some(self.begin(pending))
    }

    /// `/next` in concurrent mode: one of up to N outstanding polls. A poll while other
    /// invocations run is normal here, so there is no "asked without answering" check.
    async fn next_concurrent(self: &Arc<Self>) -> Option<NextInvocation> {
        {
            let mut state = self.state();
            if state.init_duration.is_none() {
                state.init_duration = Some(self.lifecycle.started().elapsed());
            }
        }
        let pending = {
            let mut slot = self.slot.queue().await;
            match slot.try_recv() {
                Ok(pending) => pending,
                Err(_) => match self.deployment.next_for(self) {
                    Some(pending) => {
                        self.state().load += 1;
                        pending
                    }
                    None if self.deployment.is_retired() && self.state().load == 0 => {
                        self.stop();
                        return None;
                    }
                    // A retired deployment's busy environment stops when its last running
                    // invocation ends (in `finish`); until then this poll waits.
                    None => slot.recv().await?,
                },
            }
        };
        Some(self.begin(pending))
    }

    fn begin(self: &Arc<Self>, pending: Pending) -> NextInvocation {
        let config = self.deployment.config();
        let request_id = pending.request_id.clone();
        let timer = {
            let env = self.clone();
            let request_id = request_id.clone();
            let timeout = config.timeout;
            tokio::spawn(async move {
                tokio::time::sleep(timeout).await;
                env.time_out(&request_id, timeout).await;
            })
            .abort_handle()
        };
        let deadline_ms = now_ms() + config.timeout.as_millis() as u64;
        self.extensions.invoke(&serde_json::json!({
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": pending.invoked_arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": pending.trace.runtime_header()},
        }));
        let next = NextInvocation {
            request_id: request_id.clone(),
            deadline_ms,
            invoked_arn: pending.invoked_arn.clone(),
            trace_header: pending.trace.runtime_header(),
            client_context: pending.client_context.clone(),
            identity: pending.identity.clone(),
            payload: pending.payload.clone(),
        };
        {
            let mut state = self.state();
            let cold = state.served == 0;
            state.served += 1;
            let mut log = crate::logs::InvocationLog::default();
            if self.slot.is_concurrent() {
                // Init output belongs to the invocation that started the environment.
                if cold {
                    log = std::mem::take(&mut state.log);
                }
            } else if !cold {
                state.log.clear();
            }
            state.in_flight.push(InFlight {
                pending,
                started: Instant::now(),
                started_at: SystemTime::now(),
                cold,
                timer,
                log,
            });
        }
        self.log_line(format!(
            "START RequestId: {request_id} Version: {}",
            self.deployment.version()
        ));
        next
    }

    /// Whether `request_id` is the invocation running here.
    pub fn is_running(&self, request_id: &str) -> bool {
        self.state().running(request_id).is_some()
    }

    /// Ends the running invocation `request_id` with `result`; `false` if it is not running here.
    pub async fn finish(
        &self,
        request_id: &str,
        result: FunctionResult,
        status: Option<&str>,
    ) -> bool {
        let concurrent = self.slot.is_concurrent();
        if concurrent {
            if !self.is_running(request_id) {
                return false;
            }
            // Lines the runtime wrote before answering are already in its pipes: take them
            // while the invocation is still running, so they are routed to it.
            self.lifecycle.drain().await;
        }
        let Some(mut flight) = self.state().take_running(request_id) else {
            return false;
        };
        flight.timer.abort();
        let duration = flight.started.elapsed();
        if !concurrent {
            // Lines the runtime wrote before answering are already in its pipes: take them first.
            self.lifecycle.drain().await;
        }
        let config = self.deployment.config();
        let init_duration = if flight.cold {
            self.state().init_duration
        } else {
            None
        };
        let trace = &flight.pending.trace;
        let report = Report {
            request_id: request_id.to_owned(),
            duration,
            init_duration,
            memory_size_mb: config.memory_mb,
            max_memory_used_mb: peak_memory_mb(self.lifecycle.pid()),
            status: status.map(str::to_owned),
            xray: trace
                .sampled
                .then(|| (trace.root.to_string(), trace.function_segment.to_string())),
        };
        let logs = if concurrent {
            for line in [format!("END RequestId: {request_id}"), report.line()] {
                flight.log.push_line(&line);
                self.deployment.logs().push(&self.stream, line);
            }
            self.release(status);
            flight.log.take()
        } else {
            self.log_line(format!("END RequestId: {request_id}"));
            self.log_line(report.line());
            let mut state = self.state();
            if status.is_none() && !state.dead {
                state.returning = true;
                self.deployment.returning();
            }
            state.log.take()
        };
        if trace.sampled {
            let d = &self.deployment;
            d.context().traces.record(invocation_segments(&Finished {
                function_name: &d.config().name,
                function_arn: d.arn(),
                pending: &flight.pending,
                environment_started_at: self.lifecycle.started_at(),
                started_at: flight.started_at,
                init: init_duration,
                result: &result,
            }));
        }
        let outcome = Outcome {
            request_id: request_id.to_owned(),
            result,
            logs,
            report: Some(report),
            trace_id: trace.sampled.then(|| trace.root.clone()),
        };
        if let Some(reply) = flight.pending.reply {
            let _ = reply.send(outcome);
        }
        true
    }

    /// Concurrent mode: frees the place of an invocation that ended. One that timed out keeps
    /// its place until the runtime answers it ([`Self::deadline`]); when every one of the
    /// `max_concurrency` places is held so, the runtime has no poll left to serve with and the
    /// environment is recycled (with one place, that is the sequential rule: a timeout stops
    /// the environment). A retired deployment's environment stops once nothing runs in it.
    fn release(&self, status: Option<&str>) {
        let places = self.deployment.config().concurrency();
        let mut state = self.state();
        if status != Some("timeout") {
            state.load = state.load.saturating_sub(1);
        }
        let stuck = state.timed_out.len() >= places;
        let drained = state.load == 0 && self.deployment.is_retired();
        drop(state);
        if stuck || drained {
            self.stop();
        }
    }

    async fn time_out(self: &Arc<Self>, request_id: &str, timeout: Duration) {
        if !self.is_running(request_id) {
            return;
        }
        let seconds = timeout.as_secs_f64();
        self.log_line(format!(
            "{} {request_id} Task timed out after {seconds:.2} seconds",
            humantime::format_rfc3339_millis(SystemTime::now())
        ));
        let message =
            format!("RequestId: {request_id} Error: Task timed out after {seconds:.2} seconds");
        if self.slot.is_concurrent() {
            // Other invocations run in this process: stopping it would fail them too. The
            // caller gets its timeout now; the runtime's late answer is refused.
            self.state().timed_out.push(request_id.to_owned());
            self.finish(
                request_id,
                FunctionResult::Error {
                    error_type: "Sandbox.Timedout".into(),
                    body: error_body("Sandbox.Timedout", &message),
                },
                Some("timeout"),
            )
            .await;
            return;
        }
        self.finish(
            request_id,
            FunctionResult::Error {
                error_type: "Sandbox.Timedout".into(),
                body: error_body("Sandbox.Timedout", &message),
            },
            Some("timeout"),
        )
        .await;
        // Lambda does not reuse an environment whose invocation timed out.
        self.shut_down(ShutdownReason::Timeout);
    }

    /// `POST /runtime/init/error`: remembers the error for the invocation that started us.
    pub fn init_failed(self: &Arc<Self>, error_type: String, body: Bytes) {
        self.state().init_error = Some((error_type, body));
        // The runtime should exit after reporting; make sure it does.
        let env = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            env.stop();
        });
    }

    async fn exited(self: &Arc<Self>, status: Option<ExitStatus>) {
        let (init_done, running) = {
            let mut state = self.state();
            if state.dead {
                return;
            }
            state.dead = true;
            if std::mem::take(&mut state.returning) {
                self.deployment.returned();
            }
            (
                state.init_duration.is_some(),
                state
                    .in_flight
                    .iter()
                    .map(|f| f.pending.request_id.clone())
                    .collect::<Vec<_>>(),
            )
        };
        // Extensions get `SHUTDOWN` (reason `failure` when the runtime went by itself) and their
        // grace period while the invocations are answered; the Extensions API is served until
        // they are done.
        let torn_down = {
            let env = self.clone();
            tokio::spawn(async move {
                env.extensions.wind_down(ShutdownReason::Failure).await;
                env.lifecycle.tear_down().await;
            })
        };
        self.lifecycle.drain().await;
        let reason = exit_reason(status);
        for request_id in running {
            let message = format!("RequestId: {request_id} Error: {reason}");
            self.log_line(message.clone());
            self.finish(
                &request_id,
                FunctionResult::Error {
                    error_type: "Runtime.ExitError".into(),
                    body: error_body("Runtime.ExitError", &message),
                },
                Some("error"),
            )
            .await;
        }
        let unstarted = self.slot.close().await;
        for pending in unstarted {
            if init_done {
                // Accepted but never started: another environment can run it.
                self.deployment.clone().requeue(pending).await;
            } else {
                self.fail_init(pending, &reason);
            }
        }
        let _ = torn_down.await;
        self.deployment.clone().environment_gone(self.id).await;
    }

    /// Fails the invocation that started an environment whose init never completed.
    fn fail_init(&self, pending: Pending, reason: &str) {
        let (init_error, timed_out) = {
            let state = self.state();
            (state.init_error.clone(), state.init_timed_out)
        };
        let request_id = &pending.request_id;
        let elapsed = self.lifecycle.started().elapsed().as_secs_f64() * 1000.0;
        let (error_type, body) = match init_error {
            Some((error_type, body)) => {
                // Errors found before the request id was known carry a placeholder.
                let body = String::from_utf8_lossy(&body).replace("{id}", request_id);
                (error_type, Bytes::from(body))
            }
            None if timed_out => {
                let seconds = self.deployment.config().init_timeout.as_secs_f64();
                let message = format!(
                    "RequestId: {request_id} Error: Task timed out after {seconds:.2} seconds (init did not complete: the runtime never polled /runtime/invocation/next, or an extension never called /extension/event/next)"
                );
                (
                    "Sandbox.Timedout".to_owned(),
                    error_body("Sandbox.Timedout", &message),
                )
            }
            None => {
                let message = format!("RequestId: {request_id} Error: {reason}");
                (
                    "Runtime.ExitError".to_owned(),
                    error_body("Runtime.ExitError", &message),
                )
            }
        };
        self.log_line(format!(
            "INIT_REPORT Init Duration: {elapsed:.2} ms\tPhase: init\tStatus: {}\tError Type: {error_type}",
            if timed_out { "timeout" } else { "error" }
        ));
        let logs = self.state().log.take();
        let outcome = Outcome {
            request_id: request_id.clone(),
            result: FunctionResult::Error { error_type, body },
            logs,
            report: None,
            trace_id: pending.trace.sampled.then(|| pending.trace.root.clone()),
        };
        if let Some(reply) = pending.reply {
            let _ = reply.send(outcome);
        }
    }
}

/// `2026/11/21/[$LATEST]<32 hex>`, the shape of Lambda's log stream names.
fn log_stream_name(version: &str) -> String {
    let now = humantime::format_rfc3339(SystemTime::now()).to_string();
    let date = now.get(..10).unwrap_or("1970-01-01").replace('-', "/");
    format!("{date}/[{version}]{:032x}", fastrand::u128(..))
}

impl RuntimeApiBackend for Environment {
    fn next_invocation(self: &Arc<Self>) -> impl Future<Output = Option<NextInvocation>> + Send {
        Environment::next_invocation(self)
    }

    fn deadline(&self, request_id: &str) -> Option<Instant> {
        Environment::deadline(self, request_id)
    }

    fn init_deadline(&self) -> Instant {
        Environment::init_deadline(self)
    }

    fn finish(
        &self,
        request_id: &str,
        result: FunctionResult,
        status: Option<&str>,
    ) -> impl Future<Output = bool> + Send {
        Environment::finish(self, request_id, result, status)
    }

    fn stream_tap(&self, request_id: &str) -> Option<StreamTap> {
        self.state()
            .in_flight
            .iter()
            .find(|f| f.pending.request_id == request_id)
            .and_then(|f| f.pending.stream.clone())
    }

    fn init_failed(self: &Arc<Self>, error_type: String, body: Bytes) {
        Environment::init_failed(self, error_type, body);
    }
}
