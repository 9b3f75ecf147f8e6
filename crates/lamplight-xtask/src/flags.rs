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
    /// Build Lambda-ready bootstraps, checked for architecture and glibc.
    Build(Build),
    /// Build and zip functions deterministically; print size and SHA-256.
    Package(Package),
    /// Create or update functions on AWS (or any Lambda API with --endpoint-url).
    Deploy(Deploy),
    /// Show a deployed function.
    Get(Named),
    /// List the functions of the account and region.
    List(AwsFlags),
    /// Delete a deployed function.
    Delete(Delete),
    /// Print a function's CloudWatch logs.
    Logs(Logs),
    /// Show a function's X-Ray traces as waterfalls (or an HTML page).
    Traces(Traces),
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
    /// Also serve browser requests from ORIGIN (`https://app.example`: scheme, host, port),
    /// with CORS headers; only loopback origins are served otherwise. Repeatable.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
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
    /// A version or alias to invoke (remote).
    #[arg(long)]
    pub qualifier: Option<String>,
    /// Where: --endpoint-url is the local service's URL with --local (default
    /// http://127.0.0.1:9001), else another Lambda API.
    #[command(flatten)]
    pub aws: AwsFlags,
    /// Function settings, when the service is started for this call.
    #[command(flatten)]
    pub settings: FunctionSettings,
}

/// How to reach AWS: the standard chain (AWS_PROFILE, AWS_REGION, SSO, ...) and these.
#[derive(Debug, Args, Clone, Default)]
pub struct AwsFlags {
    /// The region (default: AWS_REGION, the profile's, or the function's metadata).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The profile (default: AWS_PROFILE).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Another endpoint for every AWS service: the local Lambda service, moto, LocalStack.
    #[arg(long, global = true)]
    pub endpoint_url: Option<String>,
}

/// Settings a deploy sets, over `[package.metadata.lamplight]`.
#[derive(Debug, Args, Clone, Default)]
pub struct DeployFlags {
    /// arm64 or x86_64.
    #[arg(long)]
    pub arch: Option<String>,
    /// Memory in MB.
    #[arg(long)]
    pub memory: Option<i32>,
    /// Timeout in seconds.
    #[arg(long)]
    pub timeout: Option<i32>,
    /// An existing execution role (default: create `<function>-lamplight` with logs and X-Ray).
    #[arg(long)]
    pub role: Option<String>,
    /// The alias moved to the new version (default `live`).
    #[arg(long)]
    pub alias: Option<String>,
    /// An environment variable, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
}

/// `cargo xtask build`.
///
/// Two profiles: `release` (default) is what to deploy: thin LTO, one codegen unit, stripped;
/// small and quick to start, slow to build (tens of seconds after a one-line change). `--fast`
/// builds the `fast` profile: no LTO, 16 codegen units, incremental; a bigger binary in a few
/// seconds, for the edit-deploy loop. Uses cargo-zigbuild when installed (it also pins glibc to
/// provided.al2023's 2.34).
#[derive(Debug, Args)]
pub struct Build {
    /// Functions (binary names); the only one, or every one with --all.
    pub functions: Vec<String>,
    /// Every function of the workspace.
    #[arg(long)]
    pub all: bool,
    /// The fast profile: quick builds, bigger binaries.
    #[arg(long)]
    pub fast: bool,
    /// Deploy settings (the architecture).
    #[command(flatten)]
    pub deploy: DeployFlags,
}

/// `cargo xtask package`.
#[derive(Debug, Args, Clone, Default)]
pub struct Package {
    /// Functions (binary names); the only one, or every one with --all.
    pub functions: Vec<String>,
    /// Every function of the workspace.
    #[arg(long)]
    pub all: bool,
    /// The fast profile (see `build --help`).
    #[arg(long)]
    pub fast: bool,
    /// Package this already built bootstrap instead of building.
    #[arg(long)]
    pub bootstrap: Option<PathBuf>,
    /// Extra files or directories for the package (repeatable).
    #[arg(long)]
    pub include: Vec<PathBuf>,
    /// Deploy settings.
    #[command(flatten)]
    pub deploy: DeployFlags,
}

/// `cargo xtask deploy`.
#[derive(Debug, Args)]
pub struct Deploy {
    /// What to build and package.
    #[command(flatten)]
    pub package: Package,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where.
    #[command(flatten)]
    pub aws: AwsFlags,
}

/// A deployed function.
#[derive(Debug, Args)]
pub struct Named {
    /// The function's name.
    pub function: String,
    /// Where.
    #[command(flatten)]
    pub aws: AwsFlags,
}

/// `cargo xtask delete`.
#[derive(Debug, Args)]
pub struct Delete {
    /// Which.
    #[command(flatten)]
    pub named: Named,
    /// Do not ask.
    #[arg(long)]
    pub yes: bool,
}

/// `cargo xtask logs`.
#[derive(Debug, Args)]
pub struct Logs {
    /// Which.
    #[command(flatten)]
    pub named: Named,
    /// Keep printing new lines.
    #[arg(long, short)]
    pub follow: bool,
    /// How far back (10m, 2h, 1day).
    #[arg(long, default_value = "10m")]
    pub since: String,
    /// A CloudWatch Logs filter pattern (`ERROR`, `"timed out"`).
    #[arg(long)]
    pub filter: Option<String>,
}

/// `cargo xtask traces`.
#[derive(Debug, Args)]
pub struct Traces {
    /// Which.
    #[command(flatten)]
    pub named: Named,
    /// Trace ids (default: the recent ones).
    #[arg(long)]
    pub id: Vec<String>,
    /// How far back (10m, 1h).
    #[arg(long, default_value = "10m")]
    pub since: String,
    /// Also write the traces as a self-contained HTML page.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Read the local Lambda service's sink (at --endpoint-url, default http://127.0.0.1:9001).
    #[arg(long)]
    pub local: bool,
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
    /// Shipping: the generated function's zip size, the edit-to-zip loop, packaging, and an
    /// unchanged deploy against moto (`pip install 'moto[server]==5.2.5'`).
    Ship {
        /// Rounds of each measurement.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Doing many things at once: 100 concurrent S3 GetObject (against the seeds' Python ways
    /// when `pip install aiobotocore aiohttp` is done) and 100 Lambda invocations through the
    /// local service, each against a sequential loop.
    Concurrency {
        /// Rounds of each measurement (the median is reported).
        #[arg(long, default_value_t = 30)]
        rounds: usize,
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
