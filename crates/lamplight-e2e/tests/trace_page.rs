//! The trace page in a real browser: headless Chromium loads `/lamplight/` from a running local
//! service with a real function (and the self-contained page `cargo xtask traces --html` writes),
//! runs its JS and dumps the DOM it built, and takes a screenshot.
//!
//! Without Chromium the tests skip with the reason printed, except under `CI=true`, where they
//! fail: CI installs it (`.ci/run`).

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use lamplight_xray::document::parse_value;
use lamplight_xray::{Trace, TraceId};
use serde_json::json;

/// The Chromium binary, or `None` (with the reason printed) where the test may skip.
fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed, and CI=true: install it (apt-get install -y chromium)"
        );
        eprintln!("skipped: chromium is not installed (apt-get install -y chromium)");
    }
    found
}

/// Runs headless Chromium on `url` with `args`; its stdout. Killed after a minute.
fn headless(chromium: &Path, args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish with {url} in a minute");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("reader")
}

/// The DOM of `url` after its scripts ran.
fn dump_dom(chromium: &Path, url: &str) -> String {
    let dom = headless(chromium, &["--dump-dom"], url);
    assert!(dom.contains("</html>"), "no DOM dumped for {url}: {dom}");
    dom
}

/// A screenshot of `url` at 1280x800, saved as `name` in the target directory; its path.
fn screenshot(chromium: &Path, url: &str, name: &str) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .to_path_buf();
    let path = target.join(name);
    let _ = std::fs::remove_file(&path);
    headless(
        chromium,
        &[
            &format!("--screenshot={}", path.display()),
            "--window-size=1280,800",
        ],
        url,
    );
    let png = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG"), "{} is a PNG", path.display());
    println!("screenshot: {}", path.display());
    path
}

/// The request id of an invocation, from its `START` line.
fn request_id(logs: &str) -> String {
    logs.lines()
        .find_map(|l| l.strip_prefix("START RequestId: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no START line in {logs}"))
        .to_owned()
}

fn trace_root(logs: &str) -> TraceId {
    logs.lines()
        .find_map(|l| l.strip_prefix("XRAY TraceId: "))
        .and_then(|l| l.split('\t').next())
        .unwrap_or_else(|| panic!("no XRAY line in {logs}"))
        .parse()
        .expect("trace id")
}

