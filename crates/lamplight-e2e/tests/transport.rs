//! A Lambda function called as an HTTP service: `LambdaTransport` turns requests into API
//! Gateway events, invokes the real `httpfn` bootstrap under the local service through the
//! Lambda API, and turns its proxy responses back into HTTP responses.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::{BodyExt as _, Full};
use lamplight_aws::Aws;
use lamplight_aws::transport::{LambdaTransport, PayloadFormat, TransportError};
use lamplight_local::{Code, FunctionConfig, LocalLambda};
use serde_json::{Value, json};

async fn setup() -> (LocalLambda, LambdaTransport) {
    let service = service(vec![
        FunctionConfig::new("items", Code::Bootstrap(httpfn())),
        testfn_config("plain"),
    ])
    .await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .endpoint_url(service.endpoint_url())
        .load()
        .await;
    let transport = LambdaTransport::new(Aws::from_config(config).lambda());
    (service, transport)
}

async fn body(response: http::Response<Full<Bytes>>) -> Bytes {
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("json body")
}

fn get(uri: &str) -> Request<String> {
    Request::get(uri).body(String::new()).expect("request")
}

#[tokio::test]
async fn routes_statuses_and_json_bodies_come_back() {
    let (_service, transport) = setup().await;
    let ok = transport
        .send(get("http+lambda://items/items/5"))
        .await
        .expect("answer");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.headers()["content-type"], "application/json");
    assert!(ok.headers().contains_key("x-request-id"));
    assert_eq!(json_of(&body(ok).await), json!({"id": 5}));

    let missing = transport
        .send(get("http+lambda://items/items/0"))
        .await
        .expect("answer");
    assert_eq!(missing.status(), 404);
    let missing = json_of(&body(missing).await);
    assert_eq!(missing["code"], "not_found");
    assert!(
        missing.get("detail").is_none() && !missing.to_string().contains("ids start at 1"),
        "the detail stays in the log: {missing}"
    );
}

#[tokio::test]
async fn posts_carry_json_and_answers_carry_headers_and_cookies() {
    let (_service, transport) = setup().await;
    let created = transport
        .send(
            Request::post("http+lambda://items/items")
                .header("content-type", "application/json")
                .body(r#"{"name": "lamp", "qty": 2}"#.to_owned())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["location"], "/items/7");
    assert_eq!(created.headers()["set-cookie"], "session=s1; HttpOnly");
    assert_eq!(
        json_of(&body(created).await),
        json!({"id": 7, "name": "lamp", "qty": 2})
    );

    let invalid = transport
        .send(
            Request::post("http+lambda://items/items")
                .header("content-type", "application/json")
                .body(r#"{"name": "lamp", "qty": -1}"#.to_owned())
                .expect("request"),
        )
        .await
        .expect("answer");
    assert_eq!(invalid.status(), 422);
    let invalid = json_of(&body(invalid).await);
    assert_eq!(invalid["fields"][0]["field"], "body.qty", "{invalid}");
}

#[tokio::test]
async fn query_strings_cookies_and_headers_reach_the_function_in_both_formats() {
    let (_service, transport) = setup().await;
    for format in [PayloadFormat::HttpApi, PayloadFormat::RestApi] {
        let transport = transport.clone().format(format);
        let echoed = transport
            .send(
                Request::post("http+lambda://items/echo?tag=a&tag=b&q=x%20y")
                    .header("x-custom", "one")
                    .header("cookie", "a=1; b=2")
                    .body("plain text".to_owned())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(echoed.status(), 200, "{format:?}");
        let echoed = json_of(&body(echoed).await);
        assert_eq!(echoed["method"], "POST", "{format:?}");
        assert_eq!(echoed["path"], "/echo", "{format:?}");
        assert_eq!(echoed["body"], "plain text", "{format:?}");
        assert_eq!(echoed["headers"]["x-custom"], "one", "{format:?}");
        let query = echoed["query"].as_str().expect("query");
        for part in ["tag=a", "tag=b", "q=x"] {
            assert!(
                query.contains(part),
                "{format:?}: {part} missing in {query}"
            );
        }
        let cookie = echoed["headers"]["cookie"].as_str().unwrap_or_default();
        assert!(
            cookie.contains("a=1") && cookie.contains("b=2"),
            "{format:?}: cookies {echoed}"
        );
    }
}

#[tokio::test]
async fn binary_answers_arrive_byte_for_byte() {
    let (_service, transport) = setup().await;
    let blob = transport
        .send(get("http+lambda://items/blob"))
        .await
        .expect("answer");
    assert_eq!(blob.status(), 200);
    assert_eq!(blob.headers()["content-type"], "image/png");
    assert_eq!(
        body(blob).await.as_ref(),
        &[0x89u8, b'P', b'N', b'G', 0, 0xff]
    );
}

#[tokio::test]
async fn many_requests_at_once_each_get_their_own_answer() {
    let (_service, transport) = setup().await;
    let requests = (1..=40u32).map(|id| {
        let transport = transport.clone();
        async move {
            let response = transport
                .send(get(&format!("http+lambda://items/items/{id}")))
                .await
                .expect("answer");
            (id, json_of(&body(response).await))
        }
    });
    for (id, answer) in futures::future::join_all(requests).await {
        assert_eq!(answer["id"], id);
    }
}

#[tokio::test]
async fn failures_name_the_function_and_what_went_wrong() {
    let (_service, transport) = setup().await;
    // `plain` is not an HTTP function: the event does not parse, the function fails.
    let error = transport
        .send(get("http+lambda://plain/anything"))
        .await
        .expect_err("not an HTTP function");
    match &error {
        TransportError::Function {
            function,
            error_type,
            error_message,
        } => {
            assert_eq!(function, "plain");
            assert!(!error_type.is_empty(), "{error}");
            assert!(!error_message.is_empty(), "{error}");
        }
        other => panic!("expected a function error, got {other:?}"),
    }

    let error = transport
        .send(get("http+lambda://nowhere/x"))
        .await
        .expect_err("no such function");
    assert!(matches!(error, TransportError::Invoke(_)), "{error:?}");
    assert!(error.to_string().contains("nowhere"), "{error}");

    let error = transport
        .send(get("/relative"))
        .await
        .expect_err("no function named");
    assert!(
        matches!(error, TransportError::NoFunction { .. }),
        "{error}"
    );

    let fixed = transport.clone().function("items");
    let ok = fixed.send(get("/items/3")).await.expect("answer");
    assert_eq!(json_of(&body(ok).await), json!({"id": 3}));
}

#[tokio::test]
async fn the_transport_is_a_tower_service() {
    use tower::ServiceExt as _;
    let (_service, transport) = setup().await;
    let response = transport
        .oneshot(get("http+lambda://items/items/9"))
        .await
        .expect("answer");
    assert_eq!(json_of(&body(response).await), json!({"id": 9}));
}
