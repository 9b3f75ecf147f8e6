//! A streamed response from the caller's side: InvokeWithResponseStream and the HTTP front.
//!
//! [`invoke_streaming`] invokes as the Invoke API does, and tells a function that streams
//! ([`Streamed::Streaming`]: its bytes as they arrive, then the end of the invocation) from one
//! that answers buffered ([`Streamed::Buffered`]). [`event_stream`] frames either as the
//! `application/vnd.amazon.eventstream` body of InvokeWithResponseStream that the AWS SDKs read:
//! `PayloadChunk` events with the bytes, then one `InvokeComplete` with `ErrorCode`,
//! `ErrorDetails` and `LogResult`. A buffered answer is one `PayloadChunk` and `InvokeComplete`,
//! as Lambda sends it.

use std::sync::Arc;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::invocation::{FunctionResult, StreamEvent};
use crate::invoke::{InvokeRequest, InvokeResponse};
use crate::registry::Registry;

/// How many chunks may wait for a slow reader before the runtime's sends wait too.
const STREAM_BUFFER: usize = 16;
/// The largest payload of one `PayloadChunk` message (the framing allows 16 MB).
const MAX_CHUNK: usize = 1024 * 1024;
/// The content type of InvokeWithResponseStream's body.
pub(crate) const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// What an invocation that may stream turned out to be.
pub(crate) enum Streamed {
    /// The function answered buffered, or failed before streaming a byte.
    Buffered(Box<InvokeResponse>),
    /// The function streams.
    Streaming(Streaming),
}

/// A response being streamed.
pub(crate) struct Streaming {
    /// The invocation's request id.
    pub request_id: String,
    /// The `Content-Type` the runtime streams with.
    pub content_type: Option<String>,
    events: mpsc::Receiver<StreamEvent>,
    done: Option<JoinHandle<Result<InvokeResponse, ApiError>>>,
    finished: Option<Finished>,
}

/// What comes next from a [`Streaming`] response.
pub(crate) enum Next {
    /// More bytes.
    Chunk(Bytes),
    /// The invocation is over: its response (whose payload went out as chunks) or why the
    /// service could not finish it.
    Done(Finished),
}

/// How an invocation ended (boxed: a response is large next to a chunk).
pub(crate) type Finished = Box<Result<InvokeResponse, ApiError>>;

impl Streaming {
    /// The next bytes, or the end of the invocation once every byte has been handed out.
    pub async fn next(&mut self) -> Next {
        enum Step {
            Event(Option<StreamEvent>),
            Finished(Finished),
        }
        loop {
            if let Some(result) = self.finished.take() {
                // The runtime sent every chunk before the invocation finished: what is left
                // is already queued.
                match self.events.try_recv() {
                    Ok(StreamEvent::Chunk(bytes)) => {
                        self.finished = Some(result);
                        return Next::Chunk(bytes);
                    }
                    Ok(StreamEvent::Started { .. }) => {
                        self.finished = Some(result);
                        continue;
                    }
                    Err(_) => return Next::Done(result),
                }
            }
            let Some(done) = self.done.as_mut() else {
                return Next::Done(Box::new(Err(ApiError::service("the stream has ended"))));
            };
            let step = tokio::select! {
                biased;
                event = self.events.recv() => Step::Event(event),
                result = done => Step::Finished(Box::new(joined(result))),
            };
            match step {
                Step::Event(Some(StreamEvent::Chunk(bytes))) => return Next::Chunk(bytes),
                Step::Event(Some(StreamEvent::Started { .. })) => {}
                Step::Event(None) => {
                    if let Some(done) = self.done.take() {
                        self.finished = Some(Box::new(joined(done.await)));
                    }
                }
                Step::Finished(result) => {
                    self.done = None;
                    self.finished = Some(result);
                }
            }
        }
    }
}

fn joined(
    result: Result<Result<InvokeResponse, ApiError>, tokio::task::JoinError>,
) -> Result<InvokeResponse, ApiError> {
    result.unwrap_or_else(|e| Err(ApiError::service(format!("the invocation failed: {e}"))))
}

