//! The HTTP front end to end: the real `httpfn` bootstrap (axum on lamplight-http) registered
//! once per HTTP trigger shape (HTTP API, Function URL, REST API, ALB single- and multi-value),
//! called with plain HTTP/1.1 over TCP. Routes, the function's own 404, query strings, cookies
//! both ways, binary bodies both ways, a function error (502), a timeout (504), an unknown
//! function (404), a body over the payload limit (413), hostile requests, and the access log.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::httpfn;
use lamplight_local::{AccessEntry, Code, FunctionConfig, HttpShape, LocalLambda};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends raw request bytes on a new connection and reads the answer to the end; `None` when
/// the server closed the connection without an answer.
async fn raw(addr: SocketAddr, request: &[u8]) -> Option<Answer> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may answer (and close) before it has read everything.
    let _ = stream.write_all(request).await;
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes).await;
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = bytes[end + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Some(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..line_end])
                .split(';')
                .next()
                .unwrap_or("0")
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
    out
}

async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes)
        .await
        .unwrap_or_else(|| panic!("no answer to {method} {path}"))
}

async fn get(addr: SocketAddr, path: &str) -> Answer {
    send(addr, "GET", path, &[], b"").await
}

const SHAPES: [(&str, HttpShape); 5] = [
    ("api", HttpShape::HttpApi),
    ("url", HttpShape::FunctionUrl),
    ("rest", HttpShape::RestApi),
    (
        "alb",
        HttpShape::Alb {
            multi_value_headers: false,
        },
    ),
    (
        "albm",
        HttpShape::Alb {
            multi_value_headers: true,
        },
    ),
];

type Log = Arc<Mutex<Vec<AccessEntry>>>;

