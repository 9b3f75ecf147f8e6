//! Streamed responses: [`run_streaming`] serves handlers that answer with a [`Stream`] of bytes.
//!
//! The bytes go to the caller as the stream yields them (InvokeWithResponseStream, a Function
//! URL in `RESPONSE_STREAM` mode), up to Lambda's 200 MB, instead of after the handler returns.
//! Everything else is [`run`](super::run)'s: the invocation's span and trace context around
//! the handler *and* its stream, logs with the request id, metrics, telemetry flushed before
//! the next poll, panics caught.
//!
//! On the wire (the Runtime API's streaming mode): `POST /runtime/invocation/{id}/response`
//! with `Lambda-Runtime-Function-Response-Mode: streaming`, a chunked body, and the trailers
//! `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body` declared. How
//! a failure is reported depends on when it happens:
//!
//! | the failure | is reported |
//! |---|---|
//! | the event does not decode, the handler returns `Err` or panics | as [`run`](super::run) does: the error document to `/error` |
//! | the stream's first item is `Err`, or polling it panics | the same: nothing was streamed yet |
//! | a later item is `Err`, or polling it panics | in the trailers: the error type, and the base64 error document |
//!
//! ```no_run
//! use futures::stream::{self, Stream};
//! use lamplight::Invocation;
//!
//! async fn handler(
//!     count: u32,
//!     _inv: Invocation,
//! ) -> Result<impl Stream<Item = Result<String, std::io::Error>>, std::io::Error> {
//!     Ok(stream::iter((1..=count).map(|i| Ok(format!("line {i}\n")))))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lamplight::RuntimeError> {
//!     lamplight::run_streaming(handler).await
//! }
//! ```

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::future::{LocalBoxFuture, select_all};
use futures::{FutureExt as _, Stream, StreamExt as _};
use http::{HeaderMap, HeaderValue, Method};
use lambda_runtime_api_client::{body::Body, build_request};
use serde::de::DeserializeOwned;
use tracing::Instrument as _;

use super::{
    Api, INVOCATION_ID, NextEvent, RuntimeApiFailure, RuntimeError, Started, Worker, built, decode,
    failure_request,
};
use crate::error::{BoxError, FunctionError};
use crate::invocation::Invocation;

/// The header that puts a response post in streaming mode.
const RESPONSE_MODE: &str = "Lambda-Runtime-Function-Response-Mode";
/// The trailer naming a mid-stream error's type.
pub const ERROR_TYPE_TRAILER: &str = "Lambda-Runtime-Function-Error-Type";
/// The trailer holding a mid-stream error's document, base64.
pub const ERROR_BODY_TRAILER: &str = "Lambda-Runtime-Function-Error-Body";
/// The `Content-Type` of a response that starts with an HTTP prelude (Function URLs): the
/// prelude's JSON (`statusCode`, `headers`, `cookies`), 8 NUL bytes, then the body.
pub const HTTP_INTEGRATION: &str = "application/vnd.awslambda.http-integration-response";
/// The `Content-Type` a streamed response is posted with unless it says otherwise.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";
/// The error type sent when a handler's own type cannot be a header value.
const STREAM_ERROR: &str = "Runtime.StreamError";

/// A streamed response: the stream of bytes and the `Content-Type` it is posted with.
#[derive(Debug)]
pub struct StreamResponse<S> {
    content_type: Option<String>,
    stream: S,
}

impl<S> StreamResponse<S> {
    /// `stream`, posted as `application/octet-stream`.
    pub fn new(stream: S) -> Self {
        Self {
            content_type: None,
            stream,
        }
    }

    /// Posts the stream with `content_type` (the HTTP integration's type,
    /// [`HTTP_INTEGRATION`], says the stream starts with a prelude).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }
}

/// What a streaming handler may answer: a [`Stream`] of `Result`s of bytes (`Bytes`, `String`,
/// `Vec<u8>`, ...), or a [`StreamResponse`] around one.
pub trait IntoStreamResponse {
    /// The stream of bytes.
    type Stream: Stream<Item = Result<Self::Data, Self::Error>>;
    /// One piece of the response.
    type Data: Into<Bytes>;
    /// Why the stream failed.
    type Error: Into<BoxError> + 'static;
    /// The response to stream.
    fn into_stream_response(self) -> StreamResponse<Self::Stream>;
}

impl<S, D, E> IntoStreamResponse for StreamResponse<S>
where
    S: Stream<Item = Result<D, E>>,
    D: Into<Bytes>,
    E: Into<BoxError> + 'static,
{
    type Stream = S;
    type Data = D;
    type Error = E;
    fn into_stream_response(self) -> StreamResponse<S> {
        self
    }
}

