//! Lambda Managed Instances through the Lambda API: CreateFunction's `CapacityProviderConfig`
//! sets the function's concurrency per environment, GetFunction reports it, and the runtime
//! process is started with `AWS_LAMBDA_MAX_CONCURRENCY`.

mod support;

use lamplight_local::{FunctionResult, LocalLambda};
use serde_json::json;
use support::{Entry, Raw, create_body, send, zip_of};

/// A bootstrap that says the concurrency it was given, then exits (an init failure whose
/// output the invocation's log carries).
const SAYS_CONCURRENCY: &[u8] =
    b"#!/bin/sh\necho \"max concurrency: ${AWS_LAMBDA_MAX_CONCURRENCY:-unset}\"\nexit 1\n";

fn create_managed(name: &str, concurrency: Option<serde_json::Value>) -> Raw {
    let mut body = create_body(
        name,
        &zip_of(&[Entry::File("bootstrap", SAYS_CONCURRENCY, 0o755)]),
    );
    if let Some(n) = concurrency {
        body["CapacityProviderConfig"] = json!({
            "LambdaManagedInstancesCapacityProviderConfig": {
                "CapacityProviderArn": "arn:aws:lambda:us-east-1:123456789012:capacity-provider:local",
                "PerExecutionEnvironmentMaxConcurrency": n,
            }
        });
    }
    Raw::new("POST", "/2015-03-31/functions").json(&body)
}

async fn init_output(service: &LocalLambda, name: &str) -> String {
    let outcome = service.invoke(name, "{}").await.expect("invoke");
    assert!(
        matches!(outcome.result, FunctionResult::Error { .. }),
        "the bootstrap exits"
    );
    outcome.logs
}

#[tokio::test]
async fn capacity_provider_config_sets_the_concurrency_the_runtime_is_given() {
    let service = LocalLambda::builder().start().await.expect("starts");
    let created = send(
        service.api_addr(),
        create_managed("managed", Some(json!(16))),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(
        created.json()["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]["PerExecutionEnvironmentMaxConcurrency"],
        16
    );
    let got = send(
        service.api_addr(),
        Raw::new("GET", "/2015-03-31/functions/managed"),
    )
    .await;
    assert_eq!(
        got.json()["Configuration"]["CapacityProviderConfig"]["LambdaManagedInstancesCapacityProviderConfig"]
            ["PerExecutionEnvironmentMaxConcurrency"],
        16,
        "{}",
        got.text()
    );
    let logs = init_output(&service, "managed").await;
    assert!(logs.contains("max concurrency: 16"), "{logs}");

    // Without it: Lambda's one invocation per environment, and no variable.
    let created = send(service.api_addr(), create_managed("plain", None)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert!(created.json().get("CapacityProviderConfig").is_none());
    let logs = init_output(&service, "plain").await;
    assert!(logs.contains("max concurrency: unset"), "{logs}");
}

#[tokio::test]
async fn a_concurrency_lambda_would_refuse_is_refused_by_name() {
    let service = LocalLambda::builder().start().await.expect("starts");
    for bad in [json!(0), json!(1601)] {
        let reply = send(service.api_addr(), create_managed("bad", Some(bad.clone()))).await;
        let message = reply.assert_error(400, "InvalidParameterValueException");
        assert!(
            message.contains("PerExecutionEnvironmentMaxConcurrency")
                && message.contains("1 to 1600"),
            "{bad}: {message}"
        );
    }
    let reply = send(
        service.api_addr(),
        create_managed("bad", Some(json!("many"))),
    )
    .await;
    reply.assert_client_error();
}
