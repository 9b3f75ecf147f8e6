//! The Lambda API of lamplight-local under attack: cross-site and DNS-rebinding requests,
//! function names and zip entries that try to leave the work directory, zip bombs, races and
//! floods. Every test talks raw HTTP to a real started service and checks the filesystem after.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lamplight_local::{Code, FunctionConfig, LocalLambda};
use serde_json::json;
use support::{
    Entry, Raw, create, create_body, eventually, files, function_names, script_zip, send, tree,
    unique, update_code, zip_of,
};

const FUNCTIONS: &str = "/2015-03-31/functions";

async fn start() -> LocalLambda {
    LocalLambda::builder()
        .start()
        .await
        .expect("service starts")
}

/// What a web page can send without a CORS preflight: a `text/plain` POST.
fn cross_site_create(name: &str, origin: &str, host: &str) -> Raw {
    Raw::new("POST", FUNCTIONS)
        .host(host)
        .header("origin", origin)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(create_body(name, &script_zip()).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_page_cannot_create_or_invoke_a_function() {
    let service = start().await;
    let port = service.api_addr().port();
    let reply = send(
        service.api_addr(),
        cross_site_create(
            "pwned",
            "http://evil.example",
            &format!("evil.example:{port}"),
        ),
    )
    .await;
    let message = reply.assert_error(403, "AccessDeniedException");
    assert!(message.contains("evil.example"), "{message}");
    // The same page, with the DNS name rebound to 127.0.0.1 (its Origin then has our port).
    let reply = send(
        service.api_addr(),
        cross_site_create(
            "pwned",
            &format!("http://evil.example:{port}"),
            &format!("evil.example:{port}"),
        ),
    )
    .await;
    reply.assert_error(403, "AccessDeniedException");
    let invoke = send(
        service.api_addr(),
        Raw::new("POST", format!("{FUNCTIONS}/pwned/invocations"))
            .host(&format!("evil.example:{port}"))
            .header("origin", "http://evil.example")
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await;
    invoke.assert_error(403, "AccessDeniedException");
    assert!(function_names(&service).await.is_empty());
    assert!(tree(service.work_dir()).is_empty(), "nothing unpacked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused_even_for_reads_and_the_message_says_how_to_allow_it() {
    let service = start().await;
    let port = service.api_addr().port();
    for host in [
        format!("evil.example:{port}"),
        "evil.example".to_owned(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let reply = send(service.api_addr(), Raw::new("GET", FUNCTIONS).host(&host)).await;
        let message = reply.assert_error(403, "AccessDeniedException");
        assert!(message.contains("Host"), "{message}");
        assert!(message.contains(&host), "{message}");
        assert!(message.contains("allow_host"), "{message}");
    }
    // An absolute-form request line names the host too.
    let reply = send(
        service.api_addr(),
        Raw::new("GET", format!("http://evil.example:{port}{FUNCTIONS}")),
    )
    .await;
    reply.assert_error(403, "AccessDeniedException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_hosts_and_origins_are_served() {
    let service = start().await;
    let port = service.api_addr().port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
        format!("127.1.2.3:{port}"),
        "localhost".to_owned(),
    ] {
        let reply = send(service.api_addr(), Raw::new("GET", FUNCTIONS).host(&host)).await;
        assert_eq!(reply.status, 200, "{host}: {}", reply.text());
    }
    for origin in [
        "http://localhost:3000",
        "http://127.0.0.1:8080",
        "https://localhost",
        "http://[::1]:5173",
    ] {
        let reply = send(
            service.api_addr(),
            Raw::new("GET", FUNCTIONS).header("origin", origin),
        )
        .await;
        assert_eq!(reply.status, 200, "{origin}: {}", reply.text());
    }
    // What functions inside the service send (aws-sdk-lambda, through AWS_ENDPOINT_URL_LAMBDA).
    let reply = create(&service, "fine", &script_zip()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_origin_is_refused_unless_allowed() {
    let service = start().await;
    for origin in [
        "http://evil.example",
        "null",
        "http://localhost.evil.example",
        "http://127.0.0.1.evil.example",
    ] {
        let reply = send(
            service.api_addr(),
            Raw::new("GET", FUNCTIONS).header("origin", origin),
        )
        .await;
        let message = reply.assert_error(403, "AccessDeniedException");
        assert!(message.contains("Origin"), "{message}");
        assert!(message.contains("--allow-origin"), "{message}");
        assert!(message.contains("allow_origin"), "{message}");
    }
    let reply = send(
        service.api_addr(),
        Raw::new("GET", FUNCTIONS).header("sec-fetch-site", "cross-site"),
    )
    .await;
    reply.assert_error(403, "AccessDeniedException");

    let allowing = LocalLambda::builder()
        .allow_origin("https://app.example")
        .start()
        .await
        .expect("service starts");
    let reply = send(
        allowing.api_addr(),
        Raw::new("POST", FUNCTIONS)
            .header("origin", "https://app.example")
            .header("sec-fetch-site", "cross-site")
            .json(&create_body("allowed", &script_zip())),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    // The browser's preflight for a JSON POST from the allowed page is answered.
    let reply = send(
        allowing.api_addr(),
        Raw::new("OPTIONS", FUNCTIONS)
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type"),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("content-type")
    );
    let reply = send(
        allowing.api_addr(),
        Raw::new("GET", FUNCTIONS).header("origin", "https://other.example"),
    )
    .await;
    reply.assert_error(403, "AccessDeniedException");
    // A page on loopback gets answers but no CORS grant.
    let reply = send(
        allowing.api_addr(),
        Raw::new("GET", FUNCTIONS).header("origin", "http://localhost:3000"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_content_types_are_refused_on_state_changing_requests() {
    let service = start().await;
    for content_type in [
        "text/plain",
        "Text/Plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let reply = send(
            service.api_addr(),
            Raw::new("POST", FUNCTIONS)
                .header("content-type", content_type)
                .body(create_body("simple", &script_zip()).to_string()),
        )
        .await;
        let message = reply.assert_error(415, "UnsupportedMediaTypeException");
        assert!(message.contains("application/json"), "{message}");
        let reply = send(
            service.api_addr(),
            Raw::new("DELETE", format!("{FUNCTIONS}/simple")).header("content-type", content_type),
        )
        .await;
        reply.assert_error(415, "UnsupportedMediaTypeException");
    }
    assert!(function_names(&service).await.is_empty());
    // What real clients send is accepted: JSON types, the SDK's octet-stream Invoke, nothing.
    for (i, content_type) in [
        Some("application/json"),
        Some("application/x-amz-json-1.1"),
        Some("application/octet-stream"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let mut request = Raw::new("POST", FUNCTIONS)
            .body(create_body(&format!("ok{i}"), &script_zip()).to_string());
        if let Some(t) = content_type {
            request = request.header("content-type", t);
        }
        let reply = send(service.api_addr(), request).await;
        assert_eq!(reply.status, 201, "{content_type:?}: {}", reply.text());
    }
    // A read is not state-changing: a form-typed GET is answered.
    let reply = send(
        service.api_addr(),
        Raw::new("GET", FUNCTIONS).header("content-type", "text/plain"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_name_that_leaves_the_work_dir_touches_no_file() {
    // The work dir is two levels below the sandbox, so `../` and `../../` both land in it.
    let sandbox = tempfile::tempdir().expect("sandbox");
    let inner = sandbox.path().join("inner");
    std::fs::create_dir(&inner).expect("inner");
    let service = LocalLambda::builder()
        .work_dir_in(&inner)
        .start()
        .await
        .expect("service starts");
    let absolute = std::env::temp_dir().join(unique("lamplight-abs"));
    let names = [
        "../escaped".to_owned(),
        "../../escaped".to_owned(),
        "..".to_owned(),
        absolute.display().to_string(),
        "a/b".to_owned(),
        "a\0b".to_owned(),
        "x".repeat(65),
        String::new(),
    ];
    for name in &names {
        let reply = create(&service, name, &script_zip()).await;
        reply.assert_error(400, "ValidationException");
    }
    assert!(!absolute.exists(), "{} was created", absolute.display());
    let work = service
        .work_dir()
        .strip_prefix(sandbox.path())
        .expect("inside")
        .to_owned();
    assert_eq!(
        tree(sandbox.path()),
        vec![PathBuf::from("inner"), work],
        "only the (empty) work dir"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zip_entries_that_escape_are_refused_and_nothing_is_left() {
    let sandbox = tempfile::tempdir().expect("sandbox");
    let service = LocalLambda::builder()
        .work_dir_in(sandbox.path())
        .start()
        .await
        .expect("service starts");
    let absolute = std::env::temp_dir().join(unique("lamplight-entry"));
    let absolute_name = absolute.display().to_string();
    for name in ["../escaped", "a/../../escaped", absolute_name.as_str()] {
        let zip = zip_of(&[
            Entry::File("bootstrap", support::SCRIPT, 0o755),
            Entry::File(name, b"x", 0o644),
        ]);
        let reply = create(&service, "escape", &zip).await;
        let message = reply.assert_error(400, "InvalidParameterValueException");
        assert!(message.contains("escapes"), "{message}");
    }
    assert!(!absolute.exists());
    assert!(tree(service.work_dir()).is_empty(), "partial unpack left");
    assert_eq!(tree(sandbox.path()).len(), 1, "{:?}", tree(sandbox.path()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_inside_the_package_are_kept_and_escaping_ones_refused() {
    let sandbox = tempfile::tempdir().expect("sandbox");
    let service = LocalLambda::builder()
        .work_dir_in(sandbox.path())
        .start()
        .await
        .expect("service starts");
    let zip = zip_of(&[
        Entry::File("bin/app", support::SCRIPT, 0o755),
        Entry::Symlink("bootstrap", "bin/app"),
        Entry::Symlink("bin/self", "../bin"),
        Entry::Symlink("dangling", "missing/file"),
    ]);
    let reply = create(&service, "linked", &zip).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let bootstrap = files(service.work_dir())
        .into_iter()
        .find(|p| p.ends_with("bootstrap"))
        .expect("bootstrap unpacked");
    let bootstrap = service.work_dir().join(bootstrap);
    assert!(bootstrap.is_symlink(), "kept as a link");
    assert_eq!(
        std::fs::read_link(&bootstrap).expect("link"),
        PathBuf::from("bin/app")
    );
    assert_eq!(std::fs::read(&bootstrap).expect("read"), support::SCRIPT);

    let secret = sandbox.path().join("secret");
    std::fs::write(&secret, b"host file").expect("write");
    for (links, why) in [
        (vec![Entry::Symlink("bootstrap", "/etc/passwd")], "absolute"),
        (vec![Entry::Symlink("up", "../secret")], "parent"),
        (vec![Entry::Symlink("d/up", "../../secret")], "deep parent"),
        (
            vec![
                Entry::Symlink("here", "."),
                Entry::Symlink("up", "here/../secret"),
            ],
            "`..` after a link",
        ),
        (
            // `d/e/up` is the package root; `d/e/up/x` -> `../secret` looks like `d/e/secret`
            // but is `../secret` from the root.
            vec![
                Entry::Symlink("d/e/up", "../.."),
                Entry::Symlink("d/e/up/x", "../secret"),
            ],
            "through a link",
        ),
    ] {
        let mut entries = vec![Entry::File("main", support::SCRIPT, 0o755)];
        entries.extend(links);
        let reply = create(&service, "badlink", &zip_of(&entries)).await;
        let message = reply.assert_error(400, "InvalidParameterValueException");
        assert!(message.contains("link"), "{why}: {message}");
    }
    assert_eq!(std::fs::read(&secret).expect("read"), b"host file");
    // Only the good package's files are on disk.
    assert!(
        files(service.work_dir())
            .iter()
            .all(|p| p.to_string_lossy().starts_with("linked-")),
        "{:?}",
        files(service.work_dir())
    );
}

/// A deflated entry of `mb` MB of zeros, copied raw `copies` times: a few hundred KB that unpack
/// to `mb * copies` MB.
fn zip_bomb(mb: usize, copies: usize) -> Vec<u8> {
    use std::io::Write as _;
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(false);
    let mut first = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    first.start_file("zeros0", options).expect("start");
    let chunk = vec![0u8; 1024 * 1024];
    for _ in 0..mb {
        first.write_all(&chunk).expect("write");
    }
    let first = first.finish().expect("finish").into_inner();
    let source = zip::ZipArchive::new(std::io::Cursor::new(first)).expect("read back");
    let mut source = source;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer
        .start_file("bootstrap", options.unix_permissions(0o755))
        .expect("start");
    writer.write_all(support::SCRIPT).expect("write");
    for i in 0..copies {
        let entry = source.by_index_raw(0).expect("entry");
        writer
            .raw_copy_file_rename(entry, format!("zeros{i}"))
            .expect("copy");
    }
    writer.finish().expect("finish").into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_is_refused_with_the_limit_and_leaves_nothing() {
    let service = start().await;
    let bomb = zip_bomb(10, 30);
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
    let reply = create(&service, "bomb", &bomb).await;
    let message = reply.assert_error(400, "InvalidParameterValueException");
    assert!(
        message.contains("Unzipped size must be smaller than 262144000 bytes"),
        "{message}"
    );
    assert!(tree(service.work_dir()).is_empty(), "partial unpack left");
    // The failed CreateFunction released the name.
    let reply = create(&service, "bomb", &script_zip()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    // The same through UpdateFunctionCode: refused, and the function keeps its code.
    let reply = create(&service, "target", &script_zip()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let before = files(service.work_dir());
    let reply = update_code(&service, "target", &bomb).await;
    reply.assert_error(400, "InvalidParameterValueException");
    assert_eq!(files(service.work_dir()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_entries_are_refused() {
    let service = start().await;
    // One more than the service unpacks (50 000).
    let names: Vec<String> = (0..50_001).map(|i| format!("f{i}")).collect();
    let entries: Vec<Entry<'_>> = names
        .iter()
        .map(|n| Entry::File(n.as_str(), b"", 0o644))
        .collect();
    let reply = create(&service, "many", &zip_of(&entries)).await;
    let message = reply.assert_error(400, "InvalidParameterValueException");
    assert!(message.contains("entries"), "{message}");
    assert!(tree(service.work_dir()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_update_remove_code_no_longer_used() {
    let service = start().await;
    let reply = create(&service, "churn", &script_zip()).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    for round in 0..3u8 {
        let zip = zip_of(&[
            Entry::File("bootstrap", support::SCRIPT, 0o755),
            Entry::File("round", &[round], 0o644),
        ]);
        let reply = update_code(&service, "churn", &zip).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let work = service.work_dir().to_owned();
    assert!(
        eventually(Duration::from_secs(10), || files(&work)
            .iter()
            .filter(|p| p.ends_with("bootstrap"))
            .count()
            == 1)
        .await,
        "old code stays: {:?}",
        files(&work)
    );
    // A published version keeps its code while $LATEST moves on.
    let reply = send(
        service.api_addr(),
        Raw::new("POST", format!("{FUNCTIONS}/churn/versions")).json(&json!({})),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let reply = update_code(&service, "churn", &script_zip()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        files(&work)
            .iter()
            .filter(|p| p.ends_with("bootstrap"))
            .count(),
        2,
        "{:?}",
        files(&work)
    );
    let reply = send(
        service.api_addr(),
        Raw::new("DELETE", format!("{FUNCTIONS}/churn")),
    )
    .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert!(
        eventually(Duration::from_secs(10), || files(&work).is_empty()).await,
        "deleted function's files stay: {:?}",
        files(&work)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_name_conflict() {
    let service = start().await;
    // Big enough that unpacking takes a while, so both requests are in flight together.
    let noise: Vec<u8> = (0..8 * 1024 * 1024).map(|_| fastrand::u8(..)).collect();
    let zip = zip_of(&[
        Entry::File("bootstrap", support::SCRIPT, 0o755),
        Entry::File("noise", &noise, 0o644),
    ]);
    for round in 0..3 {
        let name = format!("race{round}");
        let (a, b) = tokio::join!(create(&service, &name, &zip), create(&service, &name, &zip));
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "{} / {}", a.text(), b.text());
        let loser = if a.status == 409 { a } else { b };
        loser.assert_error(409, "ResourceConflictException");
    }
    let work = service.work_dir().to_owned();
    assert!(
        eventually(Duration::from_secs(10), || files(&work)
            .iter()
            .filter(|p| p.ends_with("noise"))
            .count()
            == 3)
        .await,
        "the loser's unpacked code stays: {:?}",
        files(&work)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_invocation_queue_throttles_with_lambdas_error() {
    // External: no runtime polls, so every invocation waits in the queue.
    let service = LocalLambda::builder()
        .function(FunctionConfig::new("stuck", Code::External).max_queued(2))
        .start()
        .await
        .expect("service starts");
    let invoke = |kind: &'static str| {
        send(
            service.api_addr(),
            Raw::new("POST", format!("{FUNCTIONS}/stuck/invocations"))
                .header("x-amz-invocation-type", kind)
                .header("content-type", "application/octet-stream")
                .body("{}"),
        )
    };
    assert_eq!(invoke("Event").await.status, 202);
    assert_eq!(invoke("Event").await.status, 202);
    let reply = invoke("Event").await;
    let message = reply.assert_error(429, "TooManyRequestsException");
    assert!(message.contains("Rate Exceeded"), "{message}");
    assert!(message.contains("max_queued"), "{message}");
    assert_eq!(
        reply.json()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    let reply = invoke("RequestResponse").await;
    reply.assert_error(429, "TooManyRequestsException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_invoke_body_is_refused_before_it_is_read() {
    let service = LocalLambda::builder()
        .function(FunctionConfig::new("ext", Code::External))
        .start()
        .await
        .expect("service starts");
    let path = format!("{FUNCTIONS}/ext/invocations");
    // Only the headers are sent: an answer proves the service did not wait for 7 MB.
    let started = Instant::now();
    let mut request = Raw::new("POST", path.as_str()).header("content-type", "application/json");
    request.declared_length = Some(7 * 1024 * 1024);
    let reply = send(service.api_addr(), request).await;
    let message = reply.assert_error(413, "RequestTooLargeException");
    assert!(message.contains("6291456"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // Event invocations are limited to 1 MB.
    let mut request = Raw::new("POST", path.as_str())
        .header("content-type", "application/json")
        .header("x-amz-invocation-type", "Event");
    request.declared_length = Some(2 * 1024 * 1024);
    let reply = send(service.api_addr(), request).await;
    let message = reply.assert_error(413, "RequestTooLargeException");
    assert!(message.contains("1048576"), "{message}");
    // Without a Content-Length (chunked), the limit applies as the body arrives.
    let reply = send(
        service.api_addr(),
        Raw::new("POST", path.as_str())
            .header("content-type", "application/json")
            .header("transfer-encoding", "chunked")
            .body(vec![b' '; 7 * 1024 * 1024]),
    )
    .await;
    reply.assert_error(413, "RequestTooLargeException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_control_plane_body_gets_413_in_the_error_shape() {
    let service = start().await;
    let mut request = Raw::new("POST", FUNCTIONS).header("content-type", "application/json");
    request.declared_length = Some(80 * 1024 * 1024);
    let reply = send(service.api_addr(), request).await;
    let message = reply.assert_error(413, "RequestTooLargeException");
    assert!(message.contains("73400320"), "{message}");
    let reply = send(
        service.api_addr(),
        Raw::new("PUT", format!("{FUNCTIONS}/x/code"))
            .header("content-type", "application/json")
            .header("transfer-encoding", "chunked")
            .body(vec![b' '; 71 * 1024 * 1024]),
    )
    .await;
    reply.assert_error(413, "RequestTooLargeException");
}

/// `zip` with every entry's uncompressed size declared as 1 byte, in its local header and its
/// central-directory record.
fn lie_about_sizes(mut zip: Vec<u8>) -> Vec<u8> {
    let mut i = 0;
    while i + 30 <= zip.len() {
        let field = match &zip[i..i + 4] {
            b"PK\x03\x04" => Some(i + 22),
            b"PK\x01\x02" => Some(i + 24),
            _ => None,
        };
        if let Some(at) = field {
            zip[at..at + 4].copy_from_slice(&1u32.to_le_bytes());
        }
        i += 1;
    }
    zip
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_bomb_that_lies_about_its_sizes_is_counted_and_refused() {
    let service = start().await;
    let reply = create(&service, "liar", &lie_about_sizes(zip_bomb(10, 30))).await;
    let message = reply.assert_error(400, "InvalidParameterValueException");
    assert!(
        message.contains("Unzipped size must be smaller than 262144000 bytes"),
        "{message}"
    );
    assert!(tree(service.work_dir()).is_empty(), "partial unpack left");
}
