//! Graceful shutdown: what the function does when Lambda stops its execution environment.
//!
//! Lambda sends the runtime SIGTERM before it stops an environment only when an extension is
//! registered; without one the process is killed at once, and whatever it still held (spans
//! ended after the last flush, metrics, a user's buffered work) is lost. So when there is
//! something to save, [`run`](crate::run) registers a no-op *internal* extension
//! ([`EXTENSION_NAME`], subscribed to no event, as lambda_runtime documents in
//! aws-lambda-rust-runtime#983) and listens for SIGTERM. Something to save means traces are
//! exported, or an [`on_shutdown`] hook is set.
//!
//! On SIGTERM, within the 500 ms Lambda allows when only internal extensions are registered:
//! the hook runs (at most [`HOOK_BUDGET`]), then the metrics it recorded are written, spans
//! still queued are sent (the rest of the budget), stdout and stderr are flushed, and the process
//! exits 0. The hook runs first so that what it records leaves with the rest.
//!
//! The extension's `event/next` call blocks for the life of the environment; Lambda's init ends
//! only once it is made, so it is made before the runtime's first `/next`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use lambda_runtime_api_client::{PooledClient, body::Body, build_request};

use crate::env::RuntimeApi;

/// The name lamplight's internal extension registers under.
pub const EXTENSION_NAME: &str = "lamplight-graceful-shutdown";
/// The most time the [`on_shutdown`] hook gets: the flush after it needs the rest of the
/// 500 ms Lambda gives.
pub const HOOK_BUDGET: Duration = Duration::from_millis(250);
/// Everything after SIGTERM is done within this, short of Lambda's 500 ms.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(450);
/// How long the registration may take before the runtime goes on without graceful shutdown.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(2);

const REGISTER_PATH: &str = "/2020-01-01/extension/register";
const NEXT_PATH: &str = "/2020-01-01/extension/event/next";
const IDENTIFIER: &str = "Lambda-Extension-Identifier";

type Hook = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

static HOOK: Mutex<Option<Hook>> = Mutex::new(None);

/// Runs `hook` when Lambda shuts the execution environment down (SIGTERM), before the last
/// telemetry is sent: close connections, flush a buffer, record a final metric. Set it before
/// [`run`](crate::run) (a later call replaces it). It gets [`HOOK_BUDGET`]; past that it is
/// abandoned so the flush still happens within Lambda's grace period.
///
/// ```no_run
/// # use lamplight::Invocation;
/// # async fn handler(event: serde_json::Value, _inv: Invocation) -> Result<serde_json::Value, std::io::Error> { Ok(event) }
/// #[tokio::main]
/// async fn main() -> Result<(), lamplight::RuntimeError> {
///     lamplight::on_shutdown(|| async { tracing::info!("bye") });
///     lamplight::run(handler).await
/// }
/// ```
pub fn on_shutdown<F, Fut>(hook: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let hook: Hook = Box::new(move || Box::pin(hook()));
    *HOOK.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
}

fn has_hook() -> bool {
    HOOK.lock().unwrap_or_else(|e| e.into_inner()).is_some()
}

/// Why the internal extension could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The request failed.
    #[error("POST {REGISTER_PATH} failed: {0}")]
    Failed(String),
    /// The Extensions API refused it.
    #[error("POST {REGISTER_PATH} answered {status}: {body}")]
    Refused {
        /// The status it answered.
        status: StatusCode,
        /// The start of its body.
        body: String,
    },
    /// No answer within the time allowed.
    #[error("POST {REGISTER_PATH} did not answer within {REGISTER_TIMEOUT:?}")]
    TimedOut,
}

/// Registers the internal extension and listens for SIGTERM, when there is anything to save.
/// Failures are logged: the function then runs without graceful shutdown.
pub(crate) async fn enable(
    endpoint: &RuntimeApi,
    telemetry: &'static lamplight_telemetry::Telemetry,
    function_name: String,
) {
    if !has_hook() && !exports_traces(telemetry) {
        return;
    }
    // Listening first: SIGTERM arriving between registration and the listener would kill the
    // process unflushed.
    let mut sigterm = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("graceful shutdown is off: cannot listen for SIGTERM: {e}");
            return;
        }
    };
    tokio::spawn(async move {
        if sigterm.recv().await.is_some() {
            shut_down(telemetry, &function_name).await;
            std::process::exit(0);
        }
    });
    let client = PooledClient::builder()
        .with_endpoint(endpoint.base_uri().clone())
        .build();
    let registered = tokio::time::timeout(REGISTER_TIMEOUT, register(&client))
        .await
        .unwrap_or(Err(RegisterError::TimedOut));
    match registered {
        Ok(id) => {
            tokio::spawn(wait_forever(client, id));
        }
        Err(e) => tracing::warn!("graceful shutdown is off (Lambda sends no SIGTERM): {e}"),
    }
}

#[cfg(feature = "xray")]
fn exports_traces(telemetry: &lamplight_telemetry::Telemetry) -> bool {
    telemetry.tracing().is_some()
}

#[cfg(not(feature = "xray"))]
fn exports_traces(_: &lamplight_telemetry::Telemetry) -> bool {
    false
}

/// Registers [`EXTENSION_NAME`] for no events; returns its identifier.
async fn register(client: &PooledClient) -> Result<String, RegisterError> {
    let request = build_request()
        .method(Method::POST)
        .uri(REGISTER_PATH)
        .header("Lambda-Extension-Name", EXTENSION_NAME)
        .header("Content-Type", "application/json")
        .body(Body::from(r#"{"events":[]}"#))
        .map_err(|e| RegisterError::Failed(e.to_string()))?;
    let response = client
        .call(request)
        .await
        .map_err(|e| RegisterError::Failed(crate::error::chain(e.as_ref())))?;
    let status = response.status();
    let id = response
        .headers()
        .get(IDENTIFIER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| {
            String::from_utf8_lossy(&b.to_bytes())
                .chars()
                .take(200)
                .collect()
        })
        .unwrap_or_default();
    match id {
        Some(id) if status.is_success() => Ok(id),
        _ => Err(RegisterError::Refused { status, body }),
    }
}

/// Calls `event/next` and waits: no event is subscribed, so the call only ends with the
/// environment. Making it is what lets Lambda finish init.
async fn wait_forever(client: PooledClient, id: String) {
    loop {
        let Ok(request) = build_request()
            .method(Method::GET)
            .uri(NEXT_PATH)
            .header(IDENTIFIER, &id)
            .body(Body::empty())
        else {
            return;
        };
        match client.call(request).await {
            Ok(response) if response.status().is_success() => {
                // An event after all: take its body and wait again.
                let _ = response.into_body().collect().await;
            }
            Ok(response) => {
                tracing::debug!(
                    "the graceful-shutdown extension's next answered {}",
                    response.status()
                );
                return;
            }
            Err(_) => return,
        }
    }
}

/// The work after SIGTERM: the hook, then metrics, spans and output, within
/// [`SHUTDOWN_BUDGET`].
async fn shut_down(telemetry: &lamplight_telemetry::Telemetry, function_name: &str) {
    let started = tokio::time::Instant::now();
    let hook = HOOK.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(hook) = hook
        && tokio::time::timeout(HOOK_BUDGET, hook()).await.is_err()
    {
        tracing::warn!("the shutdown hook did not finish within {HOOK_BUDGET:?}: abandoned");
    }
    telemetry.write_metrics(function_name, false);
    let _ = tokio::time::timeout_at(started + SHUTDOWN_BUDGET, telemetry.flush_async()).await;
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}
