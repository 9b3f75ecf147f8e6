//! The Runtime API (2018-06-01) one execution environment's runtime talks to.
//!
//! A runtime is arbitrary code, so nothing it sends is trusted: bodies are read against a size
//! limit (the declared `Content-Length` first, then the bytes as they arrive) and a deadline
//! (the invocation's timeout), so a runtime that sends too much, too slowly, or stops half-way
//! costs a bounded amount of memory and never holds an invocation past its timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_LENGTH};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use futures_util::StreamExt as _;
use serde_json::json;
use tokio::net::TcpListener;

use crate::invocation::{FunctionResult, StreamTap, error_body};
use crate::stream::{Limits, MAX_STREAMED_RESPONSE, StreamError, TRUNCATED};

/// The most bytes of one response the Runtime API takes, as Lambda (6 MB plus framing).
pub(crate) const MAX_RESPONSE: usize = 6_291_556;

/// What `/next` hands the runtime.
pub(crate) struct NextInvocation {
    pub request_id: String,
    pub deadline_ms: u64,
    pub invoked_arn: String,
    pub trace_header: String,
    pub client_context: Option<String>,
    pub identity: Option<String>,
    pub payload: Bytes,
}

/// What the Runtime API serves: one execution environment's invocation slot. The environment
/// implements it, so this module needs nothing above [`crate::invocation`].
pub(crate) trait RuntimeApiBackend: Send + Sync + 'static {
    /// Waits for the environment's next invocation; `None` once it is stopping.
    fn next_invocation(self: &Arc<Self>) -> impl Future<Output = Option<NextInvocation>> + Send;
    /// When the running invocation `request_id` times out; `None` when it is not the one
    /// running.
    fn deadline(&self, request_id: &str) -> Option<Instant>;
    /// When the runtime's init phase times out.
    fn init_deadline(&self) -> Instant;
    /// Answers `request_id` with `result`; false when it was not running (any more).
    fn finish(
        &self,
        request_id: &str,
        result: FunctionResult,
        status: Option<&str>,
    ) -> impl Future<Output = bool> + Send;
    /// Where the running invocation `request_id` wants a streamed response, if anywhere.
    fn stream_tap(&self, request_id: &str) -> Option<StreamTap>;
    /// The runtime reported an init error: the environment fails its invocations and stops.
    fn init_failed(self: &Arc<Self>, error_type: String, body: Bytes);
}

const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// How long past an invocation's deadline a body may still be arriving: by then the timeout has
/// failed the invocation, and the read only keeps a connection open.
const DEADLINE_GRACE: Duration = Duration::from_secs(1);

/// Serves the Runtime API for `env`, and the `extra` routes next to it (the Extensions API),
/// until the task is aborted.
pub(crate) async fn serve<E: RuntimeApiBackend>(listener: TcpListener, env: Arc<E>, extra: Router) {
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next::<E>))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response::<E>),
        )
        .route(
            "/2018-06-01/runtime/invocation/{id}/error",
            post(error::<E>),
        )
        .route("/2018-06-01/runtime/init/error", post(init_error::<E>))
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .with_state(env)
        .merge(extra);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("runtime API server failed: {e}");
    }
}

async fn next<E: RuntimeApiBackend>(State(env): State<Arc<E>>) -> Response {
    let Some(next) = env.next_invocation().await else {
        return runtime_error(
            StatusCode::GONE,
            "EnvironmentStopped",
            "this execution environment is shutting down",
        );
    };
    let mut response = Response::new(Body::from(next.payload));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("content-type", "application/json");
    set("lambda-runtime-aws-request-id", &next.request_id);
    set("lambda-runtime-deadline-ms", &next.deadline_ms.to_string());
    set("lambda-runtime-invoked-function-arn", &next.invoked_arn);
    set("lambda-runtime-trace-id", &next.trace_header);
    if let Some(context) = &next.client_context {
        set("lambda-runtime-client-context", context);
    }
    if let Some(identity) = &next.identity {
        set("lambda-runtime-cognito-identity", identity);
    }
    response
}

async fn response<E: RuntimeApiBackend>(
    State(env): State<Arc<E>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(deadline) = env.deadline(&id) else {
        return invalid_request_id();
    };
    if crate::stream::is_streaming(&headers) {
        return streamed_response(&*env, &id, &headers, body, deadline).await;
    }
    match read_body(&headers, body, deadline + DEADLINE_GRACE).await {
        Ok(body) => {
            if env.finish(&id, FunctionResult::Response(body), None).await {
                accepted()
            } else {
                invalid_request_id()
            }
        }
        Err(e) => refuse_invocation_body(&*env, &id, e).await,
    }
}

