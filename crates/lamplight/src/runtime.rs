//! Starting the function: [`run`] serves invocations, [`init`] builds per-environment state.
//!
//! lamplight owns the poll loop over the Runtime API (`lambda_runtime_api_client`): `GET /next`,
//! decode the event, call the handler, post the response or the error document, flush
//! telemetry, poll again. Owning it (rather than completing invocations inside
//! `lambda_runtime`'s loop) is what lets every step fail cleanly: `lambda_runtime` panics on a
//! `/next` answer without a request id or deadline and gives up on the first failed poll. It is
//! also what lets the error document carry `stackTrace`, and telemetry flush after the response
//! is sent and before the next poll.
//!
//! What the loop does with an unexpected Runtime API:
//!
//! | `/next` answers | the runtime |
//! |---|---|
//! | a connection error, a 5xx or 429 | retries, [`NEXT_ATTEMPTS`] attempts in all with a doubling backoff, then exits |
//! | any other non-2xx (403, 404, ...) | exits at once: the API refuses this runtime |
//! | 204 No Content | polls again (an emulator saying "no event yet") |
//! | an event without `Lambda-Runtime-Aws-Request-Id` | exits: the event cannot be answered |
//! | an event without a usable `Lambda-Runtime-Deadline-Ms` | serves it with [`FALLBACK_TIMEOUT`] to run, and logs why |
//! | a deadline below 10¹² (a duration, as `cargo lambda watch` sends) | reads it as milliseconds from now |
//!
//! Exiting means [`run`] returns [`RuntimeError::RuntimeApi`] naming the URL and the answer,
//! after flushing telemetry; `main` returning it exits non-zero, which Lambda treats as a crash
//! of the execution environment.
//!
//! The loop is one `poll → invoke` step over a shared worker, so that concurrent invocations
//! (several loops over one worker, when `AWS_LAMBDA_MAX_CONCURRENCY` is above 1: see
//! [`crate::managed`]) and streamed responses (another way to post the result) fit without
//! reshaping it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use futures::FutureExt;
use futures::future::{LocalBoxFuture, select_all};
use http::{HeaderMap, Method, StatusCode};
use http_body_util::BodyExt;
use lambda_runtime_api_client::{PooledClient, body::Body, build_request};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::env::{Env, EnvError, RuntimeApi, vars};
use crate::error::{BoxError, FunctionError, install_panic_hook};
use crate::invocation::Invocation;

pub mod streaming;

/// How many times in a row `GET /next` may fail transiently before the runtime exits.
pub const NEXT_ATTEMPTS: u32 = 5;
/// The wait after the first transient failure of `GET /next`; it doubles after each one
/// (50, 100, 200, 400 ms: under a second in all, Lambda asks runtimes to exit promptly).
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
/// The time an invocation is given when `/next` sends no usable deadline: Lambda's longest
/// function timeout, so that `remaining_time` never claims more than any function can have.
pub const FALLBACK_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Deadlines below this (2001-09-09 in Unix milliseconds) are durations, not Unix times:
/// `cargo lambda watch` sends its timeout there.
const UNIX_MS_FLOOR: u64 = 1_000_000_000_000;

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";
const REQUEST_ID: &str = "Lambda-Runtime-Aws-Request-Id";
const DEADLINE_MS: &str = "Lambda-Runtime-Deadline-Ms";
const INVOKED_FUNCTION_ARN: &str = "Lambda-Runtime-Invoked-Function-Arn";
const TRACE_ID: &str = "Lambda-Runtime-Trace-Id";
const CLIENT_CONTEXT: &str = "Lambda-Runtime-Client-Context";
const COGNITO_IDENTITY: &str = "Lambda-Runtime-Cognito-Identity";
const TENANT_ID: &str = "Lambda-Runtime-Aws-Tenant-Id";
const INVOCATION_ID: &str = "Lambda-Runtime-Invocation-Id";
const ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";