impl<S, D, E> IntoStreamResponse for S
where
    S: Stream<Item = Result<D, E>>,
    D: Into<Bytes>,
    E: Into<BoxError> + 'static,
{
    type Stream = S;
    type Data = D;
    type Error = E;
    fn into_stream_response(self) -> StreamResponse<S> {
        StreamResponse::new(self)
    }
}

/// Serves invocations with a streaming `handler` until the execution environment is shut
/// down: [`run`](super::run) for handlers whose answer is a stream of bytes (see the
/// [module documentation](self) for the wire and how failures are reported).
pub async fn run_streaming<F, Fut, Ev, R, E>(handler: F) -> Result<(), RuntimeError>
where
    F: Fn(Ev, Invocation) -> Fut + 'static,
    Fut: Future<Output = Result<R, E>> + 'static,
    Ev: DeserializeOwned + 'static,
    R: IntoStreamResponse + 'static,
    E: Into<BoxError> + 'static,
{
    let (api, worker) = super::start(handler).await?;
    let stopped = match super::concurrency(&worker.env) {
        1 => loop {
            match api.next().await {
                Ok(event) => worker.invoke_streaming(&api, event, true).await,
                Err(e) => break e,
            }
        },
        // Lambda Managed Instances: `n` poll loops taking turns on this task, as `run` does.
        n => {
            let loops: Vec<LocalBoxFuture<'_, RuntimeApiFailure>> = (0..n)
                .map(|_| {
                    let (api, worker) = (&api, &worker);
                    async move {
                        loop {
                            match api.next().await {
                                Ok(event) => {
                                    lamplight_telemetry::metrics::scope(
                                        worker.invoke_streaming(api, event, false),
                                    )
                                    .await;
                                }
                                Err(e) => return e,
                            }
                        }
                    }
                    .boxed_local()
                })
                .collect();
            select_all(loops).await.0
        }
    };
    Err(super::stopped_by(stopped).await)
}

/// The stream's first item: nothing streamed yet, so a failure is still an `/error` post.
enum First<D> {
    Data(D),
    Empty,
    Failed(FunctionError),
}

impl<F, Fut, Ev, R, E> Worker<F, Ev>
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: IntoStreamResponse,
    E: Into<BoxError> + 'static,
{
    /// Serves one event with a streamed answer, then flushes telemetry.
    async fn invoke_streaming(&self, api: &Api, event: NextEvent, sequential: bool) {
        let Started {
            request_id,
            invocation_id,
            invocation,
            span,
            cold_start,
            body,
            trace_id,
            trace_header,
        } = self.start(event, sequential);
        if !sequential {
            super::scope_metrics(&request_id, trace_id.as_deref());
        }
        let handled = open(&self.handler, &body, invocation)
            .instrument(span.clone())
            .await;
        // The span has run by now, so its trace is known (a root span gets its id on start).
        let trace_key = (!sequential)
            .then(|| self.telemetry.trace_of(&span, trace_header.as_deref()))
            .flatten();
        match handled {
            Err(doc) => {
                let request = failure_request(&span, &request_id, &doc, invocation_id.as_deref());
                drop(span);
                self.telemetry
                    .write_metrics(&self.env.function_name, cold_start);
                if let Some(request) = built(request, &request_id) {
                    api.post(request, &request_id).await;
                }
            }
            Ok((content_type, first, stream)) => {
                let target = Target {
                    request_id: &request_id,
                    invocation_id: invocation_id.as_deref(),
                    content_type: content_type.as_deref(),
                };
                post_stream(api, target, first, stream, &span).await;
                // The handler's subsegment covers its stream: it ends once the last byte is sent.
                drop(span);
                self.telemetry
                    .write_metrics(&self.env.function_name, cold_start);
            }
        }
        if sequential {
            self.telemetry.flush_async().await;
        } else {
            self.telemetry.flush_invocation(trace_key).await;
        }
    }
}

/// An opened stream: its content type, its first item, and the rest.
type Opened<R> = (
    Option<String>,
    First<<R as IntoStreamResponse>::Data>,
    Pin<Box<<R as IntoStreamResponse>::Stream>>,
);

/// Decodes the event, runs the handler and takes the stream's first item, with panics caught:
/// a failure up to there is an error document to answer as [`run`](super::run) does.
async fn open<F, Fut, Ev, R, E>(
    handler: &F,
    body: &[u8],
    invocation: Invocation,
) -> Result<Opened<R>, FunctionError>
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: IntoStreamResponse,
    E: Into<BoxError> + 'static,
{
    let event = decode::<Ev>(body)?;
    // Boxed for the reason `complete` boxes it: a deep handler future would otherwise push
    // `main`'s layout past rustc's query depth limit.
    let answered = AssertUnwindSafe(Box::pin(handler(event, invocation)))
        .catch_unwind()
        .await;
    let response = match answered {
        Ok(Ok(response)) => response.into_stream_response(),
        Ok(Err(e)) => return Err(FunctionError::from_handler_error(e)),
        Err(panic) => return Err(FunctionError::from_panic(panic.as_ref())),
    };
    let StreamResponse {
        content_type,
        stream,
    } = response;
    let mut stream = Box::pin(stream);
    match next_item(&mut stream).await {
        First::Failed(doc) => Err(doc),
        first => Ok((content_type, first, stream)),
    }
}

