//! The event corpus: minimal and full events of every HTTP source in their documented shapes,
//! plus what real callers send (lambda-httpx, Mangum- and Zappa-style minimal events, lenient
//! forms), answered through a router exactly as `run` answers them; events that are not HTTP
//! fail with an error naming the field that decided it; request bodies up to Lambda's limit.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::routing::{any, get, post};
use lamplight::Invocation;
use lamplight_http::{EventError, EventKind, HttpError, HttpEvent, Json, Path, Query};
use serde::Deserialize;
use serde_json::{Value, json};

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
        id => Ok(Json(json!({"id": id, "item": "tea"}))),
    }
}

async fn create(Json(order): Json<NewOrder>) -> (StatusCode, Json<Value>) {
    (
        StatusCode::CREATED,
        Json(json!({"item": order.item, "quantity": order.quantity})),
    )
}

async fn list(Query(listing): Query<Listing>) -> Json<Value> {
    Json(json!({"limit": listing.limit}))
}

async fn upload(Json(body): Json<Value>) -> Json<Value> {
    let size = body["data"].as_str().map_or(0, str::len);
    Json(json!({"received": size}))
}

/// Everything the router saw of the request.
async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Json<Value> {
    let headers: BTreeMap<String, Vec<String>> =
        headers.keys().fold(BTreeMap::new(), |mut all, name| {
            let values = headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            all.insert(name.as_str().to_owned(), values);
            all
        });
    Json(json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}

fn app() -> Router {
    Router::new()
        .route("/orders", get(list).post(create))
        .route("/orders/{id}", get(order))
        .route("/upload", post(upload))
        .route("/echo/{*rest}", any(echo))
}

fn read(path: &str) -> Value {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn corpus(name: &str) -> Value {
    read(&format!("tests/events/corpus/{name}.json"))
}

/// The full non-HTTP sample events live with the batch types that read them.
fn batch_sample(name: &str) -> Value {
    read(&format!("../lamplight-batch/tests/events/{name}.json"))
}

fn inv() -> Invocation {
    Invocation::builder()
        .remaining(Duration::from_secs(10))
        .build()
}

/// Answers `event` as `run` would; the proxy response as JSON, or the error document's
/// `errorType: errorMessage`.
async fn respond(event: &Value) -> Result<Value, String> {
    let bytes = serde_json::to_vec(event).expect("event JSON");
    match lamplight_http::respond(app(), &bytes, inv()).await {
        Ok(response) => Ok(serde_json::from_slice(&response).expect("response JSON")),
        Err(doc) => Err(doc.to_string()),
    }
}

fn body_json(response: &Value) -> Value {
    let body = response["body"].as_str().unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("body {body:?}: {e}"))
}

/// A response header: REST API responses carry every header in `multiValueHeaders` only
/// (API Gateway merges the two maps, so `lambda_http` leaves `headers` empty).
fn header(response: &Value, name: &str) -> Option<String> {
    response["headers"][name]
        .as_str()
        .or_else(|| response["multiValueHeaders"][name][0].as_str())
        .map(str::to_owned)
}

/// Which response shape a proxy response has.
fn shape(response: &Value) -> EventKind {
    if response.get("statusDescription").is_some() {
        EventKind::Alb
    } else if response.get("cookies").is_some() {
        EventKind::HttpApi
    } else {
        EventKind::RestApi
    }
}

#[tokio::test]
async fn every_corpus_event_is_answered_in_its_own_response_shape() {
    let cases = [
        (
            "rest-api-full",
            EventKind::RestApi,
            201,
            json!({"item": "tea", "quantity": 2}),
        ),
        (
            "rest-api-minimal",
            EventKind::RestApi,
            200,
            json!({"id": 7, "item": "tea"}),
        ),
        (
            "lambda-httpx",
            EventKind::RestApi,
            200,
            json!({"id": 7, "item": "tea"}),
        ),
        (
            "mangum-minimal",
            EventKind::RestApi,
            201,
            json!({"item": "tea", "quantity": 2}),
        ),
        (
            "zappa-minimal",
            EventKind::RestApi,
            200,
            json!({"limit": 5}),
        ),
        (
            "lenient-forms",
            EventKind::RestApi,
            201,
            json!({"item": "tea", "quantity": 2}),
        ),
        (
            "http-api-minimal",
            EventKind::HttpApi,
            200,
            json!({"id": 7, "item": "tea"}),
        ),
        (
            "http-api-full",
            EventKind::HttpApi,
            201,
            json!({"item": "tea", "quantity": 2}),
        ),
        (
            "function-url-full",
            EventKind::FunctionUrl,
            200,
            json!({"id": 7, "item": "tea"}),
        ),
        (
            "function-url-minimal",
            EventKind::FunctionUrl,
            200,
            json!({"limit": 3}),
        ),
        ("alb-full", EventKind::Alb, 200, json!({"limit": 4})),
        (
            "alb-minimal",
            EventKind::Alb,
            200,
            json!({"id": 7, "item": "tea"}),
        ),
    ];
    for (name, kind, status, body) in cases {
        let event = corpus(name);
        let parsed = HttpEvent::parse(event.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.kind(), kind, "{name}");
        let response = respond(&event)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(response["statusCode"], status, "{name}: {response}");
        assert_eq!(body_json(&response), body, "{name}");
        let expected_shape = match kind {
            EventKind::FunctionUrl => EventKind::HttpApi,
            other => other,
        };
        assert_eq!(shape(&response), expected_shape, "{name}: {response}");
        assert_eq!(
            header(&response, "content-type").as_deref(),
            Some("application/json"),
            "{name}: {response}"
        );
        assert!(
            header(&response, "x-request-id").is_some(),
            "{name}: {response}"
        );
    }
}

#[tokio::test]
async fn the_lambda_httpx_event_is_answered_as_a_rest_api_proxy_response() {
    // The event from the interop issue, which lambda_http alone refused.
    let event = corpus("lambda-httpx");
    let response = respond(&event).await.expect("answered");
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["isBase64Encoded"], false);
    assert_eq!(
        response["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    let mut missing = event;
    missing["path"] = json!("/orders/0");
    let response = respond(&missing).await.expect("answered");
    assert_eq!(response["statusCode"], 404);
    assert_eq!(body_json(&response)["code"], "not_found");
}

#[tokio::test]
async fn lenient_forms_reach_the_router_as_the_request_they_mean() {
    let mut event = corpus("lenient-forms");
    event["path"] = json!("echo/lenient");
    event["queryStringParameters"] = json!({"page": 2, "tag": ["a", "b"]});
    let response = respond(&event).await.expect("answered");
    assert_eq!(response["statusCode"], 200, "{response}");
    let seen = body_json(&response);
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["path"], "/echo/lenient");
    // The query maps are unordered: compare the pairs, keeping repeated keys' order.
    let query = seen["query"].as_str().expect("query string");
    let mut pairs: Vec<&str> = query.split('&').collect();
    pairs.sort_by_key(|pair| pair.split('=').next().unwrap_or_default().to_owned());
    assert_eq!(pairs, ["page=2", "tag=a", "tag=b"], "{query}");
    assert_eq!(seen["headers"]["content-type"], json!(["application/json"]));
    assert_eq!(seen["headers"]["x-attempt"], json!(["2"]));
    assert_eq!(seen["headers"]["x-trace"], json!(["one"]));
    assert!(seen["headers"].get("x-empty").is_none(), "{seen}");
    assert_eq!(seen["body"], r#"{"item":"tea","quantity":2}"#);
}

#[tokio::test]
async fn base64_bodies_decode_whatever_the_alphabet_or_padding() {
    let bytes = [0xfbu8, 0xff, 0xfe, b'a'];
    // Standard `+/8=`-style text, URL-safe `-_` and unpadded forms all carry the same bytes.
    for text in ["+//+YQ==", "-__-YQ", "+//+\nYQ=="] {
        let mut event = corpus("rest-api-minimal");
        event["path"] = json!("/echo/bin");
        event["httpMethod"] = json!("PUT");
        event["body"] = json!(text);
        event["isBase64Encoded"] = json!(true);
        let request = HttpEvent::parse(event)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .into_request();
        let body: &[u8] = request.body().as_ref();
        assert_eq!(body, bytes, "{text:?}");
    }
}

#[tokio::test]
async fn a_rest_api_stage_is_not_part_of_the_routed_path() {
    let mut event = corpus("rest-api-full");
    event["path"] = json!("/echo/staged");
    event["httpMethod"] = json!("GET");
    let response = respond(&event).await.expect("answered");
    let seen = body_json(&response);
    assert_eq!(seen["path"], "/echo/staged", "{seen}");
    assert_eq!(seen["query"], "source=web");
    assert_eq!(
        seen["headers"]["host"],
        json!(["1234567890.execute-api.us-east-1.amazonaws.com"])
    );
}

#[tokio::test]
async fn events_of_other_sources_fail_naming_the_field_that_decided_it() {
    let cases = [
        (batch_sample("sqs"), "`Records` (an SQS batch)"),
        (batch_sample("sns"), "`Records` (an SNS notification)"),
        (batch_sample("s3"), "`Records` (an S3 notification)"),
        (
            batch_sample("dynamodb"),
            "`Records` (a DynamoDB stream batch)",
        ),
        (
            batch_sample("eventbridge-schedule"),
            "`detail-type` (an EventBridge event)",
        ),
        (json!({"Records": []}), "`Records` (an SQS/SNS/S3 batch?)"),
        (json!({}), "an empty object"),
        (json!({"name": "x", "id": 1}), "the fields `id`, `name`"),
        (
            json!({"requestContext": {"eventType": "CONNECT", "connectionId": "c-1"}}),
            "`requestContext.eventType` (an API Gateway WebSocket event",
        ),
    ];
    for (event, found) in cases {
        let error = respond(&event).await.expect_err("not an HTTP event");
        assert!(error.starts_with("NotAnHttpEvent: "), "{error}");
        assert!(
            error.contains(&format!(
                "expected an API Gateway/ALB/Function URL event: found {found}"
            )),
            "{error}"
        );
        assert!(
            error.contains("no `httpMethod` or `requestContext.http`"),
            "{error}"
        );
    }
    for (event, found) in [
        (json!([1, 2]), "an array"),
        (json!("GET /orders"), "the string \"GET /orders\""),
        (json!(null), "null"),
    ] {
        let error = respond(&event).await.expect_err("not an object");
        assert!(error.starts_with("NotAnHttpEvent: "), "{error}");
        assert!(
            error.contains(&format!("(a JSON object), found {found}")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn invalid_fields_of_http_events_are_named() {
    let with = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut event = corpus(name);
        edit(&mut event);
        event
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            with("rest-api-minimal", &|e| e["httpMethod"] = json!(42)),
            "`httpMethod` is invalid: expected an HTTP method such as \"GET\", found the number 42",
        ),
        (
            with("rest-api-minimal", &|e| e["httpMethod"] = json!("GE T")),
            "`httpMethod` is invalid",
        ),
        (
            with("rest-api-minimal", &|e| {
                e["body"] = json!("%%%");
                e["isBase64Encoded"] = json!(true);
            }),
            "`body` is invalid: expected base64 text, as `isBase64Encoded` is true",
        ),
        (
            with("rest-api-minimal", &|e| {
                e["headers"] = json!({"x-bad": "a\nb"})
            }),
            "`headers.x-bad` is invalid: expected a header value",
        ),
        (
            with("rest-api-minimal", &|e| {
                e["headers"] = json!({"bad name": "x"})
            }),
            "`headers.bad name` is invalid: expected a header name",
        ),
        (
            with("rest-api-minimal", &|e| e["pathParameters"] = json!(7)),
            "`pathParameters` is invalid: expected an object of names to values",
        ),
        (
            with("rest-api-minimal", &|e| {
                e["isBase64Encoded"] = json!("maybe")
            }),
            "`isBase64Encoded` is invalid: expected true or false",
        ),
        (
            with("http-api-minimal", &|e| e["requestContext"] = json!({})),
            "HTTP API (payload 2.0) event's `requestContext.http` is invalid",
        ),
        (
            with("http-api-minimal", &|e| {
                e["requestContext"]["http"] = json!({})
            }),
            "`requestContext.http.method` is invalid: expected an HTTP method such as \"GET\", \
             found nothing (the field is missing)",
        ),
        (
            with("alb-minimal", &|e| e["httpMethod"] = Value::Null),
            "the ALB event's `httpMethod` is invalid",
        ),
        (
            with("rest-api-minimal", &|e| {
                e["headers"] = json!({"host": "a b"})
            }),
            "`headers.host` is invalid",
        ),
    ];
    for (event, expected) in cases {
        let error = respond(&event).await.expect_err("invalid");
        assert!(error.starts_with("InvalidHttpEvent: "), "{error}");
        assert!(error.contains(expected), "{error}\nexpected: {expected}");
    }
}

#[test]
fn event_errors_have_clean_error_types() {
    let error = HttpEvent::parse(json!({"Records": []})).expect_err("not HTTP");
    assert!(matches!(error, EventError::NotHttp { .. }));
    let doc = lamplight::FunctionError::from(error);
    assert!(
        doc.to_string().starts_with("NotAnHttpEvent: expected"),
        "{doc}"
    );
}

#[tokio::test]
async fn a_3_mb_json_body_is_accepted() {
    let data = "x".repeat(3 * 1024 * 1024);
    let mut event = corpus("rest-api-minimal");
    event["httpMethod"] = json!("POST");
    event["path"] = json!("/upload");
    event["headers"] = json!({"content-type": "application/json"});
    event["body"] = json!(json!({"data": data}).to_string());
    let response = respond(&event).await.expect("answered");
    assert_eq!(response["statusCode"], 200, "{}", response["body"]);
    assert_eq!(body_json(&response)["received"], 3 * 1024 * 1024);
}

#[tokio::test]
async fn a_7_mb_body_is_refused_with_413_in_the_json_error_shape() {
    let data = "x".repeat(7 * 1024 * 1024);
    for path in ["/upload", "/echo/raw", "/nowhere"] {
        let mut event = corpus("http-api-minimal");
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["method"] = json!("POST");
        event["headers"] = json!({"content-type": "application/json"});
        event["body"] = json!(json!({"data": data}).to_string());
        let response = respond(&event).await.expect("answered");
        assert_eq!(response["statusCode"], 413, "{path}");
        assert_eq!(response["headers"]["content-type"], "application/json");
        let body = body_json(&response);
        assert_eq!(body["code"], "payload_too_large", "{path}");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.contains(&format!(
                "the request body is {} bytes, more than the 6291456 bytes this API accepts",
                data.len() + 11
            )),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_route_may_lower_the_body_limit_and_still_answer_json() {
    let small = Router::new()
        .route("/upload", post(upload))
        .layer(axum::extract::DefaultBodyLimit::max(16));
    let mut event = corpus("http-api-minimal");
    event["rawPath"] = json!("/upload");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["headers"] = json!({"content-type": "application/json"});
    event["body"] = json!(json!({"data": "more than sixteen bytes"}).to_string());
    let response = lamplight_http::answer(small, event, &inv())
        .await
        .expect("answered");
    assert_eq!(response["statusCode"], 413);
    assert_eq!(body_json(&response)["code"], "payload_too_large");
}
