//! A lamplight function with a shutdown hook, for the graceful-shutdown test: `{"linger": ms}`
//! answers at once, and a `linger` span of the invocation ends `ms` later, after the
//! invocation's spans were sent, so only the flush at SIGTERM sends it. The hook prints a line
//! and records a metric, which must reach the log before the process exits.

use std::time::Duration;

use lamplight::Invocation;
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument as _;

#[derive(Deserialize)]
struct Event {
    linger: u64,
}

async fn handle(event: Event, _inv: Invocation) -> Result<Value, std::io::Error> {
    let ms = event.linger;
    tokio::spawn(
        async move { tokio::time::sleep(Duration::from_millis(ms)).await }
            .instrument(tracing::info_span!("linger")),
    );
    Ok(json!({"lingering": ms}))
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    lamplight::on_shutdown(|| async {
        lamplight_telemetry::metrics::count("ShutdownHookRan", 1.0);
        println!("gracefulfn: shutdown hook ran");
    });
    lamplight::run(handle).await
}
