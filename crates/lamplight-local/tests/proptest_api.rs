//! Property tests of the Lambda API with hostile input, over real HTTP to a started service:
//! random and mutated zip archives (entry names with `..`, absolute paths, NUL bytes, very long
//! names, links) never panic the service and never put a file outside its work directory;
//! random Invoke bodies and headers and random control-plane JSON always get an answer, and any
//! refusal is a clean 4xx in the API's error shape. `PROPTEST_CASES` raises the case count.

mod support;

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lamplight_local::{Code, FunctionConfig, LocalLambda};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use support::{Raw, Reply, send};

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        // A failure prints its minimal case; nothing is written into the source tree.
        failure_persistence: None,
        // Each shrink step is an HTTP round trip: bound the search, keep the failure.
        max_shrink_time: 20_000,
        ..Config::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Any answer but a 5xx; a refusal must be a clean 4xx in the error shape.
fn clean(reply: &Reply, ok: &[u16]) -> Result<(), TestCaseError> {
    if ok.contains(&reply.status) {
        return Ok(());
    }
    let shaped = (400..500).contains(&reply.status)
        && reply
            .header("x-amzn-errortype")
            .is_some_and(|t| t.ends_with("Exception"))
        && serde_json::from_slice::<Value>(&reply.body)
            .is_ok_and(|b| b["Type"] == "User" && b["message"].is_string());
    if shaped {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!(
            "status {} ({:?}): {}",
            reply.status,
            reply.header("x-amzn-errortype"),
            reply.text()
        )))
    }
}

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>, u32),
    Dir,
    Link(String),
}

/// Entry names as an attacker writes them.
fn entry_name(absolute_base: String) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z]{1,6}(/[a-z]{1,6}){0,3}",
        1 => Just("bootstrap".to_owned()),
        2 => "(\\.\\./){1,4}[a-z]{1,6}",
        2 => "[a-z]{1,4}/(\\.\\./){1,3}[a-z]{0,4}",
        1 => "(\\./){1,2}[a-z]{1,4}/?",
        1 => "[a-z]{1,4}\u{0}[a-z]{1,4}",
        1 => "[a-z]{200,300}",
        1 => "([a-z]{50}/){30,40}x",
        1 => "[ -~]{1,20}",
        1 => "\\PC{1,12}",
        1 => "[a-z]{1,6}".prop_map(move |n| format!("{absolute_base}/{n}")),
    ]
}

fn link_target() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z]{1,6}(/[a-z]{1,6}){0,2}",
        "(\\.\\./){1,5}[a-z]{0,6}",
        "[a-z]{1,4}/\\.\\./(\\.\\./)?[a-z]{1,4}",
        Just(".".to_owned()),
        Just("/etc/passwd".to_owned()),
        "/[a-z]{1,8}",
        "[ -~]{0,12}",
    ]
}

fn entries(absolute_base: String) -> impl Strategy<Value = Vec<(String, Kind)>> {
    let kind = prop_oneof![
        4 => (
            proptest::collection::vec(any::<u8>(), 0..64),
            prop_oneof![Just(0o755u32), Just(0o644), Just(0o4777), any::<u32>()],
        )
            .prop_map(|(d, m)| Kind::File(d, m)),
        1 => Just(Kind::Dir),
        2 => link_target().prop_map(Kind::Link),
    ];
    proptest::collection::vec((entry_name(absolute_base), kind), 0..8)
}

/// Ways to damage an archive.
#[derive(Debug, Clone)]
enum Mutation {
    None,
    Flip(Vec<(usize, u8)>),
    Truncate(usize),
    Append(Vec<u8>),
    Garbage(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => Just(Mutation::None),
        2 => proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8).prop_map(Mutation::Flip),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Append),
        1 => proptest::collection::vec(any::<u8>(), 0..256).prop_map(Mutation::Garbage),
    ]
}

fn build_zip(entries: &[(String, Kind)]) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, kind) in entries {
        // The writer refuses some names (duplicates); the archive goes on without them.
        let _ = match kind {
            Kind::File(data, mode) => writer
                .start_file(name.as_str(), options.unix_permissions(*mode & 0o7777))
                .and_then(|()| writer.write_all(data).map_err(Into::into)),
            Kind::Dir => writer.add_directory(name.as_str(), options),
            Kind::Link(target) => writer.add_symlink(name.as_str(), target.as_str(), options),
        };
    }
    writer
        .finish()
        .map(|c| c.into_inner())
        .unwrap_or_else(|_| b"PK\x05\x06".to_vec())
}

fn mutate(mut zip: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    match mutation {
        Mutation::None => {}
        Mutation::Flip(flips) => {
            if !zip.is_empty() {
                let len = zip.len();
                for (at, byte) in flips {
                    zip[at % len] ^= byte | 1;
                }
            }
        }
        Mutation::Truncate(at) => {
            let keep = at % (zip.len() + 1);
            zip.truncate(keep);
        }
        Mutation::Append(extra) => zip.extend_from_slice(extra),
        Mutation::Garbage(bytes) => zip = bytes.clone(),
    }
    zip
}

