//! A streaming function: for `{"chunks": N, "interval_ms": M}` it streams the lines
//! `chunk 1` to `chunk N`, M ms apart, each sent to the caller as soon as it is produced
//! (InvokeWithResponseStream, or a Function URL in `RESPONSE_STREAM` mode).
//!
//! Everything the function needs lives in the event and the stream it returns, none of it in
//! process-wide state, so one environment can serve many invocations at once.

use lamplight_example_streaming::worker;

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    lamplight::run_streaming(worker::stream).await
}
