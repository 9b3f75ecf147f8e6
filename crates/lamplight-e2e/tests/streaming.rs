//! Response streaming end to end: the `stream` binary of `examples/streaming` (built here with
//! cargo, into the same target directory) and the `streamfn` test function, run by the local
//! service and called with `aws-sdk-lambda`'s `invoke_with_response_stream`, as a user would.
//! Also a hand-written runtime that misbehaves mid-stream: the caller gets an error, the service
//! keeps serving.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvokeWithResponseStreamResponseEvent as Event, LogType};
use base64::Engine as _;
use lamplight_local::{Code, FunctionConfig, LocalLambda};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The example's `stream` bootstrap, built once per test binary.
fn stream_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args([
                    "build",
                    "-p",
                    "lamplight-example-streaming",
                    "--bin",
                    "stream",
                ])
                .current_dir(&workspace)
                .status()
                .expect("cargo runs");
            assert!(status.success(), "building the streaming example failed");
            // The same target directory and profile as this test's own binaries.
            let bin = Path::new(env!("CARGO_BIN_EXE_testfn")).with_file_name("stream");
            assert!(bin.exists(), "no {}", bin.display());
            bin
        })
        .clone()
}

fn streamfn() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_streamfn"))
}

/// What one InvokeWithResponseStream call produced.
#[derive(Debug, Default)]
struct Streamed {
    /// Each chunk with when it arrived, from the call's start.
    chunks: Vec<(Duration, Vec<u8>)>,
    /// When `InvokeComplete` arrived.
    completed: Option<Duration>,
    error_code: Option<String>,
    error_details: Option<String>,
    logs: String,
    version: Option<String>,
}

impl Streamed {
    fn text(&self) -> String {
        let bytes: Vec<u8> = self.chunks.iter().flat_map(|(_, c)| c.clone()).collect();
        String::from_utf8(bytes).expect("utf8")
    }
}

