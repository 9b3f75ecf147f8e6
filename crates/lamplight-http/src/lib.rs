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
//! - [`Json`], [`Query`] and [`Path`] extractors answering 422 with the field at fault;
//! - bodies up to Lambda's 6 MB payload limit ([`middleware::BODY_LIMIT`], or
//!   `LAMPLIGHT_HTTP_BODY_LIMIT` bytes), a larger one answered 413 in the JSON error shape;
//! - events read leniently ([`event`]): the minimal proxy events of lambda-httpx, Mangum- or
//!   Zappa-style callers and test harnesses are answered, and an event that is not HTTP at all
//!   (an SQS batch sent to an HTTP function) fails with `NotAnHttpEvent` naming what it is.
//!
//! Binary responses are base64-encoded by `lambda_http` from their `Content-Type`.
//!
//! [`run_streaming`] serves the same router with its bodies streamed as they are produced
//! (Function URLs in `RESPONSE_STREAM` mode): see [`streaming`].
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
pub mod event;
mod extract;
pub mod middleware;
pub mod streaming;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use lambda_http::lambda_runtime::LambdaEvent;
use lamplight::{FunctionError, Invocation, RuntimeError};
use tower::ServiceExt as _;

pub use error::{FieldError, HttpError};
pub use event::{EventError, EventKind, HttpEvent};
pub use extract::{Json, Path, Query};
pub use middleware::RequestId;
pub use streaming::run_streaming;

/// The router with lamplight's defaults around it (request id outermost, then the access log,
/// then the body limit, then the timeout). [`run`] applies it; tests of a router can too.
///
/// The body limit is [`middleware::BODY_LIMIT`] unless `LAMPLIGHT_HTTP_BODY_LIMIT` (bytes)
/// says otherwise; a route may lower it for its extractors with axum's `DefaultBodyLimit`.
pub fn with_defaults(app: Router) -> Router {
    let limit = middleware::body_limit_from_env();
    // axum's extractors would refuse bodies over 2 MB: they follow the function's limit.
    app.layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(middleware::timeout))
        .layer(axum::middleware::from_fn_with_state(
            limit,
            middleware::body_limit,
        ))
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

/// A proxy response as `lambda_http` makes it, or, for REST APIs, that response as JSON with
/// its `headers` filled in.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Answer<R> {
    AsIs(R),
    Rest(serde_json::Value),
}

/// `lambda_http` puts every header of a REST API response in `multiValueHeaders` only, and
/// leaves out an empty body. API Gateway merges the two header maps (a pair in both appears
/// once) and treats `""` as no body, but callers that invoke the function directly
/// (lambda-httpx, Mangum-era clients, test harnesses) read `headers` and `body` alone: give
/// them each header's last value (as API Gateway does for request headers) and `""`.
fn for_direct_callers(mut response: serde_json::Value) -> serde_json::Value {
    let single: serde_json::Map<String, serde_json::Value> = response
        .get("multiValueHeaders")
        .and_then(serde_json::Value::as_object)
        .map(|multi| {
            multi
                .iter()
                .filter_map(|(name, values)| {
                    let last = values.as_array()?.last()?.clone();
                    Some((name.clone(), last))
                })
                .collect()
        })
        .unwrap_or_default();
    if let Some(object) = response.as_object_mut() {
        object.insert("headers".to_owned(), serde_json::Value::Object(single));
        object
            .entry("body")
            .or_insert_with(|| serde_json::Value::String(String::new()));
    }
    response
}

/// Answers a read event with the adapter.
async fn answer_event<S>(
    adapter: S,
    event: HttpEvent,
    inv: &Invocation,
) -> Result<Answer<S::Response>, FunctionError>
where
    S: tower::Service<
            LambdaEvent<lambda_http::request::LambdaRequest>,
            Error = std::convert::Infallible,
        >,
    S::Response: serde::Serialize,
{
    let kind = event.kind();
    let response = match adapter
        .oneshot(LambdaEvent::new(
            event.into_lambda_request(),
            inv.lambda_context(),
        ))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if kind != EventKind::RestApi {
        return Ok(Answer::AsIs(response));
    }
    let value = serde_json::to_value(&response).map_err(|e| {
        FunctionError::new(
            "InvalidResponse",
            format!("the proxy response could not be encoded as JSON: {e}"),
        )
    })?;
    Ok(Answer::Rest(for_direct_callers(value)))
}

/// Reads the event and answers it with the adapter: what [`run`] does for each invocation.
async fn handle<S>(
    adapter: S,
    event: serde_json::Value,
    inv: Invocation,
) -> Result<Answer<S::Response>, FunctionError>
where
    S: tower::Service<
            LambdaEvent<lambda_http::request::LambdaRequest>,
            Error = std::convert::Infallible,
        >,
    S::Response: serde::Serialize,
{
    let event = HttpEvent::parse(event)?;
    answer_event(adapter, event, &inv).await
}

/// Serves `app` for every HTTP event (API Gateway HTTP/REST, ALB, Function URL) until the
/// execution environment stops. Events are read by [`HttpEvent::parse`]; one that is not an
/// HTTP event fails the invocation with the [`EventError`]'s `errorType` and message.
pub async fn run(app: Router) -> Result<(), RuntimeError> {
    let adapter = service(app);
    lamplight::run(move |event: serde_json::Value, inv: Invocation| {
        handle(adapter.clone(), event, inv)
    })
    .await
}

/// Answers the raw event bytes exactly as [`run`] would: the JSON proxy response, or the error
/// document Lambda would return (`NotAnHttpEvent`, `InvalidHttpEvent`, a panic). For tests of
/// a whole function from sample events, without a runtime.
pub async fn respond(app: Router, event: &[u8], inv: Invocation) -> Result<Vec<u8>, FunctionError> {
    let adapter = service(app);
    lamplight::respond(
        move |event: serde_json::Value, inv: Invocation| handle(adapter.clone(), event, inv),
        event,
        inv,
    )
    .await
}

/// Answers one event with `app` (and its defaults) the way [`run`] does: for tests of a whole
/// function from sample events, without a runtime.
pub async fn answer(
    app: Router,
    event: serde_json::Value,
    inv: &Invocation,
) -> Result<serde_json::Value, HttpError> {
    let event = HttpEvent::parse(event).map_err(|e| {
        HttpError::new(
            http::StatusCode::BAD_REQUEST,
            "invalid_event",
            format!("{}: {e}", e.error_type()),
        )
    })?;
    let response = answer_event(service(app), event, inv)
        .await
        .map_err(HttpError::internal)?;
    serde_json::to_value(response).map_err(HttpError::internal)
}
