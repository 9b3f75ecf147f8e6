//! The local service's API guard with a real function: aws-sdk-lambda (and a function calling
//! the service from inside it) pass, while what a web page can send (a cross-site `text/plain`
//! POST, a DNS-rebound `Host`) never reaches the function; deleted and replaced code leaves the
//! disk once its processes are gone.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, InvocationType};
use common::{client, invoke, service, testfn};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// One raw HTTP/1.1 request, as a browser would send it; returns the status and body.
async fn raw(addr: SocketAddr, host: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!(
        "POST /2015-03-31/functions/deployed/invocations HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("answered")
        .expect("read");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn package(bootstrap: &Path) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).expect("entry");
    zip.write_all(&std::fs::read(bootstrap).expect("binary"))
        .expect("write");
    zip.finish().expect("finish");
    out.into_inner()
}

/// The `bootstrap` files unpacked under the work directory.
fn bootstraps(work: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![work.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if path.ends_with("bootstrap") {
                found.push(path);
            }
        }
    }
    found
}

async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while !check() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

fn starts(service: &lamplight_local::LocalLambda) -> usize {
    service
        .function("deployed")
        .map(|f| {
            f.log_streams()
                .values()
                .flatten()
                .filter(|l| l.starts_with("START "))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_passes_the_guard_and_a_web_page_never_reaches_the_function() {
    let service = service(vec![]).await;
    let client = client(&service).await;
    let zip = package(&testfn());
    client
        .create_function()
        .function_name("deployed")
        .role("arn:aws:iam::123456789012:role/r")
        .handler("bootstrap")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(zip.clone()))
                .build(),
        )
        .environment(
            Environment::builder()
                .variables("GREETING", "guarded")
                .build(),
        )
        .send()
        .await
        .expect("CreateFunction through the SDK");
    let out = invoke(&client, "deployed", json!({"action": "echo", "value": 1})).await;
    assert_eq!(out.payload["greeting"], "guarded");
    client
        .invoke()
        .function_name("deployed")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(r#"{"action":"echo","value":2}"#))
        .send()
        .await
        .expect("Event Invoke through the SDK");
    client
        .update_function_configuration()
        .function_name("deployed")
        .timeout(5)
        .send()
        .await
        .expect("UpdateFunctionConfiguration through the SDK");
    client
        .publish_version()
        .function_name("deployed")
        .send()
        .await
        .expect("PublishVersion through the SDK");
    client
        .create_alias()
        .function_name("deployed")
        .name("live")
        .function_version("1")
        .send()
        .await
        .expect("CreateAlias through the SDK");
    // A function calling the service from inside, at its AWS_ENDPOINT_URL_LAMBDA.
    let url = format!("{}/2015-03-31/functions", service.endpoint_url());
    let out = invoke(&client, "deployed", json!({"action": "http", "url": url})).await;
    assert_eq!(out.payload["result"]["status"], 200, "{:?}", out.payload);

    let before = starts(&service);
    let port = service.api_addr().port();
    let evil_host = format!("evil.example:{port}");
    let loopback = service.api_addr().to_string();
    let event = r#"{"action":"context"}"#;
    for (host, headers, status) in [
        (
            evil_host.as_str(),
            vec![
                ("Origin", "http://evil.example"),
                ("Content-Type", "text/plain;charset=UTF-8"),
            ],
            403,
        ),
        (
            evil_host.as_str(),
            vec![("Content-Type", "application/json")],
            403,
        ),
        (
            loopback.as_str(),
            vec![
                ("Origin", "http://evil.example"),
                ("Content-Type", "text/plain"),
            ],
            403,
        ),
        (
            loopback.as_str(),
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            415,
        ),
    ] {
        let (got, body) = raw(service.api_addr(), host, &headers, event).await;
        assert_eq!(got, status, "{host} {headers:?}: {body}");
        let error: serde_json::Value = serde_json::from_str(&body).expect("error JSON");
        assert!(error["message"].is_string(), "{body}");
        assert!(!body.contains("requestId"), "the function ran: {body}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        starts(&service),
        before,
        "a refused request reached the function"
    );

    // New code: the old package goes once its environments have stopped; the published
    // version keeps its own.
    let work = service.work_dir().to_owned();
    assert_eq!(bootstraps(&work).len(), 1);
    client
        .update_function_code()
        .function_name("deployed")
        .zip_file(Blob::new(zip.clone()))
        .send()
        .await
        .expect("UpdateFunctionCode through the SDK");
    let out = invoke(&client, "deployed", json!({"action": "echo", "value": 3})).await;
    assert_eq!(out.payload["result"], 3);
    assert_eq!(bootstraps(&work).len(), 2, "version 1 keeps its code");
    client
        .delete_function()
        .function_name("deployed")
        .send()
        .await
        .expect("DeleteFunction through the SDK");
    assert!(
        eventually(Duration::from_secs(15), || bootstraps(&work).is_empty()).await,
        "a deleted function's code stays: {:?}",
        bootstraps(&work)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_code_leaves_the_disk_once_its_environment_is_gone() {
    let service = service(vec![]).await;
    let client = client(&service).await;
    let zip = package(&testfn());
    client
        .create_function()
        .function_name("deployed")
        .role("arn:aws:iam::123456789012:role/r")
        .handler("bootstrap")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(zip.clone()))
                .build(),
        )
        .environment(Environment::builder().variables("GREETING", "v").build())
        .send()
        .await
        .expect("created");
    let work = service.work_dir().to_owned();
    for round in 0..3 {
        // A warm environment runs the current code while it is replaced.
        let out = invoke(
            &client,
            "deployed",
            json!({"action": "echo", "value": round}),
        )
        .await;
        assert_eq!(out.payload["result"], round);
        client
            .update_function_code()
            .function_name("deployed")
            .zip_file(Blob::new(zip.clone()))
            .send()
            .await
            .expect("updated");
    }
    assert!(
        eventually(Duration::from_secs(5), || bootstraps(&work).len() == 1).await,
        "replaced code stays: {:?}",
        bootstraps(&work)
    );
    let out = invoke(&client, "deployed", json!({"action": "echo", "value": 9})).await;
    assert_eq!(out.payload["result"], 9);
}
