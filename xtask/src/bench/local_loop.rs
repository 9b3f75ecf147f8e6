//! `bench local-loop`: the author's local loop on one generated HTTP function, side by side in
//! one run: `cargo xtask watch` (lamplight, the generated workspace's debug-built xtask, as its
//! users run it, which runs the optimized `lamplight-local` program it builds once) against `cargo lambda watch` (cargo-lambda 1.9.2), and, for direct Invoke only,
//! AWS's Runtime Interface Emulator when `--rie` points at it.
//!
//! Measured for each tool: save-to-new-answer after a one-line edit of `worker.rs`, sequential
//! requests through its HTTP front on one keep-alive connection, direct Lambda API Invokes, and
//! spawn-to-first-answer with the function already built. Both tools build the same workspace
//! into this checkout's target directory (debug profile, shared dependencies).
//!
//! The client is a plain blocking HTTP/1.1 loop over a `TcpStream`: it costs microseconds in
//! either build profile, so this benchmark runs from the debug build without a release rebuild.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lamplight_test::process::Spawned;
use lamplight_xtask::{Choices, Workspace, render};
use xshell::Shell;

use super::stats::{Stats, median};

const NAME: &str = "loop-bench";
/// The line of `worker::find` whose string `GET /orders/7` answers with.
const ANSWER_LINE: &str = "item: \"tea\".into(),";
/// The strings the edits alternate between.
const EDITS: [&str; 2] = ["chai", "mate"];

pub(super) struct Options {
    pub(super) edits: usize,
    pub(super) requests: usize,
    pub(super) cold_starts: usize,
    pub(super) rie: Option<PathBuf>,
    pub(super) target_dir: Option<PathBuf>,
}

/// How long a save may go unanswered before it counts as missed and is saved again.
const MISSED_SAVE: Duration = Duration::from_secs(30);

/// One tool's figures.
#[derive(Default)]
struct Figures {
    /// Saves the tool did not act on, saved again after [`MISSED_SAVE`].
    missed_saves: usize,
    /// Spawn to first HTTP answer, seconds, per start.
    cold_s: Vec<f64>,
    /// Save to first answer with the new string, seconds, per edit.
    edit_s: Vec<f64>,
    /// Sequential requests through the HTTP front: per second, and latencies.
    http_rate: f64,
    http: Option<Stats>,
    /// Sequential direct Invokes through the Lambda API: per second, and latencies.
    invoke_rate: f64,
    invoke: Option<Stats>,
}

pub(super) fn run(sh: &Shell, opts: Options) -> Result<()> {
    if !crate::callers::cargo_lambda_installed() {
        bail!(
            "cargo-lambda is not on PATH: {}",
            crate::callers::CARGO_LAMBDA_INSTALL
        );
    }
    let ws = Workspace::load(sh)?;
    let (template, checkout) = crate::template_and_checkout(&ws)?;
    let out = ws.target_dir.join("bench-local-loop");
    let _ = std::fs::remove_dir_all(out.join(NAME));
    let choices = Choices {
        lamplight_path: Some(checkout.clone()),
        event_source: "http-api".into(),
        ..Choices::default()
    };
    let dir = render(&template, NAME, &out, &choices)?;
    std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))
        .context("copying Cargo.lock")?;
    let worker = dir.join("functions").join(NAME).join("src/worker.rs");
    let original = std::fs::read_to_string(&worker)?;
    if !original.contains(ANSWER_LINE) {
        bail!(
            "{} no longer has `{ANSWER_LINE}`: update the benchmark",
            worker.display()
        );
    }
    let event =
        std::fs::read(template.join("variants/http/events/http-api/http-api-get-order.json"))
            .context("reading the sample GET event")?;
    let target = opts.target_dir.clone().unwrap_or(ws.target_dir.clone());
    let env = Env {
        dir: dir.clone(),
        target: target.clone(),
    };

    // Everything built before anything is timed: the function, and the generated xtask (the
    // first time, the AWS SDK in debug).
    eprintln!("building the generated workspace's xtask and function (debug) ...");
    {
        let _cwd = sh.push_dir(&dir);
        let _target = sh.push_env("CARGO_TARGET_DIR", &target);
        let _offline = sh.push_env("CARGO_NET_OFFLINE", "true");
        // Apart, as the tools build them: one command for both would unify their features
        // and leave each tool to build again.
        xshell::cmd!(sh, "cargo build --package xtask")
            .run()
            .context("building the generated workspace's xtask")?;
        xshell::cmd!(sh, "cargo build --package {NAME} --bin {NAME}")
            .run()
            .context("building the generated function")?;
    }
    let bootstrap = target.join("debug").join(NAME);

    eprintln!("== lamplight: cargo xtask watch");
    let lamplight = measure(&env, &opts, &worker, &original, &Tool::Lamplight, &event)?;
    // The same without X-Ray: cargo-lambda and the RIE give the function no daemon to send
    // segments to, so this is the like-for-like service comparison.
    eprintln!("== lamplight, untraced: cargo xtask watch --tracing PassThrough");
    let untraced_opts = Options {
        edits: 0,
        requests: opts.requests,
        cold_starts: 0,
        rie: None,
        target_dir: None,
    };
    let untraced = measure(
        &env,
        &untraced_opts,
        &worker,
        &original,
        &Tool::LamplightUntraced,
        &event,
    )?;
    eprintln!("== cargo-lambda: cargo lambda watch");
    let cargo_lambda = measure(&env, &opts, &worker, &original, &Tool::CargoLambda, &event)?;
    std::fs::write(&worker, &original)?;
    let rie = match &opts.rie {
        Some(rie) => {
            // The edits left the last one built: the original again, as the others answered.
            let _cwd = sh.push_dir(&dir);
            let _target = sh.push_env("CARGO_TARGET_DIR", &target);
            let _offline = sh.push_env("CARGO_NET_OFFLINE", "true");
            xshell::cmd!(sh, "cargo build --package {NAME} --bin {NAME}")
                .run()
                .context("building the generated function")?;
            eprintln!("== AWS Runtime Interface Emulator: {}", rie.display());
            Some(measure_rie(rie, &bootstrap, &opts, &event)?)
        }
        None => None,
    };

    print_table(&opts, &lamplight, &cargo_lambda, rie.as_ref());
    print_untraced(&untraced, &cargo_lambda, rie.as_ref());
    Ok(())
}

