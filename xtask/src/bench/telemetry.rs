//! `bench telemetry`: the same function with and without X-Ray tracing.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use lamplight_local::{Code, FunctionConfig, FunctionResult, LocalLambda};
use lamplight_xtask::Workspace;
use xshell::Shell;

use super::stats::Stats;

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

pub(super) async fn run(sh: &Shell, invocations: usize, cold_starts: usize) -> Result<()> {
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
