//! Starting the function: [`run`] serves invocations, [`init`] builds per-environment state.
//!
//! lamplight drives `lambda_runtime`'s polling loop and completes each invocation itself: it
//! decodes the event, calls the handler (catching panics), and posts the response or the error
//! document. Completing it here rather than in `lambda_runtime`'s response service is what lets
//! the error document carry `stackTrace` (its `Diagnostic` has only type and message) and lets
//! telemetry flush after the response is sent and before the next poll.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures::FutureExt;
use http::Method;
use lambda_runtime::{LambdaEvent, LambdaInvocation, Service};
use lambda_runtime_api_client::{Client, body::Body, build_request};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::env::{Env, EnvError, vars};
use crate::error::{BoxError, FunctionError, install_panic_hook};
use crate::invocation::Invocation;

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

/// Serves invocations with `handler` until the execution environment is shut down.
///
/// The handler takes the typed event and the [`Invocation`]; its error type is anything that
/// converts into a boxed error (a `thiserror` enum, `anyhow::Error`, a [`FunctionError`]).
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
    let telemetry = setup();
    let env = Env::current()?;
    let runtime_api = require_runtime_api(&env)?;
    let client = Client::builder()
        .with_endpoint(runtime_api)
        .build()
        .map_err(|e| RuntimeError::RuntimeApi(e.into()))?;
    let complete = Complete {
        handler: Arc::new(handler),
        client: Arc::new(client),
        env,
        cold_start: Arc::new(AtomicBool::new(true)),
        telemetry,
        _event: std::marker::PhantomData,
    };
    // `Runtime::new` needs a handler, but `Complete` takes every invocation before it would be
    // reached: this one only satisfies the type.
    let unreachable = lambda_runtime::service_fn(|_: LambdaEvent<serde::de::IgnoredAny>| async {
        Err::<(), _>(lambda_runtime::Diagnostic {
            error_type: "Lamplight.Internal".into(),
            error_message: "lamplight completes invocations itself".into(),
        })
    });
    lambda_runtime::Runtime::new(unreachable)
        .layer(CompleteLayer(complete))
        .run()
        .await
        .map_err(RuntimeError::RuntimeApi)
}

/// Builds state once per execution environment, before the first invocation.
///
/// Expensive things (SDK clients, configuration, connection pools, compiled templates) belong
/// here, not in the handler: the returned reference lives as long as the execution environment
/// and every invocation shares it. A failure is logged and reported to Lambda as an init error
/// (`POST /runtime/init/error`), which Lambda shows to the caller and in the logs.
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
    setup();
    let built = AssertUnwindSafe(async move { build().await })
        .catch_unwind()
        .await;
    let doc = match built {
        Ok(Ok(state)) => return Ok(Box::leak(Box::new(state))),
        Ok(Err(e)) => FunctionError::from_handler_error(e),
        Err(panic) => FunctionError::from_panic(panic.as_ref()),
    };
    tracing::error!(errorType = %doc.error_type, "initialisation failed: {}", doc.error_message);
    if let Some(api) = std::env::var(vars::AWS_LAMBDA_RUNTIME_API)
        .ok()
        .filter(|v| !v.is_empty())
        && let Err(e) = report_init_error(&api, &doc).await
    {
        tracing::error!("could not report the init error to the Runtime API: {e}");
    }
    Err(RuntimeError::Init(doc))
}

/// Logs, traces and the panic hook, installed once whichever of [`init`] and [`run`] comes first.
fn setup() -> &'static lamplight_telemetry::Telemetry {
    let telemetry = lamplight_telemetry::install();
    install_panic_hook();
    telemetry
}

fn require_runtime_api(env: &Env) -> Result<http::Uri, RuntimeError> {
    let not_set = || {
        RuntimeError::Env(EnvError {
            problems: vec![crate::env::EnvProblem {
                name: vars::AWS_LAMBDA_RUNTIME_API,
                problem: "not set".into(),
            }],
        })
    };
    let api = env.runtime_api.as_deref().ok_or_else(not_set)?;
    format!("http://{api}").parse().map_err(|e| {
        RuntimeError::Env(EnvError {
            problems: vec![crate::env::EnvProblem {
                name: vars::AWS_LAMBDA_RUNTIME_API,
                problem: format!("`{api}` is not host:port ({e})"),
            }],
        })
    })
}

async fn report_init_error(api: &str, doc: &FunctionError) -> Result<(), BoxError> {
    let client = Client::builder()
        .with_endpoint(format!("http://{api}").parse()?)
        .build()?;
    let request = error_request("/2018-06-01/runtime/init/error", doc, None)?;
    client.call(request).await?;
    Ok(())
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
        .header(
            "Lambda-Runtime-Function-Error-Type",
            doc.error_type.as_str(),
        );
    if let Some(id) = invocation_id {
        builder = builder.header(INVOCATION_ID, id);
    }
    Ok(builder.body(Body::from(serde_json::to_vec(doc)?))?)
}

