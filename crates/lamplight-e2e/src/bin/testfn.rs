//! A lamplight function whose behaviour the event chooses, so one binary can show every path
//! through the runtime: responses, errors, panics, timeouts, crashes, logs, and init failures.

use std::time::Duration;

use lamplight::Invocation;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct Config {
    /// Required: without it, init fails and the failure is reported to the Runtime API.
    greeting: String,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Command {
    Echo { value: Value },
    Fail { message: String },
    Panic { message: String },
    Sleep { ms: u64 },
    Exit { code: i32 },
    Log { lines: Vec<String> },
    Context,
    Big { bytes: usize },
    Nested { customer: String },
    FailBig { bytes: usize },
    Spans { count: u32 },
    S3 { bucket: String, key: String },
    Http { url: String },
    DecodePanic { value: PanicsOnDecode },
    EncodePanic,
}

/// An event part whose `Deserialize` panics: the runtime must answer it, not die.
#[derive(Debug)]
struct PanicsOnDecode;

impl<'de> Deserialize<'de> for PanicsOnDecode {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        panic!("this event cannot be decoded")
    }
}

/// A response part whose `Serialize` panics: the runtime must answer it, not die.
struct PanicsOnEncode;

impl Serialize for PanicsOnEncode {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("this response cannot be encoded")
    }
}

#[derive(Debug, thiserror::Error)]
enum TestFnError {
    #[error("refused: {0}")]
    Refused(String, #[source] std::io::Error),
}

#[derive(Serialize)]
struct Reply {
    greeting: &'static str,
    result: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    unencodable: Option<PanicsOnEncode>,
}

async fn handle(
    config: &'static Config,
    command: Command,
    inv: Invocation,
) -> Result<Reply, TestFnError> {
    let mut unencodable = None;
    let result = match command {
        Command::Echo { value } => value,
        Command::Fail { message } => {
            return Err(TestFnError::Refused(
                message,
                std::io::Error::other("the cause"),
            ));
        }
        Command::Panic { message } => panic!("{message}"),
        Command::Sleep { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            json!({"slept": ms})
        }
        Command::Exit { code } => std::process::exit(code),
        Command::Log { lines } => {
            for line in &lines {
                tracing::info!("{line}");
            }
            json!({"logged": lines.len()})
        }
        Command::Context => {
            let arn = inv.function_arn().ok();
            json!({
                "requestId": inv.request_id(),
                "remainingMs": inv.remaining_time().as_millis() as u64,
                "functionName": arn.map(|a| a.function_name.clone()),
                "region": arn.map(|a| a.region.clone()),
                "account": arn.map(|a| a.account_id.clone()),
                "traceRoot": inv.trace().map(|t| t.root.to_string()),
                "traceParent": inv.trace().and_then(|t| t.parent).map(|p| p.to_string()),
                "sampled": inv.trace().map(|t| t.is_sampled()),
                "coldStart": inv.is_cold_start(),
                "envFunctionName": inv.env().function_name,
                "memoryMb": inv.env().memory_mb,
                "logStream": inv.env().log_stream,
                "xrayDaemon": inv.env().xray_daemon_address.map(|a| a.to_string()),
                "taskRoot": inv.env().task_root,
                "custom": std::env::var("CUSTOM_SETTING").ok(),
            })
        }
        Command::Big { bytes } => Value::String("x".repeat(bytes)),
        Command::Nested { customer } => json!({"total": outer(&customer).await}),
        // A `greet` child span, then an error whose message is `bytes` long (telemetry limits).
        Command::FailBig { bytes } => {
            tracing::info_span!("greet").in_scope(|| tracing::info!("greeting"));
            return Err(TestFnError::Refused(
                "x".repeat(bytes),
                std::io::Error::other("the cause"),
            ));
        }
        Command::Spans { count } => {
            for i in 0..count {
                step(i).await;
            }
            json!({"spans": count})
        }
        Command::S3 { bucket, key } => {
            let s3 = lamplight_aws::Aws::shared().await.s3();
            let object = s3
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| {
                    TestFnError::Refused(format!("s3://{bucket}/{key}"), std::io::Error::other(e))
                })?;
            let body = object
                .body
                .collect()
                .await
                .map_err(|e| TestFnError::Refused("body".into(), std::io::Error::other(e)))?;
            json!({"bytes": body.into_bytes().len()})
        }
        Command::Http { url } => {
            use tower::ServiceExt as _;
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<http_body_util::Empty<bytes::Bytes>>();
            let traced = tower::Layer::layer(
                &lamplight_telemetry::http_client::HttpTracingLayer::new(),
                client,
            );
            let request = http::Request::get(&url)
                .body(http_body_util::Empty::new())
                .map_err(|e| TestFnError::Refused(url.clone(), std::io::Error::other(e)))?;
            let response = traced
                .oneshot(request)
                .await
                .map_err(|e| TestFnError::Refused(url.clone(), std::io::Error::other(e)))?;
            json!({"status": response.status().as_u16()})
        }
        Command::DecodePanic { value } => unreachable!("{value:?} panics while decoding"),
        Command::EncodePanic => {
            unencodable = Some(PanicsOnEncode);
            Value::Null
        }
    };
    Ok(Reply {
        greeting: config.greeting.as_str(),
        result,
        unencodable,
    })
}

/// Two levels of spans under the handler, with an annotation, metadata and a metric.
#[tracing::instrument]
async fn outer(customer: &str) -> u64 {
    lamplight_telemetry::annotate("Customer", customer.to_owned());
    lamplight_telemetry::metadata("cart", "3 items");
    lamplight_telemetry::metrics::count("OrdersPlaced", 1.0);
    inner(3).await * 2
}

#[tracing::instrument]
async fn step(i: u32) {
    std::hint::black_box(i);
}

#[tracing::instrument]
async fn inner(items: u64) -> u64 {
    tokio::task::yield_now().await;
    items * 7
}

/// Reads the configuration; with `TESTFN_INIT_SPAN` set, inside a span, so that a failed init
/// has a span to flush.
async fn load_config() -> Result<Config, lamplight::config::ConfigError> {
    let _span =
        std::env::var_os("TESTFN_INIT_SPAN").map(|_| tracing::info_span!("load_config").entered());
    lamplight::config::from_env::<Config>()
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    let config = lamplight::init(load_config).await?;
    lamplight::run(move |command, inv| handle(config, command, inv)).await
}
