//! The real `testfn` binary against a hostile Runtime API: failing, resetting, slow and malformed
//! `/next` answers, garbage events, and `Deserialize`/`Serialize` panics. The runtime must answer
//! what can be answered, retry what is transient, and otherwise exit non-zero with a message;
//! it must never panic.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake Runtime API answers to one `GET /next`, in order.
#[derive(Debug, Clone)]
enum Next {
    /// A well-formed event; `deadline: None` leaves the deadline header out.
    Event {
        id: String,
        deadline: Option<String>,
        body: String,
    },
    /// 200 with a body and a deadline but no `Lambda-Runtime-Aws-Request-Id`.
    NoRequestId,
    /// A bare status with a short body.
    Status(u16),
    /// The connection closes without an answer.
    Reset,
    /// The headers, then the body in slow pieces.
    Slow { id: String, body: String },
}

/// A request the function posted (a response, an error, an init error).
#[derive(Debug, Clone)]
struct Post {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Post {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {:?}",
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted Runtime API on 127.0.0.1: `/next` answers follow the script, then hold forever
/// (Lambda's long poll); everything posted is recorded and accepted with 202.
struct FakeApi {
    addr: SocketAddr,
    posts: Arc<Mutex<Vec<Post>>>,
    nexts: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApi {
    async fn start(script: Vec<Next>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let posts = Arc::new(Mutex::new(Vec::new()));
        let nexts = Arc::new(Mutex::new(Vec::new()));
        let (p, n) = (posts.clone(), nexts.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, script.clone(), p.clone(), n.clone()));
            }
        });
        Self {
            addr,
            posts,
            nexts,
            task,
        }
    }

    fn posts(&self) -> Vec<Post> {
        self.posts.lock().expect("lock").clone()
    }

    fn next_count(&self) -> usize {
        self.nexts.lock().expect("lock").len()
    }

    fn post_to(&self, suffix: &str) -> Post {
        self.posts()
            .into_iter()
            .find(|p| p.path.ends_with(suffix))
            .unwrap_or_else(|| panic!("nothing posted to …{suffix}: {:?}", self.posts()))
    }
}

/// One request per connection: read it, answer it, close.
async fn serve(
    mut stream: TcpStream,
    script: Arc<Mutex<VecDeque<Next>>>,
    posts: Arc<Mutex<Vec<Post>>>,
    nexts: Arc<Mutex<Vec<String>>>,
) {
    let Some((path, headers, body)) = read_request(&mut stream).await else {
        return;
    };
    if path.ends_with("/runtime/invocation/next") {
        nexts.lock().expect("lock").push(path);
        let step = script.lock().expect("lock").pop_front();
        match step {
            None => std::future::pending::<()>().await,
            Some(Next::Reset) => drop(stream),
            Some(Next::Status(status)) => {
                let body = format!("{{\"errorMessage\":\"scripted {status}\"}}");
                respond(&mut stream, status, &[], body.as_bytes()).await;
            }
            Some(Next::NoRequestId) => {
                let headers = [("Lambda-Runtime-Deadline-Ms", far_deadline())];
                respond(&mut stream, 200, &headers, br#"{"action":"context"}"#).await;
            }
            Some(Next::Event { id, deadline, body }) => {
                let mut headers = vec![
                    ("Lambda-Runtime-Aws-Request-Id", id),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:faulty".into(),
                    ),
                ];
                if let Some(deadline) = deadline {
                    headers.push(("Lambda-Runtime-Deadline-Ms", deadline));
                }
                respond(&mut stream, 200, &headers, body.as_bytes()).await;
            }
            Some(Next::Slow { id, body }) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                     Lambda-Runtime-Deadline-Ms: {}\r\nConnection: close\r\n\r\n",
                    body.len(),
                    far_deadline()
                );
                let _ = stream.write_all(head.as_bytes()).await;
                for piece in body.as_bytes().chunks(body.len().div_ceil(3)) {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    let _ = stream.write_all(piece).await;
                    let _ = stream.flush().await;
                }
            }
        }
    } else {
        posts.lock().expect("lock").push(Post {
            path,
            headers,
            body,
        });
        respond(&mut stream, 202, &[], br#"{"status":"OK"}"#).await;
    }
}