/// Invokes `request`, streaming the response if the function streams it. Errors of the
/// request itself (no such function, throttled, a bad payload) come back before anything is
/// streamed, as Lambda returns them.
pub(crate) async fn invoke_streaming(
    registry: Arc<Registry>,
    request: InvokeRequest,
) -> Result<Streamed, ApiError> {
    let (tap, mut events) = mpsc::channel(STREAM_BUFFER);
    let mut done = tokio::spawn(async move { registry.invoke_with(request, Some(tap)).await });
    tokio::select! {
        biased;
        event = events.recv() => match event {
            Some(StreamEvent::Started { request_id, content_type }) => {
                Ok(Streamed::Streaming(Streaming {
                    request_id,
                    content_type,
                    events,
                    done: Some(done),
                    finished: None,
                }))
            }
            // `Started` always comes first; anything else means no stream began.
            _ => joined(done.await).map(|r| Streamed::Buffered(Box::new(r))),
        },
        result = &mut done => joined(result).map(|r| Streamed::Buffered(Box::new(r))),
    }
}

/// A response as the function produces it, from
/// [`LocalLambda::call_streaming`](crate::LocalLambda::call_streaming): the bytes of a function
/// that streams as they arrive, or the whole answer of one that does not, then the end of the
/// invocation (its [`Outcome`](crate::Outcome), logs and `REPORT`).
pub struct ResponseStream {
    request_id: String,
    state: Reading,
}

enum Reading {
    Buffered {
        response: Box<InvokeResponse>,
        given: bool,
    },
    Streaming(Streaming),
    Done(Finished),
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("request_id", &self.request_id)
            .field("streamed", &self.is_streamed())
            .finish()
    }
}

impl ResponseStream {
    pub(crate) fn new(streamed: Streamed) -> Self {
        match streamed {
            Streamed::Buffered(response) => Self {
                request_id: response.request_id.clone(),
                state: Reading::Buffered {
                    response,
                    given: false,
                },
            },
            Streamed::Streaming(streaming) => Self {
                request_id: streaming.request_id.clone(),
                state: Reading::Streaming(streaming),
            },
        }
    }

    /// The invocation's request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Whether the function streamed its response (rather than answering it whole).
    pub fn is_streamed(&self) -> bool {
        !matches!(self.state, Reading::Buffered { .. })
    }

    /// The next bytes of the response as they arrive; `None` once they are all out. A function
    /// that answered whole gives its answer (or nothing, for an error) in one piece.
    pub async fn chunk(&mut self) -> Option<Bytes> {
        let next = match &mut self.state {
            Reading::Buffered { response, given } => {
                if std::mem::replace(given, true) {
                    return None;
                }
                return match response.outcome.as_ref().map(|o| &o.result) {
                    Some(FunctionResult::Response(body)) if !body.is_empty() => Some(body.clone()),
                    _ => None,
                };
            }
            Reading::Streaming(streaming) => streaming.next().await,
            Reading::Done(_) => return None,
        };
        match next {
            Next::Chunk(bytes) => Some(bytes),
            Next::Done(finished) => {
                self.state = Reading::Done(finished);
                None
            }
        }
    }

    /// The end of the invocation, once every chunk is read (chunks not read yet are read and
    /// dropped): its response, whose payload is empty when it was streamed, with its
    /// [`Outcome`](crate::Outcome); or why the service could not finish it.
    pub async fn finish(mut self) -> Result<InvokeResponse, ApiError> {
        while self.chunk().await.is_some() {}
        match self.state {
            Reading::Buffered { response, .. } => Ok(*response),
            Reading::Done(finished) => *finished,
            Reading::Streaming(_) => Err(ApiError::service("the stream ended without an end")),
        }
    }
}

