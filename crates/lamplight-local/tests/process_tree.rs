//! Everything a `bootstrap` starts ends with its execution environment: on timeout, crash, init
//! error, delete, replacement and when the service is dropped. Real shell bootstraps start real
//! grandchildren; `/proc` says whether they are still there.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lamplight_local::{Code, FunctionConfig, FunctionResult, LocalLambda};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Generous: the machine running this may be small and busy.
const BOUND: Duration = Duration::from_secs(10);

/// Shell functions a bash bootstrap uses to speak the Runtime API over /dev/tcp (no curl).
const RUNTIME_API: &str = r#"#!/usr/bin/env bash
host="${AWS_LAMBDA_RUNTIME_API%:*}"; port="${AWS_LAMBDA_RUNTIME_API#*:}"
next() {
  exec 3<>"/dev/tcp/$host/$port"
  printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
  response="$(cat <&3)"; exec 3<&-
  headers="${response%%$'\r\n\r\n'*}"
  id="$(printf '%s\n' "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="lambda-runtime-aws-request-id"{print $2}')"
}
post() { # path body
  exec 3<>"/dev/tcp/$host/$port"
  printf 'POST /2018-06-01/runtime/%s HTTP/1.0\r\nHost: %s\r\nContent-Length: %d\r\n\r\n%s' "$1" "$host" "${#2}" "$2" >&3
  cat <&3 >/dev/null; exec 3<&-
}
"#;

/// Starts a grandchild that sleeps, or spins when `SPIN` is set, and records its pid.
const GRANDCHILD: &str = r#"
if [ -n "${SPIN:-}" ]; then ( while :; do :; done ) & else sleep 1000 & fi
echo $! > "$PID_FILE.tmp" && mv "$PID_FILE.tmp" "$PID_FILE"
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    bootstrap: PathBuf,
    pid_file: PathBuf,
}

fn fixture(body: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let bootstrap = dir.path().join("bootstrap");
    std::fs::write(&bootstrap, format!("{RUNTIME_API}{GRANDCHILD}{body}")).expect("write");
    let mut perms = std::fs::metadata(&bootstrap).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&bootstrap, perms).expect("chmod");
    let pid_file = dir.path().join("grandchild.pid");
    Fixture {
        _dir: dir,
        bootstrap,
        pid_file,
    }
}

impl Fixture {
    fn config(&self, name: &str) -> FunctionConfig {
        FunctionConfig::new(name, Code::Bootstrap(self.bootstrap.clone()))
            .env("PID_FILE", self.pid_file.display().to_string())
    }

