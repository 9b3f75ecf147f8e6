//! A bare Runtime API for measuring a bootstrap from outside: when it first polls (cold
//! start), how long it takes from handing out an event to receiving the answer (what a
//! back-to-back caller waits), and its peak memory.
//!
//! Written by hand on std sockets and `httparse` rather than with lamplight-local: the local
//! service's own work (routing, records, the trace store) would sit inside every sample, and
//! both functions must be measured through exactly the same few lines.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The longest an invocation or a first poll may take before the run is called failed.
const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    first_poll: Option<Instant>,
    queue: VecDeque<(String, Vec<u8>)>,
    handed_out: HashMap<String, Instant>,
    answered: HashMap<String, (Duration, bool)>,
    init_error: Option<String>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A Runtime API on a free loopback port, serving one function process.
pub(super) struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    next_id: u64,
}

impl RuntimeApi {
    pub(super) fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let serving = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let shared = serving.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &shared);
                });
            }
        });
        Ok(Self {
            addr,
            shared,
            next_id: 0,
        })
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the function's first poll and returns when it arrived.
    pub(super) fn first_poll(&self) -> Result<Instant> {
        let state = self.shared.lock();
        let (state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, PATIENCE, |s| {
                s.first_poll.is_none() && s.init_error.is_none()
            })
            .unwrap_or_else(|e| e.into_inner());
        if let Some(error) = &state.init_error {
            bail!("the function failed to start: {error}");
        }
        state
            .first_poll
            .context("the function did not poll for an event within 30 s")
    }

    /// Hands out `event` and waits for the answer: the time from the event's last byte
    /// written to the answer's last byte read.
    pub(super) fn invoke(&mut self, event: &[u8]) -> Result<Duration> {
        self.next_id += 1;
        let id = format!("00000000-0000-4000-8000-{:012}", self.next_id);
        let mut state = self.shared.lock();
        state.queue.push_back((id.clone(), event.to_vec()));
        self.shared.changed.notify_all();
        let (mut state, _) = self
            .shared
            .changed
            .wait_timeout_while(state, PATIENCE, |s| !s.answered.contains_key(&id))
            .unwrap_or_else(|e| e.into_inner());
        match state.answered.remove(&id) {
            Some((took, true)) => Ok(took),
            Some((_, false)) => bail!("invocation {id} answered with an error document"),
            None => bail!("invocation {id} got no answer within 30 s"),
        }
    }
}

fn serve(stream: TcpStream, shared: &Shared) -> Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let Some((method, path, body)) = read_request(&mut reader)? else {
            return Ok(());
        };
        if method == "GET" && path.ends_with("/invocation/next") {
            let mut state = shared.lock();
            if state.first_poll.is_none() {
                state.first_poll = Some(Instant::now());
                shared.changed.notify_all();
            }
            let mut state = shared
                .changed
                .wait_while(state, |s| s.queue.is_empty())
                .unwrap_or_else(|e| e.into_inner());
            let Some((id, event)) = state.queue.pop_front() else {
                continue;
            };
            drop(state);
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
                + 30_000;
            let trace = format!(
                "Root=1-{:08x}-00000000000000000000{id:.4};Parent=53995c3f42cd8ad8;Sampled=1",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_secs(),
                id = &id[id.len() - 4..]
            );
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Lambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
                 Lambda-Runtime-Trace-Id: {trace}\r\n\r\n",
                event.len()
            );
            let mut response = head.into_bytes();
            response.extend_from_slice(&event);
            writer.write_all(&response)?;
            shared.lock().handed_out.insert(id, Instant::now());
        } else if method == "POST" && path.contains("/invocation/") {
            let answered = Instant::now();
            let ok = path.ends_with("/response");
            let id = path
                .split("/invocation/")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .unwrap_or_default()
                .to_owned();
            writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")?;
            let mut state = shared.lock();
            if let Some(sent) = state.handed_out.remove(&id) {
                state
                    .answered
                    .insert(id, (answered.saturating_duration_since(sent), ok));
                shared.changed.notify_all();
            }
        } else if method == "POST" && path.ends_with("/extension/register") {
            // As Lambda answers an extension registering during init (lamplight registers an
            // internal one for graceful shutdown when it exports traces).
            writer.write_all(
                b"HTTP/1.1 200 OK\r\nLambda-Extension-Identifier: 00000000-0000-4000-8000-0000000000ee\r\n\
                  Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
            )?;
        } else if method == "GET" && path.ends_with("/extension/event/next") {
            // An extension subscribed to no event waits here for the life of the environment.
            loop {
                std::thread::park();
            }
        } else if method == "POST" && path.ends_with("/init/error") {
            writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")?;
            shared.lock().init_error = Some(String::from_utf8_lossy(&body).into_owned());
            shared.changed.notify_all();
        } else {
            writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
        }
    }
}

/// One request of a keep-alive connection: method, path and body; `None` at its end.
fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<(String, String, Vec<u8>)>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        reader.read_until(b'\n', &mut head)?;
        if head.len() == before {
            return Ok(None);
        }
        if head.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    request
        .parse(&head)
        .context("a request the harness cannot parse")?;
    let length = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
        .unwrap_or(0usize);
    let chunked = request.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("transfer-encoding") && h.value.eq_ignore_ascii_case(b"chunked")
    });
    let (method, path) = (
        request.method.unwrap_or_default().to_owned(),
        request.path.unwrap_or_default().to_owned(),
    );
    let body = if chunked {
        read_chunked(reader)?
    } else {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some((method, path, body)))
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
            .context("a bad chunk size")?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

/// An X-Ray daemon that counts the datagrams it receives.
pub(super) struct DaemonSink {
    addr: SocketAddr,
    received: Arc<AtomicU64>,
}

impl DaemonSink {
    pub(super) fn start() -> Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        let addr = socket.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let counting = received.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0; 65_536];
            while socket.recv(&mut buf).is_ok() {
                counting.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(Self { addr, received })
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(super) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// A function process under a [`RuntimeApi`], its stdout and stderr drained as Lambda
/// drains them (into a pipe that is read), killed on drop.
pub(super) struct Function {
    child: Child,
    pub(super) started: Instant,
    pub(super) api: RuntimeApi,
}

impl Function {
    /// Starts `binary` with Lambda's reserved variables and `env`.
    pub(super) fn start(binary: &std::path::Path, env: &[(String, String)]) -> Result<Self> {
        let api = RuntimeApi::start()?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_LAMBDA_RUNTIME_API", api.addr().to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/06/[$LATEST]bench")
            .env("AWS_REGION", "us-east-1")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            std::thread::spawn(move || std::io::copy(&mut { pipe }, &mut std::io::sink()));
        }
        Ok(Self {
            child,
            started,
            api,
        })
    }

    /// Spawn to first poll.
    pub(super) fn cold_start(&self) -> Result<Duration> {
        Ok(self
            .api
            .first_poll()?
            .saturating_duration_since(self.started))
    }

    /// The process's peak resident memory (`VmHWM`), in kB.
    pub(super) fn peak_rss_kb(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/<pid>/status")
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
