//! The worker: the event checked, then the lines as a stream.

use std::time::Duration;

use futures::Stream;
use lamplight::Invocation;
use serde::Deserialize;

/// The most lines one invocation streams.
pub const MAX_CHUNKS: u32 = 100_000;
/// The longest wait between two lines (Lambda's longest timeout is 15 minutes).
pub const MAX_INTERVAL_MS: u64 = 60_000;

/// The event: how many lines, how far apart, and (to see how a failure mid-stream is
/// reported) after how many lines to fail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// How many lines to stream.
    pub chunks: u32,
    /// The wait between two lines, in milliseconds.
    #[serde(default)]
    pub interval_ms: u64,
    /// Fail after this many lines (0: before the first, which is a plain error answer).
    #[serde(default)]
    pub fail_after: Option<u32>,
}

/// Why the function answers an error.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// `chunks` is out of range.
    #[error("`chunks` must be 1 to {MAX_CHUNKS}, not {0}")]
    Chunks(u32),
    /// `interval_ms` is out of range.
    #[error("`interval_ms` must be at most {MAX_INTERVAL_MS}, not {0}")]
    Interval(u64),
    /// The event asked for a failure.
    #[error("failed after {0} chunk(s), as the event asked (`fail_after`)")]
    Requested(u32),
}

/// The handler: checks the event, then answers with the stream of its lines.
pub async fn stream(
    request: Request,
    inv: Invocation,
) -> Result<impl Stream<Item = Result<String, StreamError>>, StreamError> {
    check(&request)?;
    tracing::info!(
        chunks = request.chunks,
        interval_ms = request.interval_ms,
        request_id = inv.request_id(),
        "streaming"
    );
    Ok(lines(request))
}

/// Whether the event asks for something this function does.
pub fn check(request: &Request) -> Result<(), StreamError> {
    if !(1..=MAX_CHUNKS).contains(&request.chunks) {
        return Err(StreamError::Chunks(request.chunks));
    }
    if request.interval_ms > MAX_INTERVAL_MS {
        return Err(StreamError::Interval(request.interval_ms));
    }
    Ok(())
}

/// `chunk 1\n` to `chunk N\n`, `interval_ms` apart (the first at once).
pub fn lines(request: Request) -> impl Stream<Item = Result<String, StreamError>> {
    futures::stream::unfold(1u32, move |i| async move {
        if i > request.chunks {
            return None;
        }
        if i > 1 {
            tokio::time::sleep(Duration::from_millis(request.interval_ms)).await;
        }
        if request.fail_after == Some(i - 1) {
            tracing::warn!("failing after {} chunk(s), as asked", i - 1);
            return Some((Err(StreamError::Requested(i - 1)), u32::MAX));
        }
        Some((Ok(format!("chunk {i}\n")), i + 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;

    fn request(chunks: u32, interval_ms: u64, fail_after: Option<u32>) -> Request {
        Request {
            chunks,
            interval_ms,
            fail_after,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn lines_come_in_order_and_apart() {
        let started = tokio::time::Instant::now();
        let got: Vec<_> = lines(request(3, 100, None)).collect().await;
        let got: Vec<String> = got.into_iter().map(|l| l.expect("a line")).collect();
        assert_eq!(got, ["chunk 1\n", "chunk 2\n", "chunk 3\n"]);
        assert_eq!(started.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_requested_failure_ends_the_stream_with_an_error() {
        let got: Vec<_> = lines(request(5, 0, Some(2))).collect().await;
        assert_eq!(got.len(), 3);
        assert!(matches!(got[2], Err(StreamError::Requested(2))));
    }

    #[tokio::test]
    async fn the_handler_answers_sample_events_as_lambda_would() {
        let inv = || Invocation::builder().build();
        let ok = lamplight::respond_streaming(stream, br#"{"chunks": 2}"#, inv())
            .await
            .expect("streamed");
        assert_eq!(ok.chunks, ["chunk 1\n", "chunk 2\n"]);
        assert!(ok.error.is_none());
        let late =
            lamplight::respond_streaming(stream, br#"{"chunks": 3, "fail_after": 1}"#, inv())
                .await
                .expect("streamed");
        assert_eq!(late.chunks, ["chunk 1\n"]);
        assert_eq!(late.error.expect("failed").error_type, "StreamError");
        let invalid = lamplight::respond_streaming(stream, br#"{"chunks": "many"}"#, inv())
            .await
            .expect_err("invalid");
        assert_eq!(invalid.error_type, "InvalidEvent");
        assert!(
            invalid.error_message.contains("chunks"),
            "{}",
            invalid.error_message
        );
    }

    #[tokio::test]
    async fn out_of_range_events_are_refused_clearly() {
        let inv = Invocation::builder().build();
        let Err(e) = stream(request(0, 0, None), inv.clone()).await else {
            panic!("accepted 0 chunks");
        };
        assert_eq!(e.to_string(), "`chunks` must be 1 to 100000, not 0");
        let Err(e) = stream(request(1, MAX_INTERVAL_MS + 1, None), inv).await else {
            panic!("accepted a long interval");
        };
        assert!(e.to_string().contains("interval_ms"), "{e}");
    }
}
