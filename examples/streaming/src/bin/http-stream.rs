//! The same lines over HTTP: a Function URL in `RESPONSE_STREAM` mode (or `cargo xtask local
//! --bootstrap target/debug/http-stream --http-trigger function-url`) answers
//! `GET /lines?chunks=N&interval_ms=M` with `chunk 1` to `chunk N`, each sent as it is produced.
//! A bad query is a 422 naming the field, before anything streams.

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use lamplight_example_streaming::worker::{self, Request};

async fn lines(
    query: Result<Query<Request>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let request = match query {
        Ok(Query(request)) => request,
        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, e.body_text()).into_response(),
    };
    if let Err(e) = worker::check(&request) {
        return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response();
    }
    let body = worker::lines(request).map(|line| line.map_err(std::io::Error::other));
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(body),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    lamplight_http::run_streaming(Router::new().route("/lines", get(lines))).await
}
