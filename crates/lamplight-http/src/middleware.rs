//! The defaults every lamplight HTTP function gets: `X-Request-ID`, a JSON access log line per
//! request, a body limit that follows Lambda's payload limit, and a timeout that answers 504
//! before Lambda stops the function.

use std::time::{Duration, Instant, SystemTime};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use lambda_http::RequestExt as _;

use crate::error::{ErrorDetail, HttpError};

/// The request id header, taken from the request or generated, and echoed in the response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of this request, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// The largest request body accepted by default: Lambda's synchronous invocation payload limit
/// (6 MB), which no request through API Gateway or a Function URL can exceed anyway.
pub const BODY_LIMIT: usize = lamplight_limits::MAX_SYNC_PAYLOAD;

/// The environment variable that sets the body limit in bytes instead of [`BODY_LIMIT`].
pub const BODY_LIMIT_VAR: &str = "LAMPLIGHT_HTTP_BODY_LIMIT";

/// [`BODY_LIMIT_VAR`] when it holds a number of bytes, else [`BODY_LIMIT`].
pub fn body_limit_from_env() -> usize {
    body_limit_from(std::env::var(BODY_LIMIT_VAR).ok().as_deref())
}

fn body_limit_from(value: Option<&str>) -> usize {
    let Some(value) = value else {
        return BODY_LIMIT;
    };
    match value.trim().parse::<usize>() {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(
                "{BODY_LIMIT_VAR}={value:?} is not a number of bytes ({e}); \
                 using the default of {BODY_LIMIT} bytes"
            );
            BODY_LIMIT
        }
    }
}

/// The 413 answer for a body of `size` bytes over `limit`.
fn too_large(size: u64, limit: usize) -> HttpError {
    let message =
        format!("the request body is {size} bytes, more than the {limit} bytes this API accepts");
    HttpError::new(
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        message,
    )
    .with_detail(format!(
        "body over the limit of {limit} bytes; raise it with {BODY_LIMIT_VAR} (bytes)"
    ))
}

/// Refuses a body over the limit before any handler runs, so every route answers 413 in the
/// JSON error shape, whatever extractor it uses. Lambda hands the body over whole, so its size
/// is known exactly.
pub(crate) async fn body_limit(
    axum::extract::State(limit): axum::extract::State<usize>,
    req: Request,
    next: Next,
) -> Response {
    use axum::body::HttpBody as _;
    // The body's own size, not `Content-Length`: the event carries the body whole.
    let size = req.body().size_hint().lower();
    if size > u64::try_from(limit).unwrap_or(u64::MAX) {
        return too_large(size, limit).into_response();
    }
    next.run(req).await
}

/// How long before Lambda's deadline the timeout answers, to leave time to send the 504.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(300);

pub(crate) async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned);
    if let Ok(value) = HeaderValue::from_str(&id) {
        req.headers_mut().insert(REQUEST_ID, value.clone());
        req.extensions_mut().insert(RequestId(id));
        let mut response = next.run(req).await;
        response.headers_mut().insert(REQUEST_ID, value);
        response
    } else {
        next.run(req).await
    }
}

pub(crate) async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
    let response = next.run(req).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let detail = response
        .extensions()
        .get::<ErrorDetail>()
        .map(|d| d.0.as_str());
    macro_rules! log {
        ($level:ident) => {
            tracing::$level!(
                target: "lamplight_http::access",
                method = %method,
                path = %path,
                route = route.as_deref(),
                status,
                duration_ms = (ms * 1000.0).round() / 1000.0,
                request_id = request_id.as_deref(),
                error = detail,
                "{method} {path} {status}"
            )
        };
    }
    match status {
        500.. => log!(error),
        400..=499 => log!(warn),
        _ => log!(info),
    }
    response
}

/// The time this request may take: `FUNCTION_TIMEOUT` (seconds) when set, else what is left of
/// the invocation minus [`DEADLINE_MARGIN`].
fn budget(req: &Request) -> Option<Duration> {
    if let Some(secs) = std::env::var("FUNCTION_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        && secs > 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let deadline = req.lambda_context_ref()?.deadline;
    if deadline == 0 {
        return None;
    }
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline);
    let left = deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Some(left.saturating_sub(DEADLINE_MARGIN))
}

pub(crate) async fn timeout(req: Request, next: Next) -> Response {
    let Some(budget) = budget(&req) else {
        return next.run(req).await;
    };
    match tokio::time::timeout(budget, next.run(req)).await {
        Ok(response) => response,
        Err(_) => HttpError::gateway_timeout(format!("stopped after {} ms", budget.as_millis()))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_limit_is_lambdas_unless_the_variable_names_bytes() {
        assert_eq!(body_limit_from(None), 6 * 1024 * 1024);
        assert_eq!(body_limit_from(Some(" 1048576 ")), 1_048_576);
        assert_eq!(body_limit_from(Some("6MB")), BODY_LIMIT);
        assert_eq!(body_limit_from(Some("-1")), BODY_LIMIT);
    }
}