/// The InvokeWithResponseStream body of `streamed`: `PayloadChunk`s, then `InvokeComplete`.
pub(crate) fn event_stream(
    streamed: Streamed,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    enum State {
        Buffered(Box<InvokeResponse>),
        Streaming(Streaming),
        Complete(Finished),
        Over,
    }
    let start = match streamed {
        Streamed::Buffered(response) => State::Buffered(response),
        Streamed::Streaming(streaming) => State::Streaming(streaming),
    };
    futures_util::stream::unfold(start, |state| async move {
        let (frame, next) = match state {
            State::Buffered(response) => {
                let chunk = match &response.outcome.as_ref().map(|o| &o.result) {
                    Some(FunctionResult::Response(body)) if !body.is_empty() => {
                        Some(payload_chunks(body))
                    }
                    _ => None,
                };
                match chunk {
                    Some(frames) => (frames, State::Complete(Box::new(Ok(*response)))),
                    None => (invoke_complete(&Ok(*response)), State::Over),
                }
            }
            State::Streaming(mut streaming) => match streaming.next().await {
                Next::Chunk(bytes) => (payload_chunks(&bytes), State::Streaming(streaming)),
                Next::Done(result) => (invoke_complete(&result), State::Over),
            },
            State::Complete(result) => (invoke_complete(&result), State::Over),
            State::Over => return None,
        };
        Some((frame, next))
    })
}

/// The most bytes of an HTTP prelude: headers and cookies, not a body.
const MAX_PRELUDE: usize = 64 * 1024;
/// What ends an HTTP prelude.
const PRELUDE_END: [u8; 8] = [0; 8];

/// The JSON prelude of a streamed HTTP response.
#[derive(Debug, Default, serde::Deserialize)]
struct Prelude {
    #[serde(rename = "statusCode")]
    status_code: Option<u16>,
    #[serde(default)]
    headers: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    cookies: Vec<String>,
}

/// The HTTP response of a function streaming to a Function URL: with the HTTP integration's
/// content type, the status, headers and cookies of the prelude that ends at 8 NUL bytes, then
/// the rest of the bytes as they arrive; with another type, 200 and every byte. A function
/// error after the headers went out aborts the body, so the client sees it incomplete, as
/// Lambda's Function URLs do. `Err` says why no response could be made (a prelude that is not
/// JSON or never ends, a stream that failed before its prelude ended).
pub(crate) async fn http_response(
    mut streaming: Streaming,
) -> Result<axum::response::Response, String> {
    use axum::http::{HeaderName, HeaderValue, StatusCode};
    let integration = streaming
        .content_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(crate::stream::HTTP_INTEGRATION));
    let streaming_type = streaming.content_type.clone();
    let mut prelude = Prelude::default();
    let mut rest = Bytes::new();
    if integration {
        let mut head = Vec::new();
        loop {
            match streaming.next().await {
                Next::Chunk(bytes) => head.extend_from_slice(&bytes),
                Next::Done(result) => {
                    return Err(match *result {
                        Ok(_) => "the streamed response ended inside its HTTP prelude".to_owned(),
                        Err(e) => e.to_string(),
                    });
                }
            }
            if let Some(end) = head
                .windows(PRELUDE_END.len())
                .position(|w| w == PRELUDE_END)
            {
                prelude = serde_json::from_slice(&head[..end]).map_err(|e| {
                    format!("the streamed response's HTTP prelude is not the JSON expected: {e}")
                })?;
                rest = Bytes::copy_from_slice(&head[end + PRELUDE_END.len()..]);
                break;
            }
            if head.len() > MAX_PRELUDE {
                return Err(format!(
                    "the streamed response's HTTP prelude did not end within {MAX_PRELUDE} bytes"
                ));
            }
        }
    }
    let status = prelude.status_code.unwrap_or(200);
    let body = futures_util::stream::unfold(
        (Some(rest).filter(|r| !r.is_empty()), Some(streaming)),
        |(first, streaming)| async move {
            if let Some(first) = first {
                return Some((Ok(first), (None, streaming)));
            }
            let mut streaming = streaming?;
            match streaming.next().await {
                Next::Chunk(bytes) => Some((Ok(bytes), (None, Some(streaming)))),
                Next::Done(result) => match *result {
                    Ok(response)
                        if !matches!(
                            response.outcome.as_ref().map(|o| &o.result),
                            Some(FunctionResult::Error { .. })
                        ) =>
                    {
                        None
                    }
                    _ => Some((
                        Err(std::io::Error::other("the function failed while streaming")),
                        (None, None),
                    )),
                },
            }
        },
    );
    let mut response = axum::response::Response::new(axum::body::Body::from_stream(body));
    *response.status_mut() = StatusCode::from_u16(status)
        .map_err(|_| format!("the HTTP prelude's statusCode {status} is no HTTP status"))?;
    let headers = response.headers_mut();
    for (name, value) in &prelude.headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let values = match value {
            serde_json::Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        for value in values {
            let text = match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            };
            if let Ok(value) = HeaderValue::from_str(&text) {
                headers.append(name.clone(), value);
            }
        }
    }
    for cookie in &prelude.cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(axum::http::header::SET_COOKIE, value);
        }
    }
    if !headers.contains_key(axum::http::header::CONTENT_TYPE) {
        let fallback = (!integration)
            .then_some(streaming_type)
            .flatten()
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        if let Ok(value) = HeaderValue::from_str(&fallback) {
            headers.insert(axum::http::header::CONTENT_TYPE, value);
        }
    }
    Ok(response)
}

