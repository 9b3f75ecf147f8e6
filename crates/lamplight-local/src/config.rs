//! What a function is: its code and its configuration, as CreateFunction describes it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// How many invocations of one function may wait for a busy environment by default. Lambda
/// throttles at its concurrency limit rather than queueing; locally a short queue smooths bursts
/// above `max_environments` while keeping a runaway caller from holding unbounded payloads.
pub const DEFAULT_MAX_QUEUED: usize = 100;

/// Where a function's code comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Code {
    /// An executable started for each execution environment: a Rust `bootstrap`, a shell script,
    /// anything that speaks the Runtime API.
    Bootstrap(PathBuf),
    /// No process is started: one execution environment waits for a runtime you start yourself
    /// (in a test, or under a debugger) with `AWS_LAMBDA_RUNTIME_API` set to
    /// [`crate::FunctionHandle::runtime_api`].
    External,
}

/// X-Ray tracing of the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum TracingMode {
    /// Every invocation is sampled and the service records its own segments.
    #[default]
    Active,
    /// Sample only when the caller's trace header says `Sampled=1`.
    PassThrough,
}

impl TracingMode {
    /// The name the Lambda API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::PassThrough => "PassThrough",
        }
    }

    /// Parses the Lambda API's name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "Active" => Some(Self::Active),
            "PassThrough" => Some(Self::PassThrough),
            _ => None,
        }
    }
}

/// A function's configuration: what runs, and the settings Lambda would run it with.
///
/// It serializes (to JSON) so that `cargo xtask local` can hand functions to the
/// `lamplight-local` program it runs: both sides are built from the same source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FunctionConfig {
    /// 1 to 64 letters, digits, `-` and `_`, as Lambda accepts.
    pub name: String,
    /// A `bootstrap` to spawn, or an external runtime the user starts.
    pub code: Code,
    /// `_HANDLER` (`bootstrap` for OS-only runtimes).
    pub handler: String,
    /// The runtime identifier (`provided.al2023`).
    pub runtime: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory_mb: u32,
    /// How long an invocation may run before the environment is stopped.
    pub timeout: Duration,
    /// How long an environment may take to poll for its first invocation.
    pub init_timeout: Duration,
    /// The function's own environment variables.
    pub environment: BTreeMap<String, String>,
    /// `x86_64` or `arm64` (recorded; the local service runs whatever the host can run).
    pub architecture: String,
    /// Whether every invocation is traced, or only those a caller sampled.
    pub tracing: TracingMode,
    /// The most execution environments the function may have at once.
    pub max_environments: usize,
    /// The most invocations that may wait for a busy environment; more are throttled with
    /// `TooManyRequestsException` (429) instead of piling up in memory.
    pub max_queued: usize,
    /// How many invocations one execution environment serves at once (Lambda Managed
    /// Instances): `None` is Lambda's default model, one invocation per environment. With
    /// `Some(n)` the runtime is given `AWS_LAMBDA_MAX_CONCURRENCY=n`, may keep n `/next` polls
    /// outstanding, and an environment is filled up to n before another is started.
    pub max_concurrency: Option<usize>,
    /// Free text.
    pub description: String,
    /// The execution role's ARN (recorded only).
    pub role: String,
    /// `AWS_LAMBDA_LOG_FORMAT`: `Text` or `JSON`.
    pub log_format: String,
    /// Layer directories, as Lambda unpacks layers into `/opt`: the executables in each one's
    /// `extensions/` run as external extensions next to the runtime.
    pub layers: Vec<PathBuf>,
}

impl FunctionConfig {
    /// A function named `name` running `code`, with Lambda's defaults: 128 MB, 3 s timeout,
    /// `provided.al2023`, tracing Active, at most 10 environments and
    /// [`DEFAULT_MAX_QUEUED`] waiting invocations.
    pub fn new(name: impl Into<String>, code: Code) -> Self {
        Self {
            name: name.into(),
            code,
            handler: "bootstrap".into(),
            runtime: "provided.al2023".into(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            init_timeout: Duration::from_secs(10),
            environment: BTreeMap::new(),
            architecture: std::env::consts::ARCH.replace("aarch64", "arm64"),
            tracing: TracingMode::Active,
            max_environments: 10,
            max_queued: DEFAULT_MAX_QUEUED,
            max_concurrency: None,
            description: String::new(),
            role: "arn:aws:iam::123456789012:role/lamplight-local".into(),
            log_format: "Text".into(),
            layers: Vec::new(),
        }
    }

    /// Sets how long an invocation may run (default 3 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long a new environment may take to poll for work (default 10 s).
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// Sets the configured memory (default 128 MB): reported, not enforced.
    pub fn memory_mb(mut self, memory: u32) -> Self {
        self.memory_mb = memory;
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment.insert(key.into(), value.into());
        self
    }

    /// Sets the most environments the function may have at once.
    pub fn max_environments(mut self, max: usize) -> Self {
        self.max_environments = max.max(1);
        self
    }

    /// Sets how many invocations may wait while every environment is busy (at least 1); the
    /// next one is answered 429 `TooManyRequestsException`. Default [`DEFAULT_MAX_QUEUED`].
    pub fn max_queued(mut self, max: usize) -> Self {
        self.max_queued = max.max(1);
        self
    }

    /// Adds a layer directory: the executables in its `extensions/` start in every execution
    /// environment before the runtime, as Lambda starts `/opt/extensions/*`.
    pub fn layer(mut self, dir: impl Into<PathBuf>) -> Self {
        self.layers.push(dir.into());
        self
    }

    /// Sets how many invocations one environment serves at once (at least 1; see the
    /// `max_concurrency` field).
    pub fn max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = Some(n.max(1));
        self
    }

    /// How many invocations one environment holds at once: 1 unless `max_concurrency` is set.
    pub fn concurrency(&self) -> usize {
        self.max_concurrency.unwrap_or(1).max(1)
    }

    /// Sets the X-Ray tracing mode (default [`TracingMode::Active`]).
    pub fn tracing(mut self, mode: TracingMode) -> Self {
        self.tracing = mode;
        self
    }
}
