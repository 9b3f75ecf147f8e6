//! `cargo xtask bench`: figures measured in one run, printed with the baselines they are
//! compared with. Performance claims in BENCHMARKS.md come from here, not from timed tests.

mod first_build;
mod local;
mod local_loop;
mod managed;
mod runtime_api;
mod ship;
mod size;
mod stats;
mod telemetry;

use anyhow::{Context, Result};
use xshell::Shell;

use crate::flags::{Bench, BenchKind};

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
    if let BenchKind::Size = flags.which {
        // It measures what cargo builds: this process's profile is moot.
        return size::run(sh);
    }
    if let BenchKind::FirstBuild { against } = flags.which {
        // It measures cargo building a generated workspace: this process's profile is moot.
        return first_build::run(sh, against);
    }
    if let BenchKind::LocalLoop {
        edits,
        requests,
        cold_starts,
        rie,
        target_dir,
    } = flags.which
    {
        // The tools measured are processes of their own; its client is cheap in any profile.
        return local_loop::run(
            sh,
            local_loop::Options {
                edits,
                requests,
                cold_starts,
                rie,
                target_dir,
            },
        );
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
        } => local::run(sh, invocations, cold_starts).await,
        BenchKind::Telemetry {
            invocations,
            cold_starts,
        } => telemetry::run(sh, invocations, cold_starts).await,
        BenchKind::Ship { rounds } => ship::run(sh, rounds).await,
        BenchKind::Managed { rounds, wait_ms } => managed::run(sh, rounds, wait_ms).await,
        BenchKind::Concurrency { .. }
        | BenchKind::FirstBuild { .. }
        | BenchKind::Size
        | BenchKind::LocalLoop { .. } => Ok(()),
    }
}