/// Why the runtime stopped or could not start.
#[derive(thiserror::Error)]
pub enum RuntimeError {
    /// The process is not running under Lambda (or the local service).
    #[error(transparent)]
    Env(#[from] EnvError),
    /// Initialisation failed; the error was reported to Lambda's `/runtime/init/error`.
    #[error("initialisation failed: {0}")]
    Init(FunctionError),
    /// The Runtime API failed in a way the runtime cannot recover from.
    #[error("the Lambda Runtime API failed: {0}")]
    RuntimeApi(BoxError),
}

// `main` returning `Err` prints the Debug form: make it the readable message.
impl std::fmt::Debug for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// What went wrong talking to the Runtime API, carried by [`RuntimeError::RuntimeApi`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeApiFailure {
    /// `GET /next` failed transiently [`NEXT_ATTEMPTS`] times in a row.
    #[error("GET {url} failed {attempts} attempts in a row; the last: {last}")]
    GaveUp {
        /// The `/next` URL, with the Runtime API's address.
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last: String,
    },
    /// `GET /next` answered a status that retrying cannot change.
    #[error("GET {url} answered {status}: {body}")]
    Refused {
        /// The `/next` URL, with the Runtime API's address.
        url: String,
        /// The status it answered.
        status: StatusCode,
        /// The start of the body it answered.
        body: String,
    },
    /// A concurrent poll loop ended without the Runtime API failing (its task was cancelled
    /// or panicked outside any invocation).
    #[error("a poll loop ended: {reason}")]
    LoopEnded {
        /// What ended it.
        reason: String,
    },
    /// `GET /next` answered an event without a request id, which cannot be answered.
    #[error(
        "GET {url} answered an event without a `{REQUEST_ID}` header: the event cannot be \
         answered (headers: {headers})"
    )]
    NoRequestId {
        /// The `/next` URL, with the Runtime API's address.
        url: String,
        /// The header names it sent.
        headers: String,
    },
}

/// Serves invocations with `handler` until the execution environment is shut down.
///
/// The handler takes the typed event and the [`Invocation`]; its error type is anything that
/// converts into a boxed error (a `thiserror` enum, `anyhow::Error`, a [`FunctionError`]).
/// An event that does not decode, a handler error, and a panic while decoding the event,
/// handling it or encoding the response are each answered with an error document, and the
/// next event is served. How the runtime meets a failing Runtime API is in the
/// [module documentation](self).
///
/// When `AWS_LAMBDA_MAX_CONCURRENCY` is above 1 (Lambda Managed Instances), that many
/// invocations are served at once, taking turns on this task: they overlap while they wait on
/// I/O. [`run_concurrent`](crate::run_concurrent) runs them on every worker thread, for
/// handlers that are `Send + Sync`; see [`crate::managed`]. A value that is not a whole number
/// above 0 is refused: `run` returns [`RuntimeError::Env`] naming the variable.
///
/// ```no_run
/// use lamplight::Invocation;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize)]
/// struct Request { name: String }
///
/// #[derive(Serialize)]
/// struct Response { greeting: String }
///
/// async fn handler(event: Request, _inv: Invocation) -> Result<Response, std::io::Error> {
///     Ok(Response { greeting: format!("hello, {}", event.name) })
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), lamplight::RuntimeError> {
///     lamplight::run(handler).await
/// }
/// ```
pub async fn run<F, Fut, Ev, R, E>(handler: F) -> Result<(), RuntimeError>
where
    F: Fn(Ev, Invocation) -> Fut + 'static,
    Fut: Future<Output = Result<R, E>> + 'static,
    Ev: DeserializeOwned + 'static,
    R: Serialize + 'static,
    E: Into<BoxError> + 'static,
{
    let (api, worker) = start(handler).await?;
    let stopped = match concurrency(&worker.env) {
        1 => serve(&api, &worker).await,
        n => serve_interleaved(&api, &worker, n).await,
    };
    Err(stopped_by(stopped).await)
}

/// The Runtime API client and the worker of `handler`, from the environment.
pub(crate) async fn start<F, Ev>(handler: F) -> Result<(Api, Worker<F, Ev>), RuntimeError> {
    let telemetry = setup();
    let env = Env::current()?;
    let endpoint = env.runtime_endpoint()?;
    // Before the first poll: Lambda sends SIGTERM only to environments with an extension.
    crate::shutdown::enable(&endpoint, telemetry, env.function_name.clone()).await;
    let worker = Worker {
        handler,
        config: Arc::new(lambda_config(&env)),
        env,
        cold_start: AtomicBool::new(true),
        telemetry,
        _event: std::marker::PhantomData,
    };
    Ok((Api::new(&endpoint), worker))
}

/// Logs why the runtime stops and sends what telemetry is left, before the process exits.
pub(crate) async fn stopped_by(stopped: RuntimeApiFailure) -> RuntimeError {
    tracing::error!("{stopped}");
    // Spans still queued (an invocation whose response could not be posted) leave before the
    // process does.
    setup().flush_async().await;
    RuntimeError::RuntimeApi(Box::new(stopped))
}

/// Polls and serves events one at a time until the Runtime API fails for good.
pub(crate) async fn serve<F, Fut, Ev, R, E>(api: &Api, worker: &Worker<F, Ev>) -> RuntimeApiFailure
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: Serialize,
    E: Into<BoxError> + 'static,
{
    loop {
        match api.next().await {
            Ok(event) => worker.invoke(api, event, true).await,
            Err(e) => return e,
        }
    }
}

/// How many invocations this environment serves at once: `AWS_LAMBDA_MAX_CONCURRENCY`, 1 when
/// it is not set. ([`Env`] has already refused a value that is not a whole number above 0.)
pub(crate) fn concurrency(env: &Env) -> usize {
    env.max_concurrency
        .map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX))
        .max(1)
}