/// `PayloadChunk` messages holding `bytes`, at most [`MAX_CHUNK`] each.
fn payload_chunks(bytes: &Bytes) -> Result<Bytes, std::io::Error> {
    let mut framed = Vec::with_capacity(bytes.len() + 128);
    for piece in bytes.chunks(MAX_CHUNK) {
        let message = event(
            "PayloadChunk",
            "application/octet-stream",
            Bytes::copy_from_slice(piece),
        );
        write_message_to(&message, &mut framed).map_err(std::io::Error::other)?;
    }
    Ok(Bytes::from(framed))
}

/// The `InvokeComplete` message ending an invocation: its error, if any, and its log tail.
fn invoke_complete(result: &Result<InvokeResponse, ApiError>) -> Result<Bytes, std::io::Error> {
    let mut document = serde_json::Map::new();
    match result {
        Ok(response) => {
            if let Some(FunctionResult::Error { error_type, body }) =
                response.outcome.as_ref().map(|o| &o.result)
            {
                let details = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|doc| {
                        doc.get("errorMessage")
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
                document.insert("ErrorCode".into(), error_type.clone().into());
                document.insert("ErrorDetails".into(), details.into());
            }
            if let Some(logs) = &response.log_result {
                document.insert("LogResult".into(), logs.clone().into());
            }
        }
        Err(e) => {
            document.insert("ErrorCode".into(), e.error_type.into());
            document.insert("ErrorDetails".into(), e.message.clone().into());
        }
    }
    let payload = serde_json::to_vec(&document).map_err(std::io::Error::other)?;
    let mut framed = Vec::new();
    write_message_to(
        &event("InvokeComplete", "application/json", Bytes::from(payload)),
        &mut framed,
    )
    .map_err(std::io::Error::other)?;
    Ok(Bytes::from(framed))
}

fn event(event_type: &'static str, content_type: &'static str, payload: Bytes) -> Message {
    Message::new(payload)
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ))
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(event_type.into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String(content_type.into()),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    use aws_smithy_eventstream::smithy::parse_response_headers;

    fn decode_all(mut bytes: &[u8]) -> Vec<Message> {
        let mut decoder = MessageFrameDecoder::new();
        let mut messages = Vec::new();
        while let DecodedFrame::Complete(m) =
            decoder.decode_frame(&mut bytes).expect("a valid frame")
        {
            messages.push(m);
        }
        assert!(bytes.is_empty(), "bytes left over");
        messages
    }

    #[test]
    fn payload_chunks_round_trip_through_the_sdk_decoder() {
        let big = Bytes::from(vec![7u8; MAX_CHUNK + 10]);
        let framed = payload_chunks(&big).expect("framed");
        let messages = decode_all(&framed);
        assert_eq!(messages.len(), 2);
        let mut joined = Vec::new();
        for m in &messages {
            let headers = parse_response_headers(m).expect("headers");
            assert_eq!(headers.message_type.as_str(), "event");
            assert_eq!(headers.smithy_type.as_str(), "PayloadChunk");
            assert_eq!(headers.content_type(), Some("application/octet-stream"));
            joined.extend_from_slice(m.payload());
        }
        assert_eq!(joined, big);
    }

    #[test]
    fn invoke_complete_carries_a_service_error() {
        let framed = invoke_complete(&Err(ApiError::service("gone"))).expect("framed");
        let messages = decode_all(&framed);
        assert_eq!(messages.len(), 1);
        let headers = parse_response_headers(&messages[0]).expect("headers");
        assert_eq!(headers.smithy_type.as_str(), "InvokeComplete");
        let doc: serde_json::Value = serde_json::from_slice(messages[0].payload()).expect("json");
        assert_eq!(doc["ErrorCode"], "ServiceException");
        assert_eq!(doc["ErrorDetails"], "gone");
    }

    /// A streaming invocation whose runtime sent `pieces` with `content_type`, then ended.
    fn streaming(content_type: Option<&str>, pieces: &[&[u8]]) -> Streaming {
        let (tx, events) = mpsc::channel(64);
        for piece in pieces {
            tx.try_send(StreamEvent::Chunk(Bytes::copy_from_slice(piece)))
                .expect("room");
        }
        drop(tx);
        let done = tokio::spawn(async {
            Ok(InvokeResponse {
                status: 200,
                payload: Bytes::new(),
                function_error: None,
                log_result: None,
                executed_version: "$LATEST".into(),
                request_id: "r".into(),
                trace_header: None,
                outcome: None,
            })
        });
        Streaming {
            request_id: "r".into(),
            content_type: content_type.map(str::to_owned),
            events,
            done: Some(done),
            finished: None,
        }
    }

    async fn body_of(response: axum::response::Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body")
            .to_vec()
    }

    #[tokio::test]
    async fn an_http_prelude_becomes_the_head_across_chunks() {
        let prelude =
            br#"{"statusCode":418,"headers":{"x-a":"1","x-b":["2","3"]},"cookies":["c=1"]}"#;
        let (first, second) = prelude.split_at(10);
        let mut tail = second.to_vec();
        tail.extend_from_slice(&PRELUDE_END);
        tail.extend_from_slice(b"hel");
        let s = streaming(
            Some(crate::stream::HTTP_INTEGRATION),
            &[first, &tail, b"lo"],
        );
        let response = http_response(s).await.expect("a response");
        assert_eq!(response.status(), 418);
        assert_eq!(response.headers()["x-a"], "1");
        let b: Vec<_> = response.headers().get_all("x-b").iter().collect();
        assert_eq!(b, ["2", "3"]);
        assert_eq!(response.headers()["set-cookie"], "c=1");
        assert_eq!(
            response.headers()["content-type"],
            "application/octet-stream"
        );
        assert_eq!(body_of(response).await, b"hello");
    }

    #[tokio::test]
    async fn without_the_http_type_every_byte_is_body() {
        let s = streaming(Some("text/plain"), &[b"{\"statusCode\":500}", &PRELUDE_END]);
        let response = http_response(s).await.expect("a response");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/plain");
        assert_eq!(body_of(response).await.len(), 18 + 8);
    }

    #[tokio::test]
    async fn a_bad_prelude_is_an_error_not_a_panic() {
        let http = Some(crate::stream::HTTP_INTEGRATION);
        let mut not_json = b"not json".to_vec();
        not_json.extend_from_slice(&PRELUDE_END);
        let why = http_response(streaming(http, &[&not_json]))
            .await
            .expect_err("refused");
        assert!(why.contains("not the JSON expected"), "{why}");

        let why = http_response(streaming(http, &[b"{\"statusCode\": 200"]))
            .await
            .expect_err("refused");
        assert!(why.contains("ended inside its HTTP prelude"), "{why}");

        let endless = vec![b' '; MAX_PRELUDE + 1];
        let why = http_response(streaming(http, &[&endless]))
            .await
            .expect_err("refused");
        assert!(why.contains("did not end within"), "{why}");

        let mut bad_status = br#"{"statusCode": 42}"#.to_vec();
        bad_status.extend_from_slice(&PRELUDE_END);
        let why = http_response(streaming(http, &[&bad_status]))
            .await
            .expect_err("refused");
        assert!(why.contains("no HTTP status"), "{why}");
    }

    #[test]
    fn a_corrupted_frame_is_refused_by_the_decoder() {
        let mut framed = payload_chunks(&Bytes::from_static(b"hello"))
            .expect("framed")
            .to_vec();
        let last = framed.len() - 5;
        framed[last] ^= 0xff;
        let mut decoder = MessageFrameDecoder::new();
        assert!(decoder.decode_frame(&mut &framed[..]).is_err());
    }
}
