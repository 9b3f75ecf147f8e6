//! Shared helpers of the hostile-client tests: a raw HTTP/1.1 client (so a test controls every
//! byte a browser or attacker could send, `Host` included), deployment packages, and a minimal
//! in-test runtime for external functions.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lamplight_local::LocalLambda;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// One raw request. `host: None` sends `Host: 127.0.0.1:<port>`; `Some("")` sends no `Host`.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    pub method: &'static str,
    pub path: String,
    pub host: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Declares this `Content-Length` instead of the body's (and sends only `body`).
    pub declared_length: Option<u64>,
}

impl Raw {
    pub fn new(method: &'static str, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            ..Self::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn host(mut self, host: &str) -> Self {
        self.host = Some(host.to_owned());
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    pub fn json(self, body: &serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(body.to_string())
    }
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the service's error shape: status, `x-amzn-ErrorType`, `{"Type", "message"}`;
    /// returns the message.
    pub fn assert_error(&self, status: u16, error_type: &str) -> String {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("x-amzn-errortype"),
            Some(error_type),
            "{}",
            self.text()
        );
        let body = self.json();
        let kind = if status >= 500 { "Service" } else { "User" };
        assert_eq!(body["Type"], kind, "{body}");
        body["message"]
            .as_str()
            .unwrap_or_else(|| panic!("no message in {body}"))
            .to_owned()
    }

    /// Asserts any 4xx in the error shape.
    pub fn assert_client_error(&self) {
        assert!(
            (400..500).contains(&self.status),
            "expected a 4xx, got {}: {}",
            self.status,
            self.text()
        );
        let error_type = self
            .header("x-amzn-errortype")
            .unwrap_or_else(|| panic!("no x-amzn-ErrorType on {}: {}", self.status, self.text()));
        assert!(error_type.ends_with("Exception"), "{error_type}");
        let body = self.json();
        assert_eq!(body["Type"], "User", "{body}");
        assert!(body["message"].is_string(), "{body}");
    }
}

/// Sends `request` on a new connection and reads the whole answer (the connection is closed by
/// `Connection: close`). The body is written concurrently with reading, so a server that
/// answers early (413) is seen answering.
pub async fn send(addr: SocketAddr, request: Raw) -> Reply {
    tokio::time::timeout(Duration::from_secs(30), send_inner(addr, request))
        .await
        .expect("the service answers within 30 s")
}

async fn send_inner(addr: SocketAddr, request: Raw) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    match request.host.as_deref() {
        None => head.push_str(&format!("Host: {addr}\r\n")),
        Some("") => {}
        Some(host) => head.push_str(&format!("Host: {host}\r\n")),
    }
    let chunked = request
        .headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    for (k, v) in &request.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !chunked {
        let length = request.declared_length.unwrap_or(request.body.len() as u64);
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let body = request.body;
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        if chunked {
            for chunk in body.chunks(64 * 1024) {
                write
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                write.write_all(chunk).await?;
                write.write_all(b"\r\n").await?;
            }
            write.write_all(b"0\r\n\r\n").await?;
        } else {
            write.write_all(&body).await?;
        }
        write.flush().await?;
        // Keep the write half open: closing it could read as the end of the request.
        Ok::<_, std::io::Error>(write)
    });
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match read.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // The server may reset a connection whose body it refused to read; what it sent
            // before is already in `raw`.
            Err(_) => break,
        }
        if let Some(reply) = parse(&raw)
            && reply.complete
        {
            writer.abort();
            return reply.reply;
        }
    }
    writer.abort();
    parse(&raw)
        .map(|p| p.reply)
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&raw)))
}

struct Parsed {
    reply: Reply,
    complete: bool,
}

fn parse(raw: &[u8]) -> Option<Parsed> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let (body, complete) = if get("transfer-encoding").as_deref() == Some("chunked") {
        dechunk(rest)
    } else if let Some(length) = get("content-length").and_then(|l| l.parse::<usize>().ok()) {
        (
            rest[..rest.len().min(length)].to_vec(),
            rest.len() >= length,
        )
    } else {
        (rest.to_vec(), false)
    };
    Some(Parsed {
        reply: Reply {
            status,
            headers,
            body,
        },
        complete,
    })
}