/// [`run`]'s concurrent mode (see [`crate::managed`]): `n` poll loops taking turns on this task. The first
/// loop the Runtime API fails for good ends them all.
async fn serve_interleaved<F, Fut, Ev, R, E>(
    api: &Api,
    worker: &Worker<F, Ev>,
    n: usize,
) -> RuntimeApiFailure
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: Serialize,
    E: Into<BoxError> + 'static,
{
    let loops: Vec<LocalBoxFuture<'_, RuntimeApiFailure>> = (0..n)
        .map(|_| poll_loop(api, worker).boxed_local())
        .collect();
    select_all(loops).await.0
}

async fn poll_loop<F, Fut, Ev, R, E>(api: &Api, worker: &Worker<F, Ev>) -> RuntimeApiFailure
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: Serialize,
    E: Into<BoxError> + 'static,
{
    loop {
        match api.next().await {
            Ok(event) => worker.invoke_one_of_many(api, event).await,
            Err(e) => return e,
        }
    }
}

/// Builds state once per execution environment, before the first invocation.
///
/// Expensive things (SDK clients, configuration, connection pools, compiled templates) belong
/// here, not in the handler: the returned reference lives as long as the execution environment
/// and every invocation shares it. A failure is logged and reported to Lambda as an init error
/// (`POST /runtime/init/error`), which Lambda shows to the caller and in the logs; spans
/// recorded while building are sent before `init` returns.
///
/// ```no_run
/// # use lamplight::Invocation;
/// struct State { greeting: String }
///
/// impl State {
///     async fn load() -> Result<Self, lamplight::config::ConfigError> {
///         Ok(Self { greeting: lamplight::config::from_env::<String>().unwrap_or_default() })
///     }
/// }
///
/// async fn handle(state: &State, name: String, _inv: Invocation) -> Result<String, std::io::Error> {
///     Ok(format!("{}, {name}", state.greeting))
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), lamplight::RuntimeError> {
///     let state = lamplight::init(State::load).await?;
///     lamplight::run(move |name, inv| handle(state, name, inv)).await
/// }
/// ```
pub async fn init<S, E, Fut>(build: impl FnOnce() -> Fut) -> Result<&'static S, RuntimeError>
where
    S: 'static,
    Fut: Future<Output = Result<S, E>>,
    E: Into<BoxError> + 'static,
{
    let telemetry = setup();
    let built = AssertUnwindSafe(async move { build().await })
        .catch_unwind()
        .await;
    let doc = match built {
        Ok(Ok(state)) => return Ok(Box::leak(Box::new(state))),
        Ok(Err(e)) => FunctionError::from_handler_error(e),
        Err(panic) => FunctionError::from_panic(panic.as_ref()),
    };
    tracing::error!(errorType = %doc.error_type, "initialisation failed: {}", doc.error_message);
    if let Some(value) = std::env::var(vars::AWS_LAMBDA_RUNTIME_API)
        .ok()
        .filter(|v| !v.is_empty())
    {
        let reported = match RuntimeApi::parse(&value) {
            Ok(endpoint) => Api::new(&endpoint).report_init_error(&doc).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = reported {
            tracing::error!(
                "could not report the init error to the Runtime API: {}",
                crate::error::chain(e.as_ref())
            );
        }
    }
    // The process exits next: what the failed init recorded must not die with it.
    telemetry.flush_async().await;
    Err(RuntimeError::Init(doc))
}

/// Logs, traces and the panic hook, installed once whichever of [`init`] and [`run`] comes first.
fn setup() -> &'static lamplight_telemetry::Telemetry {
    let telemetry = lamplight_telemetry::install();
    install_panic_hook();
    telemetry
}

/// `lambda_runtime`'s view of the environment, for [`Invocation::lambda_context`] (its own
/// `Config::from_env` panics on a missing variable; [`Env`] has already checked them).
fn lambda_config(env: &Env) -> lambda_runtime::Config {
    lambda_runtime::Config {
        function_name: env.function_name.clone(),
        memory: i32::try_from(env.memory_mb).unwrap_or(i32::MAX),
        version: env.function_version.clone(),
        log_stream: env.log_stream.clone().unwrap_or_default(),
        log_group: env.log_group.clone().unwrap_or_default(),
    }
}

/// The one Runtime API client: every request of the process goes through it.
pub(crate) struct Api {
    client: PooledClient,
    next_url: String,
}

/// An event `GET /next` handed over.
pub(crate) struct NextEvent {
    request_id: String,
    headers: HeaderMap,
    body: Vec<u8>,
    received: SystemTime,
}

/// Why one poll did not yield an event.
enum PollFailure {
    /// Worth polling again: the connection failed, or the API said it is briefly unable.
    Transient(String),
    /// Polling again cannot help.
    Fatal(RuntimeApiFailure),
}

impl Api {
    fn new(endpoint: &RuntimeApi) -> Self {
        let client = PooledClient::builder()
            .with_endpoint(endpoint.base_uri().clone())
            .build();
        Self {
            client,
            next_url: format!("{endpoint}{NEXT_PATH}"),
        }
    }

    /// The next event, retrying transient failures ([`NEXT_ATTEMPTS`] attempts in a row).
    pub(crate) async fn next(&self) -> Result<NextEvent, RuntimeApiFailure> {
        let mut failures = 0;
        loop {
            let reason = match self.poll().await {
                Ok(Some(event)) => return Ok(event),
                Ok(None) => continue,
                Err(PollFailure::Fatal(e)) => return Err(e),
                Err(PollFailure::Transient(reason)) => reason,
            };
            failures += 1;
            if failures >= NEXT_ATTEMPTS {
                return Err(RuntimeApiFailure::GaveUp {
                    url: self.next_url.clone(),
                    attempts: failures,
                    last: reason,
                });
            }
            let wait = FIRST_BACKOFF * 2u32.pow(failures - 1);
            tracing::warn!(
                attempt = failures,
                "GET {} failed ({reason}); polling again in {wait:?}",
                self.next_url
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One `GET /next`: an event, nothing yet (`None`), or why not.
    async fn poll(&self) -> Result<Option<NextEvent>, PollFailure> {
        let request = build_request()
            .method(Method::GET)
            .uri(NEXT_PATH)
            .body(Body::empty())
            .map_err(|e| PollFailure::Transient(e.to_string()))?;
        let response = self
            .client
            .call(request)
            .await
            .map_err(|e| PollFailure::Transient(crate::error::chain(e.as_ref())))?;
        let (parts, body) = response.into_parts();
        let status = parts.status;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !status.is_success() {
            let body = body
                .collect()
                .await
                .map(|b| excerpt(&b.to_bytes()))
                .unwrap_or_default();
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                return Err(PollFailure::Transient(format!("{status}: {body}")));
            }
            return Err(PollFailure::Fatal(RuntimeApiFailure::Refused {
                url: self.next_url.clone(),
                status,
                body,
            }));
        }
        let Some(request_id) = parts
            .headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
        else {
            let names: Vec<&str> = parts.headers.keys().map(|k| k.as_str()).collect();
            return Err(PollFailure::Fatal(RuntimeApiFailure::NoRequestId {
                url: self.next_url.clone(),
                headers: names.join(", "),
            }));
        };
        let body = body.collect().await.map_err(|e| {
            // The event is lost: nothing was handed to the handler, Lambda times it out.
            PollFailure::Transient(format!(
                "the body of event {request_id} could not be read: {}",
                crate::error::chain(&e)
            ))
        })?;
        Ok(Some(NextEvent {
            request_id,
            headers: parts.headers,
            body: body.to_bytes().into(),
            received: SystemTime::now(),
        }))
    }

    /// Posts an invocation's result. A refusal (413 too large, 410 too late) or a lost
    /// connection is logged: the invocation is settled on Lambda's side either way, and a
    /// Runtime API that is gone shows at the next poll.
    async fn post(&self, request: http::Request<Body>, request_id: &str) {
        match self.client.call(request).await {
            Ok(response) if response.status().is_success() => {}
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map(|b| excerpt(&b.to_bytes()))
                    .unwrap_or_default();
                tracing::warn!(
                    requestId = %request_id,
                    status,
                    "the Runtime API refused the invocation result: {body}"
                );
            }
            Err(e) => tracing::error!(
                requestId = %request_id,
                "could not send the invocation result to the Runtime API: {}",
                crate::error::chain(e.as_ref())
            ),
        }
    }

    async fn report_init_error(&self, doc: &FunctionError) -> Result<(), BoxError> {
        let response = self
            .client
            .call(error_request(INIT_ERROR_PATH, doc, None)?)
            .await?;
        if !response.status().is_success() {
            return Err(format!("POST {INIT_ERROR_PATH} answered {}", response.status()).into());
        }
        Ok(())
    }
}

/// The start of a body, for messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut cut: String = text.chars().take(200).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

fn error_request(
    path: &str,
    doc: &FunctionError,
    invocation_id: Option<&str>,
) -> Result<http::Request<Body>, BoxError> {
    let mut builder = build_request()
        .method(Method::POST)
        .uri(path)
        .header("Content-Type", "application/json")
        .header(ERROR_TYPE, doc.error_type.as_str());
    if let Some(id) = invocation_id {
        builder = builder.header(INVOCATION_ID, id);
    }
    Ok(builder.body(Body::from(serde_json::to_vec(doc)?))?)
}

/// The deadline of an event, in Unix milliseconds, from `Lambda-Runtime-Deadline-Ms`.
///
/// Lambda sends a Unix time; `cargo lambda watch` sends a duration (its timeout), read as
/// from `received`. Without a usable header the event gets [`FALLBACK_TIMEOUT`], and the
/// reason is returned to be logged.
fn deadline_ms(headers: &HeaderMap, received: SystemTime) -> (u64, Option<String>) {
    let since_epoch = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    };
    let value = headers.get(DEADLINE_MS).map(|v| v.to_str().map(str::trim));
    let parsed = match value {
        None => Err("there is none".to_owned()),
        Some(Err(_)) => Err("it is not text".to_owned()),
        Some(Ok(text)) => text
            .parse::<u64>()
            .map_err(|_| format!("`{text}` is not a number of milliseconds")),
    };
    match parsed {
        Ok(ms) if ms >= UNIX_MS_FLOOR => (ms, None),
        Ok(ms) => (since_epoch(received).saturating_add(ms), None),
        Err(why) => (
            since_epoch(received + FALLBACK_TIMEOUT),
            Some(format!(
                "no usable `{DEADLINE_MS}` header ({why}): the invocation is given {} s, \
                 Lambda's longest timeout",
                FALLBACK_TIMEOUT.as_secs()
            )),
        ),
    }
}

/// A JSON header (client context, Cognito identity); one that does not parse is logged and
/// left out rather than failing the invocation.
fn json_header<T: DeserializeOwned>(headers: &HeaderMap, name: &str) -> Option<T> {
    let raw = headers.get(name)?.to_str().ok()?.trim();
    if raw.is_empty() {
        return None;
    }
    serde_json::from_str(raw)
        .map_err(|e| tracing::warn!("the `{name}` header is not the JSON expected ({e}): ignored"))
        .ok()
}

fn text_header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Sets `_X_AMZN_TRACE_ID` to the invocation's trace header, as Lambda's own runtimes do for
/// sequential invocations: the AWS SDK's recursion detection and X-Ray-aware libraries read it.
#[allow(unsafe_code)]
fn set_trace_env(header: Option<&str>) {
    // SAFETY: `setenv` races with a concurrent `getenv` on another thread. This runs between
    // invocations, on the polling task, before the handler of the next event starts; it is the
    // call `lambda_runtime` makes at the same point of its loop. A task a previous handler left
    // running that reads the environment at this instant is the remaining (accepted) risk,
    // which concurrent mode will avoid by not setting the variable at all.
    unsafe {
        match header {
            Some(value) => std::env::set_var(vars::X_AMZN_TRACE_ID, value),
            None => std::env::remove_var(vars::X_AMZN_TRACE_ID),
        }
    }
}

/// What serving one event needs, shared by every poll loop.
pub(crate) struct Worker<F, Ev> {
    handler: F,
    pub(crate) env: Arc<Env>,
    config: Arc<lambda_runtime::Config>,
    cold_start: AtomicBool,
    telemetry: &'static lamplight_telemetry::Telemetry,
    _event: std::marker::PhantomData<fn(Ev)>,
}

impl<F, Fut, Ev, R, E> Worker<F, Ev>
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: Serialize,
    E: Into<BoxError> + 'static,
{
    /// Serves one of several events running at once: its EMF metrics kept apart from the
    /// others', no process-wide trace variable, its own spans flushed.
    pub(crate) async fn invoke_one_of_many(&self, api: &Api, event: NextEvent) {
        lamplight_telemetry::metrics::scope(self.invoke(api, event, false)).await;
    }

    /// Serves one event: decode, handle, post the result, then flush telemetry.
    /// `sequential` says whether the process-wide `_X_AMZN_TRACE_ID` belongs to this event
    /// (otherwise it runs next to others: see [`crate::managed`]).
    async fn invoke(&self, api: &Api, event: NextEvent, sequential: bool) {
        let Started {
            request_id,
            invocation_id,
            invocation,
            span,
            cold_start,
            body,
            trace_id,
            trace_header,
        } = self.start(event, sequential);
        if !sequential {
            scope_metrics(&request_id, trace_id.as_deref());
        }
        let outcome = complete(&self.handler, &body, invocation)
            .instrument(span.clone())
            .await;
        // The span has run by now, so its trace is known (a root span gets its id on start).
        let trace_key = (!sequential)
            .then(|| self.telemetry.trace_of(&span, trace_header.as_deref()))
            .flatten();
        let request = match &outcome {
            Ok(response) => build_request()
                .method(Method::POST)
                .uri(format!(
                    "/2018-06-01/runtime/invocation/{request_id}/response"
                ))
                .header("Content-Type", "application/json")
                .header(INVOCATION_ID, invocation_id.as_deref().unwrap_or_default())
                .body(Body::from(response.clone()))
                .map_err(BoxError::from),
            Err(doc) => failure_request(&span, &request_id, doc, invocation_id.as_deref()),
        };
        // The handler's subsegment ends with the handler, before the response is sent.
        drop(span);
        self.telemetry
            .write_metrics(&self.env.function_name, cold_start);
        if let Some(request) = built(request, &request_id) {
            api.post(request, &request_id).await;
        }
        // Spans leave after the response and before the next poll: the caller never waits
        // for them, and none is queued when Lambda freezes the process.
        if sequential {
            self.telemetry.flush_async().await;
        } else {
            self.telemetry.flush_invocation(trace_key).await;
        }
    }
}

/// An event handed to its handler: the invocation, its span, and what answering it needs.
pub(crate) struct Started {
    request_id: String,
    invocation_id: Option<String>,
    invocation: Invocation,
    span: tracing::Span,
    cold_start: bool,
    body: Vec<u8>,
    /// The X-Ray trace id of the invocation, when it is traced.
    trace_id: Option<String>,
    /// Its `Lambda-Runtime-Trace-Id` header as received.
    trace_header: Option<String>,
}

impl<F, Ev> Worker<F, Ev> {
    /// The invocation of `event`, with its context and span; the handler runs next.
    fn start(&self, event: NextEvent, sequential: bool) -> Started {
        let NextEvent {
            request_id,
            headers,
            body,
            received,
        } = event;
        let (deadline, fallback) = deadline_ms(&headers, received);
        if let Some(why) = fallback {
            static WARNED: AtomicBool = AtomicBool::new(false);
            if !WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(requestId = %request_id, "{why}");
            }
        }
        let mut context = lambda_runtime::Context::default();
        context.request_id = request_id.clone();
        context.deadline = deadline;
        context.invoked_function_arn =
            text_header(&headers, INVOKED_FUNCTION_ARN).unwrap_or_default();
        context.xray_trace_id = text_header(&headers, TRACE_ID);
        context.client_context = json_header(&headers, CLIENT_CONTEXT);
        context.identity = json_header(&headers, COGNITO_IDENTITY);
        context.tenant_id = text_header(&headers, TENANT_ID);
        context.env_config = self.config.clone();
        if sequential {
            set_trace_env(headers.get(TRACE_ID).and_then(|v| v.to_str().ok()));
        }
        let invocation_id = headers
            .get(INVOCATION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);

        let cold_start = self.cold_start.swap(false, Ordering::Relaxed);
        let invocation = Invocation::from_context(context, self.env.clone(), cold_start);
        let trace_id = invocation.trace().map(|t| t.root.to_string());
        let span = self
            .telemetry
            .invocation_span(lamplight_telemetry::InvocationInfo {
                request_id: &request_id,
                trace_header: invocation.raw_trace_header(),
                trace_id: trace_id.as_deref(),
                cold_start,
            });
        Started {
            request_id,
            invocation_id,
            invocation,
            span,
            cold_start,
            body,
            trace_id,
            trace_header: text_header(&headers, TRACE_ID),
        }
    }
}