/// `path` with `..` applied lexically.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Nothing outside the work dir, and every link under it resolves inside it.
fn contained(sandbox: &Path, work: &Path, absolute_base: &Path) -> Result<(), TestCaseError> {
    if absolute_base.exists() {
        return Err(TestCaseError::fail(format!(
            "{} was created",
            absolute_base.display()
        )));
    }
    let work_rel = work.strip_prefix(sandbox).unwrap_or(work).to_owned();
    let outside: Vec<PathBuf> = support::tree(sandbox)
        .into_iter()
        .filter(|p| !p.starts_with(&work_rel))
        .collect();
    if !outside.is_empty() {
        return Err(TestCaseError::fail(format!("written outside: {outside:?}")));
    }
    let root = work
        .canonicalize()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for relative in support::tree(work) {
        let path = work.join(&relative);
        if !path.is_symlink() {
            continue;
        }
        let target = std::fs::read_link(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let parent = path
            .parent()
            .and_then(|p| p.canonicalize().ok())
            .unwrap_or_else(|| root.clone());
        let resolved = path
            .canonicalize()
            .unwrap_or_else(|_| lexical(&parent.join(&target)));
        if !resolved.starts_with(&root) {
            return Err(TestCaseError::fail(format!(
                "link {} -> {} resolves to {} outside the work dir",
                relative.display(),
                target.display(),
                resolved.display()
            )));
        }
    }
    Ok(())
}

#[test]
fn random_and_damaged_archives_never_escape_or_break_the_service() {
    let rt = runtime();
    let sandbox = tempfile::tempdir().expect("sandbox");
    let service = rt.block_on(async {
        LocalLambda::builder()
            .work_dir_in(sandbox.path())
            .start()
            .await
            .expect("service starts")
    });
    let work = service.work_dir().to_owned();
    let absolute_base = std::env::temp_dir().join(support::unique("lamplight-prop"));
    let base = absolute_base.display().to_string();
    let counter = AtomicUsize::new(0);
    let mut runner = TestRunner::new(config(128));
    let strategy = (entries(base), mutation(), any::<bool>());
    let result = runner.run(&strategy, |(entries, mutation, update)| {
        let zip = mutate(build_zip(&entries), &mutation);
        let name = format!("p{}", counter.fetch_add(1, Ordering::Relaxed));
        rt.block_on(async {
            let reply = if update {
                let created = support::create(&service, &name, &support::script_zip()).await;
                clean(&created, &[201])?;
                support::update_code(&service, &name, &zip).await
            } else {
                support::create(&service, &name, &zip).await
            };
            clean(&reply, &[200, 201])?;
            contained(sandbox.path(), &work, &absolute_base)?;
            // The service still answers, then forgets the function (and its files).
            send(
                service.api_addr(),
                Raw::new("DELETE", format!("/2015-03-31/functions/{name}")),
            )
            .await;
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Every function was deleted: its files go too.
    let gone = rt.block_on(support::eventually(
        std::time::Duration::from_secs(10),
        || support::files(&work).is_empty(),
    ));
    assert!(gone, "files left: {:?}", support::files(&work));
}

fn header_value() -> impl Strategy<Value = Option<String>> {
    proptest::option::of("[ -~]{0,40}")
}

#[derive(Debug, Clone)]
struct InvokeCase {
    function: String,
    qualifier: Option<String>,
    invocation_type: Option<String>,
    log_type: Option<String>,
    client_context: Option<String>,
    trace: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

fn invoke_case() -> impl Strategy<Value = InvokeCase> {
    let function = prop_oneof![
        4 => Just("echo".to_owned()),
        1 => "[A-Za-z0-9_%:.-]{1,80}",
    ];
    let qualifier = proptest::option::of(prop_oneof![
        Just("$LATEST".to_owned()),
        Just("1".to_owned()),
        "[A-Za-z0-9_-]{1,12}",
    ]);
    let invocation_type = prop_oneof![
        Just(None),
        Just(Some("RequestResponse".to_owned())),
        Just(Some("Event".to_owned())),
        Just(Some("DryRun".to_owned())),
        header_value(),
    ];
    let log_type = prop_oneof![Just(Some("Tail".to_owned())), header_value()];
    let client_context = prop_oneof![
        Just(Some(BASE64.encode(br#"{"custom":{"a":1}}"#))),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Some(BASE64.encode(b))),
        header_value(),
    ];
    let trace = prop_oneof![
        Just(Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned()
        )),
        header_value(),
    ];
    let content_type = prop_oneof![
        Just(None),
        Just(Some("application/json".to_owned())),
        Just(Some("application/octet-stream".to_owned())),
        Just(Some("application/x-amz-json-1.1".to_owned())),
        Just(Some("text/plain".to_owned())),
        header_value(),
    ];
    let body = prop_oneof![
        any::<Vec<u8>>(),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        Just(Vec::new()),
        Just(b"  \n ".to_vec()),
    ];
    (
        function,
        qualifier,
        invocation_type,
        log_type,
        client_context,
        trace,
        content_type,
        body,
    )
        .prop_map(
            |(
                function,
                qualifier,
                invocation_type,
                log_type,
                client_context,
                trace,
                content_type,
                body,
            )| {
                InvokeCase {
                    function,
                    qualifier,
                    invocation_type,
                    log_type,
                    client_context,
                    trace,
                    content_type,
                    body,
                }
            },
        )
}

#[test]
fn random_invoke_bodies_and_headers_get_an_answer_or_a_clean_4xx() {
    let rt = runtime();
    let (service, runtime_task) = rt.block_on(async {
        let service = LocalLambda::builder()
            .function(FunctionConfig::new("echo", Code::External).max_queued(1000))
            .start()
            .await
            .expect("service starts");
        let api = service.external_runtime_api("echo").expect("runtime API");
        (service, support::echo_runtime(api))
    });
    let mut runner = TestRunner::new(config(256));
    let result = runner.run(&invoke_case(), |case| {
        rt.block_on(async {
            let mut path = format!("/2015-03-31/functions/{}/invocations", case.function);
            if let Some(q) = &case.qualifier {
                path.push_str(&format!("?Qualifier={q}"));
            }
            let mut request = Raw::new("POST", path).body(case.body.clone());
            for (name, value) in [
                ("x-amz-invocation-type", &case.invocation_type),
                ("x-amz-log-type", &case.log_type),
                ("x-amz-client-context", &case.client_context),
                ("x-amzn-trace-id", &case.trace),
                ("content-type", &case.content_type),
            ] {
                if let Some(v) = value {
                    request = request.header(name, v);
                }
            }
            let reply = send(service.api_addr(), request).await;
            clean(&reply, &[200, 202, 204])?;
            if reply.status == 200 && reply.body != b"{\"ok\":true}" {
                return Err(TestCaseError::fail(format!(
                    "echo answered {}",
                    reply.text()
                )));
            }
            Ok(())
        })
    });
    runtime_task.abort();
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Random JSON, with the keys the control plane reads appearing often.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("FunctionName".to_owned()),
        Just("Code".to_owned()),
        Just("ZipFile".to_owned()),
        Just("S3Bucket".to_owned()),
        Just("ImageUri".to_owned()),
        Just("Timeout".to_owned()),
        Just("MemorySize".to_owned()),
        Just("Environment".to_owned()),
        Just("Variables".to_owned()),
        Just("TracingConfig".to_owned()),
        Just("Mode".to_owned()),
        Just("LoggingConfig".to_owned()),
        Just("LogFormat".to_owned()),
        Just("Architectures".to_owned()),
        Just("Tags".to_owned()),
        Just("Handler".to_owned()),
        Just("Runtime".to_owned()),
        "[A-Za-z]{0,8}",
    ];
    let zip = BASE64.encode(support::script_zip());
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just(1u64),
            Just(3),
            Just(128),
            Just(900),
            Just(901),
            Just(10241)
        ]
        .prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::String),
        Just(Value::String(zip)),
        Just(Value::String("Active".into())),
        Just(Value::String("JSON".into())),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Create,
    UpdateCode,
    UpdateConfiguration,
}

#[test]
fn random_control_plane_json_gets_an_answer_or_a_clean_4xx() {
    let rt = runtime();
    let service = rt.block_on(async {
        let service = LocalLambda::builder()
            .start()
            .await
            .expect("service starts");
        let reply = support::create(&service, "target", &support::script_zip()).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        service
    });
    let operation = prop_oneof![
        Just(Operation::Create),
        Just(Operation::UpdateCode),
        Just(Operation::UpdateConfiguration),
    ];
    let body = prop_oneof![
        4 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => any::<Vec<u8>>(),
    ];
    let mut runner = TestRunner::new(config(256));
    let result = runner.run(&(operation, body), |(operation, body)| {
        rt.block_on(async {
            let (method, path) = match operation {
                Operation::Create => ("POST", "/2015-03-31/functions".to_owned()),
                Operation::UpdateCode => ("PUT", "/2015-03-31/functions/target/code".to_owned()),
                Operation::UpdateConfiguration => (
                    "PUT",
                    "/2015-03-31/functions/target/configuration".to_owned(),
                ),
            };
            let request = Raw::new(method, path)
                .header("content-type", "application/json")
                .body(body);
            let reply = send(service.api_addr(), request).await;
            clean(&reply, &[200, 201])?;
            if reply.status == 201 {
                let name = reply.json()["FunctionName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                send(
                    service.api_addr(),
                    Raw::new("DELETE", format!("/2015-03-31/functions/{name}")),
                )
                .await;
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The function is still there and answers.
    let reply = rt.block_on(send(
        service.api_addr(),
        Raw::new("GET", "/2015-03-31/functions/target"),
    ));
    assert_eq!(reply.status, 200, "{}", reply.text());
}