/// What a streaming handler answered, as [`respond_streaming`] collects it.
#[derive(Debug)]
pub struct Streamed {
    /// The `Content-Type` the response is posted with, if the handler chose one.
    pub content_type: Option<String>,
    /// The pieces the stream yielded, in order.
    pub chunks: Vec<Bytes>,
    /// The failure that ended the stream after its first piece: what the trailers report.
    pub error: Option<FunctionError>,
}

/// Answers one event as [`run_streaming`] would, without a Runtime API: the stream's pieces
/// (and the failure that ended it, if one did after the first piece), or the error document
/// Lambda would return for a failure before the first piece. For tests of a streaming handler
/// from sample events.
pub async fn respond_streaming<F, Fut, Ev, R, E>(
    handler: F,
    event: &[u8],
    invocation: Invocation,
) -> Result<Streamed, FunctionError>
where
    F: Fn(Ev, Invocation) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    Ev: DeserializeOwned,
    R: IntoStreamResponse,
    E: Into<BoxError> + 'static,
{
    crate::error::install_panic_hook();
    let (content_type, mut next, mut stream) = open(&handler, event, invocation).await?;
    let mut chunks = Vec::new();
    let error = loop {
        match next {
            First::Data(data) => chunks.push(data.into()),
            First::Empty => break None,
            First::Failed(doc) => break Some(doc),
        }
        next = next_item(&mut stream).await;
    };
    Ok(Streamed {
        content_type,
        chunks,
        error,
    })
}

/// The next item of the stream, with a panic while polling it caught.
async fn next_item<S, D, SE>(stream: &mut S) -> First<D>
where
    S: Stream<Item = Result<D, SE>> + Unpin,
    SE: Into<BoxError> + 'static,
{
    match AssertUnwindSafe(stream.next()).catch_unwind().await {
        Ok(Some(Ok(data))) => First::Data(data),
        Ok(None) => First::Empty,
        Ok(Some(Err(e))) => First::Failed(FunctionError::from_handler_error(e)),
        Err(panic) => First::Failed(FunctionError::from_panic(panic.as_ref())),
    }
}

/// Where a streamed response goes.
struct Target<'a> {
    request_id: &'a str,
    invocation_id: Option<&'a str>,
    content_type: Option<&'a str>,
}

/// Posts `first` and the rest of `stream` in streaming mode, as they come; a failure of the
/// stream ends the body with the error trailers.
async fn post_stream<S, D, SE>(
    api: &Api,
    target: Target<'_>,
    first: First<D>,
    mut stream: S,
    span: &tracing::Span,
) where
    S: Stream<Item = Result<D, SE>> + Unpin,
    D: Into<Bytes>,
    SE: Into<BoxError> + 'static,
{
    let (mut tx, body) = Body::channel();
    let request = build_request()
        .method(Method::POST)
        .uri(format!(
            "/2018-06-01/runtime/invocation/{}/response",
            target.request_id
        ))
        .header(RESPONSE_MODE, "streaming")
        .header("Transfer-Encoding", "chunked")
        .header(
            "Trailer",
            format!("{ERROR_TYPE_TRAILER}, {ERROR_BODY_TRAILER}"),
        )
        .header(
            "Content-Type",
            target.content_type.unwrap_or(DEFAULT_CONTENT_TYPE),
        )
        .header(INVOCATION_ID, target.invocation_id.unwrap_or_default())
        .body(body)
        .map_err(BoxError::from);
    let Some(request) = built(request, target.request_id) else {
        return;
    };
    let feed = async move {
        let mut next = first;
        let failed = loop {
            match next {
                First::Data(data) => {
                    // The Runtime API stopped reading (it refused the response): the post
                    // reports why.
                    if tx.send_data(data.into()).await.is_err() {
                        return;
                    }
                }
                First::Empty => break None,
                First::Failed(doc) => break Some(doc),
            }
            next = next_item(&mut stream).await;
        };
        if let Some(doc) = failed {
            tracing::error!(errorType = %doc.error_type, "{}", doc.error_message);
            lamplight_telemetry::record_failure(
                &tracing::Span::current(),
                &doc.error_type,
                &doc.error_message,
            );
            if tx.send_trailers(error_trailers(&doc)).await.is_err() {
                tracing::warn!("the Runtime API closed the response before its error trailers");
            }
        }
        // Dropping the sender ends the body.
    }
    .instrument(span.clone());
    tokio::join!(api.post(request, target.request_id), feed);
}

