//! `cargo xtask bench`: figures measured in one run, printed with the baselines they are
//! compared with. Performance claims in BENCHMARKS.md come from here, not from timed tests.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::Method;
use lamplight_local::{Code, FunctionConfig, FunctionResult, LocalLambda};
use xshell::Shell;

use lamplight_xtask::{Choices, Client, Workspace, render, template_dir};

use crate::flags::{Bench, BenchKind};

/// `cargo lambda watch` 1.9.2 on this machine, measured for the local-service issue: sequential
/// invocations per second over one keep-alive connection (range of runs), p99, spawn to first
/// response.
const CARGO_LAMBDA_SEQUENTIAL_PER_S: (f64, f64) = (337.0, 424.0);
const CARGO_LAMBDA_P99_MS: f64 = 46.0;
const CARGO_LAMBDA_COLD_MS: f64 = 5.9;

/// Runs the chosen benchmark. A debug build re-runs itself with the release profile: the
/// service under test runs inside this process, and debug code would measure the compiler's
/// settings rather than the service.
pub(crate) async fn run(sh: &Shell, flags: Bench) -> Result<()> {
    if let BenchKind::Concurrency { rounds } = flags.which {
        // Its own harness, built with the bench profile: the helpers measured are lamplight-aws's.
        let rounds = rounds.to_string();
        xshell::cmd!(
            sh,
            "cargo bench --package lamplight-e2e --bench concurrency -- --rounds {rounds}"
        )
        .run()
        .context("the concurrency benchmark failed")?;
        return Ok(());
    }
    if cfg!(debug_assertions) {
        let args: Vec<String> = std::env::args().skip(1).collect();
        eprintln!("re-running the benchmark from a release build ...");
        xshell::cmd!(
            sh,
            "cargo run --quiet --release --package xtask -- {args...}"
        )
        .run()
        .context("the release build of the benchmark failed")?;
        return Ok(());
    }
    match flags.which {
        BenchKind::Local {
            invocations,
            cold_starts,
        } => local(sh, invocations, cold_starts).await,
        BenchKind::Telemetry {
            invocations,
            cold_starts,
        } => telemetry(sh, invocations, cold_starts).await,
        BenchKind::Ship { rounds } => ship(sh, rounds).await,
        BenchKind::Concurrency { .. } => Ok(()),
    }
}