    /// The grandchild's pid, once the bootstrap has written it.
    fn grandchild(&self) -> u32 {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(pid) = std::fs::read_to_string(&self.pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "the bootstrap never wrote its grandchild's pid"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Whether `pid` is a live process (a zombie is dead: it only waits to be reaped).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain anything.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

/// Polls without yielding to the async runtime: only what was done before this call can end
/// the process.
fn gone_within(pid: u32, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

async fn gone_within_async(pid: u32, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

fn error_type(result: &FunctionResult) -> &str {
    match result {
        FunctionResult::Error { error_type, .. } => error_type,
        FunctionResult::Response(body) => {
            panic!("expected an error, got {}", String::from_utf8_lossy(body))
        }
    }
}

/// Handles invocations forever, answering `{"ok":true}`.
const SERVE: &str = r#"
while true; do next; post "invocation/$id/response" '{"ok":true}'; done
"#;

async fn kill_stray(pid: u32) {
    // Leave nothing behind even when an assertion failed.
    let _ = tokio::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .await;
}

#[tokio::test]
async fn a_timed_out_invocation_kills_the_bootstraps_children() {
    let f = fixture("next\necho \"got $id\"\nsleep 1000\n");
    let service = LocalLambda::builder()
        .function(f.config("hangs").timeout(Duration::from_secs(1)))
        .start()
        .await
        .expect("start");
    let outcome = service.invoke("hangs", "{}").await.expect("invoke");
    assert_eq!(
        error_type(&outcome.result),
        "Sandbox.Timedout",
        "{}",
        outcome.logs
    );
    let grandchild = f.grandchild();
    let gone = gone_within_async(grandchild, BOUND).await;
    kill_stray(grandchild).await;
    assert!(
        gone,
        "the timed-out bootstrap's child {grandchild} is still running"
    );
}

#[tokio::test]
async fn a_crashing_bootstrap_takes_its_spinning_children_with_it() {
    let f = fixture("echo 'no database' >&2\nexit 3\n");
    let service = LocalLambda::builder()
        .function(f.config("crashes").env("SPIN", "1"))
        .start()
        .await
        .expect("start");
    let outcome = service.invoke("crashes", "{}").await.expect("invoke");
    assert_eq!(
        error_type(&outcome.result),
        "Runtime.ExitError",
        "{}",
        outcome.logs
    );
    let grandchild = f.grandchild();
    let gone = gone_within_async(grandchild, BOUND).await;
    kill_stray(grandchild).await;
    assert!(
        gone,
        "the crashed bootstrap's spinning child {grandchild} is still running"
    );
}

#[tokio::test]
async fn an_init_error_stops_a_bootstrap_that_does_not_exit() {
    let f = fixture(
        "post init/error '{\"errorType\":\"Config.Missing\",\"errorMessage\":\"no table\"}'\nsleep 1000\n",
    );
    let service = LocalLambda::builder()
        .function(f.config("init-fails"))
        .start()
        .await
        .expect("start");
    let outcome = service.invoke("init-fails", "{}").await.expect("invoke");
    assert!(
        matches!(&outcome.result, FunctionResult::Error { body, .. } if String::from_utf8_lossy(body).contains("no table")),
        "{:?}",
        outcome.result
    );
    let grandchild = f.grandchild();
    let gone = gone_within_async(grandchild, BOUND).await;
    kill_stray(grandchild).await;
    assert!(
        gone,
        "the failed init's child {grandchild} is still running"
    );
}

/// Sends one request to the service's Lambda API and returns the status line.
async fn http(service: &LocalLambda, method: &str, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(service.api_addr())
        .await
        .expect("connect");
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut reply = String::new();
    tokio::time::timeout(BOUND, stream.read_to_string(&mut reply))
        .await
        .expect("the service answered in time")
        .expect("read");
    reply.lines().next().unwrap_or_default().to_owned()
}

/// A warm environment: one invocation answered, the bootstrap waiting in `/next`.
async fn warm(service: &LocalLambda, name: &str) {
    let outcome = service.invoke(name, "{}").await.expect("invoke");
    assert_eq!(
        outcome.result,
        FunctionResult::Response(r#"{"ok":true}"#.into()),
        "{}",
        outcome.logs
    );
}

#[tokio::test]
async fn deleting_a_function_kills_its_warm_environments_tree() {
    let f = fixture(SERVE);
    let service = LocalLambda::builder()
        .function(f.config("warm"))
        .start()
        .await
        .expect("start");
    warm(&service, "warm").await;
    let grandchild = f.grandchild();
    assert!(alive(grandchild), "a warm environment keeps its processes");
    let status = http(&service, "DELETE", "/2015-03-31/functions/warm").await;
    assert!(status.contains(" 204 "), "{status}");
    let gone = gone_within_async(grandchild, BOUND).await;
    kill_stray(grandchild).await;
    assert!(
        gone,
        "the deleted function's child {grandchild} is still running"
    );
}

#[tokio::test]
async fn replacing_a_function_kills_the_old_environments_tree() {
    let f = fixture(SERVE);
    let service = LocalLambda::builder()
        .function(f.config("replaced"))
        .start()
        .await
        .expect("start");
    warm(&service, "replaced").await;
    let old = f.grandchild();
    std::fs::remove_file(&f.pid_file).expect("rm pid file");
    service
        .add_function(f.config("replaced"))
        .await
        .expect("replace");
    let gone = gone_within_async(old, BOUND).await;
    kill_stray(old).await;
    assert!(
        gone,
        "the replaced environment's child {old} is still running"
    );
    warm(&service, "replaced").await;
}

#[tokio::test]
async fn dropping_the_service_kills_every_tree_without_another_task_running() {
    let f = fixture(SERVE);
    let service = LocalLambda::builder()
        .function(f.config("dropped").env("SPIN", "1"))
        .start()
        .await
        .expect("start");
    warm(&service, "dropped").await;
    let grandchild = f.grandchild();
    assert!(alive(grandchild));
    drop(service);
    // This test runs on a current-thread runtime and the wait below blocks it: no task runs,
    // so only what `Drop` did synchronously can have ended the spinning grandchild.
    let gone = gone_within(grandchild, BOUND);
    kill_stray(grandchild).await;
    assert!(
        gone,
        "the dropped service's spinning child {grandchild} is still running"
    );
}

#[tokio::test]
async fn a_bootstrap_printing_without_newlines_keeps_bounded_logs() {
    // 3 MB without a newline, then a short line, then the answer.
    let f = fixture(&format!(
        "head -c 3000000 /dev/zero | tr '\\0' x\necho\necho after\n{SERVE}"
    ));
    let service = LocalLambda::builder()
        .function(f.config("noisy").timeout(Duration::from_secs(20)))
        .start()
        .await
        .expect("start");
    warm(&service, "noisy").await;
    let lines = service
        .function("noisy")
        .expect("function")
        .log_streams()
        .into_values()
        .next()
        .expect("one stream");
    let cut = lines
        .iter()
        .find(|l| l.starts_with("xxx"))
        .expect("the long line, cut");
    assert_eq!(cut.len(), lamplight_local::logs::MAX_LINE);
    assert!(cut.ends_with(lamplight_local::logs::TRUNCATED));
    assert!(lines.iter().any(|l| l == "after"), "the next line is whole");
    let grandchild = f.grandchild();
    drop(service);
    assert!(gone_within(grandchild, BOUND));
}

/// `path` written relative to `base` (both absolute).
fn relative_to(path: &std::path::Path, base: &std::path::Path) -> PathBuf {
    let path: Vec<_> = path.components().collect();
    let base: Vec<_> = base.components().collect();
    let common = path.iter().zip(&base).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for c in &path[common..] {
        out.push(c);
    }
    out
}

#[tokio::test]
async fn a_relative_bootstrap_path_is_the_callers_and_a_missing_one_says_where_it_looked() {
    let fixture = fixture(
        r#"
while :; do next; post "invocation/$id/response" '{"answered":true}'; done
"#,
    );
    let cwd = std::env::current_dir().expect("cwd");
    let relative = relative_to(&fixture.bootstrap, &cwd);
    assert!(relative.is_relative(), "{}", relative.display());
    let service = LocalLambda::builder()
        .function(FunctionConfig::new("relative", Code::Bootstrap(relative)))
        .start()
        .await
        .expect("start");
    let outcome = service.invoke("relative", "{}").await.expect("invoke");
    assert!(
        matches!(&outcome.result, FunctionResult::Response(body) if body.as_ref() == br#"{"answered":true}"#),
        "{:?}\n{}",
        outcome.result,
        outcome.logs
    );

    let started = LocalLambda::builder()
        .function(FunctionConfig::new(
            "missing",
            Code::Bootstrap("target/debug/no-such-function".into()),
        ))
        .start()
        .await;
    let Err(err) = started else {
        panic!("a missing bootstrap is refused at start");
    };
    let err = err.to_string();
    let looked = cwd.join("target/debug/no-such-function");
    assert!(
        err.contains(&format!(
            "cannot read the bootstrap of missing at {} (given as target/debug/no-such-function)",
            looked.display()
        )) && err.contains("build it first"),
        "{err}"
    );
}

#[tokio::test]
async fn a_held_function_answers_new_invocations_with_the_code_registered_while_held() {
    let old = fixture(
        r#"
while :; do next; post "invocation/$id/response" '"old"'; done
"#,
    );
    let new = fixture(
        r#"
while :; do next; post "invocation/$id/response" '"new"'; done
"#,
    );
    let service = std::sync::Arc::new(
        LocalLambda::builder()
            .function(old.config("reloaded"))
            .start()
            .await
            .expect("start"),
    );
    let answer = |outcome: lamplight_local::Outcome| match outcome.result {
        FunctionResult::Response(body) => String::from_utf8_lossy(&body).into_owned(),
        other => panic!("{other:?}\n{}", outcome.logs),
    };
    let first = service.invoke("reloaded", "{}").await.expect("invoke");
    assert_eq!(answer(first), "\"old\"");

    let hold = service.hold("reloaded").await;
    let waiting = tokio::spawn({
        let service = service.clone();
        async move { service.invoke("reloaded", "{}").await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "an invocation while held waits");
    service
        .add_function(new.config("reloaded"))
        .await
        .expect("replace");
    drop(hold);
    let outcome = tokio::time::timeout(BOUND, waiting)
        .await
        .expect("released")
        .expect("task")
        .expect("invoke");
    assert_eq!(
        answer(outcome),
        "\"new\"",
        "it runs the code registered while held"
    );
}