async fn invoke_stream(client: &aws_sdk_lambda::Client, name: &str, payload: Value) -> Streamed {
    let started = Instant::now();
    let mut out = client
        .invoke_with_response_stream()
        .function_name(name)
        .log_type(LogType::Tail)
        .payload(Blob::new(serde_json::to_vec(&payload).expect("json")))
        .send()
        .await
        .expect("InvokeWithResponseStream succeeds");
    let mut streamed = Streamed {
        version: out.executed_version().map(str::to_owned),
        ..Streamed::default()
    };
    while let Some(event) = out.event_stream.recv().await.expect("a valid event stream") {
        match event {
            Event::PayloadChunk(chunk) => {
                assert!(streamed.completed.is_none(), "a chunk after InvokeComplete");
                let bytes = chunk
                    .payload()
                    .map(|b| b.as_ref().to_vec())
                    .unwrap_or_default();
                streamed.chunks.push((started.elapsed(), bytes));
            }
            Event::InvokeComplete(done) => {
                streamed.completed = Some(started.elapsed());
                streamed.error_code = done.error_code().map(str::to_owned);
                streamed.error_details = done.error_details().map(str::to_owned);
                streamed.logs = done
                    .log_result()
                    .map(|l| {
                        let raw = base64::engine::general_purpose::STANDARD
                            .decode(l)
                            .expect("base64 log");
                        String::from_utf8(raw).expect("utf8 log")
                    })
                    .unwrap_or_default();
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert!(streamed.completed.is_some(), "no InvokeComplete");
    streamed
}

async fn stream_service() -> LocalLambda {
    common::service(vec![
        FunctionConfig::new("stream", Code::Bootstrap(stream_bin())),
        FunctionConfig::new("streamfn", Code::Bootstrap(streamfn())),
        common::testfn_config("buffered"),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunks_arrive_as_the_function_produces_them() {
    let service = stream_service().await;
    let client = common::client(&service).await;
    // Warm: the measured call below then times streaming, not the environment's start.
    let warm = invoke_stream(&client, "stream", json!({"chunks": 1})).await;
    assert_eq!(warm.text(), "chunk 1\n");

    let got = invoke_stream(&client, "stream", json!({"chunks": 5, "interval_ms": 200})).await;
    assert_eq!(got.error_code, None, "{:?}", got.error_details);
    assert_eq!(got.text(), "chunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n");
    // Each line its own chunk, in order, as it was produced.
    let each: Vec<String> = got
        .chunks
        .iter()
        .map(|(_, c)| String::from_utf8_lossy(c).into_owned())
        .collect();
    assert_eq!(
        each,
        [
            "chunk 1\n",
            "chunk 2\n",
            "chunk 3\n",
            "chunk 4\n",
            "chunk 5\n"
        ]
    );
    let first = got.chunks[0].0;
    let last = got.chunks[4].0;
    let total = got.completed.expect("completed");
    eprintln!(
        "warm call: first chunk after {first:?}, last after {last:?}, InvokeComplete after {total:?}"
    );
    // The function takes 800 ms after its first line to produce the rest: a buffered answer
    // would bring every line at once, at the end.
    assert!(
        last - first >= Duration::from_millis(600),
        "first chunk at {first:?}, last at {last:?}: not streamed"
    );
    assert!(total >= Duration::from_millis(800), "{total:?}");
    assert!(first < last && last <= total);
    assert_eq!(got.version.as_deref(), Some("$LATEST"));
    assert!(got.logs.contains("START RequestId:"), "{}", got.logs);
    assert!(got.logs.contains("REPORT RequestId:"), "{}", got.logs);
    assert!(
        got.logs.contains("streaming"),
        "the function's own log line:\n{}",
        got.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mid_stream_error_arrives_in_invoke_complete_after_the_chunks() {
    let service = stream_service().await;
    let client = common::client(&service).await;
    let got = invoke_stream(
        &client,
        "stream",
        json!({"chunks": 5, "interval_ms": 10, "fail_after": 2}),
    )
    .await;
    assert_eq!(got.text(), "chunk 1\nchunk 2\n");
    assert_eq!(got.error_code.as_deref(), Some("StreamError"));
    assert_eq!(
        got.error_details.as_deref(),
        Some("failed after 2 chunk(s), as the event asked (`fail_after`)")
    );
    assert!(
        got.logs.contains("Status: error") || got.logs.contains("REPORT"),
        "{}",
        got.logs
    );

    // A panic while streaming: reported the same way, and the environment keeps serving.
    let panicked = invoke_stream(&client, "streamfn", json!({"lines": 4, "panic_after": 3})).await;
    assert_eq!(panicked.text(), "line 1\nline 2\nline 3\n");
    assert_eq!(
        panicked.error_code.as_deref(),
        Some("Panic"),
        "{:?}\n{}",
        panicked.error_details,
        panicked.logs
    );
    let details = panicked.error_details.expect("details");
    assert!(
        details.contains("the stream broke after 3 line(s)"),
        "{details}"
    );
    let again = invoke_stream(&client, "streamfn", json!({"lines": 2})).await;
    assert_eq!(again.text(), "line 1\nline 2\n");
    assert_eq!(again.error_code, None);
    assert!(
        !again.logs.contains("Init Duration"),
        "a new environment:\n{}",
        again.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_before_the_first_byte_are_plain_function_errors() {
    let service = stream_service().await;
    let client = common::client(&service).await;
    let got = invoke_stream(&client, "stream", json!({"chunks": 3, "fail_after": 0})).await;
    assert!(got.chunks.is_empty(), "{:?}", got.chunks);
    assert_eq!(got.error_code.as_deref(), Some("StreamError"));

    let invalid = invoke_stream(&client, "stream", json!({"chunks": "many"})).await;
    assert!(invalid.chunks.is_empty());
    assert_eq!(invalid.error_code.as_deref(), Some("InvalidEvent"));
    let details = invalid.error_details.expect("details");
    assert!(details.contains("chunks"), "{details}");

    let refused = invoke_stream(&client, "stream", json!({"chunks": 0})).await;
    assert_eq!(refused.error_code.as_deref(), Some("StreamError"));
    assert_eq!(
        refused.error_details.as_deref(),
        Some("`chunks` must be 1 to 100000, not 0")
    );

    // Through plain Invoke, the same error document.
    let plain = common::invoke(&client, "stream", json!({"chunks": 0})).await;
    assert_eq!(plain.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(plain.payload["errorType"], "StreamError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_and_streamed_answers_cross_over() {
    let service = stream_service().await;
    let client = common::client(&service).await;
    // A buffered function through InvokeWithResponseStream: one chunk, then InvokeComplete.
    let got = invoke_stream(
        &client,
        "buffered",
        json!({"action": "echo", "value": {"n": 1}}),
    )
    .await;
    assert_eq!(got.chunks.len(), 1, "{:?}", got.chunks);
    let doc: Value = serde_json::from_slice(&got.chunks[0].1).expect("json");
    assert_eq!(doc["result"], json!({"n": 1}));
    assert_eq!(got.error_code, None);

    // A streaming function through plain Invoke: the whole stream, buffered.
    let out = client
        .invoke()
        .function_name("stream")
        .payload(Blob::new(br#"{"chunks": 3}"#.to_vec()))
        .send()
        .await
        .expect("invoke");
    assert_eq!(out.function_error(), None);
    assert_eq!(
        out.payload().map(|p| p.as_ref().to_vec()),
        Some(b"chunk 1\nchunk 2\nchunk 3\n".to_vec())
    );

    // In-process, the same: chunks as they come, then the end of the invocation.
    let mut streamed = service
        .call_streaming(lamplight_local::InvokeRequest {
            function: "stream".into(),
            payload: br#"{"chunks": 2}"#.to_vec().into(),
            ..Default::default()
        })
        .await
        .expect("call");
    assert!(streamed.is_streamed());
    let mut chunks = Vec::new();
    while let Some(chunk) = streamed.chunk().await {
        chunks.push(chunk);
    }
    assert_eq!(chunks, ["chunk 1\n", "chunk 2\n"]);
    let end = streamed.finish().await.expect("finished");
    let outcome = end.outcome.expect("an outcome");
    assert!(
        outcome.logs.contains("REPORT RequestId:"),
        "{}",
        outcome.logs
    );
    let whole = service
        .call_streaming(lamplight_local::InvokeRequest {
            function: "buffered".into(),
            payload: br#"{"action": "echo", "value": 7}"#.to_vec().into(),
            ..Default::default()
        })
        .await
        .expect("call");
    assert!(!whole.is_streamed());
    let end = whole.finish().await.expect("finished");
    assert_eq!(end.function_error, None);

    // An unknown function is an error of the call, before any stream.
    let missing = client
        .invoke_with_response_stream()
        .function_name("nope")
        .send()
        .await
        .expect_err("no such function");
    let missing = missing.into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
}

/// One HTTP request of a runtime, raw: the head, and the body by `Content-Length`.
async fn next_event(api: std::net::SocketAddr) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(api).await.expect("connect");
    tcp.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.expect("read head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    let field = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
            .unwrap_or_else(|| panic!("no {name} in {head}"))
    };
    let length: usize = field("content-length").trim().parse().expect("length");
    let mut body = vec![0u8; length];
    tcp.read_exact(&mut body).await.expect("read body");
    (
        tcp,
        field("lambda-runtime-aws-request-id").trim().to_owned(),
    )
}

/// The start of a streamed response post, raw.
fn stream_head(id: &str) -> String {
    format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: runtime\r\n\
         Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\
         Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_that_misbehaves_mid_stream_fails_the_call_not_the_service() {
    let service = LocalLambda::builder()
        .function(FunctionConfig::new("raw", Code::External).timeout(Duration::from_secs(5)))
        .start()
        .await
        .expect("service");
    let client = common::client(&service).await;
    let api = service.external_runtime_api("raw").expect("runtime API");

    // A trailer whose body is not base64: still an error, saying so.
    let call = tokio::spawn({
        let client = client.clone();
        async move { invoke_stream(&client, "raw", json!({})).await }
    });
    let (mut tcp, id) = next_event(api).await;
    let mut post = stream_head(&id);
    post.push_str("5\r\nhello\r\n0\r\nLambda-Runtime-Function-Error-Type: Broken\r\n");
    post.push_str("Lambda-Runtime-Function-Error-Body: %%%not-base64%%%\r\n\r\n");
    tcp.write_all(post.as_bytes()).await.expect("post");
    let got = call.await.expect("call");
    assert_eq!(got.text(), "hello");
    assert_eq!(got.error_code.as_deref(), Some("Broken"));
    let details = got.error_details.expect("details");
    assert!(details.contains("not base64"), "{details}");

    // A connection that closes mid-chunk: the caller learns the stream was cut short.
    let call = tokio::spawn({
        let client = client.clone();
        async move { invoke_stream(&client, "raw", json!({})).await }
    });
    let (mut tcp, id) = next_event(api).await;
    let mut post = stream_head(&id);
    post.push_str("5\r\nhello\r\n10\r\nonly-a-part");
    tcp.write_all(post.as_bytes()).await.expect("post");
    drop(tcp);
    let got = call.await.expect("call");
    // What arrived before the cut went out; then the error.
    assert!(got.text().starts_with("hello"), "{}", got.text());
    assert_eq!(got.error_code.as_deref(), Some("Runtime.TruncatedResponse"));

    // The service still serves: a well-formed stream goes through.
    let call = tokio::spawn({
        let client = client.clone();
        async move { invoke_stream(&client, "raw", json!({})).await }
    });
    let (mut tcp, id) = next_event(api).await;
    let mut post = stream_head(&id);
    post.push_str("3\r\nok\n\r\n0\r\n\r\n");
    tcp.write_all(post.as_bytes()).await.expect("post");
    let got = call.await.expect("call");
    assert_eq!(got.text(), "ok\n");
    assert_eq!(got.error_code, None);
}

/// A GET through the HTTP front, its body read frame by frame as it arrives: the response
/// head, each piece with when it arrived, and whether the body ended in an error.
async fn get_streamed(
    addr: std::net::SocketAddr,
    path: &str,
) -> (http::response::Parts, Vec<(Duration, bytes::Bytes)>, bool) {
    use http_body_util::BodyExt as _;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let started = Instant::now();
    let response = client
        .get(format!("http://{addr}{path}").parse().expect("uri"))
        .await
        .expect("a response");
    let (parts, mut body) = response.into_parts();
    let mut pieces = Vec::new();
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    pieces.push((started.elapsed(), data));
                }
            }
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    (parts, pieces, failed)
}

fn joined(pieces: &[(Duration, bytes::Bytes)]) -> String {
    pieces
        .iter()
        .map(|(_, p)| String::from_utf8_lossy(p).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_url_streams_its_body_as_it_is_produced() {
    let service = LocalLambda::builder()
        .http_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .function(FunctionConfig::new(
            "web",
            Code::Bootstrap(PathBuf::from(env!("CARGO_BIN_EXE_httpstreamfn"))),
        ))
        .http_function("web", lamplight_local::HttpShape::FunctionUrl)
        .start()
        .await
        .expect("service");
    let addr = service.http_addr().expect("an HTTP front");
    // Warm, so the measured request times streaming rather than the environment's start.
    let (warm, pieces, failed) = get_streamed(addr, "/lambda-url/web/lines?n=1&ms=0").await;
    assert_eq!(warm.status, 201);
    assert_eq!(joined(&pieces), "line 1\n");
    assert!(!failed);

    let (head, pieces, failed) = get_streamed(addr, "/lambda-url/web/lines?n=5&ms=200").await;
    assert!(!failed);
    // The prelude became the head: status, headers, cookies; none of it is in the body.
    assert_eq!(head.status, 201);
    assert_eq!(head.headers["x-stream"], "yes");
    assert_eq!(head.headers["set-cookie"], "seen=1");
    assert!(
        head.headers.contains_key("x-request-id"),
        "{:?}",
        head.headers
    );
    assert_eq!(joined(&pieces), "line 1\nline 2\nline 3\nline 4\nline 5\n");
    let first = pieces.first().expect("a piece").0;
    let last = pieces.last().expect("a piece").0;
    assert!(
        last - first >= Duration::from_millis(600),
        "first piece at {first:?}, last at {last:?}: not streamed ({} pieces)",
        pieces.len()
    );

    // A body that fails after its first line: the client gets the line, then a broken body.
    let (head, pieces, failed) = get_streamed(addr, "/lambda-url/web/fail").await;
    assert_eq!(head.status, 200);
    assert_eq!(joined(&pieces), "line 1\n");
    assert!(
        failed,
        "the body ended cleanly despite the function's error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_outlives_its_timeout_ends_as_lambda_ends_it() {
    let service = common::service(vec![
        FunctionConfig::new("slow", Code::Bootstrap(stream_bin())).timeout(Duration::from_secs(1)),
    ])
    .await;
    let client = common::client(&service).await;
    let got = invoke_stream(&client, "slow", json!({"chunks": 10, "interval_ms": 300})).await;
    assert_eq!(got.error_code.as_deref(), Some("Sandbox.Timedout"));
    let text = got.text();
    assert!(text.starts_with("chunk 1\n"), "{text}");
    assert!(
        !text.contains("chunk 10"),
        "the whole stream went out: {text}"
    );
    assert!(
        got.logs.contains("Task timed out after 1.00 seconds"),
        "{}",
        got.logs
    );
    // A new environment serves the next call.
    let next = invoke_stream(&client, "slow", json!({"chunks": 1})).await;
    assert_eq!(next.text(), "chunk 1\n");
    assert_eq!(next.error_code, None);
}

/// The example in Lambda Managed Instances mode: one environment (`max_concurrency` 4, one
/// environment allowed) streams four overlapping invocations at once, each its own lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_environment_streams_overlapping_invocations_in_concurrent_mode() {
    let service = common::service(vec![
        FunctionConfig::new("many", Code::Bootstrap(stream_bin()))
            .max_concurrency(4)
            .max_environments(1),
    ])
    .await;
    let client = common::client(&service).await;
    let started = Instant::now();
    let calls = (0..4).map(|i| {
        let client = client.clone();
        async move {
            let got = invoke_stream(
                &client,
                "many",
                json!({"chunks": 3 + i, "interval_ms": 300}),
            )
            .await;
            (i, got)
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let took = started.elapsed();
    for (i, got) in &results {
        assert_eq!(got.error_code, None, "{:?}", got.error_details);
        let expected: String = (1..=3 + i).map(|n| format!("chunk {n}\n")).collect();
        assert_eq!(got.text(), expected, "call {i} got its own lines");
        assert_eq!(
            got.logs.matches("START RequestId").count(),
            1,
            "{}",
            got.logs
        );
    }
    let handle = service.function("many").expect("the function");
    assert_eq!(handle.environments(), 1, "one environment served them all");
    assert_eq!(handle.log_streams().len(), 1, "one log stream");
    // Served at once, not one after another: the longest call streams for 1.8 s; in turn the
    // four would take 0.6 + 0.9 + 1.2 + 1.5 s of intervals alone.
    assert!(
        took < Duration::from_millis(4200),
        "the calls overlapped: {took:?}"
    );
}
