//! Shared set-up: a local Lambda service with the test functions, and an SDK client for it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use lamplight_local::{Code, FunctionConfig, LocalLambda};

/// The lamplight test function.
pub fn testfn() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_testfn"))
}

/// The HTTP function on lamplight-http.
pub fn httpfn() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_httpfn"))
}

/// The bare lambda_runtime function.
pub fn plainfn() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_plainfn"))
}

/// `testfn` registered as `name`, with its required configuration.
pub fn testfn_config(name: &str) -> FunctionConfig {
    FunctionConfig::new(name, Code::Bootstrap(testfn())).env("GREETING", "hello")
}

pub async fn service(functions: Vec<FunctionConfig>) -> LocalLambda {
    let mut builder = LocalLambda::builder();
    for f in functions {
        builder = builder.function(f);
    }
    builder.start().await.expect("local service starts")
}

/// An `aws-sdk-lambda` client pointed at the service, as a user would configure it.
pub async fn client(service: &LocalLambda) -> aws_sdk_lambda::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .endpoint_url(service.endpoint_url())
        .load()
        .await;
    aws_sdk_lambda::Client::new(&config)
}

pub struct Invoked {
    pub payload: serde_json::Value,
    pub function_error: Option<String>,
    pub logs: String,
    pub version: Option<String>,
}

/// Invokes through the SDK with the log tail, and decodes everything.
pub async fn invoke(
    client: &aws_sdk_lambda::Client,
    name: &str,
    payload: serde_json::Value,
) -> Invoked {
    use base64::Engine as _;
    let out = client
        .invoke()
        .function_name(name)
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .payload(Blob::new(serde_json::to_vec(&payload).expect("json")))
        .send()
        .await
        .expect("invoke call succeeds");
    let logs = out
        .log_result()
        .map(|l| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(l)
                    .expect("base64"),
            )
            .expect("utf8")
        })
        .unwrap_or_default();
    Invoked {
        payload: out
            .payload()
            .map(|p| serde_json::from_slice(p.as_ref()).expect("json payload"))
            .unwrap_or(serde_json::Value::Null),
        function_error: out.function_error().map(str::to_owned),
        logs,
        version: out.executed_version().map(str::to_owned),
    }
}

/// The `REPORT` line of a log tail, split into its fields.
pub fn report(logs: &str) -> std::collections::BTreeMap<String, String> {
    let line = logs
        .lines()
        .find(|l| l.starts_with("REPORT RequestId:"))
        .unwrap_or_else(|| panic!("no REPORT line in:\n{logs}"));
    line.trim_start_matches("REPORT ")
        .split('\t')
        .filter_map(|f| f.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

pub const LONG: Duration = Duration::from_secs(20);

/// An S3 server (s3s-fs) on loopback serving the directory `root` (a bucket per directory),
/// accepting the access key and secret `local`.
pub async fn s3_server(root: &std::path::Path) -> std::net::SocketAddr {
    lamplight_test::servers::s3(root).await
}