/// In concurrent mode, the EMF lines of invocations running at once are told apart by these.
pub(crate) fn scope_metrics(request_id: &str, trace_id: Option<&str>) {
    lamplight_telemetry::metrics::property("requestId", request_id);
    if let Some(id) = trace_id {
        lamplight_telemetry::metrics::property("traceId", id);
    }
}

/// Logs a failed invocation in its span and builds its `/error` post.
fn failure_request(
    span: &tracing::Span,
    request_id: &str,
    doc: &FunctionError,
    invocation_id: Option<&str>,
) -> Result<http::Request<Body>, BoxError> {
    span.in_scope(|| tracing::error!(errorType = %doc.error_type, "{}", doc.error_message));
    lamplight_telemetry::record_failure(span, &doc.error_type, &doc.error_message);
    error_request(
        &format!("/2018-06-01/runtime/invocation/{request_id}/error"),
        doc,
        invocation_id,
    )
}

/// The request, or `None` after logging why it could not be built (only a request id that is
/// not a valid URL path gets there).
fn built(
    request: Result<http::Request<Body>, BoxError>,
    request_id: &str,
) -> Option<http::Request<Body>> {
    request
        .map_err(|e| {
            tracing::error!(
                requestId = %request_id,
                "could not build the request for the invocation result: {e}"
            );
        })
        .ok()
}

