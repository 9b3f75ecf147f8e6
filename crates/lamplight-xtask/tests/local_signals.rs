//! `cargo xtask local` stopped by SIGINT, SIGTERM or SIGHUP: every process its functions
//! started is gone, its work directory is removed, and it exits with 128 + the signal number.
//!
//! The service runs in a child process, this test binary started again to run only
//! [`service_until_signal`] with the same signal handling and shutdown `cargo xtask local` uses.
//! The child is real: a real bootstrap with a spinning grandchild, real signals, real `/proc`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lamplight_local::{Code, FunctionConfig, FunctionResult, LocalLambda};
use lamplight_xtask::{StopSignals, stop_on_signal};

/// Generous: the machine running this may be small and busy.
const BOUND: Duration = Duration::from_secs(20);

/// A bootstrap that starts a spinning grandchild, records its pid, and serves invocations.
const BOOTSTRAP: &str = r#"#!/usr/bin/env bash
( while :; do :; done ) &
echo $! > "$PID_FILE.tmp" && mv "$PID_FILE.tmp" "$PID_FILE"
host="${AWS_LAMBDA_RUNTIME_API%:*}"; port="${AWS_LAMBDA_RUNTIME_API#*:}"
while true; do
  exec 3<>"/dev/tcp/$host/$port"
  printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
  response="$(cat <&3)"; exec 3<&-
  id="$(printf '%s\n' "${response%%$'\r\n\r\n'*}" | tr -d '\r' | awk -F': ' 'tolower($1)=="lambda-runtime-aws-request-id"{print $2}')"
  exec 3<>"/dev/tcp/$host/$port"
  printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.0\r\nHost: %s\r\nContent-Length: 2\r\n\r\n{}' "$id" "$host" >&3
  cat <&3 >/dev/null; exec 3<&-
done
"#;

/// The child's part: a service with a warm function, stopped by the next signal.
#[tokio::test]
#[ignore = "started by the signal tests in a child process"]
async fn service_until_signal() {
    let bootstrap = std::env::var("LAMPLIGHT_TEST_BOOTSTRAP").expect("run by the signal tests");
    let pid_file = std::env::var("LAMPLIGHT_TEST_PID_FILE").expect("run by the signal tests");
    let service = LocalLambda::builder()
        .function(
            FunctionConfig::new("spins", Code::Bootstrap(bootstrap.into()))
                .env("PID_FILE", pid_file),
        )
        .start()
        .await
        .expect("start");
    let outcome = service.invoke("spins", "{}").await.expect("invoke");
    assert_eq!(outcome.result, FunctionResult::Response("{}".into()));
    let signals = StopSignals::install().expect("signal handlers");
    // The harness may print the test name on this line first: the reader looks at its end.
    println!("READY");
    let signal = stop_on_signal(service, signals).await;
    std::process::exit(signal.exit_code());
}

/// A directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "lamplight-signal-test-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `pid` is a live process (a zombie only waits to be reaped).
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X") | None)
}

fn work_dirs(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .expect("read tmp")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("lamplight-local-"))
        })
        .collect()
}

/// Ends a child that misbehaved: SIGTERM first, so it can still end its functions' processes
/// (SIGKILL cannot be handled, and would leave them running), then SIGKILL.
fn give_up(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn stops_cleanly_on(signal: &str, expected_code: i32) {
    let scratch = Scratch::new(signal);
    let tmp = scratch.0.join("tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    let bootstrap = scratch.0.join("bootstrap");
    std::fs::write(&bootstrap, BOOTSTRAP).expect("write");
    let mut perms = std::fs::metadata(&bootstrap).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&bootstrap, perms).expect("chmod");
    let pid_file = scratch.0.join("grandchild.pid");

    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "service_until_signal",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LAMPLIGHT_TEST_BOOTSTRAP", &bootstrap)
        .env("LAMPLIGHT_TEST_PID_FILE", &pid_file)
        // The service's work directory goes here, where this test can see it.
        .env("TMPDIR", &tmp)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("stdout");
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim_end().ends_with("READY") {
                let _ = ready_tx.send(());
            }
        }
    });
    if ready_rx.recv_timeout(BOUND).is_err() {
        give_up(&mut child);
        panic!("the child service never became ready");
    }
    let grandchild: u32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    assert!(
        alive(grandchild),
        "the grandchild spins while the service runs"
    );
    assert_eq!(
        work_dirs(&tmp).len(),
        1,
        "the service has its work directory"
    );

    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            give_up(&mut child);
            let _ = Command::new("kill")
                .args(["-9", &grandchild.to_string()])
                .status();
            panic!("the service did not stop after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let deadline = Instant::now() + BOUND;
    while alive(grandchild) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survived = alive(grandchild);
    if survived {
        let _ = Command::new("kill")
            .args(["-9", &grandchild.to_string()])
            .status();
    }
    assert_eq!(status.code(), Some(expected_code), "{status:?}");
    assert!(
        !survived,
        "the spinning grandchild {grandchild} outlived SIG{signal}"
    );
    assert_eq!(
        work_dirs(&tmp),
        Vec::<PathBuf>::new(),
        "the work directory is removed"
    );
}

#[test]
fn sigterm_stops_the_service_its_process_trees_and_its_work_dir() {
    stops_cleanly_on("TERM", 143);
}

#[test]
fn sigint_stops_the_service_its_process_trees_and_its_work_dir() {
    stops_cleanly_on("INT", 130);
}

#[test]
fn sighup_stops_the_service_its_process_trees_and_its_work_dir() {
    stops_cleanly_on("HUP", 129);
}
