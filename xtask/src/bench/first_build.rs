//! `cargo xtask bench first-build`: what a freshly generated workspace costs its author before
//! the first answer: the first `cargo test` and then the first `cargo xtask --help`, each from
//! an empty target directory, offline, against a checkout's crates. `--against <checkout>`
//! measures another checkout (an older commit, say) the same way in the same run.
//!
//! Wall time depends on the machine and what else runs on it; the count of crates compiled
//! does not, so both are printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lamplight_xtask::{Choices, Workspace, render};
use xshell::{Shell, cmd};

struct Step {
    took: Duration,
    compiled: usize,
}

pub(super) fn run(sh: &Shell, against: Option<PathBuf>) -> Result<()> {
    let ws = Workspace::load(sh)?;
    let scratch = ws.target_dir.join("bench-first-build");
    let mut rows = Vec::new();
    if let Some(old) = against {
        let old = old
            .canonicalize()
            .with_context(|| format!("--against {}: no such checkout", old.display()))?;
        rows.push((
            old.display().to_string(),
            measure(sh, &old, &scratch.join("against"))?,
        ));
    }
    rows.push((
        "this checkout".to_owned(),
        measure(sh, &ws.root, &scratch.join("this"))?,
    ));
    println!();
    println!(
        "{:<40} {:>22} {:>26}",
        "generated from", "first `cargo test`", "then `cargo xtask --help`"
    );
    for (name, (test, help)) in &rows {
        println!(
            "{name:<40} {:>9.1} s {:>4} crates {:>13.1} s {:>4} crates",
            test.took.as_secs_f64(),
            test.compiled,
            help.took.as_secs_f64(),
            help.compiled
        );
    }
    Ok(())
}

/// Generates the default function from `checkout`'s template, depending on its crates by path,
/// and times the two commands from an empty target directory.
fn measure(sh: &Shell, checkout: &Path, scratch: &Path) -> Result<(Step, Step)> {
    let _ = std::fs::remove_dir_all(scratch);
    let choices = Choices {
        lamplight_path: Some(checkout.to_owned()),
        ..Choices::default()
    };
    let dir = render(&checkout.join("template"), "first-build", scratch, &choices)?;
    // The checkout's lock file, so both sides build the same crate versions offline.
    std::fs::copy(checkout.join("Cargo.lock"), dir.join("Cargo.lock"))
        .context("copying Cargo.lock")?;
    let _dir = sh.push_dir(&dir);
    let _target = sh.push_env("CARGO_TARGET_DIR", scratch.join("target"));
    let _offline = sh.push_env("CARGO_NET_OFFLINE", "true");
    println!("== {}: cargo test", checkout.display());
    let test = timed(cmd!(sh, "cargo test"))?;
    // What the workspace's `cargo xtask` alias runs, without its `--quiet` so the crates
    // compiled are printed and counted.
    println!("== {}: cargo xtask --help", checkout.display());
    let help = timed(cmd!(sh, "cargo run --package xtask -- --help"))?;
    Ok((test, help))
}

fn timed(cmd: xshell::Cmd<'_>) -> Result<Step> {
    let started = Instant::now();
    let output = cmd.ignore_status().output()?;
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("the command failed:\n{stderr}");
    }
    let compiled = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Compiling "))
        .count();
    Ok(Step { took, compiled })
}
