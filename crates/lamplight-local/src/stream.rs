//! Streamed responses as the Runtime API receives them.
//!
//! A runtime streams by posting its response with `Lambda-Runtime-Function-Response-Mode:
//! streaming` and a chunked body; an error after the first byte comes in the trailers
//! `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body` (base64 of the
//! error document). The bytes go to the invocation's [`StreamTap`] as they arrive, up to
//! [`MAX_STREAMED_RESPONSE`]; an invocation nobody streams (a plain `Invoke`) gets them
//! buffered, within the buffered limit, as Lambda does.
//!
//! Everything here comes from the runtime, so nothing is trusted: a body that stops half-way,
//! grows past its limit, outlives its deadline or carries a trailer that does not decode ends as
//! an error result, never as a panic.

use std::time::Instant;

use axum::body::Body;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;

use crate::invocation::{FunctionResult, StreamEvent, StreamTap, error_body};

/// The most bytes of one streamed response, as Lambda (200 MB).
pub(crate) const MAX_STREAMED_RESPONSE: usize = 200 * 1024 * 1024;
/// The header a runtime streams its response with (value `streaming`).
pub(crate) const RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";
/// The content type of a response that starts with an HTTP prelude (Function URLs).
pub(crate) const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";
/// The trailer naming a mid-stream error's type.
pub(crate) const ERROR_TYPE_TRAILER: &str = "lambda-runtime-function-error-type";
/// The trailer holding a mid-stream error's document, base64.
pub(crate) const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";
/// The error type of a mid-stream error that names none (the one `lambda_runtime` sends).
const STREAM_ERROR: &str = "Runtime.StreamError";
/// The error type of a stream the runtime's connection cut short.
pub(crate) const TRUNCATED: &str = "Runtime.TruncatedResponse";

/// Whether a response post streams.
pub(crate) fn is_streaming(headers: &HeaderMap) -> bool {
    headers
        .get(RESPONSE_MODE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("streaming"))
}

/// Why a streamed response did not arrive whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StreamError {
    /// It passed its limit: [`MAX_STREAMED_RESPONSE`] streamed, the buffered limit otherwise.
    #[error("Response payload size exceeded maximum allowed payload size ({limit} bytes).")]
    TooLarge {
        /// The limit it passed.
        limit: usize,
    },
    /// The connection failed or closed before the body was complete.
    #[error("the runtime's streamed response ended before it was complete: {0}")]
    Broken(String),
    /// Still arriving when the invocation had to be over.
    #[error("the streamed response did not end before the invocation's deadline")]
    TooSlow,
}

/// How many bytes a response may hold: buffered (for a plain `Invoke`), and streamed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub buffered: usize,
    pub streamed: usize,
}

/// Reads a streamed response body until its end (or `deadline`): its bytes go to `tap` as
/// they arrive, or are buffered (within the buffered limit) without one. The result is the
/// response (empty when streamed) or the error its trailers report.
pub(crate) async fn receive(
    request_id: &str,
    headers: &HeaderMap,
    mut body: Body,
    deadline: Instant,
    mut tap: Option<StreamTap>,
    limits: Limits,
) -> Result<FunctionResult, StreamError> {
    let streamed = tap.is_some();
    let limit = if streamed {
        limits.streamed
    } else {
        limits.buffered
    };
    if let Some(t) = &tap {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let started = StreamEvent::Started {
            request_id: request_id.to_owned(),
            content_type,
        };
        if t.send(started).await.is_err() {
            tap = None;
        }
    }
    let read = async {
        let mut buffered = BytesMut::new();
        let mut total = 0usize;
        let mut trailers = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| StreamError::Broken(e.to_string()))?;
            let data = match frame.into_data() {
                Ok(data) => data,
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers = Some(t);
                    }
                    continue;
                }
            };
            total = total.saturating_add(data.len());
            if total > limit {
                return Err(StreamError::TooLarge { limit });
            }
            if let Some(t) = &tap {
                // A reader that went away stops getting bytes; the function still runs to
                // its end, as on Lambda, and what it sends is dropped.
                if t.send(StreamEvent::Chunk(data)).await.is_err() {
                    tap = None;
                }
            } else if !streamed {
                buffered.extend_from_slice(&data);
            }
        }
        Ok((buffered.freeze(), trailers))
    };
    let (payload, trailers) = tokio::time::timeout_at(deadline.into(), read)
        .await
        .unwrap_or(Err(StreamError::TooSlow))?;
    Ok(trailers
        .as_ref()
        .and_then(trailer_error)
        .unwrap_or(FunctionResult::Response(payload)))
}

