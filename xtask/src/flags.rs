//! The command line: the author's commands from lamplight-xtask, flattened beside the
//! maintainer's.

use clap::{Args, Parser, Subcommand};

/// lamplight: build, run, invoke and trace AWS Lambda functions written in Rust; and this
/// repository's checks and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    #[command(flatten)]
    Author(Box<lamplight_xtask::Command>),
    #[command(flatten)]
    Maintainer(Maintainer),
}

/// The commands that work on this repository only.
#[derive(Debug, Subcommand)]
pub(crate) enum Maintainer {
    /// Run a benchmark and print its figures.
    Bench(Bench),
    /// Generate a function, build it, run it under the local Lambda service, invoke it, show
    /// its trace: the whole loop on this machine.
    Demo,
    /// Render every template variant, then build, lint and test each (offline).
    TemplateCheck(TemplateCheck),
}

#[derive(Debug, Args)]
pub(crate) struct TemplateCheck {
    /// Only these variants (fn-custom, fn-http-api, ..., fn-custom-s3, fn-x86; the `fn-` may be
    /// left out).
    pub(crate) only: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct Bench {
    #[command(subcommand)]
    pub(crate) which: BenchKind,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BenchKind {
    /// The local Lambda service: invoke throughput and latency, cold start overhead.
    Local {
        /// Sequential invocations measured (after a warm-up of a tenth as many).
        #[arg(long, default_value_t = 3000)]
        invocations: usize,
        /// Cold starts measured.
        #[arg(long, default_value_t = 20)]
        cold_starts: usize,
    },
    /// Shipping: the generated function's zip size, the edit-to-zip loop, packaging, and an
    /// unchanged deploy against moto (`pip install 'moto[server]==5.2.5'`).
    Ship {
        /// Rounds of each measurement.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Size: the template's default, http-api and s3 functions and bare lambda_runtime echo and
    /// S3 functions, built with the template's release profile and zipped the same way; then
    /// the default and the bare echo side by side under one bare Runtime API: cold start,
    /// back-to-back latency, peak memory.
    Size,
    /// Doing many things at once: 100 concurrent S3 GetObject (against the seeds' Python ways
    /// when `pip install aiobotocore aiohttp` is done) and 100 Lambda invocations through the
    /// local service, each against a sequential loop.
    Concurrency {
        /// Rounds of each measurement (the median is reported).
        #[arg(long, default_value_t = 30)]
        rounds: usize,
    },
    /// Lambda Managed Instances: invocations/s of one environment serving C at once
    /// (`max_concurrency`) against C separate environments, for an I/O-bound function (10 ms
    /// wait), at client concurrency 1, 8 and 64.
    Managed {
        /// Invocations each client makes per measurement (after a warm-up).
        #[arg(long, default_value_t = 60)]
        rounds: usize,
        /// How long each invocation waits, in ms.
        #[arg(long, default_value_t = 10)]
        wait_ms: u64,
    },
    /// Telemetry's cost: the same function with and without X-Ray tracing.
    Telemetry {
        /// Warm invocations measured per variant.
        #[arg(long, default_value_t = 2000)]
        invocations: usize,
        /// Cold starts measured per variant.
        #[arg(long, default_value_t = 30)]
        cold_starts: usize,
    },
    /// The local loop on the template's HTTP function: `cargo xtask watch` against
    /// `cargo lambda watch` 1.9.2 (and AWS's Runtime Interface Emulator for direct Invokes):
    /// save-to-new-answer, HTTP requests/s and latency, cold start to first answer.
    LocalLoop {
        /// Edits of worker.rs measured per tool (the median is reported).
        #[arg(long, default_value_t = 5)]
        edits: usize,
        /// Sequential requests measured per front (after a warm-up of 20).
        #[arg(long, default_value_t = 500)]
        requests: usize,
        /// Cold starts measured per tool.
        #[arg(long, default_value_t = 3)]
        cold_starts: usize,
        /// AWS's Runtime Interface Emulator (`aws-lambda-rie-x86_64`, e.g. from the aws-sam-cli
        /// wheel's `samcli/local/rapid/`): also measure its direct Invokes.
        #[arg(long)]
        rie: Option<std::path::PathBuf>,
        /// Build into this target directory instead of the checkout's: a hard-linked copy of
        /// it measures the tools without waiting on the lock of builds running beside them.
        #[arg(long)]
        target_dir: Option<std::path::PathBuf>,
    },
    /// A freshly generated workspace's first `cargo test` and first `cargo xtask --help`, each
    /// from an empty target directory: seconds and crates compiled.
    FirstBuild {
        /// Also measure a workspace generated from this checkout (e.g. a `git worktree` of an
        /// older commit), in the same run.
        #[arg(long)]
        against: Option<std::path::PathBuf>,
    },
}
