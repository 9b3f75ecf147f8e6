//! A hostile or broken runtime against the Runtime API: unknown and repeated request ids,
//! answers after the timeout, garbage, missing headers, oversized bodies (declared or not),
//! connections that die mid-body, and bodies that trickle in. The test is the runtime
//! ([`Code::External`]), speaking raw HTTP; every answer is checked, and the caller always
//! gets its result in bounded time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lamplight_local::{Code, FunctionConfig, FunctionResult, LocalLambda, Outcome};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// Generous: the machine running this may be small and busy.
const BOUND: Duration = Duration::from_secs(15);
/// Lambda's limit on a response, as its Runtime API states it.
const MAX_RESPONSE: usize = 6_291_556;

struct Runtime {
    service: Arc<LocalLambda>,
    api: SocketAddr,
}

async fn external(timeout: Duration) -> Runtime {
    let service = LocalLambda::builder()
        .function(FunctionConfig::new("ext", Code::External).timeout(timeout))
        .start()
        .await
        .expect("start");
    let api = service.external_runtime_api("ext").expect("runtime API");
    Runtime {
        service: Arc::new(service),
        api,
    }
}

/// A reply: status code, header block, body.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

fn parse(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Reply {
        status,
        headers: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Sends `raw` (a whole request, `Connection: close`) and reads the reply to its end.
async fn send(api: SocketAddr, raw: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(api).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let mut reply = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut reply))
        .await
        .expect("the Runtime API answered in time")
        .expect("read");
    parse(&reply)
}

fn post(path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST /2018-06-01/runtime/{path} HTTP/1.1\r\nHost: runtime\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        raw.push_str(&format!("{k}: {v}\r\n"));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// `GET /next`: the request id.
async fn next(api: SocketAddr) -> String {
    let reply = send(
        api,
        b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: runtime\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
        .header("lambda-runtime-aws-request-id")
        .expect("request id")
        .to_owned()
}

fn invoke(rt: &Runtime) -> JoinHandle<(Outcome, Duration)> {
    let service = rt.service.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let outcome = service.invoke("ext", "{}").await.expect("invoke");
        (outcome, started.elapsed())
    })
}

async fn outcome(call: JoinHandle<(Outcome, Duration)>) -> (Outcome, Duration) {
    tokio::time::timeout(BOUND, call)
        .await
        .expect("the invocation ended in time")
        .expect("the invoking task")
}

fn error_of(outcome: &Outcome) -> (String, String) {
    match &outcome.result {
        FunctionResult::Error { error_type, body } => (
            error_type.clone(),
            String::from_utf8_lossy(body).into_owned(),
        ),
        FunctionResult::Response(body) => {
            panic!("expected an error, got {}", String::from_utf8_lossy(body))
        }
    }
}

#[tokio::test]
async fn unknown_and_repeated_request_ids_are_refused() {
    let rt = external(Duration::from_secs(30)).await;
    for path in [
        "invocation/not-a-request/response",
        "invocation/not-a-request/error",
    ] {
        let reply = send(rt.api, &post(path, &[], b"{}")).await;
        assert_eq!(reply.status, 400, "{path}: {reply:?}");
        assert!(reply.body.contains("InvalidRequestID"), "{reply:?}");
    }
    let call = invoke(&rt);
    let id = next(rt.api).await;
    let first = send(
        rt.api,
        &post(&format!("invocation/{id}/response"), &[], b"\"first\""),
    )
    .await;
    assert_eq!(first.status, 202, "{first:?}");
    for path in [
        format!("invocation/{id}/response"),
        format!("invocation/{id}/error"),
    ] {
        let again = send(rt.api, &post(&path, &[], b"\"second\"")).await;
        assert_eq!(again.status, 400, "{path}: {again:?}");
    }
    let (outcome, _) = outcome(call).await;
    assert_eq!(outcome.result, FunctionResult::Response("\"first\"".into()));
}

