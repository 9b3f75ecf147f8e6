//! `lamplight::run` in this very process, served by the local service's Runtime API: the exact
//! error documents it posts for an error and a panic, and that it keeps serving afterwards.
//!
//! This file is its own test binary with a single test, because it must set the Lambda
//! environment variables of the process before any other thread exists.
#![allow(unsafe_code)]

use lamplight::Invocation;
use lamplight_local::{Code, FunctionConfig, FunctionResult, LocalLambda};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(tag = "do", rename_all = "lowercase")]
enum Request {
    Greet { name: String },
    Fail,
    Panic,
}

#[derive(Debug, thiserror::Error)]
enum GreetError {
    #[error("the name is not allowed")]
    NotAllowed(#[source] std::fmt::Error),
}

async fn handler(request: Request, inv: Invocation) -> Result<Value, GreetError> {
    match request {
        Request::Greet { name } => {
            Ok(json!({"greeting": format!("hello, {name}"), "requestId": inv.request_id()}))
        }
        Request::Fail => Err(GreetError::NotAllowed(std::fmt::Error)),
        Request::Panic => panic!("the worker broke"),
    }
}

fn body(result: &FunctionResult) -> Value {
    match result {
        FunctionResult::Response(b) | FunctionResult::Error { body: b, .. } => {
            serde_json::from_slice(b).expect("json document")
        }
    }
}

#[test]
fn errors_and_panics_post_exact_documents_and_the_runtime_keeps_serving() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let service = runtime.block_on(async {
        LocalLambda::builder()
            .function(FunctionConfig::new("inproc", Code::External))
            .start()
            .await
            .expect("service")
    });
    let handle = runtime
        .block_on(async { service.function("inproc") })
        .expect("registered");
    let api = service_runtime_api(&runtime, &service);
    // SAFETY: single-threaded at this point: the current-thread runtime runs on this thread and
    // no other thread of this test binary reads the environment.
    unsafe {
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", api);
        std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "inproc");
        std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
    }
    drop(handle);
    // `lamplight::run` drives one invocation at a time on the current thread: a local task.
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let served = tokio::task::spawn_local(lamplight::run(handler));

        let error = service.invoke("inproc", r#"{"do": "fail"}"#).await.expect("invoked");
        assert_eq!(
            error.result,
            FunctionResult::Error {
                error_type: "GreetError".into(),
                body: r#"{"errorType":"GreetError","errorMessage":"the name is not allowed: an error occurred when formatting an argument"}"#.into(),
            }
        );

        let panic = service.invoke("inproc", r#"{"do": "panic"}"#).await.expect("invoked");
        let doc = body(&panic.result);
        assert_eq!(doc["errorType"], "Panic");
        let message = doc["errorMessage"].as_str().expect("message");
        assert!(message.starts_with("the handler panicked at crates/lamplight-e2e/tests/in_process.rs:"), "{message}");
        assert!(message.ends_with(": the worker broke"), "{message}");
        assert!(doc["stackTrace"][0].as_str().expect("frame").starts_with("crates/lamplight-e2e/tests/in_process.rs:"));

        let ok = service.invoke("inproc", r#"{"do": "greet", "name": "Ada"}"#).await.expect("invoked");
        let doc = body(&ok.result);
        assert_eq!(doc["greeting"], "hello, Ada");
        assert_eq!(doc["requestId"], json!(ok.request_id));
        assert!(!served.is_finished(), "the runtime is still serving");
        served.abort();
    });
}

fn service_runtime_api(runtime: &tokio::runtime::Runtime, service: &LocalLambda) -> String {
    runtime.block_on(async {
        service
            .external_runtime_api("inproc")
            .expect("external function has a Runtime API")
            .to_string()
    })
}
