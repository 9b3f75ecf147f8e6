//! Every seed's real binary under the local Lambda service, invoked through the Lambda API,
//! calling real servers: S3 (s3s-fs) and HTTP on loopback, and each other through the service.

use std::path::PathBuf;

use aws_sdk_lambda::primitives::Blob;
use lamplight_local::{Code, FunctionConfig, LocalLambda};
use serde_json::{Value, json};

fn bin(name: &str) -> Code {
    let path = match name {
        "scripts" => env!("CARGO_BIN_EXE_scripts"),
        "fanout" => env!("CARGO_BIN_EXE_fanout"),
        "square" => env!("CARGO_BIN_EXE_square"),
        "api" => env!("CARGO_BIN_EXE_api"),
        "client" => env!("CARGO_BIN_EXE_client"),
        other => panic!("no binary {other}"),
    };
    Code::Bootstrap(PathBuf::from(path))
}

async fn service(functions: Vec<FunctionConfig>) -> (LocalLambda, aws_sdk_lambda::Client) {
    let mut builder = LocalLambda::builder();
    for f in functions {
        builder = builder.function(f);
    }
    let service = builder.start().await.expect("local service starts");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "test", "test", None, None, "seeds",
        ))
        .endpoint_url(service.endpoint_url())
        .load()
        .await;
    let client = aws_sdk_lambda::Client::new(&config);
    (service, client)
}

/// The payload, and the function error kind if the function failed.
async fn invoke(
    client: &aws_sdk_lambda::Client,
    name: &str,
    event: Value,
) -> (Value, Option<String>) {
    let out = client
        .invoke()
        .function_name(name)
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .expect("the Invoke call succeeds");
    let payload = out
        .payload()
        .map(|p| serde_json::from_slice(p.as_ref()).expect("JSON payload"))
        .unwrap_or(Value::Null);
    (payload, out.function_error().map(str::to_owned))
}

#[tokio::test]
async fn scripts_fetch_pages_and_objects_side_by_side_and_name_every_failure() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("data")).expect("bucket");
    std::fs::write(root.path().join("data/a.bin"), vec![1u8; 1024]).expect("object");
    std::fs::write(root.path().join("data/b.bin"), vec![2u8; 10]).expect("object");
    let s3 = lamplight_test::servers::s3(root.path()).await;
    let (web, _) = lamplight_test::servers::http().await;
    let key = lamplight_test::servers::S3_KEY;
    let (_service, client) = service(vec![
        FunctionConfig::new("scripts", bin("scripts"))
            .env("AWS_ENDPOINT_URL", format!("http://{s3}"))
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", key)
            .env("LAMPLIGHT_AWS_MAX_ATTEMPTS", "1"),
    ])
    .await;

    let (report, error) = invoke(
        &client,
        "scripts",
        json!({
            "pages": [format!("http://{web}/status/200"), format!("http://{web}/status/204")],
            "bucket": "data",
            "keys": ["a.bin", "b.bin"],
        }),
    )
    .await;
    assert_eq!(error, None, "{report}");
    assert_eq!(report["pages"][1]["status"], 204);
    assert_eq!(report["objects"][0], json!({"key": "a.bin", "bytes": 1024}));
    assert_eq!(report["objects"][1], json!({"key": "b.bin", "bytes": 10}));

    let (document, error) = invoke(
        &client,
        "scripts",
        json!({
            "pages": [format!("http://{web}/status/200"), format!("http://{web}/status/503")],
            "bucket": "data",
            "keys": ["a.bin", "missing.bin"],
        }),
    )
    .await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(document["errorType"], "ScriptsError", "{document}");
    let message = document["errorMessage"].as_str().expect("message");
    assert!(message.starts_with("2 of 4 tasks failed"), "{message}");
    assert!(
        message.contains(&format!("GET http://{web}/status/503: answered 503")),
        "{message}"
    );
    assert!(
        message.contains("s3://data/missing.bin") && message.contains("NoSuchKey"),
        "{message}"
    );
}

#[tokio::test]
async fn fanout_invokes_a_hundred_times_and_keeps_input_order() {
    let (_service, client) = service(vec![
        FunctionConfig::new("fanout", bin("fanout")),
        FunctionConfig::new("square", bin("square")).max_environments(10),
    ])
    .await;
    let (summary, error) = invoke(
        &client,
        "fanout",
        json!({"function": "square", "count": 100, "concurrency": 10}),
    )
    .await;
    assert_eq!(error, None, "{summary}");
    assert_eq!(summary["invoked"], 100);
    let squares: Vec<u64> = summary["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .map(|r| r["square"].as_u64().expect("square"))
        .collect();
    assert_eq!(squares, (0..100u64).map(|n| n * n).collect::<Vec<_>>());

    let (document, error) = invoke(
        &client,
        "fanout",
        json!({"function": "square", "count": 20, "concurrency": 5,
               "collect_all": true, "payload": {"fail_on": 7}}),
    )
    .await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    let message = document["errorMessage"].as_str().expect("message");
    assert!(message.starts_with("1 of 20 tasks failed"), "{message}");
    assert!(message.contains("told to fail on 7"), "{message}");
}

#[tokio::test]
async fn the_client_calls_the_api_function_as_an_http_service() {
    let (_service, client) = service(vec![
        FunctionConfig::new("client", bin("client")),
        FunctionConfig::new("api", bin("api"))
            .env("FUNCTION_TIMEOUT", "1")
            .max_environments(1),
    ])
    .await;
    let (answers, error) = invoke(
        &client,
        "client",
        json!({"function": "api", "in_order": true, "requests": [
            {"method": "POST", "path": "/items", "body": {"name": "lamp", "price_cents": 250}},
            {"path": "/items/1"},
            {"method": "POST", "path": "/items", "body": {"name": "lamp", "price_cents": 100}},
            {"method": "POST", "path": "/items", "body": {"name": "desk", "price_cents": -1}},
            {"path": "/items?limit=0"},
            {"path": "/items/99"},
            {"method": "DELETE", "path": "/items/1"},
            {"path": "/slow?ms=3000"},
        ]}),
    )
    .await;
    assert_eq!(error, None, "{answers}");
    let statuses: Vec<u64> = answers
        .as_array()
        .expect("answers")
        .iter()
        .map(|a| a["status"].as_u64().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        [201, 200, 422, 422, 422, 404, 204, 504],
        "{answers:#}"
    );
    assert_eq!(
        answers[1]["body"],
        json!({"id": 1, "name": "lamp", "price_cents": 250})
    );
    assert_eq!(
        answers[2]["body"]["fields"][0]["problem"],
        "`lamp` is taken"
    );
    assert_eq!(answers[3]["body"]["fields"][0]["field"], "body.price_cents");
    assert_eq!(answers[4]["body"]["fields"][0]["field"], "query.limit");
}
