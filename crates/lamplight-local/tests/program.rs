//! The `lamplight-local` program as `cargo xtask local` and `watch` run it: the real binary,
//! its spec and commands on stdin, a real bootstrap (with a spinning grandchild), real signals,
//! real `/proc`.
//!
//! - SIGINT, SIGTERM and SIGHUP stop it: every process its functions started is gone, its work
//!   directory is removed, and it exits with 128 + the signal number;
//! - the end of its input (`cargo xtask` gone) stops it the same way, with status 0;
//! - `hold` makes new invocations wait, `deploy` swaps the code, `release` lets them go on, and
//!   the held invocation gets the new code;
//! - a missing or broken spec is an error that says what is expected.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use lamplight_local::serve::{Command as ServiceCommand, Spec};
use lamplight_local::{Code, FunctionConfig};

/// Generous: the machine running this may be small and busy.
const BOUND: Duration = Duration::from_secs(20);

/// A bootstrap that starts a spinning grandchild, records its pid, and answers every
/// invocation with `$ANSWER`.
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
  printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.0\r\nHost: %s\r\nContent-Length: %s\r\n\r\n%s' "$id" "$host" "${#ANSWER}" "$ANSWER" >&3
  cat <&3 >/dev/null; exec 3<&-
done
"#;

/// A directory of this test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(label: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "lamplight-program-test-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(dir.join("tmp")).expect("mkdir");
        let bootstrap = dir.join("bootstrap");
        std::fs::write(&bootstrap, BOOTSTRAP).expect("write");
        let mut perms = std::fs::metadata(&bootstrap).expect("meta").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&bootstrap, perms).expect("chmod");
        Self(dir)
    }

    fn function(&self, answer: &str) -> FunctionConfig {
        FunctionConfig::new("spins", Code::Bootstrap(self.0.join("bootstrap")))
            .env(
                "PID_FILE",
                self.0.join("grandchild.pid").display().to_string(),
            )
            .env("ANSWER", answer)
    }

    fn tmp(&self) -> PathBuf {
        self.0.join("tmp")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The program, running.
struct Program {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    api: SocketAddr,
}

impl Program {
    fn start(scratch: &Scratch, functions: Vec<FunctionConfig>) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lamplight-local"))
            // The service's work directory goes here, where this test can see it.
            .env("TMPDIR", scratch.tmp())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start lamplight-local");
        let spec = Spec {
            api_addr: "127.0.0.1:0".parse().expect("addr"),
            xray_addr: "127.0.0.1:0".parse().expect("addr"),
            http_addr: None,
            functions,
            http_functions: Vec::new(),
            allow_origins: Vec::new(),
            show_traces: false,
        };
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{}", serde_json::to_string(&spec).expect("spec")).expect("write spec");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut program = Self {
            child,
            stdin: Some(stdin),
            lines,
            api: "127.0.0.1:0".parse().expect("addr"),
        };
        let banner = program.wait_for_line("Ctrl-C stops it.");
        let endpoint = banner
            .iter()
            .find_map(|l| l.trim().strip_prefix("Lambda API   http://"))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the banner names the Lambda API");
        program.api = endpoint.parse().expect("an address");
        program
    }

    /// Lines printed until one that contains `needle` (included).
    fn wait_for_line(&mut self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + BOUND;
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        self.give_up();
        panic!(
            "lamplight-local never printed {needle:?}; it printed:\n{}",
            seen.join("\n")
        );
    }

    fn send(&mut self, command: &ServiceCommand) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(
            stdin,
            "{}",
            serde_json::to_string(command).expect("command")
        )
        .expect("send");
        stdin.flush().expect("flush");
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() >= deadline {
                self.give_up();
                panic!("lamplight-local did not stop");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ends a program that misbehaved: SIGTERM first, so it can still end its functions'
    /// processes, then SIGKILL.
    fn give_up(&mut self) {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
}

/// A synchronous Invoke through the Lambda API: the response body.
fn invoke(api: SocketAddr, function: &str) -> String {
    let mut stream = TcpStream::connect(api).expect("connect");
    stream.set_read_timeout(Some(BOUND)).expect("timeout");
    write!(
        stream,
        "POST /2015-03-31/functions/{function}/invocations HTTP/1.0\r\nHost: {api}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_owned()
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

fn grandchild(scratch: &Scratch) -> u32 {
    std::fs::read_to_string(scratch.0.join("grandchild.pid"))
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid")
}

/// Runs a program with a warm function, stops it with `stop`, and checks that it left nothing
/// behind and exited with `expected_code`.
fn stops_cleanly(label: &str, expected_code: i32, stop: impl FnOnce(&mut Program)) {
    let scratch = Scratch::new(label);
    let mut program = Program::start(&scratch, vec![scratch.function("{}")]);
    assert_eq!(invoke(program.api, "spins"), "{}");
    let grandchild = grandchild(&scratch);
    assert!(
        alive(grandchild),
        "the grandchild spins while the service runs"
    );
    assert_eq!(
        work_dirs(&scratch.tmp()).len(),
        1,
        "the service has its work directory"
    );

    stop(&mut program);
    let status = program.wait();
    let deadline = Instant::now() + BOUND;
    while alive(grandchild) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survived = alive(grandchild);
    if survived {
        signal(grandchild, "9");
    }
    assert_eq!(status.code(), Some(expected_code), "{status:?}");
    assert!(
        !survived,
        "the spinning grandchild {grandchild} outlived the service ({label})"
    );
    assert_eq!(
        work_dirs(&scratch.tmp()),
        Vec::<PathBuf>::new(),
        "the work directory is removed"
    );
}

#[test]
fn sigterm_stops_the_service_its_process_trees_and_its_work_dir() {
    stops_cleanly("TERM", 143, |p| signal(p.child.id(), "TERM"));
}

#[test]
fn sigint_stops_the_service_its_process_trees_and_its_work_dir() {
    stops_cleanly("INT", 130, |p| signal(p.child.id(), "INT"));
}

#[test]
fn sighup_stops_the_service_its_process_trees_and_its_work_dir() {
    stops_cleanly("HUP", 129, |p| signal(p.child.id(), "HUP"));
}

#[test]
fn the_end_of_its_input_stops_it_as_cleanly() {
    stops_cleanly("eof", 0, |p| drop(p.stdin.take()));
}

#[test]
fn a_held_invocation_waits_for_the_deployed_build_and_gets_it() {
    let scratch = Scratch::new("reload");
    let mut program = Program::start(&scratch, vec![scratch.function("\"old\"")]);
    assert_eq!(invoke(program.api, "spins"), "\"old\"");

    program.send(&ServiceCommand::Hold {
        functions: vec!["spins".into()],
    });
    // Commands are read in order; this invocation starts once the hold is in place.
    std::thread::sleep(Duration::from_millis(300));
    let api = program.api;
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(invoke(api, "spins"));
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(700)).is_err(),
        "a held invocation waits"
    );
    program.send(&ServiceCommand::Deploy {
        function: Box::new(scratch.function("\"new\"")),
        since_ms: 1500,
    });
    let reloaded = program.wait_for_line("reloaded spins in");
    let line = reloaded.last().expect("a line");
    let seconds: f64 = line
        .trim()
        .trim_start_matches("reloaded spins in ")
        .trim_end_matches(" s")
        .parse()
        .expect("seconds");
    assert!(seconds >= 1.5, "the time since the save is counted: {line}");
    program.send(&ServiceCommand::Release);
    assert_eq!(
        rx.recv_timeout(BOUND).expect("answered once released"),
        "\"new\"",
        "the held invocation runs the new build"
    );
    assert_eq!(invoke(program.api, "spins"), "\"new\"");
    drop(program.stdin.take());
    assert_eq!(program.wait().code(), Some(0));
}

#[test]
fn no_spec_or_a_broken_one_says_what_is_expected() {
    for input in ["", "not json\n", "{\"api_addr\": \"127.0.0.1:0\"}\n"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lamplight-local"))
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lamplight-local");
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input.as_bytes()).expect("write");
        drop(stdin);
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{input:?}: {stderr}");
        let expected = if input.is_empty() {
            "no service spec on stdin"
        } else {
            "the service spec on stdin is not valid"
        };
        assert!(stderr.contains(expected), "{input:?}: {stderr}");
    }
}
