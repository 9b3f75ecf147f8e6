//! `cargo xtask local` as its user runs it: the command builds the optimized `lamplight-local`
//! program (once), runs it with the function handed over on its stdin, serves a `--bootstrap`
//! function on the HTTP front as `--http-trigger` says, and stops it when a supervisor signals
//! `cargo xtask` alone, exiting as the signal would.
//!
//! The command runs in a child copy of this test binary (`lamplight_xtask::run`, as a generated
//! workspace's `xtask` runs it), in this repository's workspace; the function is a bash
//! bootstrap that speaks the Runtime API.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;

use std::process::Command;
use std::time::Duration;

use lamplight_test::process::Spawned;

/// Set in the child: the `cargo xtask` arguments to run, as a JSON array.
const CHILD: &str = "LAMPLIGHT_LOCAL_CLI_ARGS";

/// The first run builds the service program (about a minute on a small machine; more when busy).
const BUILD: Duration = Duration::from_secs(900);
const BOUND: Duration = Duration::from_secs(30);

/// Answers every invocation with an HTTP API proxy response.
const BOOTSTRAP: &str = r#"#!/usr/bin/env bash
answer='{"statusCode":201,"headers":{"x-from":"bash"},"cookies":["k=v"],"body":"made"}'
host="${AWS_LAMBDA_RUNTIME_API%:*}"; port="${AWS_LAMBDA_RUNTIME_API#*:}"
while true; do
  exec 3<>"/dev/tcp/$host/$port"
  printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
  response="$(cat <&3)"; exec 3<&-
  id="$(printf '%s\n' "${response%%$'\r\n\r\n'*}" | tr -d '\r' | awk -F': ' 'tolower($1)=="lambda-runtime-aws-request-id"{print $2}')"
  exec 3<>"/dev/tcp/$host/$port"
  printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.0\r\nHost: %s\r\nContent-Length: %s\r\n\r\n%s' "$id" "$host" "${#answer}" "$answer" >&3
  cat <&3 >/dev/null; exec 3<&-
done
"#;

/// In the child, runs one command in-process; in a plain run, does nothing.
#[test]
fn xtask_in_child() {
    let Ok(args) = std::env::var(CHILD) else {
        return;
    };
    let args: Vec<String> = serde_json::from_str(&args).expect("the arguments are a JSON array");
    if let Err(e) = lamplight_xtask::run_args(args) {
        panic!("the command failed: {e:#}");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "lamplight-local-cli-{label}-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let bootstrap = dir.join("bootstrap");
        std::fs::write(&bootstrap, BOOTSTRAP).expect("write");
        let mut perms = std::fs::metadata(&bootstrap).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&bootstrap, perms).expect("chmod");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cargo xtask <args>` from `dir` in a child copy of this binary.
fn xtask(dir: &std::path::Path, args: &[String]) -> Spawned {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([
            "--exact",
            "xtask_in_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .current_dir(dir)
        .env(CHILD, serde_json::to_string(args).expect("json"))
        .env("CARGO_NET_OFFLINE", "true");
    Spawned::start(&mut command).expect("start the child")
}

/// `GET path` on the HTTP front: the status line, headers and body.
fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(BOUND)).expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

#[test]
fn a_bootstrap_behind_the_http_front_answers_and_a_signal_to_xtask_alone_stops_everything() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let scratch = Scratch::new("front");
    let (api, xray, http) = (free_port(), free_port(), free_port());
    let args: Vec<String> = [
        "local",
        "--bootstrap",
        "./bootstrap",
        "--name",
        "api",
        "--http-trigger",
        "http-api",
        "--no-traces",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([
        "--port".into(),
        api.to_string(),
        "--xray-port".into(),
        xray.to_string(),
        "--http-port".into(),
        http.to_string(),
    ])
    .collect();
    // Run from this repository, whose workspace has the `lamplight-local` crate to build; the
    // bootstrap path is absolute (the service's own tests cover relative ones).
    let mut args = args;
    args[2] = scratch.0.join("bootstrap").display().to_string();
    let mut child = xtask(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &args);
    let banner = child
        .wait_for(BUILD, |out| {
            out.contains("Ctrl-C stops it.") || out.contains("panicked")
        })
        .unwrap_or_else(|out| panic!("cargo xtask local never served:\n{out}"));
    assert!(banner.contains("Ctrl-C stops it."), "{banner}");
    assert!(
        banner.contains(&format!("http://127.0.0.1:{http}/lambda-url/api/")),
        "the front's URL is printed:\n{banner}"
    );

    let response = get(http, "/orders/7?x=1");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 201"), "{response}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("x-from: bash"), "{response}");
    assert!(head.contains("set-cookie: k=v"), "{response}");
    assert_eq!(body, "made");
    let out = child
        .wait_for(BOUND, |out| out.contains("http | GET /orders/7"))
        .unwrap_or_else(|out| panic!("no access line:\n{out}"));
    assert!(out.contains(" 201 "), "{out}");

    // A supervisor signals `cargo xtask` alone: it passes the signal on and exits as it would.
    let pid =
        rustix::process::Pid::from_raw(i32::try_from(child.id()).expect("pid")).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let status = child.wait_exit(BOUND).expect("wait");
    let out = child.output();
    let status = status.unwrap_or_else(|| panic!("cargo xtask local did not stop:\n{out}"));
    assert_eq!(status.code(), Some(143), "{out}");
    assert!(
        out.contains("SIGTERM: stopped the local Lambda service"),
        "{out}"
    );
    // The service (and the function under it) stopped with it: the ports are free again.
    for port in [api, http] {
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "something still listens on {port}:\n{out}"
        );
    }
}

#[test]
fn an_http_trigger_that_is_not_one_is_refused_with_the_kinds_there_are() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let scratch = Scratch::new("kind");
    let args: Vec<String> = [
        "local",
        "--bootstrap",
        "./bootstrap",
        "--http-trigger",
        "sqs",
        "--port",
        "0",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    // Refused before anything is built or started, even outside a workspace.
    let mut child = xtask(&scratch.0, &args);
    let status = child.wait_exit(BUILD).expect("wait");
    let out = child.output();
    assert!(
        status.is_some_and(|s| !s.success()),
        "refused with a failure:\n{out}"
    );
    assert!(
        out.contains(
            "--http-trigger sqs: not an HTTP trigger; use http-api, function-url, rest-api or alb"
        ),
        "{out}"
    );
}