async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((path, headers, body))
}

async fn respond(stream: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body).await;
    let _ = stream.flush().await;
}

/// A deadline a minute from now, in Unix milliseconds as Lambda sends it.
fn far_deadline() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    (now + Duration::from_secs(60)).as_millis().to_string()
}

fn event(id: &str, body: Value) -> Next {
    Next::Event {
        id: id.into(),
        deadline: Some(far_deadline()),
        body: body.to_string(),
    }
}

/// The function's exit: status code and output.
struct Exit {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Exit {
    fn assert_no_panic(&self) {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "the runtime panicked:\n{}\n{}",
            self.stderr,
            self.stdout
        );
    }
}

/// Runs `testfn` against `api` (the value of `AWS_LAMBDA_RUNTIME_API`) until it exits, or kills
/// it after `limit` (then `code` is `None`).
async fn run_testfn(api: &str, extra: &[(&str, &str)], limit: Duration) -> Exit {
    let mut command = Command::new(env!("CARGO_BIN_EXE_testfn"));
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "faulty")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_REGION", "us-east-1")
        .env("LAMBDA_TASK_ROOT", "/var/task")
        .env("TZ", ":UTC")
        .env("GREETING", "hello")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        if v.is_empty() {
            command.env_remove(k);
        } else {
            command.env(k, v);
        }
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("testfn starts");
    let mut killed = false;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            killed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let elapsed = started.elapsed();
    let Output {
        status,
        stdout,
        stderr,
    } = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("output");
    Exit {
        code: if killed { None } else { status.code() },
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed,
    }
}

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_and_a_reset_are_retried_then_the_event_is_served() {
    let api = FakeApi::start(vec![
        Next::Status(500),
        Next::Reset,
        Next::Status(503),
        event("after-retries", json!({"action": "context"})),
        Next::Status(403),
    ])
    .await;
    let exit = run_testfn(&api.addr.to_string(), &[], LIMIT).await;
    exit.assert_no_panic();
    let reply = api
        .post_to("/2018-06-01/runtime/invocation/after-retries/response")
        .json();
    assert_eq!(reply["greeting"], "hello");
    assert_eq!(reply["result"]["requestId"], "after-retries");
    let remaining = reply["result"]["remainingMs"]
        .as_u64()
        .expect("remainingMs");
    assert!(remaining > 30_000 && remaining <= 60_000, "{remaining}");
    // The 403 that follows is not transient: a clean, non-zero exit that names it.
    assert_eq!(exit.code, Some(1), "{}", exit.stderr);
    assert!(exit.stderr.contains("403"), "{}", exit.stderr);
    assert_eq!(api.next_count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_5xx_or_resets_exit_non_zero_after_bounded_retries() {
    for (failure, named) in [(Next::Status(500), "500"), (Next::Reset, "/next")] {
        let api = FakeApi::start(vec![failure.clone(); 50]).await;
        let exit = run_testfn(&api.addr.to_string(), &[], LIMIT).await;
        exit.assert_no_panic();
        assert_eq!(exit.code, Some(1), "{failure:?}: {}", exit.stderr);
        assert!(exit.stderr.contains(named), "{failure:?}: {}", exit.stderr);
        assert!(
            exit.stderr.contains("attempts"),
            "{failure:?}: {}",
            exit.stderr
        );
        let polls = api.next_count();
        assert!((2..=10).contains(&polls), "{failure:?}: {polls} polls");
        assert!(exit.elapsed < Duration::from_secs(30), "{:?}", exit.elapsed);
        assert!(api.posts().is_empty(), "{:?}", api.posts());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_without_a_request_id_is_a_clean_exit_that_names_the_header() {
    let api = FakeApi::start(vec![Next::NoRequestId]).await;
    let exit = run_testfn(&api.addr.to_string(), &[], LIMIT).await;
    exit.assert_no_panic();
    assert_eq!(exit.code, Some(1), "{}", exit.stderr);
    assert!(
        exit.stderr.contains("Lambda-Runtime-Aws-Request-Id"),
        "{}",
        exit.stderr
    );
    assert!(api.posts().is_empty(), "{:?}", api.posts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_relative_deadline_is_served_with_time_left() {
    let context = json!({"action": "context"}).to_string();
    let api = FakeApi::start(vec![
        Next::Event {
            id: "no-deadline".into(),
            deadline: None,
            body: context.clone(),
        },
        // What `cargo lambda watch` sends: a duration, not a Unix time.
        Next::Event {
            id: "relative".into(),
            deadline: Some("600000".into()),
            body: context.clone(),
        },
        Next::Event {
            id: "unparseable".into(),
            deadline: Some("soon".into()),
            body: context,
        },
        Next::Status(403),
    ])
    .await;
    let exit = run_testfn(&api.addr.to_string(), &[], LIMIT).await;
    exit.assert_no_panic();
    assert_eq!(exit.code, Some(1), "{}", exit.stderr);
    let remaining = |id: &str| {
        api.post_to(&format!("/invocation/{id}/response")).json()["result"]["remainingMs"]
            .as_u64()
            .expect("remainingMs")
    };
    // No usable header: Lambda's longest timeout, 15 minutes.
    for id in ["no-deadline", "unparseable"] {
        let ms = remaining(id);
        assert!(ms > 850_000 && ms <= 900_000, "{id}: {ms}");
    }
    let ms = remaining("relative");
    assert!(ms > 550_000 && ms <= 600_000, "relative: {ms}");
    assert!(
        exit.stdout.contains("Lambda-Runtime-Deadline-Ms")
            || exit.stderr.contains("Lambda-Runtime-Deadline-Ms"),
        "the fallback is logged: {}",
        exit.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_event_json_gets_an_error_document_and_serving_goes_on() {
    let api = FakeApi::start(vec![
        Next::Event {
            id: "garbage".into(),
            deadline: Some(far_deadline()),
            body: "{not json".into(),
        },
        event("fine", json!({"action": "echo", "value": 7})),
        Next::Status(403),
    ])
    .await;
    let exit = run_testfn(&api.addr.to_string(), &[], LIMIT).await;
    exit.assert_no_panic();
    let error = api.post_to("/invocation/garbage/error");
    assert_eq!(
        error.header("Lambda-Runtime-Function-Error-Type"),
        Some("InvalidEvent")
    );
    let doc = error.json();
    assert_eq!(doc["errorType"], "InvalidEvent");
    assert!(
        doc["errorMessage"]
            .as_str()
            .expect("message")
            .starts_with("the event does not match `Command`"),
        "{doc}"
    );
    assert_eq!(api.post_to("/invocation/fine/response").json()["result"], 7);
    assert_eq!(exit.code, Some(1), "{}", exit.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_while_decoding_or_encoding_are_answered_and_serving_goes_on() {
    let api = FakeApi::start(vec![
        event("decode", json!({"action": "decode_panic", "value": 1})),
        event("encode", json!({"action": "encode_panic"})),
        event("after", json!({"action": "echo", "value": "still here"})),
        Next::Status(403),
    ])
    .await;
    let exit = run_testfn(&api.addr.to_string(), &[], LIMIT).await;
    for (id, place, message) in [
        (
            "decode",
            "decoding the event",
            "this event cannot be decoded",
        ),
        (
            "encode",
            "encoding the response",
            "this response cannot be encoded",
        ),
    ] {
        let error = api.post_to(&format!("/invocation/{id}/error"));
        assert_eq!(
            error.header("Lambda-Runtime-Function-Error-Type"),
            Some("Panic")
        );
        let doc = error.json();
        assert_eq!(doc["errorType"], "Panic", "{doc}");
        let text = doc["errorMessage"].as_str().expect("message");
        assert!(text.contains(place), "{id}: {text}");
        assert!(text.ends_with(message), "{id}: {text}");
        assert!(
            doc["stackTrace"][0]
                .as_str()
                .expect("location")
                .contains("testfn.rs:"),
            "{doc}"
        );
    }
    assert_eq!(
        api.post_to("/invocation/after/response").json()["result"],
        "still here"
    );
    assert_eq!(exit.code, Some(1), "{}", exit.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_event_body_is_read_whole() {
    let body = json!({"action": "echo", "value": "x".repeat(3000)}).to_string();
    let api = FakeApi::start(vec![
        Next::Slow {
            id: "slow".into(),
            body,
        },
        Next::Status(403),
    ])
    .await;
    let exit = run_testfn(&api.addr.to_string(), &[], LIMIT).await;
    exit.assert_no_panic();
    let reply = api.post_to("/invocation/slow/response").json();
    assert_eq!(reply["result"].as_str().map(str::len), Some(3000));
    assert_eq!(exit.code, Some(1), "{}", exit.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_form_of_the_address_reaches_the_same_api() {
    for (form, prefix) in [
        ("{addr}", ""),
        ("http://{addr}", ""),
        ("http://{addr}/", ""),
        ("http://{addr}/.rt", "/.rt"),
    ] {
        let api = FakeApi::start(vec![
            event("one", json!({"action": "context"})),
            event("two", json!({"action": "fail", "message": "no"})),
            Next::Status(403),
        ])
        .await;
        let value = form.replace("{addr}", &api.addr.to_string());
        let exit = run_testfn(&value, &[], LIMIT).await;
        exit.assert_no_panic();
        let paths: Vec<String> = api.posts().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                format!("{prefix}/2018-06-01/runtime/invocation/one/response"),
                format!("{prefix}/2018-06-01/runtime/invocation/two/error"),
            ],
            "{value}"
        );
        assert!(
            api.nexts
                .lock()
                .expect("lock")
                .iter()
                .all(|p| p == &format!("{prefix}/2018-06-01/runtime/invocation/next")),
            "{value}"
        );
        assert_eq!(exit.code, Some(1), "{value}: {}", exit.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_address_is_a_clear_error_before_any_request() {
    for (value, reason) in [
        ("ftp://127.0.0.1:21", "scheme `ftp` is not http"),
        ("127.0.0.1", "no port"),
        ("127.0.0.1: 9001", "whitespace"),
        ("https://127.0.0.1:9001", "https is not supported"),
    ] {
        let exit = run_testfn(value, &[], LIMIT).await;
        exit.assert_no_panic();
        assert_eq!(exit.code, Some(1), "{value}: {}", exit.stderr);
        assert!(
            exit.stderr.contains("AWS_LAMBDA_RUNTIME_API"),
            "{}",
            exit.stderr
        );
        assert!(exit.stderr.contains(reason), "{value}: {}", exit.stderr);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_init_is_reported_and_its_spans_flushed_before_exiting() {
    let api = FakeApi::start(vec![]).await;
    // The fake API records every POST, so it doubles as the OTLP collector.
    let collector = format!("http://{}", api.addr);
    let exit = run_testfn(
        &format!("http://{}", api.addr),
        &[
            ("GREETING", ""),
            ("TESTFN_INIT_SPAN", "1"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector),
        ],
        LIMIT,
    )
    .await;
    exit.assert_no_panic();
    assert_eq!(exit.code, Some(1), "{}", exit.stderr);
    let report = api.post_to("/2018-06-01/runtime/init/error").json();
    assert!(
        report["errorMessage"]
            .as_str()
            .expect("message")
            .contains("GREETING"),
        "{report}"
    );
    let traces = api.post_to("/v1/traces");
    assert!(
        traces.body.windows(11).any(|w| w == b"load_config"),
        "the init span was exported: {:?}",
        String::from_utf8_lossy(&traces.body)
    );
    assert_eq!(api.next_count(), 0, "no poll after a failed init");
}