/// A response posted in streaming mode: its bytes go to the caller as they arrive, and how it
/// ended (whole, with an error in its trailers, cut short, too large) finishes the invocation.
async fn streamed_response<E: RuntimeApiBackend>(
    env: &E,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    deadline: Instant,
) -> Response {
    let tap = env.stream_tap(id);
    let received = crate::stream::receive(
        id,
        headers,
        body,
        deadline + DEADLINE_GRACE,
        tap,
        Limits {
            buffered: MAX_RESPONSE,
            streamed: MAX_STREAMED_RESPONSE,
        },
    )
    .await;
    let (result, status, answer) = match received {
        Ok(result) => (result, None, None),
        Err(e @ StreamError::TooLarge { .. }) => {
            let result = FunctionResult::Error {
                error_type: "Function.ResponseSizeTooLarge".into(),
                body: error_body("Function.ResponseSizeTooLarge", &e.to_string()),
            };
            let answer = runtime_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &e.to_string(),
            );
            (result, Some("error"), Some(answer))
        }
        Err(e @ StreamError::Broken(_)) => {
            let message = format!("RequestId: {id} Error: {e}");
            let result = FunctionResult::Error {
                error_type: TRUNCATED.into(),
                body: error_body(TRUNCATED, &message),
            };
            let answer = runtime_error(StatusCode::BAD_REQUEST, "InvalidRequest", &e.to_string());
            (result, Some("error"), Some(answer))
        }
        // The invocation's timer has failed it already.
        Err(StreamError::TooSlow) => return BodyError::TooSlow.response(),
    };
    let finished = env.finish(id, result, status).await;
    match answer {
        Some(answer) => answer,
        None if finished => accepted(),
        None => invalid_request_id(),
    }
}

async fn error<E: RuntimeApiBackend>(
    State(env): State<Arc<E>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(deadline) = env.deadline(&id) else {
        return invalid_request_id();
    };
    let body = match read_body(&headers, body, deadline + DEADLINE_GRACE).await {
        Ok(body) => body,
        Err(e) => return refuse_invocation_body(&*env, &id, e).await,
    };
    let error_type = header(&headers, ERROR_TYPE).unwrap_or_else(|| "Unhandled".into());
    let body = if body.is_empty() {
        error_body(&error_type, "")
    } else {
        body
    };
    if env
        .finish(&id, FunctionResult::Error { error_type, body }, None)
        .await
    {
        accepted()
    } else {
        invalid_request_id()
    }
}

async fn init_error<E: RuntimeApiBackend>(
    State(env): State<Arc<E>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let error_type = header(&headers, ERROR_TYPE).unwrap_or_else(|| "Runtime.Unknown".into());
    match read_body(&headers, body, env.init_deadline() + DEADLINE_GRACE).await {
        Ok(body) => {
            let body = if body.is_empty() {
                error_body(&error_type, "")
            } else {
                body
            };
            env.init_failed(error_type, body);
            accepted()
        }
        Err(BodyError::TooLarge) => {
            let message = format!(
                "RequestId: {{id}} Error: the init error document exceeded the maximum allowed size ({MAX_RESPONSE} bytes)"
            );
            let body = error_body(&error_type, &message);
            env.init_failed(error_type, body);
            too_large()
        }
        Err(e) => e.response(),
    }
}

/// Why a runtime's body was not taken.
#[derive(Debug)]
enum BodyError {
    /// Over [`MAX_RESPONSE`], declared or sent.
    TooLarge,
    /// The connection failed or closed before the body was complete.
    Broken(axum::Error),
    /// Still arriving when its invocation (or init) had to be over.
    TooSlow,
}

impl BodyError {
    fn response(&self) -> Response {
        match self {
            Self::TooLarge => too_large(),
            Self::Broken(e) => runtime_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!("could not read the request body: {e}"),
            ),
            Self::TooSlow => runtime_error(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "the request body did not arrive before the invocation's deadline",
            ),
        }
    }
}

/// Reads at most [`MAX_RESPONSE`] bytes of `body` before `deadline`, refusing a larger declared
/// `Content-Length` without reading anything.
async fn read_body(headers: &HeaderMap, body: Body, deadline: Instant) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_RESPONSE as u64) {
        return Err(BodyError::TooLarge);
    }
    let read = async {
        let mut stream = body.into_data_stream();
        let mut collected = bytes::BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(BodyError::Broken)?;
            if collected.len() + chunk.len() > MAX_RESPONSE {
                return Err(BodyError::TooLarge);
            }
            collected.extend_from_slice(&chunk);
        }
        Ok(collected.freeze())
    };
    tokio::time::timeout_at(deadline.into(), read)
        .await
        .unwrap_or(Err(BodyError::TooSlow))
}

/// Answers a response or error body that was not taken; one too large fails the invocation, as
/// Lambda does.
async fn refuse_invocation_body<E: RuntimeApiBackend>(env: &E, id: &str, e: BodyError) -> Response {
    if matches!(e, BodyError::TooLarge) {
        let message = format!(
            "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE} bytes)."
        );
        env.finish(
            id,
            FunctionResult::Error {
                error_type: "Function.ResponseSizeTooLarge".into(),
                body: error_body("Function.ResponseSizeTooLarge", &message),
            },
            Some("error"),
        )
        .await;
    }
    e.response()
}

async fn not_found() -> Response {
    runtime_error(
        StatusCode::NOT_FOUND,
        "InvalidRequest",
        "unknown Runtime API path",
    )
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn too_large() -> Response {
    runtime_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes)."),
    )
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn invalid_request_id() -> Response {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID",
    )
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"errorType": error_type, "errorMessage": message})),
    )
        .into_response()
}
