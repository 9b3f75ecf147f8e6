//! `Valid<T>` and `ValidationError` in a real axum router: 422 bodies shaped like lamplight-http's.
#![cfg(feature = "http")]

use std::sync::LazyLock;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use http_body_util::BodyExt as _;
use lamplight_validation::{BodySchema, Schema, Valid, ValidationError, validate_response};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt as _;

#[derive(Clone)]
struct AppState {
    order: Schema,
}

#[derive(Debug, Deserialize)]
struct Order {
    id: String,
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    qty: u8,
}

impl BodySchema<AppState> for Order {
    fn body_schema(state: &AppState) -> Schema {
        state.order.clone()
    }
}

#[derive(Debug, Deserialize)]
struct Ping {
    n: i64,
}

static PING: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new(
        json!({ "type": "object", "required": ["n"], "properties": { "n": { "maximum": 10 } } }),
    )
    .expect("test setup")
});

impl<S> BodySchema<S> for Ping {
    fn body_schema(_state: &S) -> Schema {
        PING.clone()
    }
}

async fn create(Valid(order): Valid<Order>) -> String {
    format!(
        "{} x{}",
        order.id,
        order.items.iter().map(|i| u32::from(i.qty)).sum::<u32>()
    )
}

async fn ping(Valid(ping): Valid<Ping>) -> String {
    ping.n.to_string()
}

async fn bad_response() -> Result<String, ValidationError> {
    let schema = Schema::new(json!({ "type": "string", "maxLength": 2 })).expect("test setup");
    validate_response(&schema, "too long".to_owned())
}

fn app() -> Router {
    let order = Schema::new(json!({
        "type": "object",
        "required": ["id", "items"],
        "properties": {
            "id": { "type": "string" },
            "items": {
                "type": "array",
                "items": { "type": "object", "required": ["qty"], "properties": { "qty": { "type": "integer", "minimum": 1 } } }
            }
        }
    }))
    .expect("test setup");
    Router::new()
        .route("/orders", post(create))
        .route("/ping", post(ping))
        .route("/bad-response", post(bad_response))
        .with_state(AppState { order })
}

async fn send(path: &str, content_type: &str, body: &str) -> (StatusCode, String) {
    let response = app()
        .oneshot(
            Request::post(path)
                .header("content-type", content_type)
                .body(Body::from(body.to_owned()))
                .expect("test setup"),
        )
        .await
        .expect("test setup");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("test setup")
        .to_bytes();
    (
        status,
        String::from_utf8(bytes.to_vec()).expect("test setup"),
    )
}

#[tokio::test]
async fn a_valid_body_reaches_the_handler() {
    let (status, body) = send(
        "/orders",
        "application/json",
        r#"{"id":"o-1","items":[{"qty":2},{"qty":3}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, "o-1 x5");

    let (status, body) = send("/ping", "application/json", r#"{"n":3}"#).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "3"));
}

#[tokio::test]
async fn schema_violations_are_422_with_every_field() {
    let (status, body) = send(
        "/orders",
        "application/json",
        r#"{"id":7,"items":[{"qty":0},{}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let body: Value = serde_json::from_str(&body).expect("test setup");
    assert_eq!(body["code"], "validation_error");
    assert_eq!(body["message"], "3 fields are invalid");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .expect("test setup")
        .iter()
        .map(|f| f["field"].as_str().expect("test setup"))
        .collect();
    assert_eq!(fields, ["body.id", "body.items[0].qty", "body.items[1]"]);
    assert_eq!(
        body["fields"][0]["problem"],
        "value is not of type \"string\" (type)"
    );
    assert_eq!(
        body["fields"][2]["problem"],
        "\"qty\" is a required property (required)"
    );
}

#[tokio::test]
async fn a_body_that_fits_the_schema_but_not_the_type_is_422_too() {
    let (status, body) = send(
        "/orders",
        "application/json",
        r#"{"id":"o-1","items":[{"qty":300}]}"#,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let body: Value = serde_json::from_str(&body).expect("test setup");
    assert_eq!(body["fields"][0]["field"], "body.items[0].qty");
    assert!(
        body["fields"][0]["problem"]
            .as_str()
            .expect("test setup")
            .ends_with("(deserialize)"),
        "{body}"
    );
}

#[tokio::test]
async fn a_static_schema_works_without_state() {
    let (status, body) = send("/ping", "application/json", r#"{"n":11}"#).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let body: Value = serde_json::from_str(&body).expect("test setup");
    assert_eq!(
        body["message"],
        "body.n is invalid: value is greater than the maximum of 10 (maximum)"
    );
}

#[tokio::test]
async fn content_type_and_syntax_are_answered_like_lamplight_http() {
    let (status, body) = send("/ping", "text/plain", r#"{"n":1}"#).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = send("/ping", "application/json", r#"{"n":"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let body: Value = serde_json::from_str(&body).expect("test setup");
    assert_eq!(body["code"], "bad_request");
}

#[tokio::test]
async fn an_invalid_response_is_a_500_that_tells_the_client_nothing() {
    let (status, body) = send("/bad-response", "application/json", "{}").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let body: Value = serde_json::from_str(&body).expect("test setup");
    assert_eq!(
        body,
        json!({ "code": "internal_error", "message": "internal error" })
    );
}