/// Latency percentiles in milliseconds; `max` is the slowest sample.
#[derive(Debug, Clone, Copy)]
struct Stats {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl Stats {
    /// Nearest-rank percentiles of `samples`.
    fn of(samples: &mut [Duration]) -> Self {
        samples.sort();
        let at = |q: f64| {
            let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len().max(1)) - 1;
            samples.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

async fn local(sh: &Shell, invocations: usize, cold_starts: usize) -> Result<()> {
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

/// Builds `testfn` in release with the given features and keeps a copy under `name`.
fn build_variant(
    sh: &Shell,
    ws: &Workspace,
    features: &[&str],
    name: &str,
) -> Result<std::path::PathBuf> {
    xshell::cmd!(
        sh,
        "cargo build --quiet --release --package lamplight-e2e --bin testfn {features...}"
    )
    .run()
    .context("building testfn")?;
    let dir = ws.target_dir.join("bench");
    std::fs::create_dir_all(&dir)?;
    let copy = dir.join(name);
    std::fs::copy(ws.target_dir.join("release/testfn"), &copy).context("copying testfn")?;
    Ok(copy)
}

#[derive(Default)]
struct Samples {
    cold: Vec<Duration>,
    warm: Vec<Duration>,
    report: Vec<Duration>,
}

async fn telemetry(sh: &Shell, invocations: usize, cold_starts: usize) -> Result<()> {
    let ws = Workspace::load(sh)?;
    if ws.function("testfn").is_err() {
        bail!(
            "`bench telemetry` runs in the lamplight repository: it needs lamplight-e2e's `testfn`"
        );
    }
    eprintln!("building testfn with and without X-Ray tracing (release) ...");
    let plain = build_variant(sh, &ws, &["--no-default-features"], "testfn-plain")?;
    let traced = build_variant(
        sh,
        &ws,
        &["--no-default-features", "--features", "xray"],
        "testfn-xray",
    )?;
    let sizes = (
        std::fs::metadata(&plain)?.len() as f64,
        std::fs::metadata(&traced)?.len() as f64,
    );

    // A daemon that only drains its socket, as the X-Ray daemon would: the cost measured is the
    // function's, not the local sink's validation.
    let drain = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let daemon = drain.local_addr()?;
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while drain.recv(&mut buf).is_ok() {}
    });
    let function = |name: &str, path: &std::path::Path| {
        FunctionConfig::new(name, Code::Bootstrap(path.to_owned())).env("GREETING", "bench")
    };
    let service = LocalLambda::builder()
        .function_daemon_address(daemon)
        .function(function("plain", &plain))
        .function(function("traced", &traced))
        .start()
        .await?;
    let payload = Bytes::from_static(br#"{"action":"spans","count":10}"#);
    let mut samples = [Samples::default(), Samples::default()];
    let names = ["plain", "traced"];
    let paths = [&plain, &traced];
    for i in 0..20 {
        service.invoke(names[i % 2], payload.clone()).await?;
    }
    // Alternate the variants in small rounds so drift in the machine's load hits both alike.
    let rounds = 20;
    for round in 0..rounds {
        for turn in 0..2 {
            let v = (round + turn) % 2;
            for _ in 0..(invocations / rounds).max(1) {
                let t = Instant::now();
                let outcome = service.invoke(names[v], payload.clone()).await?;
                samples[v].warm.push(t.elapsed());
                samples[v]
                    .report
                    .push(outcome.report.map(|r| r.duration).unwrap_or_default());
            }
        }
    }
    for i in 0..cold_starts {
        for turn in 0..2 {
            let v = (i + turn) % 2;
            let name = format!("cold-{}-{i}", names[v]);
            service.add_function(function(&name, paths[v])).await?;
            let t = Instant::now();
            let outcome = service.invoke(&name, payload.clone()).await?;
            samples[v].cold.push(t.elapsed());
            if let FunctionResult::Error { body, .. } = &outcome.result {
                bail!("cold invocation failed: {}", String::from_utf8_lossy(body));
            }
        }
    }
    let [mut p, mut t] = samples;
    let (cold, warm, report) = (
        (Stats::of(&mut p.cold), Stats::of(&mut t.cold)),
        (Stats::of(&mut p.warm), Stats::of(&mut t.warm)),
        (Stats::of(&mut p.report), Stats::of(&mut t.report)),
    );
    println!(
        "## Telemetry (`cargo xtask bench telemetry --invocations {invocations} --cold-starts {cold_starts}`)\n"
    );
    println!(
        "Same function (`testfn`, 10 `#[instrument]` spans per invocation), release builds, with X-Ray tracing exported over UDP against the build without the `xray` feature; the variants alternate in rounds.\n"
    );
    println!("| measure | without telemetry | with X-Ray tracing | difference |");
    println!("|---|---|---|---|");
    println!(
        "| binary size (bytes) | {:.0} | {:.0} | {:+.1}% |",
        sizes.0,
        sizes.1,
        (sizes.1 / sizes.0 - 1.0) * 100.0
    );
    println!(
        "| cold start, spawn to first response, p50 (ms) | {:.3} | {:.3} | {:+.3} ms |",
        cold.0.p50,
        cold.1.p50,
        cold.1.p50 - cold.0.p50
    );
    println!(
        "| in-function time (REPORT Duration) p50 (us) | {:.0} | {:.0} | {:+.0} us |",
        report.0.p50 * 1000.0,
        report.1.p50 * 1000.0,
        (report.1.p50 - report.0.p50) * 1000.0
    );
    println!(
        "| caller's latency p50 (us), export included | {:.0} | {:.0} | {:+.0} us |",
        warm.0.p50 * 1000.0,
        warm.1.p50 * 1000.0,
        (warm.1.p50 - warm.0.p50) * 1000.0
    );
    println!(
        "| caller's latency p99 (us) | {:.0} | {:.0} | {:+.0} us |",
        warm.0.p99 * 1000.0,
        warm.1.p99 * 1000.0,
        (warm.1.p99 - warm.0.p99) * 1000.0
    );
    Ok(())
}

/// cargo-lambda 1.9.2's figures on this machine (from the issues): release zip of its
/// default template (generic and HTTP), rebuild after touching main.rs, `cargo lambda deploy`'s
/// packaging.
const CARGO_LAMBDA_ZIP_BYTES: (u64, u64) = (874_519, 1_270_205);
const CARGO_LAMBDA_REBUILD_S: (f64, f64) = (22.0, 36.0);
const CARGO_LAMBDA_PACKAGE_S: (f64, f64) = (0.6, 0.9);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

async fn ship(sh: &Shell, rounds: usize) -> Result<()> {
    use lamplight_deploy::binary::{self, Arch};
    let ws = Workspace::load(sh)?;
    let template = template_dir(Some(&ws.root))?;
    let checkout = template
        .parent()
        .context("the template has no parent")?
        .to_owned();
    let arch = Arch::host().context("this machine is not arm64 or x86_64")?;
    let name = "ship-bench";
    let out = ws.target_dir.join("bench");
    let _ = std::fs::remove_dir_all(out.join(name));
    let choices = Choices {
        lamplight_path: Some(checkout.clone()),
        architecture: arch.lambda_name().into(),
        ..Choices::default()
    };
    let dir = render(&template, name, &out, &choices)?;
    std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))?;
    let target = arch.target();
    let build = |profile: &str| -> Result<f64> {
        let _cwd = sh.push_dir(&dir);
        let _target = sh.push_env("CARGO_TARGET_DIR", &ws.target_dir);
        let started = Instant::now();
        xshell::cmd!(
            sh,
            "cargo build --quiet --profile {profile} --target {target} --package {name}"
        )
        .run()
        .context("building the generated function")?;
        Ok(started.elapsed().as_secs_f64())
    };
    eprintln!("building the generated function (release and fast) ...");
    build("release")?;
    build("fast")?;
    let release = ws.target_dir.join(target).join("release").join(name);
    let fast = ws.target_dir.join(target).join("fast").join(name);
    binary::check(&release, arch)?;
    let zip = lamplight_deploy::package::package(&release, &[])?;
    let fast_zip = lamplight_deploy::package::package(&fast, &[])?;
    let mut package_ms = Vec::new();
    for _ in 0..rounds.max(3) {
        let t = Instant::now();
        lamplight_deploy::package::package(&release, &[])?;
        package_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // The edit-to-zip loop: change the worker, rebuild with the fast profile, zip.
    let worker = dir.join("functions").join(name).join("src/worker.rs");
    let mut edit_s = Vec::new();
    for round in 0..rounds {
        let mut text = std::fs::read_to_string(&worker)?;
        text.push_str(&format!("\n// edit {round}\n"));
        std::fs::write(&worker, text)?;
        let t = Instant::now();
        build("fast")?;
        lamplight_deploy::package::package(&fast, &[])?;
        edit_s.push(t.elapsed().as_secs_f64());
    }
    let mut text = std::fs::read_to_string(&worker)?;
    text.push_str("\n// edit for release\n");
    std::fs::write(&worker, text)?;
    let release_rebuild = build("release")?;

    eprintln!("deploying to moto ...");
    let deploy_s = unchanged_deploys(&release, arch, rounds).await?;

    println!("## Shipping (`cargo xtask bench ship --rounds {rounds}`)\n");
    println!(
        "The template's default function (custom events, full telemetry) built for {arch}; moto 5.2.5 on loopback.\n"
    );
    println!("| measure | lamplight | cargo-lambda 1.9.2 (this machine) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| release zip (bytes) | {} | {} generic, {} HTTP (no telemetry) | {:.2}x of generic |",
        zip.size(),
        CARGO_LAMBDA_ZIP_BYTES.0,
        CARGO_LAMBDA_ZIP_BYTES.1,
        zip.size() as f64 / CARGO_LAMBDA_ZIP_BYTES.0 as f64
    );
    println!("| fast-profile zip (bytes) | {} | | |", fast_zip.size());
    println!(
        "| edit worker.rs to deployable zip, fast profile, median (s) | {:.1} | rebuild {}-{} s | {:.1}x-{:.1}x faster |",
        median(edit_s.clone()),
        CARGO_LAMBDA_REBUILD_S.0,
        CARGO_LAMBDA_REBUILD_S.1,
        CARGO_LAMBDA_REBUILD_S.0 / median(edit_s.clone()),
        CARGO_LAMBDA_REBUILD_S.1 / median(edit_s)
    );
    println!("| the same edit, release profile (s) | {release_rebuild:.1} | | |");
    println!(
        "| package a built binary, median (ms) | {:.0} | {:.0}-{:.0} ms | {:.0}x-{:.0}x faster |",
        median(package_ms.clone()),
        CARGO_LAMBDA_PACKAGE_S.0 * 1000.0,
        CARGO_LAMBDA_PACKAGE_S.1 * 1000.0,
        CARGO_LAMBDA_PACKAGE_S.0 * 1000.0 / median(package_ms.clone()),
        CARGO_LAMBDA_PACKAGE_S.1 * 1000.0 / median(package_ms)
    );
    println!(
        "| deploy with unchanged code against moto, median (s) | {:.2} | | |",
        median(deploy_s)
    );
    Ok(())
}

/// Starts moto, deploys `bootstrap` once, then times `rounds` deploys that change nothing.
async fn unchanged_deploys(
    bootstrap: &std::path::Path,
    arch: lamplight_deploy::binary::Arch,
    rounds: usize,
) -> Result<Vec<f64>> {
    use lamplight_deploy::{deploy, package::package, settings::DeploySettings};
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut moto = tokio::process::Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting moto (pip install 'moto[server]==5.2.5')")?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = Client::default();
    let started = Instant::now();
    while client
        .send(
            Method::GET,
            &format!("{endpoint}/moto-api/config"),
            &[],
            Bytes::new(),
        )
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("moto did not start: is it installed? pip install 'moto[server]==5.2.5'");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let config = aws_config_for(&endpoint);
    let aws = lamplight_deploy::aws::Aws::from_config(&config).await?;
    let mut settings = DeploySettings::new("ship-bench");
    settings.arch = arch;
    let zip = package(bootstrap, &[])?;
    let plan = deploy::plan(&aws, &settings, &zip).await?;
    deploy::apply(&aws, &settings, &zip, plan, &mut |_| {}).await?;
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let zip = package(bootstrap, &[])?;
        let plan = deploy::plan(&aws, &settings, &zip).await?;
        let done = deploy::apply(&aws, &settings, &zip, plan, &mut |_| {}).await?;
        if done.code_uploaded {
            bail!("an unchanged deploy uploaded code");
        }
        times.push(t.elapsed().as_secs_f64());
    }
    let _ = moto.start_kill();
    Ok(times)
}

fn aws_config_for(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new("bench", "bench", None, None, "bench"),
            ),
        )
        .build()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Stats::of(&mut samples);
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50.0, 90.0, 99.0, 100.0));
    }
}