const INVOCATION_ID: &str = "Lambda-Runtime-Invocation-Id";

struct CompleteLayer<F, Ev>(Complete<F, Ev>);

impl<S, F, Ev> tower_layer::Layer<S> for CompleteLayer<F, Ev> {
    type Service = Complete<F, Ev>;

    fn layer(&self, _inner: S) -> Self::Service {
        self.0.clone()
    }
}

struct Complete<F, Ev> {
    handler: Arc<F>,
    client: Arc<Client>,
    env: Arc<Env>,
    cold_start: Arc<AtomicBool>,
    telemetry: &'static lamplight_telemetry::Telemetry,
    _event: std::marker::PhantomData<fn(Ev)>,
}

impl<F, Ev> Clone for Complete<F, Ev> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            client: self.client.clone(),
            env: self.env.clone(),
            cold_start: self.cold_start.clone(),
            telemetry: self.telemetry,
            _event: std::marker::PhantomData,
        }
    }
}

impl<F, Fut, Ev, R, E> Service<LambdaInvocation> for Complete<F, Ev>
where
    F: Fn(Ev, Invocation) -> Fut + 'static,
    Fut: Future<Output = Result<R, E>> + 'static,
    Ev: DeserializeOwned + 'static,
    R: Serialize + 'static,
    E: Into<BoxError> + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<(), BoxError>>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: LambdaInvocation) -> Self::Future {
        let invocation_id = req
            .parts
            .headers
            .get(INVOCATION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let cold_start = self.cold_start.swap(false, Ordering::Relaxed);
        let invocation = Invocation::from_context(req.context, self.env.clone(), cold_start);
        let request_id = invocation.request_id().to_owned();
        let trace_id = invocation.trace().map(|t| t.root.to_string());
        let span = self
            .telemetry
            .invocation_span(lamplight_telemetry::InvocationInfo {
                request_id: &request_id,
                trace_header: invocation.raw_trace_header(),
                trace_id: trace_id.as_deref(),
                cold_start,
            });
        let handler = self.handler.clone();
        let client = self.client.clone();
        let telemetry = self.telemetry;
        let function_name = self.env.function_name.clone();
        let body = req.body;
        Box::pin(async move {
            let outcome = complete::<F, Fut, Ev, R, E>(&handler, &body, invocation)
                .instrument(span.clone())
                .await;
            let request = match &outcome {
                Ok(response) => build_request()
                    .method(Method::POST)
                    .uri(format!(
                        "/2018-06-01/runtime/invocation/{request_id}/response"
                    ))
                    .header("Content-Type", "application/json")
                    .header(INVOCATION_ID, invocation_id.as_deref().unwrap_or_default())
                    .body(Body::from(response.clone()))?,
                Err(doc) => {
                    span.in_scope(
                        || tracing::error!(errorType = %doc.error_type, "{}", doc.error_message),
                    );
                    lamplight_telemetry::record_failure(&span, &doc.error_type, &doc.error_message);
                    error_request(
                        &format!("/2018-06-01/runtime/invocation/{request_id}/error"),
                        doc,
                        invocation_id.as_deref(),
                    )?
                }
            };
            // The handler's subsegment ends with the handler, before the response is sent.
            drop(span);
            telemetry.write_metrics(&function_name, cold_start);
            let response = client.call(request).await;
            // Spans leave after the response and before the next poll: the caller never waits
            // for them, and none is queued when Lambda freezes the process.
            telemetry.flush_async().await;
            let response = response?;
            if !response.status().is_success() {
                // Lambda refuses oversized responses (413) and late ones (410); the invocation
                // is already settled on its side, so say so and carry on.
                tracing::warn!(
                    requestId = %request_id,
                    status = response.status().as_u16(),
                    "the Runtime API refused the invocation result"
                );
            }
            Ok(())
        })
    }
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

/// Decodes the event, runs the handler with panics caught, and encodes the response.
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
    let event: Ev = serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(
        body,
    ))
    .map_err(|e| {
        FunctionError::new(
            "InvalidEvent",
            format!(
                "the event does not match `{}`: {e}",
                crate::error::short_type_name(std::any::type_name::<Ev>())
            ),
        )
    })?;
    let outcome = AssertUnwindSafe(async { handler(event, invocation).await })
        .catch_unwind()
        .await;
    match outcome {
        Ok(Ok(response)) => serde_json::to_vec(&response).map_err(|e| {
            FunctionError::new(
                "InvalidResponse",
                format!("the handler's response could not be encoded as JSON: {e}"),
            )
        }),
        Ok(Err(e)) => Err(FunctionError::from_handler_error(e)),
        Err(panic) => Err(FunctionError::from_panic(panic.as_ref())),
    }
}
