//! `bench local`: the local Lambda service's invoke throughput and latency and the cold start it
//! adds, against cargo-lambda's quoted figures.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::Method;
use lamplight_local::{Code, FunctionConfig, FunctionResult, LocalLambda};
use lamplight_xtask::{Client, Workspace};
use xshell::Shell;

use super::stats::Stats;

/// `cargo lambda watch` 1.9.2 on this machine, measured for the local-service issue: sequential
/// invocations per second over one keep-alive connection (range of runs), p99, spawn to first
/// response.
const CARGO_LAMBDA_SEQUENTIAL_PER_S: (f64, f64) = (337.0, 424.0);
const CARGO_LAMBDA_P99_MS: f64 = 46.0;
const CARGO_LAMBDA_COLD_MS: f64 = 5.9;

pub(super) async fn run(sh: &Shell, invocations: usize, cold_starts: usize) -> Result<()> {
    let ws = Workspace::load(sh)?;
    let Ok(package) = ws.function("testfn") else {
        bail!(
            "`bench local` runs in the lamplight repository: it needs the `testfn` function of lamplight-e2e"
        );
    };
    let package = package.clone();
    eprintln!("building testfn (release) ...");
    let bootstrap = ws.build_local(sh, &package, true)?;
    let function = |name: &str, max: usize| {
        FunctionConfig::new(name, Code::Bootstrap(bootstrap.clone()))
            .env("GREETING", "bench")
            .max_environments(max)
    };
    let service = LocalLambda::builder()
        .function(function("seq", 1))
        .function(function("wide", 4))
        .start()
        .await?;
    let endpoint = service.endpoint_url();
    let payload = Bytes::from_static(br#"{"action":"echo","value":1}"#);
    let client = Client::default();
    let url = |name: &str| format!("{endpoint}/2015-03-31/functions/{name}/invocations");

    // Sequential, one keep-alive connection.
    let seq_url = url("seq");
    for _ in 0..(invocations / 10).max(10) {
        invoke_ok(&client, &seq_url, payload.clone()).await?;
    }
    let mut samples = Vec::with_capacity(invocations);
    let started = Instant::now();
    for _ in 0..invocations {
        let t = Instant::now();
        invoke_ok(&client, &seq_url, payload.clone()).await?;
        samples.push(t.elapsed());
    }
    let seq_rate = invocations as f64 / started.elapsed().as_secs_f64();
    let seq = Stats::of(&mut samples);

    // Four clients on four environments.
    let wide_url = url("wide");
    let per_client = invocations / 4;
    let warm: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, payload) = (client.clone(), wide_url.clone(), payload.clone());
            tokio::spawn(async move {
                for _ in 0..25 {
                    invoke_ok(&client, &url, payload.clone()).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for w in warm {
        w.await??;
    }
    let started = Instant::now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, payload) = (client.clone(), wide_url.clone(), payload.clone());
            tokio::spawn(async move {
                for _ in 0..per_client {
                    invoke_ok(&client, &url, payload.clone()).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let wide_rate = (per_client * 4) as f64 / started.elapsed().as_secs_f64();

    // Cold starts: a new function each time, against spawning the same binary alone until it
    // first polls a Runtime API (the floor any local service has to pay).
    let mut cold = Vec::new();
    let mut init = Vec::new();
    let mut spawn_floor = Vec::new();
    for i in 0..cold_starts {
        spawn_floor.push(spawn_to_first_poll(&bootstrap).await?);
        let name = format!("cold-{i}");
        service.add_function(function(&name, 1)).await?;
        let t = Instant::now();
        let outcome = service.invoke(&name, payload.clone()).await?;
        cold.push(t.elapsed());
        if let FunctionResult::Error { body, .. } = &outcome.result {
            bail!("cold invocation failed: {}", String::from_utf8_lossy(body));
        }
        init.push(
            outcome
                .report
                .and_then(|r| r.init_duration)
                .unwrap_or_default(),
        );
    }
    let cold = Stats::of(&mut cold);
    let init = Stats::of(&mut init);
    let floor = Stats::of(&mut spawn_floor);

    println!(
        "## Local Lambda service (`cargo xtask bench local --invocations {invocations} --cold-starts {cold_starts}`)\n"
    );
    println!("| measure | lamplight-local | baseline | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| sequential invocations/s (1 keep-alive connection) | {seq_rate:.0} | cargo lambda watch 1.9.2: {:.0}-{:.0} | {:.1}x-{:.1}x |",
        CARGO_LAMBDA_SEQUENTIAL_PER_S.0,
        CARGO_LAMBDA_SEQUENTIAL_PER_S.1,
        seq_rate / CARGO_LAMBDA_SEQUENTIAL_PER_S.1,
        seq_rate / CARGO_LAMBDA_SEQUENTIAL_PER_S.0
    );
    println!(
        "| sequential latency p50 / p90 / p99 / max (ms) | {:.3} / {:.3} / {:.3} / {:.2} | p99 {CARGO_LAMBDA_P99_MS} | p99 {:.0}x lower |",
        seq.p50,
        seq.p90,
        seq.p99,
        seq.max,
        CARGO_LAMBDA_P99_MS / seq.p99.max(1e-6)
    );
    println!(
        "| invocations/s, 4 clients on 4 environments | {wide_rate:.0} | sequential: {seq_rate:.0} | {:.2}x |",
        wide_rate / seq_rate
    );
    println!(
        "| cold start: invoke of a new function, p50 / p90 (ms) | {:.2} / {:.2} | cargo lambda watch: {CARGO_LAMBDA_COLD_MS} | |",
        cold.p50, cold.p90
    );
    println!(
        "| the same binary spawned alone until its first poll, p50 (ms) | {:.2} | | |",
        floor.p50
    );
    println!(
        "| cold start added by the service beyond spawn and one warm invoke, p50 (ms) | {:.2} | Init Duration reported p50: {:.2} | |",
        cold.p50 - floor.p50 - seq.p50,
        init.p50
    );
    Ok(())
}

async fn invoke_ok(client: &Client, url: &str, payload: Bytes) -> Result<()> {
    let reply = client.send(Method::POST, url, &[], payload).await?;
    if !reply.status.is_success() || reply.headers.contains_key("x-amz-function-error") {
        bail!(
            "invocation failed ({}): {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    Ok(())
}

/// Spawns `bootstrap` with a Runtime API address of our own and times its first connection.
async fn spawn_to_first_poll(bootstrap: &std::path::Path) -> Result<Duration> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bootstrap)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "floor")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("GREETING", "bench")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("spawning the bootstrap")?;
    let accepted = tokio::time::timeout(Duration::from_secs(10), listener.accept()).await;
    let elapsed = started.elapsed();
    let _ = child.start_kill();
    let _ = child.wait().await;
    accepted.context("the bootstrap never polled")??;
    Ok(elapsed)
}