/// Answers one event as [`run`] would, without a Runtime API: the JSON response, or the error
/// document Lambda would return (an event that does not parse, an error, a panic). For tests
/// of a handler from sample events.
pub async fn respond<F, Fut, Ev, R, E>(
    handler: F,
    event: &[u8],
    invocation: Invocation,
) -> Result<Vec<u8>, FunctionError>
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: Serialize,
    E: Into<BoxError> + 'static,
{
    install_panic_hook();
    complete(&handler, event, invocation).await
}

/// Decodes the event, runs the handler, and encodes the response, with panics caught in each.
async fn complete<F, Fut, Ev, R, E>(
    handler: &F,
    body: &[u8],
    invocation: Invocation,
) -> Result<Vec<u8>, FunctionError>
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: Serialize,
    E: Into<BoxError> + 'static,
{
    let event = decode::<Ev>(body)?;
    // Boxed: the handler's future is the user's, and can be deep (a worker calling the SDK,
    // idempotency, batch helpers). Inline, its layout becomes part of `main`'s, and rustc gives
    // up past its query depth limit ("queries overflow the depth limit!"); behind a box each
    // is laid out on its own. One allocation per invocation.
    let handled = Box::pin(handler(event, invocation));
    let outcome = AssertUnwindSafe(handled).catch_unwind().await;
    let response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => return Err(FunctionError::from_handler_error(e)),
        Err(panic) => return Err(FunctionError::from_panic(panic.as_ref())),
    };
    match std::panic::catch_unwind(AssertUnwindSafe(|| serde_json::to_vec(&response))) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(FunctionError::new(
            "InvalidResponse",
            format!("the handler's response could not be encoded as JSON: {e}"),
        )),
        Err(panic) => Err(FunctionError::from_panic_in(
            panic.as_ref(),
            "encoding the response as JSON",
        )),
    }
}

