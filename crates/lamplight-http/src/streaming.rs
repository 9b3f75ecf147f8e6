//! Streamed HTTP responses: [`run_streaming`] serves an axum [`Router`] whose bodies are sent
//! to the client as they are produced (a Function URL in `RESPONSE_STREAM` mode), for bodies
//! built with `axum::body::Body::from_stream`, server-sent events, or any other axum body.
//!
//! The response is posted as Lambda's HTTP integration expects: a JSON prelude with the
//! status, headers and cookies, 8 NUL bytes, then the body's bytes as the body yields them.
//! The router gets [`with_defaults`] as with [`run`](crate::run); the
//! timeout covers producing the response's head, not streaming its body. A body that fails
//! mid-stream ends the response with Lambda's error trailers (see
//! [`lamplight::runtime::streaming`]).
//!
//! ```no_run
//! use axum::{Router, body::Body, routing::get};
//! use futures_util::stream;
//!
//! async fn lines() -> Body {
//!     Body::from_stream(stream::iter(
//!         (1..=3).map(|i| Ok::<_, std::io::Error>(format!("line {i}\n"))),
//!     ))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lamplight::RuntimeError> {
//!     lamplight_http::run_streaming(Router::new().route("/lines", get(lines))).await
//! }
//! ```

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use futures_util::{Stream, StreamExt as _, stream};
use lambda_http::RequestExt as _;
use lamplight::runtime::streaming::HTTP_INTEGRATION;
use lamplight::{FunctionError, Invocation, RuntimeError, StreamResponse};
use tower::ServiceExt as _;

use crate::{HttpEvent, with_defaults, without_stage};

/// What separates the prelude from the body.
const PRELUDE_END: [u8; 8] = [0; 8];

/// Serves `app` for every HTTP event until the execution environment stops, streaming each
/// response's body as it is produced. Events are read as [`run`](crate::run) reads them.
pub async fn run_streaming(app: Router) -> Result<(), RuntimeError> {
    let app = with_defaults(app);
    lamplight::run_streaming(move |event: serde_json::Value, inv: Invocation| {
        respond(app.clone(), event, inv)
    })
    .await
}

/// Answers one event with the router: the prelude, then the body.
async fn respond(
    app: Router,
    event: serde_json::Value,
    inv: Invocation,
) -> Result<StreamResponse<impl Stream<Item = Result<Bytes, axum::Error>>>, FunctionError> {
    let event = HttpEvent::parse(event)?;
    let context = inv.lambda_context();
    let mut request: lambda_http::Request = event.into_lambda_request().into();
    // The invocation's own trace header, as `lambda_http` sets it.
    if let Some(value) = context
        .xray_trace_id
        .as_deref()
        .and_then(|t| http::HeaderValue::from_str(t).ok())
    {
        request.headers_mut().insert("x-amzn-trace-id", value);
    }
    let request = without_stage(request.with_lambda_context(context));
    let response = match app.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let mut head = serde_json::to_vec(&prelude(&parts)).map_err(|e| {
        FunctionError::new(
            "InvalidResponse",
            format!("the response's head could not be encoded as JSON: {e}"),
        )
    })?;
    head.extend_from_slice(&PRELUDE_END);
    let body =
        stream::once(async move { Ok(Bytes::from(head)) }).chain(Body::into_data_stream(body));
    Ok(StreamResponse::new(body).content_type(HTTP_INTEGRATION))
}

/// `{"statusCode", "headers", "cookies"}`: `Set-Cookie` headers become cookies, and a header
/// sent more than once is joined with `, `.
fn prelude(parts: &http::response::Parts) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for name in parts.headers.keys() {
        let values = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if name == http::header::SET_COOKIE {
            cookies.extend(values);
        } else {
            let joined: Vec<String> = values.collect();
            headers.insert(name.as_str().to_owned(), joined.join(", ").into());
        }
    }
    serde_json::json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "cookies": cookies,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prelude_has_status_headers_and_cookies() {
        let response = http::Response::builder()
            .status(201)
            .header("content-type", "text/plain")
            .header("x-many", "a")
            .header("x-many", "b")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .body(())
            .expect("response");
        let (parts, ()) = response.into_parts();
        assert_eq!(
            prelude(&parts),
            serde_json::json!({
                "statusCode": 201,
                "headers": {"content-type": "text/plain", "x-many": "a, b"},
                "cookies": ["a=1", "b=2"],
            })
        );
    }
}
