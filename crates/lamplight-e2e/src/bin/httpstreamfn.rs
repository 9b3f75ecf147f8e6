//! An HTTP function on `lamplight_http::run_streaming`: `/lines?n=N&ms=M` streams `line 1` to
//! `line N`, M ms apart, with status 201, a header and a cookie; `/fail` streams a line, then
//! its body fails.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::response::IntoResponse;
use axum::routing::get;
use futures_util::stream;
use serde::Deserialize;

#[derive(Deserialize)]
struct Lines {
    n: u32,
    ms: u64,
}

async fn lines(Query(q): Query<Lines>) -> impl IntoResponse {
    let body = stream::unfold(1u32, move |i| async move {
        if i > q.n {
            return None;
        }
        if i > 1 {
            tokio::time::sleep(Duration::from_millis(q.ms)).await;
        }
        Some((Ok::<_, std::io::Error>(format!("line {i}\n")), i + 1))
    });
    (
        http::StatusCode::CREATED,
        [("x-stream", "yes"), ("set-cookie", "seen=1")],
        Body::from_stream(body),
    )
}

async fn fail() -> Body {
    let body = stream::unfold(0u32, |i| async move {
        match i {
            0 => Some((Ok(bytes::Bytes::from_static(b"line 1\n")), 1)),
            // A while later, as a failure mid-stream comes: the first line is out by then.
            1 => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Err(std::io::Error::other("the body broke")), 2))
            }
            _ => None,
        }
    });
    Body::from_stream(body)
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    lamplight_http::run_streaming(
        Router::new()
            .route("/lines", get(lines))
            .route("/fail", get(fail)),
    )
    .await
}
