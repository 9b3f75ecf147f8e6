//! The command line: clap's derive, one `Args` struct per command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use lamplight_deploy::aws::Connection;
use lamplight_deploy::binary::Arch;

/// lamplight: build, run, invoke and trace AWS Lambda functions written in Rust.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The commands of a function's author. Another command line can embed them with
/// `#[command(flatten)]` in its own `Subcommand` enum and hand them to [`crate::run`].
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the workspace's functions (or a given bootstrap) under the local Lambda service.
    Local(Local),
    /// `local`, rebuilding and swapping in the functions on every save of their sources.
    Watch(Local),
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
    /// Create a function: a new function workspace here, or another function in this one.
    New(New),
}

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
    /// One execution environment serves up to N invocations at once, as Lambda Managed
    /// Instances do (the function gets `AWS_LAMBDA_MAX_CONCURRENCY=N`; beyond N, invocations
    /// go to another environment up to --max-environments, then queue). Default:
    /// `[package.metadata.lamplight] max_concurrency`, else one invocation per environment.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1600))]
    pub max_concurrency: Option<u32>,
    /// Environment variables for the functions from a dotenv file (KEY=VALUE lines), over
    /// `[package.metadata.lamplight] env` and under --env; `watch` reads it again on save.
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// A layer directory, as Lambda unpacks a layer into /opt: the executables in its
    /// `extensions/` run as external extensions next to the function (repeatable; after
    /// `[package.metadata.lamplight] layers`).
    #[arg(long = "layer", value_name = "DIR")]
    pub layers: Vec<PathBuf>,
    /// X-Ray tracing: `Active` samples every invocation (the function exports its spans to
    /// the local sink), `PassThrough` only those whose caller sampled them. Default:
    /// `[package.metadata.lamplight] tracing`, else Active.
    #[arg(long, value_name = "MODE", value_parser = ["Active", "PassThrough"])]
    pub tracing: Option<String>,
}

impl Default for FunctionSettings {
    fn default() -> Self {
        Self {
            memory: None,
            timeout: None,
            env: Vec::new(),
            max_environments: 10,
            max_concurrency: None,
            env_file: None,
            layers: Vec::new(),
            tracing: None,
        }
    }
}

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
    /// Serve the `--bootstrap` function on the HTTP front as this trigger sends its events:
    /// `http-api`, `function-url`, `rest-api` or `alb` (a workspace's functions say it in their
    /// `[package.metadata.lamplight] trigger.kind`).
    #[arg(long, requires = "bootstrap", value_name = "KIND")]
    pub http_trigger: Option<String>,
    /// Port of the Lambda API on 127.0.0.1.
    #[arg(long, default_value_t = 9001)]
    pub port: u16,
    /// Port of the X-Ray daemon sink on 127.0.0.1.
    #[arg(long, default_value_t = 2000)]
    pub xray_port: u16,
    /// Port of the HTTP front on 127.0.0.1: plain HTTP to the HTTP functions (trigger
    /// `http-api`, `function-url`, `rest-api` or `alb`) at `/lambda-url/<function>/<path>`, and at
    /// every path when there is one.
    #[arg(long, default_value_t = 9000)]
    pub http_port: u16,
    /// Build with the release profile.
    #[arg(long)]
    pub release: bool,
    /// Do not print each invocation's trace.
    #[arg(long)]
    pub no_traces: bool,
    /// Rebuild and swap in the functions on every save (what `cargo xtask watch` does).
    #[arg(long, conflicts_with = "bootstrap")]
    pub watch: bool,
    /// Also serve browser requests from ORIGIN (`https://app.example`: scheme, host, port),
    /// with CORS headers; only loopback origins are served otherwise. Repeatable.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Vec<String>,
    #[command(flatten)]
    pub settings: FunctionSettings,
}

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
    pub arch: Option<Arch>,
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
    #[command(flatten)]
    pub deploy: DeployFlags,
}

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
    #[command(flatten)]
    pub deploy: DeployFlags,
}

#[derive(Debug, Args)]
pub struct Deploy {
    #[command(flatten)]
    pub package: Package,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// A trigger setting over `trigger` in [package.metadata.lamplight], KEY=VALUE with a TOML
    /// value (repeatable): `--trigger batch_size=20`, `--trigger auth=NONE`; `--trigger
    /// kind=custom` deploys with no trigger, and another kind starts from its defaults.
    #[arg(long = "trigger", value_name = "KEY=VALUE")]
    pub trigger: Vec<String>,
    #[command(flatten)]
    pub aws: AwsFlags,
}

/// A deployed function.
#[derive(Debug, Args)]
pub struct Named {
    /// The function's name.
    pub function: String,
    #[command(flatten)]
    pub aws: AwsFlags,
}

#[derive(Debug, Args)]
pub struct Delete {
    #[command(flatten)]
    pub named: Named,
    /// Also delete its log group, /aws/lambda/<function>: its logs are gone for good.
    #[arg(long)]
    pub logs: bool,
    /// Do not ask.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct Logs {
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

#[derive(Debug, Args)]
pub struct Traces {
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

impl AwsFlags {
    pub(crate) fn connection(&self) -> Connection {
        Connection {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
        }
    }
}
