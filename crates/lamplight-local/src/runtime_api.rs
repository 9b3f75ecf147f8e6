//! The Runtime API (2018-06-01) one execution environment's runtime talks to.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use serde_json::json;
use tokio::net::TcpListener;

use crate::environment::{Environment, MAX_RESPONSE};
use crate::invocation::{FunctionResult, error_body};

const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

/// Serves the Runtime API for `env` until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, env: Arc<Environment>) {
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .with_state(env);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("runtime API server failed: {e}");
    }
}

async fn next(State(env): State<Arc<Environment>>) -> Response {
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

async fn response(
    State(env): State<Arc<Environment>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if !env.is_running(&id) {
        return invalid_request_id();
    }
    if body.len() > MAX_RESPONSE {
        let message = format!(
            "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE} bytes)."
        );
        env.finish(
            &id,
            FunctionResult::Error {
                error_type: "Function.ResponseSizeTooLarge".into(),
                body: error_body("Function.ResponseSizeTooLarge", &message),
            },
            Some("error"),
        )
        .await;
        return runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE} bytes)."),
        );
    }
    if env.finish(&id, FunctionResult::Response(body), None).await {
        accepted()
    } else {
        invalid_request_id()
    }
}

async fn error(
    State(env): State<Arc<Environment>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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

async fn init_error(
    State(env): State<Arc<Environment>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let error_type = header(&headers, ERROR_TYPE).unwrap_or_else(|| "Runtime.Unknown".into());
    let body = if body.is_empty() {
        error_body(&error_type, "")
    } else {
        body
    };
    env.init_failed(error_type, body);
    accepted()
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