/// The mid-stream error the trailers report, if any. A body that is not base64 (or not a JSON
/// document) is still an error of the type given, with a message saying what was wrong.
pub(crate) fn trailer_error(trailers: &HeaderMap) -> Option<FunctionResult> {
    let error_type = trailers
        .get(ERROR_TYPE_TRAILER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned())
        .filter(|v| !v.is_empty());
    let encoded = trailers
        .get(ERROR_BODY_TRAILER)
        .map(|v| v.as_bytes())
        .filter(|v| !v.trim_ascii().is_empty());
    if error_type.is_none() && encoded.is_none() {
        return None;
    }
    let error_type = error_type.unwrap_or_else(|| STREAM_ERROR.to_owned());
    let body = match encoded.map(|raw| BASE64.decode(raw.trim_ascii())) {
        None => error_body(&error_type, ""),
        Some(Ok(doc))
            if serde_json::from_slice::<serde_json::Value>(&doc).is_ok_and(|v| v.is_object()) =>
        {
            Bytes::from(doc)
        }
        // lambda_runtime 1.5 sends the bare message, base64.
        Some(Ok(text)) => error_body(&error_type, &String::from_utf8_lossy(&text)),
        Some(Err(e)) => error_body(
            &error_type,
            &format!(
                "the runtime's `Lambda-Runtime-Function-Error-Body` trailer is not base64 ({e})"
            ),
        ),
    };
    Some(FunctionResult::Error { error_type, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn trailers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("header value"));
        }
        map
    }

    fn error(result: FunctionResult) -> (String, serde_json::Value) {
        match result {
            FunctionResult::Error { error_type, body } => (
                error_type,
                serde_json::from_slice(&body).expect("a JSON error document"),
            ),
            other => panic!("not an error: {other:?}"),
        }
    }

    #[test]
    fn trailers_carry_the_error_type_and_document() {
        let doc = r#"{"errorType":"Boom","errorMessage":"half-way"}"#;
        let found = trailer_error(&trailers(&[
            (ERROR_TYPE_TRAILER, "Boom"),
            (ERROR_BODY_TRAILER, &BASE64.encode(doc)),
        ]))
        .expect("an error");
        let (error_type, body) = error(found);
        assert_eq!(error_type, "Boom");
        assert_eq!(body["errorMessage"], "half-way");
    }

    #[test]
    fn no_error_trailers_is_a_response() {
        assert_eq!(trailer_error(&HeaderMap::new()), None);
        assert_eq!(trailer_error(&trailers(&[(ERROR_TYPE_TRAILER, " ")])), None);
    }

    #[test]
    fn a_body_that_is_not_base64_is_still_an_error_saying_so() {
        let found = trailer_error(&trailers(&[
            (ERROR_TYPE_TRAILER, "Boom"),
            (ERROR_BODY_TRAILER, "%%% not base64 %%%"),
        ]))
        .expect("an error");
        let (error_type, body) = error(found);
        assert_eq!(error_type, "Boom");
        let message = body["errorMessage"].as_str().expect("a message");
        assert!(message.contains("not base64"), "{message}");
    }

    #[test]
    fn a_bare_message_or_a_missing_type_is_wrapped() {
        let found = trailer_error(&trailers(&[(ERROR_BODY_TRAILER, &BASE64.encode("oops"))]))
            .expect("an error");
        let (error_type, body) = error(found);
        assert_eq!(error_type, STREAM_ERROR);
        assert_eq!(body["errorType"], STREAM_ERROR);
        assert_eq!(body["errorMessage"], "oops");
    }

    fn chunked(frames: Vec<Result<http_body::Frame<Bytes>, std::io::Error>>) -> Body {
        Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    }

    fn limits(buffered: usize, streamed: usize) -> Limits {
        Limits { buffered, streamed }
    }

    fn deadline() -> Instant {
        Instant::now() + std::time::Duration::from_secs(5)
    }

    #[tokio::test]
    async fn chunks_reach_the_tap_in_order_and_trailers_end_it() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let mut t = HeaderMap::new();
        t.insert(ERROR_TYPE_TRAILER, HeaderValue::from_static("Late"));
        let body = chunked(vec![
            Ok(http_body::Frame::data(Bytes::from_static(b"one "))),
            Ok(http_body::Frame::data(Bytes::from_static(b"two"))),
            Ok(http_body::Frame::trailers(t)),
        ]);
        let result = receive(
            "r1",
            &HeaderMap::new(),
            body,
            deadline(),
            Some(tx),
            limits(1, 10),
        )
        .await
        .expect("read");
        assert_eq!(error(result).0, "Late");
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        assert_eq!(
            events,
            vec![
                StreamEvent::Started {
                    request_id: "r1".into(),
                    content_type: None
                },
                StreamEvent::Chunk(Bytes::from_static(b"one ")),
                StreamEvent::Chunk(Bytes::from_static(b"two")),
            ]
        );
    }

    #[tokio::test]
    async fn without_a_tap_the_body_is_buffered_within_its_limit() {
        let body = || {
            chunked(vec![
                Ok(http_body::Frame::data(Bytes::from_static(b"12345"))),
                Ok(http_body::Frame::data(Bytes::from_static(b"678"))),
            ])
        };
        let whole = receive(
            "r",
            &HeaderMap::new(),
            body(),
            deadline(),
            None,
            limits(8, 1),
        )
        .await
        .expect("read");
        assert_eq!(
            whole,
            FunctionResult::Response(Bytes::from_static(b"12345678"))
        );
        let over = receive(
            "r",
            &HeaderMap::new(),
            body(),
            deadline(),
            None,
            limits(7, 100),
        )
        .await;
        assert!(
            matches!(over, Err(StreamError::TooLarge { limit: 7 })),
            "{over:?}"
        );
    }

    #[tokio::test]
    async fn a_stream_past_its_limit_stops_with_the_bytes_before_it_delivered() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let body = chunked(vec![
            Ok(http_body::Frame::data(Bytes::from_static(b"12345"))),
            Ok(http_body::Frame::data(Bytes::from_static(b"678"))),
        ]);
        let over = receive(
            "r",
            &HeaderMap::new(),
            body,
            deadline(),
            Some(tx),
            limits(100, 6),
        )
        .await;
        assert!(
            matches!(over, Err(StreamError::TooLarge { limit: 6 })),
            "{over:?}"
        );
        assert!(matches!(rx.try_recv(), Ok(StreamEvent::Started { .. })));
        assert_eq!(
            rx.try_recv().ok(),
            Some(StreamEvent::Chunk(Bytes::from_static(b"12345")))
        );
        assert!(rx.try_recv().is_err(), "nothing past the limit");
    }

    #[tokio::test]
    async fn a_body_cut_short_is_broken_not_a_panic() {
        let (tx, _rx) = tokio::sync::mpsc::channel(8);
        let body = chunked(vec![
            Ok(http_body::Frame::data(Bytes::from_static(b"part"))),
            Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            )),
        ]);
        let cut = receive(
            "r",
            &HeaderMap::new(),
            body,
            deadline(),
            Some(tx),
            limits(8, 8),
        )
        .await;
        assert!(matches!(cut, Err(StreamError::Broken(_))), "{cut:?}");
    }
}