/// The most bytes of the base64 error document in a trailer: HTTP servers cap the trailer
/// section (hyper at 16 KB), and one over the cap loses the whole response.
const MAX_ERROR_TRAILER: usize = 8 * 1024;

/// The trailers that report `doc` after the response began. A document too large for a
/// trailer loses its stack trace first, then the end of its message.
pub fn error_trailers(doc: &FunctionError) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    let error_type = HeaderValue::from_str(&doc.error_type)
        .unwrap_or_else(|_| HeaderValue::from_static(STREAM_ERROR));
    trailers.insert(ERROR_TYPE_TRAILER, error_type);
    // A document always serialises; an empty body still reports the type.
    let encode = |doc: &FunctionError| BASE64.encode(serde_json::to_vec(doc).unwrap_or_default());
    let mut encoded = encode(doc);
    if encoded.len() > MAX_ERROR_TRAILER {
        let mut shorter = doc.clone();
        shorter.stack_trace = None;
        encoded = encode(&shorter);
        if encoded.len() > MAX_ERROR_TRAILER {
            // base64 is 4/3 of the JSON, which escapes at most 6 bytes a character.
            let keep = MAX_ERROR_TRAILER * 3 / 4 / 6 - 64;
            shorter.error_message = shorter.error_message.chars().take(keep).collect();
            shorter.error_message.push('…');
            encoded = encode(&shorter);
        }
    }
    if let Ok(body) = HeaderValue::from_str(&encoded) {
        trailers.insert(ERROR_BODY_TRAILER, body);
    }
    trailers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_trailers_carry_the_type_and_the_base64_document() {
        let doc = FunctionError::new("Boom", "half-way");
        let trailers = error_trailers(&doc);
        assert_eq!(trailers[ERROR_TYPE_TRAILER], "Boom");
        let body = BASE64
            .decode(trailers[ERROR_BODY_TRAILER].as_bytes())
            .expect("base64");
        let parsed: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(parsed["errorType"], "Boom");
        assert_eq!(parsed["errorMessage"], "half-way");
    }

    #[test]
    fn a_large_document_fits_a_trailer() {
        let frames = (0..500).map(|i| format!("src/deep/module/file_{i}.rs:{i}"));
        let doc = FunctionError::new("Panic", "x".repeat(20_000)).with_stack_trace(frames);
        let trailers = error_trailers(&doc);
        let encoded = trailers[ERROR_BODY_TRAILER].as_bytes();
        assert!(encoded.len() <= MAX_ERROR_TRAILER, "{}", encoded.len());
        let parsed: serde_json::Value =
            serde_json::from_slice(&BASE64.decode(encoded).expect("base64")).expect("json");
        assert_eq!(parsed["errorType"], "Panic");
        assert!(parsed.get("stackTrace").is_none());
        assert!(
            parsed["errorMessage"]
                .as_str()
                .expect("message")
                .ends_with('…')
        );
    }

    #[tokio::test]
    async fn respond_streaming_tells_early_failures_from_late_ones() {
        async fn handler(
            fail_at: u32,
            _inv: Invocation,
        ) -> Result<impl Stream<Item = Result<String, std::io::Error>>, std::io::Error> {
            Ok(futures::stream::iter((1..=3).map(move |i| {
                if i == fail_at {
                    Err(std::io::Error::other(format!("no {i}")))
                } else {
                    Ok(format!("{i}"))
                }
            })))
        }
        let inv = || Invocation::builder().build();
        let whole = respond_streaming(handler, b"0", inv())
            .await
            .expect("streamed");
        assert_eq!(whole.chunks, ["1", "2", "3"]);
        assert!(whole.error.is_none());
        let late = respond_streaming(handler, b"3", inv())
            .await
            .expect("streamed");
        assert_eq!(late.chunks, ["1", "2"]);
        assert_eq!(late.error.expect("an error").error_message, "no 3");
        let early = respond_streaming(handler, b"1", inv())
            .await
            .expect_err("early");
        assert_eq!(early.error_message, "no 1");
        let invalid = respond_streaming(handler, b"\"x\"", inv())
            .await
            .expect_err("invalid");
        assert_eq!(invalid.error_type, "InvalidEvent");
    }

    #[tokio::test]
    async fn a_panic_while_polling_is_a_failure_not_an_unwind() {
        let mut stream = Box::pin(futures::stream::poll_fn(
            |_| -> std::task::Poll<Option<Result<Bytes, std::io::Error>>> {
                panic!("stream broke")
            },
        ));
        crate::error::install_panic_hook();
        match next_item(&mut stream).await {
            First::Failed(doc) => {
                assert_eq!(doc.error_type, "Panic");
                assert!(
                    doc.error_message.contains("stream broke"),
                    "{}",
                    doc.error_message
                );
            }
            _ => panic!("not a failure"),
        }
    }
}
