//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// lamplight: build, run, invoke and trace AWS Lambda functions written in Rust.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the workspace's functions (or a given bootstrap) under the local Lambda service.
    Local(Local),
    /// Invoke a function and print its response, log tail and trace.
    Invoke(Invoke),
    /// Run a benchmark and print its figures.
    Bench(Bench),
    /// Generate a function, build it, run it under the local Lambda service, invoke it, show
    /// its trace: the whole loop on this machine.
    Demo,
    /// Create a function: a new function workspace here, or another function in this one.
    New(New),
    /// Render every template variant, then build, lint and test each (offline).
    TemplateCheck(TemplateCheck),
}

/// `cargo xtask new`.
#[derive(Debug, Args)]
pub struct New {
    /// The function's name (kebab-case).
    pub name: String,
    /// What invokes it: custom, http-api, rest-api, alb, function-url, sqs, s3, eventbridge,
    /// sns, dynamodb.
    #[arg(long, default_value = "custom")]
    pub event: String,
    /// arm64 or x86_64.
    #[arg(long, default_value = "arm64")]
    pub arch: String,
    /// Memory in MB.
    #[arg(long, default_value_t = 128)]
    pub memory: u32,
    /// Timeout in seconds.
    #[arg(long, default_value_t = 3)]
    pub timeout: u32,
    /// AWS region.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The worker reads objects from S3 (custom events).
    #[arg(long)]
    pub s3: bool,
    /// Depend on this lamplight checkout by path (default: the checkout the template comes from,
    /// when run inside it; else crates.io).
    #[arg(long)]
    pub lamplight_path: Option<PathBuf>,
    /// Where to create the workspace (default: here).
    #[arg(long)]
    pub destination: Option<PathBuf>,
}

impl New {
    /// The template placeholders these flags choose.
    pub fn choices(&self) -> crate::template::Choices {
        crate::template::Choices {
            event_source: self.event.clone(),
            architecture: self.arch.clone(),
            memory: self.memory,
            timeout: self.timeout,
            region: self.region.clone(),
            use_s3: self.s3,
            lamplight_path: self.lamplight_path.clone(),
        }
    }
}

/// `cargo xtask template-check`.
#[derive(Debug, Args)]
pub struct TemplateCheck {
    /// Only these variants (fn-custom, fn-http-api, ..., fn-custom-s3, fn-x86).
    pub only: Vec<String>,
}

/// Settings of a function that flags override.
#[derive(Debug, Args, Clone)]
pub struct FunctionSettings {
    /// Memory in MB (default: `[package.metadata.lamplight] memory`, else 128).
    #[arg(long)]
    pub memory: Option<u32>,
    /// Timeout in seconds (default: `[package.metadata.lamplight] timeout`, else 3).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// An environment variable for the function, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// The most execution environments per function; more concurrent invocations queue.
    #[arg(long, default_value_t = 10)]
    pub max_environments: usize,
}

impl Default for FunctionSettings {
    fn default() -> Self {
        Self {
            memory: None,
            timeout: None,
            env: Vec::new(),
            max_environments: 10,
        }
    }
}

/// `cargo xtask local`.
#[derive(Debug, Args)]
pub struct Local {
    /// Functions (binary names) to run; all of the workspace's by default.
    pub functions: Vec<String>,
    /// Run this executable instead (any language), as the function `--name`.
    #[arg(long, conflicts_with = "functions")]
    pub bootstrap: Option<PathBuf>,
    /// The function name for `--bootstrap` (default: the file name).
    #[arg(long, requires = "bootstrap")]
    pub name: Option<String>,
    /// Port of the Lambda API on 127.0.0.1.
    #[arg(long, default_value_t = 9001)]
    pub port: u16,
    /// Port of the X-Ray daemon sink on 127.0.0.1.
    #[arg(long, default_value_t = 2000)]
    pub xray_port: u16,
    /// Build with the release profile.
    #[arg(long)]
    pub release: bool,
    /// Do not print each invocation's trace.
    #[arg(long)]
    pub no_traces: bool,
    /// Function settings.
    #[command(flatten)]
    pub settings: FunctionSettings,
}

/// `cargo xtask invoke`.
#[derive(Debug, Args)]
pub struct Invoke {
    /// The function (binary name).
    pub function: String,
    /// Invoke through the local Lambda service: a running `cargo xtask local`, or else one
    /// started for this call.
    #[arg(long)]
    pub local: bool,
    /// The event: inline JSON, `@file`, or the name of a sample event in the package's `events/`.
    #[arg(long, short)]
    pub payload: Option<String>,
    /// The local service's URL (default http://127.0.0.1:9001).
    #[arg(long)]
    pub endpoint_url: Option<String>,
    /// Function settings, when the service is started for this call.
    #[command(flatten)]
    pub settings: FunctionSettings,
}

/// `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct Bench {
    /// Which benchmark.
    #[command(subcommand)]
    pub which: BenchKind,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchKind {
    /// The local Lambda service: invoke throughput and latency, cold start overhead.
    Local {
        /// Sequential invocations measured (after a warm-up of a tenth as many).
        #[arg(long, default_value_t = 3000)]
        invocations: usize,
        /// Cold starts measured.
        #[arg(long, default_value_t = 20)]
        cold_starts: usize,
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
}