#[tokio::test]
async fn garbage_and_missing_headers_get_answers_not_panics() {
    let rt = external(Duration::from_secs(30)).await;
    let unknown = send(rt.api, &post("no/such/path", &[], b"x")).await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let not_http = send(rt.api, b"\x16\x03\x01garbage that is not HTTP\r\n\r\n").await;
    assert_eq!(not_http.status, 400, "{not_http:?}");
    let bad_length = send(
        rt.api,
        b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: runtime\r\nContent-Length: lots\r\n\r\n",
    )
    .await;
    assert_eq!(bad_length.status, 400, "{bad_length:?}");

    // An error without its type header, with a body that is not JSON: passed on as it came.
    let call = invoke(&rt);
    let id = next(rt.api).await;
    let reply = send(
        rt.api,
        &post(&format!("invocation/{id}/error"), &[], b"\xff\xfenot json"),
    )
    .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let (outcome, _) = outcome(call).await;
    assert_eq!(
        outcome.result,
        FunctionResult::Error {
            error_type: "Unhandled".into(),
            body: b"\xff\xfenot json".to_vec().into()
        }
    );

    // The environment still works.
    let call = invoke(&rt);
    let id = next(rt.api).await;
    let reply = send(
        rt.api,
        &post(&format!("invocation/{id}/response"), &[], b"{}"),
    )
    .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(
        outcome_result(call).await,
        FunctionResult::Response("{}".into())
    );
}

async fn outcome_result(call: JoinHandle<(Outcome, Duration)>) -> FunctionResult {
    outcome(call).await.0.result
}

#[tokio::test]
async fn an_answer_after_the_timeout_is_not_taken() {
    let rt = external(Duration::from_secs(1)).await;
    let call = invoke(&rt);
    let id = next(rt.api).await;
    let (outcome, _) = outcome(call).await;
    assert_eq!(error_of(&outcome).0, "Sandbox.Timedout");
    // The environment is stopped after a timeout: its Runtime API refuses the answer or is gone.
    match TcpStream::connect(rt.api).await {
        Err(_) => {}
        Ok(mut stream) => {
            let raw = post(&format!("invocation/{id}/response"), &[], b"\"late\"");
            let _ = stream.write_all(&raw).await;
            let mut reply = Vec::new();
            let _ = tokio::time::timeout(BOUND, stream.read_to_end(&mut reply)).await;
            if !reply.is_empty() {
                let reply = parse(&reply);
                assert_ne!(reply.status, 202, "a late answer was accepted: {reply:?}");
            }
        }
    }
}

#[tokio::test]
async fn a_response_declared_over_6_mb_is_refused_before_it_is_sent() {
    let rt = external(Duration::from_secs(30)).await;
    let call = invoke(&rt);
    let id = next(rt.api).await;
    let mut stream = TcpStream::connect(rt.api).await.expect("connect");
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: runtime\r\nContent-Length: {}\r\n\r\n",
        MAX_RESPONSE + 1
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    // Not one byte of the body is sent: the answer comes from the declared length alone.
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(BOUND, stream.read_to_end(&mut reply))
        .await
        .expect("answered without the body");
    let reply = parse(&reply);
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(reply.body.contains("RequestEntityTooLarge"), "{reply:?}");
    assert!(
        reply
            .body
            .contains("Exceeded maximum allowed payload size (6291556 bytes)."),
        "{reply:?}"
    );
    let (outcome, _) = outcome(call).await;
    let (error_type, body) = error_of(&outcome);
    assert_eq!(error_type, "Function.ResponseSizeTooLarge");
    assert!(
        body.contains(
            "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
        ),
        "{body}"
    );
}

#[tokio::test]
async fn a_chunked_response_over_6_mb_is_cut_off() {
    let rt = external(Duration::from_secs(30)).await;
    let call = invoke(&rt);
    let id = next(rt.api).await;
    let stream = TcpStream::connect(rt.api).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: runtime\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    // Far more than the limit, with no length to refuse it by: the server must stop reading.
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..400 {
            write
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            write.write_all(&chunk).await?;
            write.write_all(b"\r\n").await?;
        }
        std::io::Result::Ok(())
    });
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(BOUND, read.read_to_end(&mut reply)).await;
    writer.abort();
    let reply = parse(&reply);
    assert_eq!(reply.status, 413, "{reply:?}");
    let (outcome, _) = outcome(call).await;
    assert_eq!(error_of(&outcome).0, "Function.ResponseSizeTooLarge");
}