struct Env {
    dir: PathBuf,
    target: PathBuf,
}

enum Tool {
    Lamplight,
    /// `--tracing PassThrough`: the function sends no segments.
    LamplightUntraced,
    CargoLambda,
}

/// A started tool, with the addresses of its HTTP front and Lambda API.
struct Running {
    process: Spawned,
    http: String,
    api: String,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Tool {
    fn start(&self, env: &Env) -> Result<Running> {
        let mut cmd;
        let (http, api);
        match self {
            Tool::Lamplight | Tool::LamplightUntraced => {
                let (p, x, h) = (free_port()?, free_port()?, free_port()?);
                cmd = Command::new("cargo");
                cmd.args(["xtask", "watch", "--no-traces"]);
                if let Tool::LamplightUntraced = self {
                    cmd.args(["--tracing", "PassThrough"]);
                }
                cmd.args(["--port", &p.to_string()])
                    .args(["--xray-port", &x.to_string()])
                    .args(["--http-port", &h.to_string()]);
                http = format!("127.0.0.1:{h}");
                api = format!("127.0.0.1:{p}");
            }
            Tool::CargoLambda => {
                let p = free_port()?;
                cmd = Command::new("cargo");
                cmd.args(["lambda", "watch", "-A", "127.0.0.1", "-P", &p.to_string()])
                    .args(["--package", NAME, "--bin", NAME])
                    // It does not read `[package.metadata.lamplight] env`.
                    .args(["--env-var", "MAX_QUANTITY=10"]);
                http = format!("127.0.0.1:{p}");
                api = http.clone();
            }
        }
        cmd.current_dir(&env.dir)
            .env("CARGO_TARGET_DIR", &env.target)
            .env("CARGO_NET_OFFLINE", "true")
            .env("NO_COLOR", "1")
            .env("CARGO_TERM_COLOR", "never");
        let process = Spawned::start(&mut cmd).context("starting the tool")?;
        Ok(Running { process, http, api })
    }

    fn label(&self) -> &'static str {
        match self {
            Tool::Lamplight => "lamplight",
            Tool::LamplightUntraced => "lamplight (untraced)",
            Tool::CargoLambda => "cargo-lambda",
        }
    }
}

fn answer_path() -> String {
    format!("/lambda-url/{NAME}/orders/7")
}

/// Polls `GET path` every `every` until an answer contains `needle`; the time it took.
fn first_answer(
    running: &Running,
    needle: &str,
    every: Duration,
    limit: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    let mut conn = Conn::new(&running.http);
    loop {
        if let Ok((200, body)) = conn.request("GET", &answer_path(), &[]) {
            if String::from_utf8_lossy(&body).contains(needle) {
                return Ok(started.elapsed());
            }
        } else {
            conn.reset();
        }
        if started.elapsed() > limit {
            bail!(
                "no answer with `{needle}` in {} s; the tool wrote:\n{}",
                limit.as_secs(),
                running.process.output()
            );
        }
        std::thread::sleep(every);
    }
}