/// The part of `dom` from the element with `marker` on.
fn from<'a>(dom: &'a str, marker: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}` in the page:\n{dom}"));
    &dom[at..]
}

#[tokio::test]
async fn the_service_page_lists_invocations_and_opens_logs_beside_the_waterfall() {
    let Some(chromium) = chromium() else { return };
    let service = service(vec![testfn_config("shop")]).await;
    let client = client(&service).await;
    let mut invocations = Vec::new();
    for event in [
        json!({"action": "nested", "customer": "c-42"}),
        json!({"action": "fail", "message": "no stock"}),
        json!({"action": "log", "lines": ["looking up the basket", "basket has 3 items"]}),
    ] {
        invocations.push(invoke(&client, "shop", event).await);
    }
    assert_eq!(invocations[1].function_error.as_deref(), Some("Unhandled"));
    // Every trace complete (the function's segments arrive over UDP after the answer).
    let mut traces = Vec::new();
    for (out, names) in invocations.iter().zip([
        &["handler", "outer", "inner"][..],
        &["handler"][..],
        &["handler"][..],
    ]) {
        let trace = service
            .traces()
            .wait_for(&trace_root(&out.logs), LONG, |t| {
                names
                    .iter()
                    .all(|n| t.segments.iter().any(|s| s.name == *n))
            })
            .await
            .expect("trace received");
        traces.push(trace);
    }
    let page = format!("{}/lamplight/", service.endpoint_url());

    let chromium2 = chromium.clone();
    let url = page.clone();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&chromium2, &url))
        .await
        .expect("chromium");
    let listed: Vec<&str> = dom.match_indices("<tr class=\"inv").map(|_| "").collect();
    assert_eq!(listed.len(), 3, "three invocations listed:\n{dom}");
    let list = from(&dom, "<tbody>");
    // Newest first: the log invocation, the failure, the nested one.
    let ids: Vec<String> = invocations.iter().map(|o| request_id(&o.logs)).collect();
    let positions: Vec<usize> = ids
        .iter()
        .map(|id| {
            list.find(&format!("data-key=\"{id}\""))
                .unwrap_or_else(|| panic!("{id} listed"))
        })
        .collect();
    assert!(
        positions[2] < positions[1] && positions[1] < positions[0],
        "{positions:?}"
    );
    assert_eq!(list.matches("<td class=\"fn\">shop</td>").count(), 3);
    assert_eq!(list.matches("data-status=\"error\"").count(), 1);
    assert_eq!(list.matches("data-status=\"ok\"").count(), 2);
    assert!(
        list.contains(&format!("data-key=\"{}\" data-status=\"error\"", ids[1])),
        "the failure is the error"
    );
    assert_eq!(
        list.matches("class=\"cold\"").count(),
        1,
        "one cold start: the first"
    );

    // The failure, opened by its URL fragment: its log lines beside a bar per segment.
    let url = format!("{page}#{}", ids[1]);
    let chromium2 = chromium.clone();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&chromium2, &url))
        .await
        .expect("chromium");
    let detail = from(&dom, "<section id=\"detail\"");
    assert!(
        detail.starts_with(&format!("<section id=\"detail\" data-key=\"{}\"", ids[1])),
        "{detail}"
    );
    let failed = service
        .traces()
        .trace(&traces[1].id)
        .expect("the failure's trace");
    assert_eq!(
        detail.matches("<g class=\"seg").count(),
        failed.segments.len(),
        "one bar per segment and subsegment:\n{detail}"
    );
    assert_eq!(
        detail.matches("class=\"bar\"").count(),
        failed.segments.len()
    );
    for segment in &failed.segments {
        assert!(
            detail.contains(&format!("data-id=\"{}\"", segment.id)),
            "{} drawn",
            segment.name
        );
    }
    let faults = failed.segments.iter().filter(|s| s.fault).count();
    assert!(faults >= 1);
    assert_eq!(detail.matches("data-state=\"fault\"").count(), faults);
    assert!(detail.contains("⚠ fault: "), "the fault is labelled");
    assert!(detail.contains(" ms</text>"), "the axis has ms ticks");
    // Depth: the handler sits under the function segment, under the service's.
    let handler = failed
        .segments
        .iter()
        .find(|s| s.name == "handler")
        .expect("handler");
    assert!(detail.contains(&format!("data-id=\"{}\" data-depth=\"2\"", handler.id)));
    // What went wrong is opened: the cause, with its message.
    let segment_panel = from(detail, "<div id=\"segment\"");
    assert!(segment_panel.contains("class=\"exception\""));
    assert!(segment_panel.contains("no stock"), "{segment_panel}");
    let logs = from(detail, "<div id=\"logs\"");
    assert!(logs.contains(&format!("START RequestId: {}", ids[1])));
    assert!(logs.contains(&format!("REPORT RequestId: {}", ids[1])));
    assert!(logs.contains("no stock"), "the error's log line:\n{logs}");
    assert!(
        !logs.contains(&ids[0]) && !logs.contains(&ids[2]),
        "only this invocation's lines"
    );

    // The nested one: a bar per span, nested by depth.
    let url = format!("{page}#{}", ids[0]);
    let chromium2 = chromium.clone();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&chromium2, &url))
        .await
        .expect("chromium");
    let detail = from(&dom, "<section id=\"detail\"");
    let nested = service.traces().trace(&traces[0].id).expect("trace");
    assert_eq!(
        detail.matches("<g class=\"seg").count(),
        nested.segments.len()
    );
    let inner = nested
        .segments
        .iter()
        .find(|s| s.name == "inner")
        .expect("inner");
    assert!(detail.contains(&format!("data-id=\"{}\" data-depth=\"4\"", inner.id)));
    assert!(!detail.contains("data-state=\"fault\""));

    let url = format!("{page}#{}", ids[1]);
    tokio::task::spawn_blocking(move || screenshot(&chromium, &url, "trace-page.png"))
        .await
        .expect("chromium");
}

#[test]
fn the_exported_page_carries_its_traces_and_draws_them_without_a_service() {
    let Some(chromium) = chromium() else { return };
    let id = "1-581cf771-a006649127e371903a2de979";
    let mut trace = Trace::new(id.parse().expect("id"));
    for doc in [
        json!({"name": "checkout", "id": "0000000000000001", "trace_id": id,
               "start_time": 100.000, "end_time": 100.120, "origin": "AWS::Lambda",
               "aws": {"request_id": "7c1d1c5e-1111-2222-3333-444455556666"},
               "http": {"response": {"status": 200}}}),
        json!({"name": "checkout", "id": "0000000000000002", "trace_id": id, "parent_id": "0000000000000001",
               "start_time": 100.002, "end_time": 100.118, "origin": "AWS::Lambda::Function",
               "subsegments": [{"name": "Initialization", "id": "0000000000000005",
                                "start_time": 100.002, "end_time": 100.030}]}),
        json!({"type": "subsegment", "name": "handler", "id": "0000000000000003", "trace_id": id,
               "parent_id": "0000000000000002", "start_time": 100.031, "end_time": 100.117,
               "annotations": {"Customer": "c-<42>"}, "metadata": {"default": {"basket": [1, 2, 3]}},
               "subsegments": [{"name": "S3", "id": "0000000000000004", "namespace": "aws",
                                "start_time": 100.040, "end_time": 100.090, "fault": true,
                                "aws": {"operation": "GetObject", "bucket_name": "stock"},
                                "http": {"response": {"status": 500}},
                                "cause": {"working_directory": "/var/task", "exceptions": [{
                                    "id": "00000000000000e1", "type": "NoSuchKey",
                                    "message": "</script><b>no such key</b>",
                                    "stack": [{"label": "stock::load", "path": "src/stock.rs", "line": 42},
                                              {"label": "handler", "path": "src/main.rs", "line": 7}]}]}}]}),
    ] {
        for s in parse_value(&doc).expect("valid") {
            trace.add(s);
        }
    }
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("traces.html");
    std::fs::write(&file, lamplight_deploy::traces::html(&[trace])).expect("write");
    let url = format!("file://{}#{id}", file.display());

    let dom = dump_dom(&chromium, &url);
    let list = from(&dom, "<tbody>");
    assert_eq!(list.matches("<tr class=\"inv").count(), 1);
    assert!(list.contains("<td class=\"fn\">checkout</td>"));
    assert!(list.contains("data-status=\"fault\""));
    assert!(list.contains("class=\"cold\""), "an Initialization segment");
    let detail = from(&dom, "<section id=\"detail\"");
    assert!(detail.starts_with(&format!("<section id=\"detail\" data-key=\"{id}\"")));
    assert_eq!(detail.matches("<g class=\"seg").count(), 5);
    assert!(detail.contains("data-id=\"0000000000000004\" data-depth=\"3\" data-state=\"fault\""));
    assert!(detail.contains("⚠ fault: &lt;/script&gt;&lt;b&gt;no"));
    // The faulty S3 call is opened: its cause with the stack, its aws and http fields.
    let panel = from(detail, "<div id=\"segment\" data-id=\"0000000000000004\"");
    assert!(panel.contains("<span class=\"type\">NoSuchKey</span>"));
    assert!(panel.contains("stock::load  src/stock.rs:42"));
    assert!(panel.contains("GetObject") && panel.contains("\"status\": 500"));
    assert!(
        !dom.contains("<b>no such key</b>"),
        "data is text, never markup"
    );
    assert!(!dom.contains("id=\"logs\""), "an exported page has no logs");

    screenshot(&chromium, &url, "trace-page-html.png");
}