async fn front(shapes: &[(&str, HttpShape)]) -> (LocalLambda, SocketAddr, Log) {
    let log: Log = Arc::default();
    let sink = log.clone();
    let mut builder = LocalLambda::builder()
        .http_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .access_log(Arc::new(move |entry: &AccessEntry| {
            sink.lock().expect("log").push(entry.clone());
        }));
    for (name, shape) in shapes {
        builder = builder
            .function(
                FunctionConfig::new(*name, Code::Bootstrap(httpfn()))
                    .timeout(Duration::from_secs(2)),
            )
            .http_function(*name, *shape);
    }
    let service = builder.start().await.expect("service starts");
    let addr = service.http_addr().expect("an HTTP front");
    (service, addr, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_http_shape_serves_routes_queries_cookies_and_binary_bodies() {
    let (service, addr, log) = front(&SHAPES).await;
    assert_eq!(service.http_functions().len(), 5);
    assert_eq!(
        service.http_url("rest"),
        Some(format!("http://{addr}/lambda-url/rest/"))
    );
    for (name, shape) in SHAPES {
        let base = format!("/lambda-url/{name}");
        let what = format!("{name} ({shape:?})");

        let ok = get(addr, &format!("{base}/items/5")).await;
        assert_eq!(ok.status, 200, "{what}: {ok:?}");
        assert_eq!(ok.json()["id"], 5, "{what}");

        let missing = get(addr, &format!("{base}/items/0")).await;
        assert_eq!(missing.status, 404, "{what}: {missing:?}");
        assert!(
            String::from_utf8_lossy(&missing.body).contains("no item 0"),
            "{what}: {missing:?}"
        );
        let no_route = get(addr, &format!("{base}/no/such/route")).await;
        assert_eq!(no_route.status, 404, "{what}: {no_route:?}");

        let echo = send(
            addr,
            "GET",
            &format!("{base}/echo?tag=lamp&q=a%20b&n=1&n=2"),
            &[("cookie", "a=1; b=2"), ("x-custom", "one")],
            b"",
        )
        .await;
        assert_eq!(echo.status, 200, "{what}: {echo:?}");
        let seen = echo.json();
        assert_eq!(seen["path"], "/echo", "{what}: {seen}");
        let query = seen["query"].as_str().unwrap_or_default().to_owned();
        // A target group without multi-value headers keeps the last value, as ALB does.
        let single_alb = shape
            == HttpShape::Alb {
                multi_value_headers: false,
            };
        let expected: &[&str] = if single_alb {
            &["tag=lamp", "n=2"]
        } else {
            &["tag=lamp", "n=1", "n=2"]
        };
        // Percent-encoded values arrive once decoded, whichever way the event carries them.
        assert!(
            query.contains("q=a%20b") || query.contains("q=a+b"),
            "{what}: query {query}"
        );
        for pair in expected {
            assert!(query.contains(pair), "{what}: query {query}");
        }
        assert_eq!(seen["headers"]["x-custom"], "one", "{what}: {seen}");
        let cookie = seen["headers"]["cookie"].as_str().unwrap_or_default();
        assert!(
            cookie.contains("a=1") && cookie.contains("b=2"),
            "{what}: cookie {cookie:?}"
        );

        let created = send(
            addr,
            "POST",
            &format!("{base}/items"),
            &[("content-type", "application/json")],
            br#"{"name":"lamp","qty":2}"#,
        )
        .await;
        assert_eq!(created.status, 201, "{what}: {created:?}");
        assert_eq!(created.header("location"), Some("/items/7"), "{what}");
        assert_eq!(
            created.all("set-cookie"),
            ["session=s1; HttpOnly"],
            "{what}: {created:?}"
        );
        assert_eq!(created.json()["name"], "lamp", "{what}");

        let blob = get(addr, &format!("{base}/blob")).await;
        assert_eq!(blob.status, 200, "{what}");
        assert_eq!(blob.header("content-type"), Some("image/png"), "{what}");
        assert_eq!(blob.body, [0x89, b'P', b'N', b'G', 0, 0xff], "{what}");

        let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255).collect();
        let reflected = send(
            addr,
            "POST",
            &format!("{base}/reflect"),
            &[("content-type", "application/octet-stream")],
            &bytes,
        )
        .await;
        assert_eq!(reflected.status, 200, "{what}: {reflected:?}");
        assert_eq!(reflected.body, bytes, "{what}");
    }

    // The access log: one entry per request, with the function, status and trace.
    let entries = log.lock().expect("log").clone();
    assert_eq!(entries.len(), SHAPES.len() * 7, "{entries:#?}");
    let first = &entries[0];
    assert_eq!(first.method, "GET");
    assert_eq!(first.path, "/lambda-url/api/items/5");
    assert_eq!(first.status, 200);
    assert_eq!(first.function.as_deref(), Some("api"));
    let trace = first
        .trace_id
        .clone()
        .expect("a sampled invocation's trace");
    assert!(trace.starts_with("1-"), "{trace}");
    let line = first.to_string();
    assert!(
        line.starts_with("GET /lambda-url/api/items/5 200 ")
            && line.contains(&format!("trace={trace}")),
        "{line}"
    );
    // The same trace id the service recorded.
    let id: lamplight_xray::TraceId = trace.parse().expect("trace id");
    let recorded = service
        .traces()
        .wait_for(&id, Duration::from_secs(5), |t| !t.segments.is_empty())
        .await;
    assert!(recorded.is_some(), "trace {trace} was not recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_timeouts_unknown_functions_and_hostile_requests() {
    let (service, addr, log) = front(&SHAPES[..2]).await;

    let failed = get(addr, "/lambda-url/api/exit").await;
    assert_eq!(failed.status, 502, "{failed:?}");
    assert_eq!(
        failed.json(),
        serde_json::json!({"message": "Internal Server Error"})
    );

    let slow = get(addr, "/lambda-url/url/block/5000").await;
    assert_eq!(slow.status, 504, "{slow:?}");
    assert_eq!(
        slow.json(),
        serde_json::json!({"message": "Endpoint request timed out"})
    );

    // The function recovers: new environments answer.
    assert_eq!(get(addr, "/lambda-url/api/items/1").await.status, 200);
    assert_eq!(get(addr, "/lambda-url/url/items/1").await.status, 200);

    let unknown = get(addr, "/lambda-url/nope/items/1").await;
    assert_eq!(unknown.status, 404, "{unknown:?}");
    let text = unknown.json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("nope")
            && text.contains("/lambda-url/api/")
            && text.contains("/lambda-url/url/"),
        "{text}"
    );
    // Two HTTP functions: a path without the prefix names none.
    assert_eq!(get(addr, "/items/1").await.status, 404);

    // Over the payload limit: 413, before the function sees anything.
    let big = vec![b'a'; lamplight_local::service::MAX_SYNC_PAYLOAD + 1];
    let refused = send(addr, "POST", "/lambda-url/api/reflect", &[], &big).await;
    assert_eq!(refused.status, 413, "{:?}", refused.status);
    assert!(
        String::from_utf8_lossy(&refused.body).contains("Request Entity Too Large"),
        "{refused:?}"
    );
    // A body under the limit whose event (base64) is over it: 413 too, saying why.
    let binary = vec![0xffu8; lamplight_local::service::MAX_SYNC_PAYLOAD - 1024];
    let refused = send(addr, "POST", "/lambda-url/api/reflect", &[], &binary).await;
    assert_eq!(refused.status, 413, "{:?}", refused.status);
    assert!(
        String::from_utf8_lossy(&refused.body).contains("event for this request"),
        "{refused:?}"
    );

    // A foreign Host (a DNS-rebinding page) is refused.
    let foreign = raw(
        addr,
        b"GET /lambda-url/api/items/1 HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n",
    )
    .await
    .expect("an answer");
    assert_eq!(foreign.status, 403);

    // Hostile requests: raw bytes that are no UTF-8 in the path, percent-encoded ones, a huge
    // header, many headers. Answered (or the connection closed), never a panic.
    let mut request =
        b"GET /lambda-url/api/\xff\xfe HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
            .to_vec();
    let bad_path = raw(addr, &request)
        .await
        .expect("an answer to a path of raw bytes");
    assert_eq!(bad_path.status, 400, "{bad_path:?}");
    let encoded = get(addr, "/lambda-url/api/%FF%FE/..%2F?%zz=%&&=").await;
    assert_eq!(encoded.status, 404, "{encoded:?}");
    request = format!(
        "GET /lambda-url/api/items/1 HTTP/1.1\r\nhost: 127.0.0.1\r\nx-huge: {}\r\nconnection: close\r\n\r\n",
        "h".repeat(1 << 20)
    )
    .into_bytes();
    let huge = raw(addr, &request)
        .await
        .expect("an answer to a huge header");
    assert_eq!(huge.status, 431, "{huge:?}");
    let mut many = String::from("GET /lambda-url/api/items/1 HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    for i in 0..500 {
        many.push_str(&format!("x-h{i}: {i}\r\n"));
    }
    many.push_str("connection: close\r\n\r\n");
    let many = raw(addr, many.as_bytes())
        .await
        .expect("an answer to many headers");
    assert_eq!(many.status, 431, "{many:?}");
    // Still serving.
    assert_eq!(get(addr, "/lambda-url/api/items/2").await.status, 200);

    let entries = log.lock().expect("log").clone();
    let exit = entries
        .iter()
        .find(|e| e.path == "/lambda-url/api/exit")
        .expect("an entry for the failed request");
    assert_eq!(exit.status, 502);
    assert!(
        exit.note
            .as_deref()
            .is_some_and(|n| n.contains("Runtime.ExitError")),
        "{exit:?}"
    );
    let slow = entries
        .iter()
        .find(|e| e.path.contains("/block/"))
        .expect("an entry for the slow request");
    assert_eq!(slow.status, 504);
    assert!(slow.duration >= Duration::from_secs(2), "{slow:?}");
    drop(service);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_http_function_is_served_at_every_path() {
    let (_service, addr, _log) = front(&SHAPES[2..3]).await;
    let ok = get(addr, "/items/9").await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["id"], 9);
    let prefixed = get(addr, "/lambda-url/rest/items/8").await;
    assert_eq!(prefixed.json()["id"], 8);
}