fn measure(
    env: &Env,
    opts: &Options,
    worker: &Path,
    original: &str,
    tool: &Tool,
    event: &[u8],
) -> Result<Figures> {
    std::fs::write(worker, original)?;
    let mut figures = Figures::default();
    let long = Duration::from_secs(900);
    // A first start builds what this tool builds differently (and the original source).
    {
        let mut warm = tool.start(env)?;
        first_answer(&warm, "\"tea\"", Duration::from_millis(100), long)?;
        warm.process.interrupt(Duration::from_secs(10))?;
    }
    for i in 0..opts.cold_starts {
        let started = Instant::now();
        let mut running = tool.start(env)?;
        first_answer(&running, "\"tea\"", Duration::from_millis(10), long)?;
        figures.cold_s.push(started.elapsed().as_secs_f64());
        eprintln!(
            "  cold start {i}: {:.2} s",
            figures.cold_s.last().copied().unwrap_or_default()
        );
        running.process.interrupt(Duration::from_secs(10))?;
    }
    let running = tool.start(env)?;
    first_answer(&running, "\"tea\"", Duration::from_millis(50), long)?;
    if let Tool::Lamplight | Tool::LamplightUntraced = tool {
        // Saves count from when the watcher is watching.
        running
            .process
            .wait_for(Duration::from_secs(60), |out| out.contains("watching "))
            .map_err(|out| anyhow::anyhow!("`watching` never printed:\n{out}"))?;
    } else {
        // cargo-lambda watches from its start; give its watcher a moment to settle.
        std::thread::sleep(Duration::from_secs(2));
    }

    // Sequential requests through the HTTP front, one keep-alive connection.
    let mut conn = Conn::new(&running.http);
    let (rate, stats) = sequential(opts.requests, || {
        let (status, body) = conn.request("GET", &answer_path(), &[])?;
        if status != 200 || !String::from_utf8_lossy(&body).contains("\"tea\"") {
            bail!("HTTP answer {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(())
    })
    .with_context(|| format!("{} HTTP front", tool.label()))?;
    figures.http_rate = rate;
    figures.http = Some(stats);

    // Direct Invokes through its Lambda API, the same way.
    let invoke_path = format!("/2015-03-31/functions/{NAME}/invocations");
    let mut conn = Conn::new(&running.api);
    let (rate, stats) = sequential(opts.requests, || invoke(&mut conn, &invoke_path, event))
        .with_context(|| format!("{} Invoke", tool.label()))?;
    figures.invoke_rate = rate;
    figures.invoke = Some(stats);

    // Save to new answer.
    let mut current = "tea";
    for i in 0..opts.edits {
        let next = EDITS[i % 2];
        let text = std::fs::read_to_string(worker)?.replacen(
            &format!("item: \"{current}\".into(),"),
            &format!("item: \"{next}\".into(),"),
            1,
        );
        let started = Instant::now();
        std::fs::write(worker, &text)?;
        let needle = format!("\"{next}\"");
        // A tool that misses a save (cargo lambda watch sometimes does) gets it again after
        // 30 s, as its user would save again; the sample still counts from the first save.
        if first_answer(&running, &needle, Duration::from_millis(50), MISSED_SAVE).is_err() {
            figures.missed_saves += 1;
            eprintln!(
                "  edit {i}: no new answer after {} s: saved again",
                MISSED_SAVE.as_secs()
            );
            std::fs::write(worker, &text)?;
            first_answer(
                &running,
                &needle,
                Duration::from_millis(50),
                Duration::from_secs(600),
            )?;
        }
        figures.edit_s.push((started.elapsed()).as_secs_f64());
        eprintln!(
            "  edit {i}: {:.2} s",
            figures.edit_s.last().copied().unwrap_or_default()
        );
        current = next;
        // The next save comes after the tool has settled (a person reads the answer first).
        std::thread::sleep(Duration::from_secs(1));
    }
    let mut running = running;
    if let Tool::Lamplight = tool {
        let out = running.process.output();
        let reloads: Vec<&str> = out.lines().filter(|l| l.contains("reloaded ")).collect();
        eprintln!("  lamplight printed: {}", reloads.join("; "));
    }
    running.process.interrupt(Duration::from_secs(10))?;
    std::fs::write(worker, original)?;
    Ok(figures)
}

fn invoke(conn: &mut Conn, path: &str, event: &[u8]) -> Result<()> {
    let (status, body) = conn.request("POST", path, event)?;
    if status != 200 || !String::from_utf8_lossy(&body).contains("tea") {
        bail!(
            "Invoke answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

/// `requests` calls of `call` after a warm-up of 20: per second, and latencies.
fn sequential(requests: usize, mut call: impl FnMut() -> Result<()>) -> Result<(f64, Stats)> {
    for _ in 0..20 {
        call()?;
    }
    let mut samples = Vec::with_capacity(requests);
    let started = Instant::now();
    for _ in 0..requests {
        let t = Instant::now();
        call()?;
        samples.push(t.elapsed());
    }
    let rate = requests as f64 / started.elapsed().as_secs_f64();
    Ok((rate, Stats::of(&mut samples)))
}

/// The RIE runs the bootstrap itself; it has no HTTP front: direct Invokes only.
fn measure_rie(rie: &Path, bootstrap: &Path, opts: &Options, event: &[u8]) -> Result<Figures> {
    let (port, api_port) = (free_port()?, free_port()?);
    let started = Instant::now();
    let process = Spawned::start(
        Command::new(rie)
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{api_port}"))
            .arg(bootstrap)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_FUNCTION_NAME", NAME)
            .env("AWS_REGION", "us-east-1")
            .env("MAX_QUANTITY", "10"),
    )
    .with_context(|| format!("starting {}", rie.display()))?;
    let addr = format!("127.0.0.1:{port}");
    let path = "/2015-03-31/functions/function/invocations";
    let mut conn = Conn::new(&addr);
    loop {
        if invoke(&mut conn, path, event).is_ok() {
            break;
        }
        conn.reset();
        if started.elapsed() > Duration::from_secs(30) {
            bail!("the RIE never answered:\n{}", process.output());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let cold = started.elapsed().as_secs_f64();
    let (rate, stats) = sequential(opts.requests, || invoke(&mut conn, path, event))
        .with_context(|| format!("RIE Invoke:\n{}", process.output()))?;
    Ok(Figures {
        cold_s: vec![cold],
        invoke_rate: rate,
        invoke: Some(stats),
        ..Figures::default()
    })
}

/// A keep-alive HTTP/1.1 connection, opened on first use and again after an error.
struct Conn {
    addr: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            stream: None,
        }
    }

    fn reset(&mut self) {
        self.stream = None;
    }

    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let result = self.try_request(method, path, body);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn try_request(&mut self, method: &str, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(MISSED_SAVE))?;
            self.stream = Some(BufReader::new(stream));
        }
        let reader = self.stream.as_mut().context("no connection")?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\naccept: application/json\r\n",
            self.addr
        );
        if method == "POST" {
            head.push_str(&format!(
                "content-type: application/json\r\ncontent-length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        reader.get_mut().write_all(&request)?;

        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            bail!("the connection closed");
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP status line: {line:?}"))?;
        let (mut length, mut chunked, mut close) = (None, false, false);
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                bail!("the connection closed in the headers");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
                match name.as_str() {
                    "content-length" => length = value.parse::<usize>().ok(),
                    "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                    "connection" => close = value.eq_ignore_ascii_case("close"),
                    _ => {}
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .with_context(|| format!("bad chunk size {line:?}"))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    loop {
                        line.clear();
                        reader.read_line(&mut line)?;
                        if line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                reader.read_exact(&mut body[start..])?;
                line.clear();
                reader.read_line(&mut line)?;
            }
        } else if let Some(length) = length {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        } else if status != 204 && status != 304 {
            reader.read_to_end(&mut body)?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok((status, body))
    }
}

fn secs(v: &[f64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    format!("{:.2}", median(v.to_vec()))
}

fn print_table(opts: &Options, l: &Figures, c: &Figures, rie: Option<&Figures>) {
    let Options {
        edits,
        requests,
        cold_starts,
        ..
    } = opts;
    let rie_flag = if rie.is_some() { " --rie PATH" } else { "" };
    println!(
        "\n## The local loop (`cargo xtask bench local-loop --edits {edits} --requests {requests} --cold-starts {cold_starts}{rie_flag}`)\n"
    );
    println!(
        "The template's `http-api` function, debug builds, one target directory; lamplight is `cargo xtask watch --no-traces` (the generated workspace's debug-built xtask, serving through the optimized `lamplight-local` program it builds once), cargo-lambda is `cargo lambda watch` 1.9.2.\n"
    );
    let rie_head = if rie.is_some() { " AWS RIE |" } else { "" };
    let rie_rule = if rie.is_some() { "---|" } else { "" };
    println!(
        "| measure | lamplight | cargo-lambda |{rie_head} lamplight vs cargo-lambda (>1: lamplight better) | goal |"
    );
    println!("|---|---|---|{rie_rule}---|---|");
    let (le, ce) = (median(l.edit_s.clone()), median(c.edit_s.clone()));
    let none = if rie.is_some() { " - |" } else { "" };
    println!(
        "| save to new answer, median of {edits} (s) | {} | {} |{none} {:.2}x | 2x faster: {} |",
        secs(&l.edit_s),
        secs(&c.edit_s),
        ce / le.max(1e-9),
        met(ce / le.max(1e-9) >= 2.0)
    );
    println!(
        "| HTTP requests/s, sequential, 1 keep-alive connection | {:.0} | {:.0} |{none} {:.2}x | 2x: {} |",
        l.http_rate,
        c.http_rate,
        l.http_rate / c.http_rate.max(1e-9),
        met(l.http_rate >= 2.0 * c.http_rate)
    );
    let lat = |s: Option<Stats>| s.map_or("-".into(), |s| format!("{:.2} / {:.2}", s.p50, s.p99));
    println!(
        "| HTTP latency p50 / p99 (ms) | {} | {} |{none} | |",
        lat(l.http),
        lat(c.http)
    );
    let (rie_rate, rie_lat, rie_goal) = match rie {
        Some(r) => (
            format!(" {:.0} |", r.invoke_rate),
            format!(" {} |", lat(r.invoke)),
            format!(
                "not slower than the RIE: {} ({:.2}x)",
                met(l.invoke_rate >= r.invoke_rate),
                l.invoke_rate / r.invoke_rate.max(1e-9)
            ),
        ),
        None => (String::new(), String::new(), "RIE not measured".into()),
    };
    println!(
        "| direct Invoke/s (Lambda API), sequential, 1 keep-alive connection | {:.0} | {:.0} |{rie_rate} {:.2}x | {rie_goal} |",
        l.invoke_rate,
        c.invoke_rate,
        l.invoke_rate / c.invoke_rate.max(1e-9)
    );
    println!(
        "| direct Invoke latency p50 / p99 (ms) | {} | {} |{rie_lat} | |",
        lat(l.invoke),
        lat(c.invoke)
    );
    let rie_cold = rie.map_or(String::new(), |r| {
        format!(" {} (emulator alone) |", secs(&r.cold_s))
    });
    let (lc, cc) = (median(l.cold_s.clone()), median(c.cold_s.clone()));
    println!(
        "| cold start: spawn to first HTTP answer, function built, median of {cold_starts} (s) | {} | {} |{rie_cold} {:.2}x | |",
        secs(&l.cold_s),
        secs(&c.cold_s),
        cc / lc.max(1e-9)
    );
    println!(
        "\nsave-to-answer samples (s): lamplight {:?}; cargo-lambda {:?}",
        round(&l.edit_s),
        round(&c.edit_s)
    );
    println!(
        "cold-start samples (s): lamplight {:?}; cargo-lambda {:?}",
        round(&l.cold_s),
        round(&c.cold_s)
    );
    println!(
        "saves missed and saved again after {} s: lamplight {}, cargo-lambda {}",
        MISSED_SAVE.as_secs(),
        l.missed_saves,
        c.missed_saves
    );
}

fn round(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| (x * 100.0).round() / 100.0).collect()
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "**missed**" }
}

/// lamplight's service throughput with the function untraced, against the others'.
fn print_untraced(u: &Figures, c: &Figures, rie: Option<&Figures>) {
    println!(
        "\nUntraced (`cargo xtask watch --tracing PassThrough`: the function sends no X-Ray segments, as under cargo-lambda and the RIE, which give it no daemon):\n"
    );
    println!("| measure | lamplight untraced | vs cargo-lambda | vs AWS RIE |");
    println!("|---|---|---|---|");
    let lat = |s: Option<Stats>| s.map_or("-".into(), |s| format!("{:.2} / {:.2}", s.p50, s.p99));
    let vs_rie = |mine: f64, theirs: Option<f64>| {
        theirs.map_or("-".into(), |t| format!("{:.2}x", mine / t.max(1e-9)))
    };
    println!(
        "| HTTP requests/s (p50 / p99 ms) | {:.0} ({}) | {:.2}x | - |",
        u.http_rate,
        lat(u.http),
        u.http_rate / c.http_rate.max(1e-9)
    );
    println!(
        "| direct Invoke/s (p50 / p99 ms) | {:.0} ({}) | {:.2}x | {} |",
        u.invoke_rate,
        lat(u.invoke),
        u.invoke_rate / c.invoke_rate.max(1e-9),
        vs_rie(u.invoke_rate, rie.map(|r| r.invoke_rate))
    );
}