/// The event as the handler's type; an event that does not match, or a `Deserialize` that
/// panics, is the error document to answer.
fn decode<Ev: DeserializeOwned>(body: &[u8]) -> Result<Ev, FunctionError> {
    let event_type = || crate::error::short_type_name(std::any::type_name::<Ev>());
    // A hand-written `Deserialize` can panic too; it may not end the process.
    let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| {
        serde_path_to_error::deserialize::<_, Ev>(&mut serde_json::Deserializer::from_slice(body))
    }));
    match decoded {
        Ok(Ok(event)) => Ok(event),
        Ok(Err(e)) => Err(FunctionError::new(
            "InvalidEvent",
            format!("the event does not match `{}`: {e}", event_type()),
        )),
        Err(panic) => Err(FunctionError::from_panic_in(
            panic.as_ref(),
            &format!("decoding the event as `{}`", event_type()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(deadline: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = deadline {
            headers.insert(DEADLINE_MS, value.parse().expect("header value"));
        }
        headers
    }

    fn ms(t: SystemTime) -> u64 {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as u64
    }

    #[test]
    fn deadlines_are_unix_times_durations_or_a_logged_fallback() {
        let received = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_000);
        assert_eq!(
            deadline_ms(&headers(Some("1800000003000")), received),
            (1_800_000_003_000, None)
        );
        // cargo lambda watch: its timeout, from now.
        assert_eq!(
            deadline_ms(&headers(Some("600000")), received),
            (ms(received) + 600_000, None)
        );
        for (value, why) in [(None, "there is none"), (Some("soon"), "`soon` is not")] {
            let (deadline, reason) = deadline_ms(&headers(value), received);
            assert_eq!(deadline, ms(received + FALLBACK_TIMEOUT), "{value:?}");
            let reason = reason.expect("a reason to log");
            assert!(reason.contains(why), "{reason}");
            assert!(reason.contains("Lambda-Runtime-Deadline-Ms"), "{reason}");
            assert!(reason.contains("900 s"), "{reason}");
        }
    }

    #[derive(Debug)]
    struct Unreadable;

    impl<'de> serde::Deserialize<'de> for Unreadable {
        fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            panic!("cannot read this")
        }
    }

    struct Unwritable;

    impl Serialize for Unwritable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("cannot write this")
        }
    }

    #[tokio::test]
    async fn a_panic_while_decoding_the_event_is_a_panic_document_naming_the_step() {
        let doc = respond(
            |_: Unreadable, _| async { Ok::<_, std::io::Error>(()) },
            b"{}",
            Invocation::builder().build(),
        )
        .await
        .expect_err("panicked");
        assert_eq!(doc.error_type, "Panic");
        assert!(
            doc.error_message.starts_with(
                "decoding the event as `Unreadable` panicked at crates/lamplight/src/runtime.rs:"
            ),
            "{}",
            doc.error_message
        );
        assert!(
            doc.error_message.ends_with(": cannot read this"),
            "{}",
            doc.error_message
        );
    }

    #[tokio::test]
    async fn a_panic_while_encoding_the_response_is_a_panic_document_naming_the_step() {
        let doc = respond(
            |_: serde_json::Value, _| async { Ok::<_, std::io::Error>(Unwritable) },
            b"{}",
            Invocation::builder().build(),
        )
        .await
        .expect_err("panicked");
        assert_eq!(doc.error_type, "Panic");
        assert!(
            doc.error_message
                .starts_with("encoding the response as JSON panicked at "),
            "{}",
            doc.error_message
        );
        assert!(
            doc.error_message.ends_with(": cannot write this"),
            "{}",
            doc.error_message
        );
        assert!(doc.stack_trace.is_some());
    }
}
