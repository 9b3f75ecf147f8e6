//! A router answering real API Gateway, ALB and Function URL events through `lambda_http`, with
//! lamplight's defaults; responses and access-log lines are snapshot-tested.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use lamplight::Invocation;
use lamplight_http::{HttpError, Json, Path, Query};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt as _};

#[derive(Deserialize)]
struct NewOrder {
    item: String,
    quantity: u32,
}

#[derive(Deserialize)]
struct Listing {
    limit: u32,
}

async fn order(Path(id): Path<u32>) -> Result<Json<Value>, HttpError> {
    match id {
        0 => Err(HttpError::not_found("no order 0")),
        13 => Err(HttpError::internal(
            "orders table unreachable: connection reset",
        )),
        id => Ok(Json(json!({"id": id, "item": "tea"}))),
    }
}

async fn create(Json(order): Json<NewOrder>) -> Json<Value> {
    Json(json!({"item": order.item, "quantity": order.quantity}))
}

async fn list(Query(listing): Query<Listing>) -> Json<Value> {
    Json(json!({"limit": listing.limit}))
}

async fn logo() -> impl axum::response::IntoResponse {
    (
        [(CONTENT_TYPE, "image/png")],
        vec![0x89u8, b'P', b'N', b'G', 0, 255],
    )
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    "too late"
}

fn app() -> Router {
    Router::new()
        .route("/orders", get(list).post(create))
        .route("/orders/{id}", get(order))
        .route("/logo.png", get(logo))
        .route("/slow", get(slow))
}

fn event(name: &str) -> Value {
    let path = format!("{}/tests/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("event file")).expect("json")
}

/// Captures access-log events as JSON objects.
#[derive(Clone, Default)]
struct AccessLog(Arc<Mutex<Vec<Value>>>);

struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
}

impl<S: Subscriber> Layer<S> for AccessLog {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() == "lamplight_http::access" {
            let mut fields = Map::new();
            fields.insert(
                "level".into(),
                Value::from(event.metadata().level().as_str()),
            );
            event.record(&mut Fields(&mut fields));
            self.0.lock().expect("lock").push(Value::Object(fields));
        }
    }
}

async fn answer(name: &str, event: Value, inv: &Invocation) -> (Value, Value) {
    let log = AccessLog::default();
    let subscriber = tracing_subscriber::registry().with(log.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let response = lamplight_http::answer(app(), event, inv)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let lines = log.0.lock().expect("lock").clone();
    assert_eq!(lines.len(), 1, "{name}: one access log line: {lines:?}");
    (response, lines[0].clone())
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::assert_json_snapshot!($name, $value, {
            ".log.duration_ms" => "[ms]",
            ".response.headers[\"x-request-id\"]" => insta::dynamic_redaction(|value, _| {
                // Generated ids are random; ids from the client are kept.
                if value.as_str().is_some_and(|v| v.starts_with("from-the-client")) { value } else { "[generated]".into() }
            }),
            ".response.multiValueHeaders[\"x-request-id\"][0]" => "[generated]",
            ".log.request_id" => insta::dynamic_redaction(|value, _| {
                if value.as_str().is_some_and(|v| v.starts_with("from-the-client")) { value } else { "[generated]".into() }
            }),
        });
    };
}

#[tokio::test]
async fn every_event_source_is_answered_with_its_own_response_shape() {
    let inv = Invocation::builder()
        .remaining(Duration::from_secs(10))
        .build();
    for name in ["http-api", "rest-api", "alb", "function-url"] {
        let (response, log) = answer(name, event(name), &inv).await;
        snapshot!(name, json!({"response": response, "log": log}));
    }
}

#[tokio::test]
async fn errors_hide_their_detail_from_the_client_but_log_it() {
    let inv = Invocation::builder()
        .remaining(Duration::from_secs(10))
        .build();
    let mut missing = event("http-api");
    missing["rawPath"] = json!("/orders/0");
    missing["requestContext"]["http"]["path"] = json!("/orders/0");
    let (response, log) = answer("missing", missing, &inv).await;
    snapshot!("not_found", json!({"response": response, "log": log}));

    let mut broken = event("http-api");
    broken["rawPath"] = json!("/orders/13");
    broken["requestContext"]["http"]["path"] = json!("/orders/13");
    let (response, log) = answer("broken", broken, &inv).await;
    assert!(
        !response.to_string().contains("orders table"),
        "the detail stays in the log: {response}"
    );
    assert_eq!(log["error"], "orders table unreachable: connection reset");
    snapshot!("internal_error", json!({"response": response, "log": log}));

    let mut bad_path = event("http-api");
    bad_path["rawPath"] = json!("/orders/seven");
    bad_path["requestContext"]["http"]["path"] = json!("/orders/seven");
    let (response, _) = answer("bad path", bad_path, &inv).await;
    assert_eq!(response["statusCode"], 422);
    let body: Value = serde_json::from_str(response["body"].as_str().expect("body")).expect("json");
    assert_eq!(body["fields"][0]["field"], "path.id");
}

#[tokio::test]
async fn a_request_that_outlives_the_invocation_gets_504_before_lambda_stops_it() {
    let inv = Invocation::builder()
        .remaining(Duration::from_millis(700))
        .build();
    let mut slow = event("http-api");
    slow["rawPath"] = json!("/slow");
    slow["requestContext"]["http"]["path"] = json!("/slow");
    let started = std::time::Instant::now();
    let (response, log) = answer("slow", slow, &inv).await;
    assert!(
        started.elapsed() < Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(response["statusCode"], 504);
    assert_eq!(log["status"], 504);
    assert!(
        log["error"]
            .as_str()
            .expect("detail")
            .starts_with("stopped after ")
    );
}
