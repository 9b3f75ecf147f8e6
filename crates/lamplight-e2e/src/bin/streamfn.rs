//! A streaming lamplight function whose failures the event chooses: `{"lines": N,
//! "panic_after": K}` streams `line 1` to `line N` and panics after K of them.

use futures_util::stream::{self, Stream, StreamExt as _};
use lamplight::Invocation;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Event {
    lines: u32,
    #[serde(default)]
    panic_after: Option<u32>,
}

async fn handler(
    event: Event,
    _inv: Invocation,
) -> Result<impl Stream<Item = Result<String, std::io::Error>>, std::io::Error> {
    Ok(stream::iter(1..=event.lines).map(move |i| {
        if event.panic_after == Some(i - 1) {
            panic!("the stream broke after {} line(s)", i - 1);
        }
        Ok(format!("line {i}\n"))
    }))
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    lamplight::run_streaming(handler).await
}
