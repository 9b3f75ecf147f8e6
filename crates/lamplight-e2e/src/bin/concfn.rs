//! A function for Lambda Managed Instances: one process serving many invocations at once.
//!
//! The event `{"wait_ms": M, "gather": G}` waits M ms inside a `wait` span (I/O-bound work),
//! then, when G is given, until G invocations are running at once in this process (at most
//! 5 s), and answers what it saw: the process id, how many invocations ran at once at most, its
//! request id, the trace header it was handed, and `_X_AMZN_TRACE_ID` (which concurrent mode
//! must leave unset). It logs one line and records one EMF metric per invocation.
//!
//! `CONCFN_MODE=run` serves through `lamplight::run` (invocations take turns on one task);
//! otherwise through `lamplight::run_concurrent` (one task each).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lamplight::Invocation;
use serde::Deserialize;
use serde_json::{Value, json};

static RUNNING: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(default)]
    wait_ms: u64,
    gather: Option<usize>,
}

#[tracing::instrument(name = "wait", skip_all, fields(ms))]
async fn wait(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Counts this invocation as running for as long as it lives.
struct Running;

impl Running {
    fn start() -> Self {
        let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        PEAK.fetch_max(now, Ordering::SeqCst);
        Self
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handler(event: Event, inv: Invocation) -> Result<Value, std::convert::Infallible> {
    let _running = Running::start();
    tracing::info!("waiting {} ms", event.wait_ms);
    lamplight_telemetry::metrics::count("Waited", 1.0);
    wait(event.wait_ms).await;
    if let Some(gather) = event.gather {
        let until = Instant::now() + Duration::from_secs(5);
        while RUNNING.load(Ordering::SeqCst) < gather && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(json!({
        "pid": std::process::id(),
        "peak": PEAK.load(Ordering::SeqCst),
        "requestId": inv.request_id(),
        "traceHeader": inv.raw_trace_header(),
        "envTrace": std::env::var("_X_AMZN_TRACE_ID").ok(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    if std::env::var("CONCFN_MODE").as_deref() == Ok("run") {
        lamplight::run(handler).await
    } else {
        lamplight::run_concurrent(handler).await
    }
}