#[tokio::test]
async fn error_documents_over_6_mb_are_refused() {
    let rt = external(Duration::from_secs(30)).await;
    let call = invoke(&rt);
    let id = next(rt.api).await;
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/error HTTP/1.1\r\nHost: runtime\r\nLambda-Runtime-Function-Error-Type: Huge\r\nContent-Length: {}\r\n\r\n",
        MAX_RESPONSE + 10
    );
    assert_eq!(declared_only(rt.api, &head).await, 413);
    let (outcome, _) = outcome(call).await;
    assert_eq!(error_of(&outcome).0, "Function.ResponseSizeTooLarge");
}

/// Sends only a request's head (its body never follows) and returns the status of the answer.
async fn declared_only(api: SocketAddr, head: &str) -> u16 {
    let mut stream = TcpStream::connect(api).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(BOUND, stream.read(&mut reply))
        .await
        .expect("answered without the body")
        .expect("read");
    parse(&reply[..n]).status
}

#[tokio::test]
async fn an_init_error_over_6_mb_is_refused_and_the_caller_still_answered() {
    let rt = external(Duration::from_secs(30)).await;
    let call = invoke(&rt);
    let head = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: runtime\r\nLambda-Runtime-Function-Error-Type: Init.Huge\r\nContent-Length: {}\r\n\r\n",
        MAX_RESPONSE * 100
    );
    assert_eq!(declared_only(rt.api, &head).await, 413);
    // The environment reported a failed init and stops: the queued invocation fails, not hangs.
    let (outcome, _) = outcome(call).await;
    let _ = error_of(&outcome);
}

#[tokio::test]
async fn a_connection_reset_mid_body_leaves_the_invocation_answerable() {
    let rt = external(Duration::from_secs(30)).await;
    let call = invoke(&rt);
    let id = next(rt.api).await;
    {
        let stream = TcpStream::connect(rt.api).await.expect("connect");
        let head = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: runtime\r\nContent-Length: 1000\r\n\r\n{{\"partial\":"
        );
        let mut stream = stream;
        stream.write_all(head.as_bytes()).await.expect("write");
        // Reset (RST) rather than close: SO_LINGER 0 then drop.
        stream.set_zero_linger().expect("linger");
    }
    let reply = send(
        rt.api,
        &post(&format!("invocation/{id}/response"), &[], b"\"whole\""),
    )
    .await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(
        outcome_result(call).await,
        FunctionResult::Response("\"whole\"".into())
    );
}

#[tokio::test]
async fn a_slowloris_runtime_does_not_hold_the_invocation_past_its_timeout() {
    let timeout = Duration::from_secs(1);
    let rt = external(timeout).await;
    let call = invoke(&rt);
    let id = next(rt.api).await;
    let mut stream = TcpStream::connect(rt.api).await.expect("connect");
    let head = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: runtime\r\nContent-Length: 1000\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    // One byte every 100 ms: the whole body would take 100 s.
    let trickle = tokio::spawn(async move {
        let mut reply = Vec::new();
        loop {
            tokio::select! {
                read = stream.read_to_end(&mut reply) => {
                    let _ = read;
                    return (reply, started.elapsed());
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    if stream.write_all(b"x").await.is_err() {
                        let _ = stream.read_to_end(&mut reply).await;
                        return (reply, started.elapsed());
                    }
                }
            }
        }
    });
    let (outcome, elapsed) = outcome(call).await;
    assert_eq!(error_of(&outcome).0, "Sandbox.Timedout");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // And the slow connection is let go soon after, not held for 100 s.
    let (reply, held) = tokio::time::timeout(BOUND, trickle)
        .await
        .expect("the slow connection was closed")
        .expect("the trickling task");
    assert!(held < Duration::from_secs(12), "{held:?}");
    if !reply.is_empty() {
        assert_ne!(parse(&reply).status, 202);
    }
}