fn dechunk(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else {
            return (body, false);
        };
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&rest[..line_end])
                .split(';')
                .next()
                .unwrap_or("")
                .trim(),
            16,
        )
        .unwrap_or(0);
        rest = &rest[line_end + 2..];
        if size == 0 {
            return (body, true);
        }
        if rest.len() < size + 2 {
            body.extend_from_slice(&rest[..rest.len().min(size)]);
            return (body, false);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// One entry of a test package.
pub enum Entry<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

/// A zip of `entries`.
pub fn zip_of(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for entry in entries {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        match entry {
            Entry::File(name, data, mode) => {
                writer
                    .start_file(*name, options.unix_permissions(*mode))
                    .expect("start file");
                writer.write_all(data).expect("write");
            }
            Entry::Dir(name) => writer.add_directory(*name, options).expect("dir"),
            Entry::Symlink(name, target) => {
                writer.add_symlink(*name, *target, options).expect("link");
            }
        }
    }
    writer.finish().expect("finish").into_inner()
}

/// A shell `bootstrap` that exits at once: enough to create a function.
pub const SCRIPT: &[u8] = b"#!/bin/sh\nexit 0\n";

/// A package holding only [`SCRIPT`] as `bootstrap`.
pub fn script_zip() -> Vec<u8> {
    zip_of(&[Entry::File("bootstrap", SCRIPT, 0o755)])
}

/// The CreateFunction body for `name` with `zip`.
pub fn create_body(name: &str, zip: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "FunctionName": name,
        "Runtime": "provided.al2023",
        "Role": "arn:aws:iam::123456789012:role/test",
        "Handler": "bootstrap",
        "Code": {"ZipFile": BASE64.encode(zip)},
    })
}

/// CreateFunction as the SDK sends it.
pub async fn create(service: &LocalLambda, name: &str, zip: &[u8]) -> Reply {
    send(
        service.api_addr(),
        Raw::new("POST", "/2015-03-31/functions").json(&create_body(name, zip)),
    )
    .await
}

/// UpdateFunctionCode as the SDK sends it.
pub async fn update_code(service: &LocalLambda, name: &str, zip: &[u8]) -> Reply {
    send(
        service.api_addr(),
        Raw::new("PUT", format!("/2015-03-31/functions/{name}/code"))
            .json(&serde_json::json!({"ZipFile": BASE64.encode(zip)})),
    )
    .await
}

/// The names of the functions ListFunctions reports.
pub async fn function_names(service: &LocalLambda) -> Vec<String> {
    let reply = send(service.api_addr(), Raw::new("GET", "/2015-03-31/functions")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["Functions"]
        .as_array()
        .expect("Functions")
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Every path under `dir` (files, directories, links), relative to it, sorted.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(dir).unwrap_or(&path).to_owned());
        }
    }
    out.sort();
    out
}

/// Every regular file and link under `dir`, relative to it.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_iter()
        .filter(|p| !dir.join(p).is_dir() || dir.join(p).is_symlink())
        .collect()
}

/// Polls `check` for up to `limit`.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A runtime for a [`lamplight_local::Code::External`] function, in the test: answers every
/// invocation with `{"ok":true}`, over raw HTTP to the Runtime API.
pub fn echo_runtime(runtime_api: SocketAddr) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let next = send_inner(
                runtime_api,
                Raw::new("GET", "/2018-06-01/runtime/invocation/next"),
            )
            .await;
            if next.status != 200 {
                return;
            }
            let Some(id) = next
                .header("lambda-runtime-aws-request-id")
                .map(str::to_owned)
            else {
                return;
            };
            send_inner(
                runtime_api,
                Raw::new(
                    "POST",
                    format!("/2018-06-01/runtime/invocation/{id}/response"),
                )
                .body(b"{\"ok\":true}".to_vec()),
            )
            .await;
        }
    })
}

/// A unique name for paths outside the work directory an attack might try to create.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{:x}", std::process::id(), fastrand::u64(..))
}

/// Writes `data` to a fresh file and returns it (kept for the test's life by the TempDir).
pub fn write_temp(dir: &tempfile::TempDir, name: &str, data: &[u8]) -> PathBuf {
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(data).expect("write");
    path
}
