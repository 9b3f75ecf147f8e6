//! HTTP APIs on Lambda: an axum [`Router`] served through API Gateway (HTTP and REST APIs),
//! ALB and Function URLs by `lambda_http`, with lamplight's defaults:
//!
//! - `X-Request-ID` taken from the request or generated, in the request's extensions
//!   ([`RequestId`]) and echoed in the response;
//! - one access log line per request (method, path, route, status, duration, request ids, and
//!   the error's log-only detail), with the invocation's `requestId` and `traceId`;
//! - a timeout ([`middleware::DEADLINE_MARGIN`] before Lambda's deadline, or
//!   `FUNCTION_TIMEOUT` seconds) that answers 504 instead of letting Lambda kill the function;
//! - [`HttpError`] JSON errors whose detail reaches the log, never the client;
//! - [`Json`], [`Query`] and [`Path`] extractors answering 422 with the field at fault.
//!
//! Binary responses are base64-encoded by `lambda_http` from their `Content-Type`.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use lamplight_http::{HttpError, Json, Path};
//!
//! async fn order(Path(id): Path<u32>) -> Result<Json<serde_json::Value>, HttpError> {
//!     if id == 0 {
//!         return Err(HttpError::not_found("no order 0"));
//!     }
//!     Ok(Json(serde_json::json!({"id": id})))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lamplight::RuntimeError> {
//!     lamplight_http::run(Router::new().route("/orders/{id}", get(order))).await
//! }
//! ```

mod error;
mod extract;
pub mod middleware;

use axum::Router;
use lambda_http::lambda_runtime::LambdaEvent;
use lambda_http::request::LambdaRequest;
use lamplight::{Invocation, RuntimeError};
use tower::ServiceExt as _;

pub use error::{FieldError, HttpError};
pub use extract::{Json, Path, Query};
pub use middleware::RequestId;

/// The router with lamplight's defaults around it (request id outermost, then the access log,
/// then the timeout). [`run`] applies it; tests of a router can too.
pub fn with_defaults(app: Router) -> Router {
    app.layer(axum::middleware::from_fn(middleware::timeout))
        .layer(axum::middleware::from_fn(middleware::access_log))
        .layer(axum::middleware::from_fn(middleware::request_id))
}

/// REST APIs put the stage in the request path (`/prod/orders`); routes are written without
/// it, so the router sees `/orders` unless `LAMPLIGHT_HTTP_KEEP_STAGE` is set. The stage stays
/// readable in the request context.
fn without_stage(mut req: lambda_http::Request) -> lambda_http::Request {
    use lambda_http::RequestExt as _;
    use lambda_http::request::RequestContext;
    if std::env::var_os("LAMPLIGHT_HTTP_KEEP_STAGE").is_some() {
        return req;
    }
    let Some(RequestContext::ApiGatewayV1(context)) = req.request_context_ref() else {
        return req;
    };
    let Some(stage) = context.stage.as_deref() else {
        return req;
    };
    let prefix = format!("/{stage}");
    let uri = req.uri();
    let Some(rest) = uri
        .path()
        .strip_prefix(&prefix)
        .filter(|r| r.is_empty() || r.starts_with('/'))
    else {
        return req;
    };
    let mut path_and_query = if rest.is_empty() {
        "/".to_owned()
    } else {
        rest.to_owned()
    };
    if let Some(q) = uri.query() {
        path_and_query = format!("{path_and_query}?{q}");
    }
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(stripped) = http::Uri::from_parts(parts) {
            *req.uri_mut() = stripped;
        }
    }
    req
}

fn service(
    app: Router,
) -> lambda_http::Adapter<
    'static,
    axum::response::Response,
    impl tower::Service<
        lambda_http::Request,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone,
> {
    lambda_http::Adapter::from(
        tower::ServiceBuilder::new()
            .map_request(without_stage)
            .service(with_defaults(app)),
    )
}

/// Serves `app` for every HTTP event (API Gateway HTTP/REST, ALB, Function URL) until the
/// execution environment stops.
pub async fn run(app: Router) -> Result<(), RuntimeError> {
    let adapter = service(app);
    lamplight::run(move |event: LambdaRequest, inv: Invocation| {
        adapter
            .clone()
            .oneshot(LambdaEvent::new(event, inv.lambda_context()))
    })
    .await
}

/// Answers one event with `app` (and its defaults) the way [`run`] does: for tests of a whole
/// function from sample events, without a runtime.
pub async fn answer(
    app: Router,
    event: serde_json::Value,
    inv: &Invocation,
) -> Result<serde_json::Value, HttpError> {
    let event: LambdaRequest = serde_json::from_value(event)
        .map_err(|e| HttpError::bad_request(format!("not an HTTP event: {e}")))?;
    let response = service(app)
        .oneshot(LambdaEvent::new(event, inv.lambda_context()))
        .await
        .map_err(HttpError::internal)?;
    serde_json::to_value(response).map_err(HttpError::internal)
}
