//! An HTTP function on lamplight-http: routes that exercise what an HTTP client of a Lambda
//! must carry both ways (status, headers, cookies, query strings, JSON and binary bodies).

use axum::Router;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lamplight_http::{HttpError, Json, Path};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct NewItem {
    name: String,
    qty: u32,
}

async fn item(Path(id): Path<u32>) -> Result<Json<Value>, HttpError> {
    if id == 0 {
        return Err(HttpError::not_found("no item 0").with_detail("ids start at 1"));
    }
    Ok(Json(json!({"id": id})))
}

async fn create(Json(item): Json<NewItem>) -> Response {
    (
        StatusCode::CREATED,
        [
            (header::LOCATION, "/items/7".to_owned()),
            (header::SET_COOKIE, "session=s1; HttpOnly".to_owned()),
        ],
        Json(json!({"id": 7, "name": item.name, "qty": item.qty})),
    )
        .into_response()
}

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: String) -> Json<Value> {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                Value::String(v.to_str().unwrap_or("").to_owned()),
            )
        })
        .collect();
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": headers,
        "body": body,
    }))
}

async fn blob() -> Response {
    (
        [(header::CONTENT_TYPE, "image/png")],
        vec![0x89u8, b'P', b'N', b'G', 0, 0xff],
    )
        .into_response()
}

/// Answers with the request's body, bytes as they came.
async fn reflect(body: axum::body::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response()
}

/// Ends the runtime's process mid-invocation: a function error (`Runtime.ExitError`).
async fn exit() -> Response {
    std::process::exit(3)
}

/// Blocks its thread `ms` milliseconds: past the function's timeout, lamplight-http's own
/// deadline cannot answer either, and Lambda stops the environment (`Sandbox.Timedout`).
async fn block(Path(ms): Path<u64>) -> Response {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    "slept".into_response()
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    let app = Router::new()
        .route("/items", post(create))
        .route("/items/{id}", get(item))
        .route("/echo", get(echo).post(echo))
        .route("/blob", get(blob))
        .route("/reflect", post(reflect))
        .route("/exit", get(exit))
        .route("/block/{ms}", get(block));
    lamplight_http::run(app).await
}
