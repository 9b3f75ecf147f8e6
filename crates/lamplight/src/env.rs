//! The environment Lambda gives a function: every reserved variable as a documented constant, and
//! [`Env`], their typed view, read once per execution environment.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde::Deserialize as _;

/// Names of the environment variables Lambda defines, as the Lambda developer guide documents them
/// ("Defined runtime environment variables").
pub mod vars {
    /// The handler location configured on the function (`bootstrap` for OS-only runtimes).
    pub const HANDLER: &str = "_HANDLER";
    /// The X-Ray tracing header of the current invocation (set per invocation by sequential runtimes).
    pub const X_AMZN_TRACE_ID: &str = "_X_AMZN_TRACE_ID";
    /// The AWS Region where the function runs.
    pub const AWS_REGION: &str = "AWS_REGION";
    /// The default AWS Region (same as `AWS_REGION` inside Lambda).
    pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
    /// The runtime identifier, prefixed by `AWS_Lambda_` (for example `AWS_Lambda_provided.al2023`).
    pub const AWS_EXECUTION_ENV: &str = "AWS_EXECUTION_ENV";
    /// The name of the function.
    pub const AWS_LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
    /// The amount of memory available to the function, in MB.
    pub const AWS_LAMBDA_FUNCTION_MEMORY_SIZE: &str = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE";
    /// The version of the function being executed (`$LATEST` or a number).
    pub const AWS_LAMBDA_FUNCTION_VERSION: &str = "AWS_LAMBDA_FUNCTION_VERSION";
    /// `on-demand`, `provisioned-concurrency`, `snap-start` or `lambda-managed-instances`.
    pub const AWS_LAMBDA_INITIALIZATION_TYPE: &str = "AWS_LAMBDA_INITIALIZATION_TYPE";
    /// The CloudWatch Logs group of the function.
    pub const AWS_LAMBDA_LOG_GROUP_NAME: &str = "AWS_LAMBDA_LOG_GROUP_NAME";
    /// The CloudWatch Logs stream of this execution environment.
    pub const AWS_LAMBDA_LOG_STREAM_NAME: &str = "AWS_LAMBDA_LOG_STREAM_NAME";
    /// `Text` or `JSON`: the function's configured log format.
    pub const AWS_LAMBDA_LOG_FORMAT: &str = "AWS_LAMBDA_LOG_FORMAT";
    /// The function's configured application log level (`TRACE` .. `FATAL`).
    pub const AWS_LAMBDA_LOG_LEVEL: &str = "AWS_LAMBDA_LOG_LEVEL";
    /// Concurrent invocations per execution environment (Lambda Managed Instances).
    pub const AWS_LAMBDA_MAX_CONCURRENCY: &str = "AWS_LAMBDA_MAX_CONCURRENCY";
    /// Where the Runtime API listens: `host:port` in Lambda and AWS's emulator, a URL such as
    /// `http://127.0.0.1:9000/.rt` under cargo-lambda (see [`RuntimeApi`](super::RuntimeApi)).
    pub const AWS_LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";
    /// Access key of the function's execution role.
    pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    /// Secret key of the function's execution role.
    pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    /// Session token of the function's execution role.
    pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
    /// `LOG_ERROR` (default) or `IGNORE_ERROR`: what the X-Ray SDK does without a trace context.
    pub const AWS_XRAY_CONTEXT_MISSING: &str = "AWS_XRAY_CONTEXT_MISSING";
    /// `ip:port` of the X-Ray daemon (`169.254.79.129:2000` in Lambda).
    pub const AWS_XRAY_DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
    /// The path to the function code (`/var/task`).
    pub const LAMBDA_TASK_ROOT: &str = "LAMBDA_TASK_ROOT";
    /// The path to runtime libraries (`/var/runtime`).
    pub const LAMBDA_RUNTIME_DIR: &str = "LAMBDA_RUNTIME_DIR";
    /// The environment's time zone (`:UTC`).
    pub const TZ: &str = "TZ";

    /// Every reserved name above, for tools that must not let users override them.
    pub const RESERVED: &[&str] = &[
        HANDLER,
        X_AMZN_TRACE_ID,
        AWS_REGION,
        AWS_DEFAULT_REGION,
        AWS_EXECUTION_ENV,
        AWS_LAMBDA_FUNCTION_NAME,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        AWS_LAMBDA_FUNCTION_VERSION,
        AWS_LAMBDA_INITIALIZATION_TYPE,
        AWS_LAMBDA_LOG_GROUP_NAME,
        AWS_LAMBDA_LOG_STREAM_NAME,
        AWS_LAMBDA_RUNTIME_API,
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY,
        AWS_SESSION_TOKEN,
        LAMBDA_TASK_ROOT,
        LAMBDA_RUNTIME_DIR,
    ];
}

/// How this execution environment was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitializationType {
    /// Started for an invocation (a cold start).
    OnDemand,
    /// Started ahead of traffic by provisioned concurrency.
    ProvisionedConcurrency,
    /// Restored from a SnapStart snapshot.
    SnapStart,
    /// Running on Lambda Managed Instances.
    ManagedInstances,
    /// A value this version of lamplight does not know.
    Other(String),
}

impl InitializationType {
    fn parse(value: &str) -> Self {
        match value {
            "on-demand" => Self::OnDemand,
            "provisioned-concurrency" => Self::ProvisionedConcurrency,
            "snap-start" => Self::SnapStart,
            "lambda-managed-instances" => Self::ManagedInstances,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The function's configured log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Plain text lines (Lambda's default).
    #[default]
    Text,
    /// One JSON object per line, in the shape of Lambda's JSON log format.
    Json,
}

/// One reserved variable that is missing or does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvProblem {
    /// The variable's name.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// The reserved environment is incomplete or malformed; every problem is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EnvError {
    /// Every problem found.
    pub problems: Vec<EnvProblem>,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the Lambda environment is incomplete ({} problem{}):",
            self.problems.len(),
            if self.problems.len() == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(f, "  - {}: {}", p.name, p.problem)?;
        }
        write!(
            f,
            "this binary is a Lambda bootstrap: run it under Lambda or the local service \
             (`cargo xtask local`), which set these variables"
        )
    }
}

/// The typed view of Lambda's reserved environment variables.
///
/// Read once per execution environment with [`Env::current`]; in tests, build one with
/// [`Env::local`] or [`Env::from_vars`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Env {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory_mb: u32,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`).
    pub region: Option<String>,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group: Option<String>,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: Option<String>,
    /// `AWS_LAMBDA_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `AWS_LAMBDA_LOG_LEVEL`, as Lambda spells it (`INFO`, `DEBUG`, ...).
    pub log_level: Option<String>,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub initialization_type: InitializationType,
    /// `AWS_EXECUTION_ENV`.
    pub execution_env: Option<String>,
    /// `AWS_LAMBDA_RUNTIME_API`.
    pub runtime_api: Option<String>,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`.
    pub max_concurrency: Option<u32>,
    /// The UDP address from `AWS_XRAY_DAEMON_ADDRESS`.
    pub xray_daemon_address: Option<SocketAddr>,
    /// `AWS_XRAY_CONTEXT_MISSING`.
    pub xray_context_missing: Option<String>,
    /// `_HANDLER`.
    pub handler: Option<String>,
    /// `LAMBDA_TASK_ROOT`.
    pub task_root: Option<PathBuf>,
    /// `TZ`.
    pub tz: Option<String>,
}

static CURRENT: OnceLock<Arc<Env>> = OnceLock::new();

impl Env {
    /// The process's environment, read on first use and shared for the life of the execution
    /// environment (reserved variables never change between invocations).
    pub fn current() -> Result<Arc<Env>, EnvError> {
        if let Some(env) = CURRENT.get() {
            return Ok(env.clone());
        }
        let env = Arc::new(Self::from_vars(std::env::vars())?);
        Ok(CURRENT.get_or_init(|| env).clone())
    }

    /// Reads the reserved variables from `vars`, reporting every missing or malformed one.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, EnvError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let r: Reserved = crate::config::from_vars(vars, "").map_err(EnvError::from_config)?;
        Ok(Self {
            function_name: r.aws_lambda_function_name,
            function_version: r.aws_lambda_function_version,
            memory_mb: r.aws_lambda_function_memory_size,
            region: r.aws_region.or(r.aws_default_region),
            log_group: r.aws_lambda_log_group_name,
            log_stream: r.aws_lambda_log_stream_name,
            log_format: r.aws_lambda_log_format,
            log_level: r.aws_lambda_log_level,
            initialization_type: r
                .aws_lambda_initialization_type
                .map_or(InitializationType::OnDemand, |v| {
                    InitializationType::parse(&v)
                }),
            execution_env: r.aws_execution_env,
            runtime_api: r.aws_lambda_runtime_api,
            max_concurrency: r.aws_lambda_max_concurrency,
            xray_daemon_address: r.aws_xray_daemon_address,
            xray_context_missing: r.aws_xray_context_missing,
            handler: r._handler,
            task_root: r.lambda_task_root,
            tz: r.tz,
        })
    }

    /// The Runtime API endpoint from `AWS_LAMBDA_RUNTIME_API`, in any form [`RuntimeApi::parse`]
    /// accepts.
    pub fn runtime_endpoint(&self) -> Result<RuntimeApi, EnvError> {
        let problem = |problem: String| EnvError {
            problems: vec![EnvProblem {
                name: vars::AWS_LAMBDA_RUNTIME_API,
                problem,
            }],
        };
        let value = self
            .runtime_api
            .as_deref()
            .ok_or_else(|| problem("not set".into()))?;
        RuntimeApi::parse(value).map_err(|e| problem(e.to_string()))
    }

    /// An environment like the one Lambda gives `function_name` in `us-east-1` with 128 MB,
    /// for tests and local runs.
    pub fn local(function_name: &str) -> Self {
        Self {
            function_name: function_name.to_owned(),
            function_version: "$LATEST".into(),
            memory_mb: 128,
            region: Some("us-east-1".into()),
            log_group: Some(format!("/aws/lambda/{function_name}")),
            log_stream: None,
            log_format: LogFormat::Text,
            log_level: None,
            initialization_type: InitializationType::OnDemand,
            execution_env: Some("AWS_Lambda_provided.al2023".into()),
            runtime_api: None,
            max_concurrency: None,
            xray_daemon_address: None,
            xray_context_missing: None,
            handler: Some("bootstrap".into()),
            task_root: None,
            tz: Some(":UTC".into()),
        }
    }
}

/// The reserved variables as [`config`](crate::config) loads them: each field reads the
/// variable its name spells in capitals, so this is one loader for both. Fields are in the
/// order problems are reported in; the parsers' messages name the value and what it should be
/// (the variable's name comes from the loader).
#[derive(serde::Deserialize)]
struct Reserved {
    aws_lambda_function_name: String,
    aws_lambda_function_version: String,
    #[serde(deserialize_with = "memory_mb")]
    aws_lambda_function_memory_size: u32,
    #[serde(default, deserialize_with = "max_concurrency")]
    aws_lambda_max_concurrency: Option<u32>,
    #[serde(default, deserialize_with = "daemon_address")]
    aws_xray_daemon_address: Option<SocketAddr>,
    #[serde(default, deserialize_with = "runtime_api")]
    aws_lambda_runtime_api: Option<String>,
    #[serde(default, deserialize_with = "log_format")]
    aws_lambda_log_format: LogFormat,
    aws_region: Option<String>,
    aws_default_region: Option<String>,
    aws_lambda_log_group_name: Option<String>,
    aws_lambda_log_stream_name: Option<String>,
    aws_lambda_log_level: Option<String>,
    aws_lambda_initialization_type: Option<String>,
    aws_execution_env: Option<String>,
    aws_xray_context_missing: Option<String>,
    _handler: Option<String>,
    lambda_task_root: Option<PathBuf>,
    tz: Option<String>,
}

/// Every variable [`Reserved`] reads, to give problems their `&'static` names.
const READ: &[&str] = &[
    vars::AWS_LAMBDA_FUNCTION_NAME,
    vars::AWS_LAMBDA_FUNCTION_VERSION,
    vars::AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    vars::AWS_LAMBDA_MAX_CONCURRENCY,
    vars::AWS_XRAY_DAEMON_ADDRESS,
    vars::AWS_LAMBDA_RUNTIME_API,
    vars::AWS_LAMBDA_LOG_FORMAT,
    vars::AWS_REGION,
    vars::AWS_DEFAULT_REGION,
    vars::AWS_LAMBDA_LOG_GROUP_NAME,
    vars::AWS_LAMBDA_LOG_STREAM_NAME,
    vars::AWS_LAMBDA_LOG_LEVEL,
    vars::AWS_LAMBDA_INITIALIZATION_TYPE,
    vars::AWS_EXECUTION_ENV,
    vars::AWS_XRAY_CONTEXT_MISSING,
    vars::HANDLER,
    vars::LAMBDA_TASK_ROOT,
    vars::TZ,
];

impl EnvError {
    fn from_config(e: crate::config::ConfigError) -> Self {
        use crate::config::Problem;
        let problems = e
            .problems
            .into_iter()
            .map(|p| EnvProblem {
                name: READ.iter().find(|n| **n == p.var).copied().unwrap_or(""),
                problem: match p.problem {
                    Problem::Missing => "not set".into(),
                    // The parsers below quote the value themselves.
                    Problem::Invalid { reason, .. } => reason,
                    Problem::Other(reason) => reason,
                },
            })
            .collect();
        Self { problems }
    }
}

// The loader stands a field it already reported in with an empty value while it looks for the
// next problem (a set variable is never empty): the parsers take that as unset.

fn memory_mb<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = String::deserialize(d)?;
    if v.is_empty() {
        return Ok(0);
    }
    v.parse()
        .map_err(|e| serde::de::Error::custom(format!("`{v}` is not a whole number of MB ({e})")))
}

fn max_concurrency<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = String::deserialize(d)?;
    if v.is_empty() {
        return Ok(None);
    }
    match v.trim().parse::<u32>() {
        Ok(0) => Err(serde::de::Error::custom(
            "`0` invocations at once: it must be at least 1 (1 serves one at a time)",
        )),
        Ok(n) => Ok(Some(n)),
        Err(e) => Err(serde::de::Error::custom(format!(
            "`{v}` is not a whole number ({e})"
        ))),
    }
}

fn daemon_address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let v = String::deserialize(d)?;
    if v.is_empty() {
        return Ok(None);
    }
    parse_daemon_address(&v)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// Keeps the value as given, once [`RuntimeApi::parse`] accepts it.
fn runtime_api<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = String::deserialize(d)?;
    if v.is_empty() {
        return Ok(None);
    }
    match RuntimeApi::parse(&v) {
        Ok(_) => Ok(Some(v)),
        Err(e) => Err(serde::de::Error::custom(e)),
    }
}

fn log_format<'de, D: serde::Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
    let v = String::deserialize(d)?;
    if v.is_empty() || v.eq_ignore_ascii_case("text") {
        Ok(LogFormat::Text)
    } else if v.eq_ignore_ascii_case("json") {
        Ok(LogFormat::Json)
    } else {
        Err(serde::de::Error::custom(format!(
            "`{v}` is neither `Text` nor `JSON`"
        )))
    }
}

/// Where the Runtime API listens, from any form of `AWS_LAMBDA_RUNTIME_API` in use:
///
/// | value | who sets it |
/// |---|---|
/// | `127.0.0.1:9001` (`host:port`) | Lambda, AWS's Runtime Interface Emulator, the local service |
/// | `http://127.0.0.1:9001` | some emulators and test harnesses |
/// | `http://127.0.0.1:9000/.rt` (a path prefix) | `cargo lambda watch` |
///
/// Requests go to the base URL followed by `/2018-06-01/runtime/...`. Only plain HTTP is
/// supported: the Runtime API is a loopback service, and the client has no TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeApi {
    base: http::Uri,
}

/// Why a value of `AWS_LAMBDA_RUNTIME_API` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a usable Runtime API address: {reason}; expected `host:port`, \
     `http://host:port` or `http://host:port/prefix`"
)]
pub struct RuntimeApiAddressError {
    /// The value as given.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RuntimeApi {
    /// Parses `host:port`, `http://host:port` or `http://host:port/prefix`.
    pub fn parse(value: &str) -> Result<Self, RuntimeApiAddressError> {
        let err = |reason: &str| RuntimeApiAddressError {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        if value.is_empty() {
            return Err(err("it is empty"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err("it contains whitespace or control characters"));
        }
        let rest = match value.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(err(
                    "https is not supported: the Runtime API is plain HTTP on the loopback \
                     interface and lamplight's client has no TLS",
                ));
            }
            Some((scheme, _)) => {
                return Err(err(&format!("the scheme `{scheme}` is not http")));
            }
            None => value,
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(err("there is no host"));
        }
        if authority.contains('@') {
            return Err(err("user credentials (`user@`) are not supported"));
        }
        if path.contains(['?', '#']) {
            return Err(err("a query or fragment is not supported"));
        }
        // `Authority` drops a port it cannot read; say which problem it is.
        let port = match authority.rsplit_once(':') {
            Some((_, port)) if !port.contains(']') => port,
            _ => "",
        };
        match port.parse::<u16>() {
            _ if port.is_empty() => return Err(err("there is no port")),
            Ok(0) => return Err(err("port 0 cannot be connected to")),
            Ok(_) => {}
            Err(_) => return Err(err("the port is not a number from 1 to 65535")),
        }
        let parsed: http::uri::Authority = authority
            .parse()
            .map_err(|e| err(&format!("`{authority}` is not host:port ({e})")))?;
        if parsed.host().is_empty() || parsed.host() == "[]" {
            return Err(err("there is no host"));
        }
        let prefix = path.trim_end_matches('/');
        let base: http::Uri = format!("http://{authority}{prefix}")
            .parse()
            .map_err(|e| err(&format!("the path `{path}` is not a valid URL path ({e})")))?;
        Ok(Self { base })
    }

    /// The base URL requests are made under: `http://host:port` and the prefix, if any.
    pub fn base_uri(&self) -> &http::Uri {
        &self.base
    }

    /// `host:port`.
    pub fn authority(&self) -> &str {
        self.base.authority().map_or("", |a| a.as_str())
    }

    /// The path prefix (`/.rt` under cargo-lambda), empty for `host:port`.
    pub fn prefix(&self) -> &str {
        match self.base.path() {
            "/" => "",
            path => path,
        }
    }
}

impl std::str::FromStr for RuntimeApi {
    type Err = RuntimeApiAddressError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

impl fmt::Display for RuntimeApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority(), self.prefix())
    }
}

/// Parses `ip:port` or the daemon's two-address form `tcp:ip:port udp:ip:port` into the UDP address.
fn parse_daemon_address(value: &str) -> Result<SocketAddr, String> {
    let udp = value
        .split_whitespace()
        .find_map(|part| part.strip_prefix("udp:"))
        .unwrap_or(value.trim());
    udp.parse()
        .map_err(|e| format!("`{value}` is not `ip:port` or `tcp:ip:port udp:ip:port` ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lambda_vars() -> Vec<(&'static str, &'static str)> {
        vec![
            (vars::AWS_LAMBDA_FUNCTION_NAME, "greeter"),
            (vars::AWS_LAMBDA_FUNCTION_VERSION, "7"),
            (vars::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "512"),
            (vars::AWS_REGION, "eu-west-1"),
            (
                vars::AWS_LAMBDA_INITIALIZATION_TYPE,
                "provisioned-concurrency",
            ),
            (vars::AWS_XRAY_DAEMON_ADDRESS, "169.254.79.129:2000"),
            (vars::AWS_LAMBDA_LOG_FORMAT, "JSON"),
            (vars::LAMBDA_TASK_ROOT, "/var/task"),
        ]
    }

    #[test]
    fn reads_every_reserved_variable_into_its_type() {
        let env = Env::from_vars(lambda_vars()).expect("complete");
        assert_eq!(env.function_name, "greeter");
        assert_eq!(env.function_version, "7");
        assert_eq!(env.memory_mb, 512);
        assert_eq!(env.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            env.initialization_type,
            InitializationType::ProvisionedConcurrency
        );
        assert_eq!(
            env.xray_daemon_address,
            Some("169.254.79.129:2000".parse().expect("addr"))
        );
        assert_eq!(env.log_format, LogFormat::Json);
        assert_eq!(env.task_root, Some(PathBuf::from("/var/task")));
    }

    #[test]
    fn every_field_reads_the_variable_it_documents() {
        let env = Env::from_vars([
            (vars::AWS_LAMBDA_FUNCTION_NAME, "f"),
            (vars::AWS_LAMBDA_FUNCTION_VERSION, "$LATEST"),
            (vars::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "128"),
            (vars::AWS_DEFAULT_REGION, "eu-north-1"),
            (vars::AWS_LAMBDA_LOG_GROUP_NAME, "/aws/lambda/f"),
            (vars::AWS_LAMBDA_LOG_STREAM_NAME, "2026/01/01/[$LATEST]0"),
            (vars::AWS_LAMBDA_LOG_LEVEL, "DEBUG"),
            (vars::AWS_LAMBDA_INITIALIZATION_TYPE, "snap-start"),
            (vars::AWS_EXECUTION_ENV, "AWS_Lambda_provided.al2023"),
            (vars::AWS_LAMBDA_RUNTIME_API, "127.0.0.1:9001"),
            (vars::AWS_LAMBDA_MAX_CONCURRENCY, "8"),
            (vars::AWS_XRAY_CONTEXT_MISSING, "IGNORE_ERROR"),
            (vars::HANDLER, "bootstrap"),
            (vars::TZ, ":UTC"),
        ])
        .expect("complete");
        assert_eq!(env.region.as_deref(), Some("eu-north-1"));
        assert_eq!(env.log_group.as_deref(), Some("/aws/lambda/f"));
        assert_eq!(env.log_stream.as_deref(), Some("2026/01/01/[$LATEST]0"));
        assert_eq!(env.log_level.as_deref(), Some("DEBUG"));
        assert_eq!(env.initialization_type, InitializationType::SnapStart);
        assert_eq!(
            env.execution_env.as_deref(),
            Some("AWS_Lambda_provided.al2023")
        );
        assert_eq!(env.runtime_api.as_deref(), Some("127.0.0.1:9001"));
        assert_eq!(env.max_concurrency, Some(8));
        assert_eq!(env.xray_context_missing.as_deref(), Some("IGNORE_ERROR"));
        assert_eq!(env.handler.as_deref(), Some("bootstrap"));
        assert_eq!(env.tz.as_deref(), Some(":UTC"));
        assert_eq!(env.log_format, LogFormat::Text);
    }

    #[test]
    fn each_malformed_variable_says_what_it_should_be() {
        let mut vars = lambda_vars();
        vars.retain(|(k, _)| *k != vars::AWS_LAMBDA_LOG_FORMAT);
        vars.push((vars::AWS_LAMBDA_MAX_CONCURRENCY, "many"));
        vars.push((vars::AWS_LAMBDA_LOG_FORMAT, "yaml"));
        let err = Env::from_vars(vars).expect_err("malformed");
        let problems: Vec<_> = err
            .problems
            .iter()
            .map(|p| (p.name, p.problem.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    vars::AWS_LAMBDA_MAX_CONCURRENCY,
                    "`many` is not a whole number (invalid digit found in string)"
                ),
                (
                    vars::AWS_LAMBDA_LOG_FORMAT,
                    "`yaml` is neither `Text` nor `JSON`"
                ),
            ]
        );
    }

    #[test]
    fn the_daemon_two_address_form_yields_the_udp_address() {
        let addr = parse_daemon_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001").expect("valid");
        assert_eq!(addr, "127.0.0.2:2001".parse().expect("addr"));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = Env::from_vars([
            (vars::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "lots"),
            (vars::AWS_XRAY_DAEMON_ADDRESS, "nowhere"),
        ])
        .expect_err("incomplete");
        let names: Vec<_> = err.problems.iter().map(|p| p.name).collect();
        assert_eq!(
            names,
            [
                vars::AWS_LAMBDA_FUNCTION_NAME,
                vars::AWS_LAMBDA_FUNCTION_VERSION,
                vars::AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
                vars::AWS_XRAY_DAEMON_ADDRESS,
            ]
        );
        let text = err.to_string();
        assert!(text.contains("4 problems"), "{text}");
        assert!(
            text.contains("`lots` is not a whole number of MB"),
            "{text}"
        );
        assert!(text.contains("cargo xtask local"), "{text}");
    }
    #[test]
    fn every_form_of_the_runtime_api_address_gives_one_base_url() {
        for (value, base, prefix) in [
            ("127.0.0.1:9001", "http://127.0.0.1:9001/", ""),
            ("localhost:9001", "http://localhost:9001/", ""),
            ("[::1]:9001", "http://[::1]:9001/", ""),
            ("http://127.0.0.1:9001", "http://127.0.0.1:9001/", ""),
            ("HTTP://127.0.0.1:9001/", "http://127.0.0.1:9001/", ""),
            (
                "http://127.0.0.1:9000/.rt",
                "http://127.0.0.1:9000/.rt",
                "/.rt",
            ),
            (
                "http://127.0.0.1:9000/a/b/",
                "http://127.0.0.1:9000/a/b",
                "/a/b",
            ),
        ] {
            let api = RuntimeApi::parse(value).unwrap_or_else(|e| panic!("{value}: {e}"));
            assert_eq!(api.base_uri().to_string(), base, "{value}");
            assert_eq!(api.prefix(), prefix, "{value}");
            // The display form is itself accepted, and means the same endpoint.
            assert_eq!(
                RuntimeApi::parse(&api.to_string()),
                Ok(api.clone()),
                "{value}"
            );
        }
        let cargo_lambda: RuntimeApi = "http://127.0.0.1:9000/.rt".parse().expect("valid");
        assert_eq!(cargo_lambda.authority(), "127.0.0.1:9000");
        assert_eq!(cargo_lambda.to_string(), "http://127.0.0.1:9000/.rt");
    }

    #[test]
    fn unusable_runtime_api_addresses_say_what_is_wrong_and_what_is_expected() {
        for (value, reason) in [
            ("", "empty"),
            ("   ", "whitespace"),
            ("127.0.0.1: 9001", "whitespace"),
            ("ftp://127.0.0.1:21", "scheme `ftp` is not http"),
            ("https://127.0.0.1:9001", "https is not supported"),
            ("127.0.0.1", "no port"),
            ("http://127.0.0.1", "no port"),
            ("http://127.0.0.1:0", "port 0"),
            ("127.0.0.1:99999", "not a number from 1 to 65535"),
            ("127.0.0.1:", "no port"),
            ("a:b:c", "not a number from 1 to 65535"),
            ("a:b:1", "is not host:port"),
            ("http://:9001", "no host"),
            ("http:///.rt", "no host"),
            ("http://user@127.0.0.1:9001", "user credentials"),
            ("http://127.0.0.1:9001/x?y=1", "query"),
        ] {
            let err = RuntimeApi::parse(value).expect_err(value);
            let text = err.to_string();
            assert!(text.contains(reason), "{value:?}: {text}");
            assert!(text.contains(&format!("`{value}`")), "{value:?}: {text}");
            assert!(
                text.contains(
                    "expected `host:port`, `http://host:port` or `http://host:port/prefix`"
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn a_bad_runtime_api_address_is_an_env_problem_and_a_good_one_an_endpoint() {
        let mut vars = lambda_vars();
        vars.push((vars::AWS_LAMBDA_RUNTIME_API, "ftp://x:1"));
        let err = Env::from_vars(vars).expect_err("bad address");
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].name, vars::AWS_LAMBDA_RUNTIME_API);
        assert!(err.problems[0].problem.contains("`ftp://x:1`"), "{err}");

        let mut vars = lambda_vars();
        vars.push((vars::AWS_LAMBDA_RUNTIME_API, "http://127.0.0.1:9000/.rt"));
        let env = Env::from_vars(vars).expect("complete");
        let endpoint = env.runtime_endpoint().expect("usable");
        assert_eq!(endpoint.prefix(), "/.rt");

        let missing = Env::local("f").runtime_endpoint().expect_err("not set");
        assert_eq!(missing.problems[0].problem, "not set");
    }

    proptest::proptest! {
        #[test]
        fn any_string_parses_or_explains_without_panicking(value in "\\PC{0,40}") {
            match RuntimeApi::parse(&value) {
                Ok(api) => {
                    proptest::prop_assert!(api.base_uri().port_u16().is_some());
                    proptest::prop_assert_eq!(RuntimeApi::parse(&api.to_string()), Ok(api));
                }
                Err(e) => proptest::prop_assert!(e.to_string().contains("expected `host:port`")),
            }
        }

        #[test]
        fn url_shaped_strings_parse_or_explain_without_panicking(
            scheme in "(http|https|HTTP|ftp|)(://)?",
            host in "[a-z0-9.:\\[\\]@-]{0,20}",
            port in proptest::option::of(0u32..70000),
            path in "(/[a-zA-Z0-9._~%?#-]{0,8}){0,3}",
        ) {
            let value = match port {
                Some(p) => format!("{scheme}{host}:{p}{path}"),
                None => format!("{scheme}{host}{path}"),
            };
            if let Ok(api) = RuntimeApi::parse(&value) {
                proptest::prop_assert_eq!(api.base_uri().scheme_str(), Some("http"));
                proptest::prop_assert!(!api.authority().is_empty());
            }
        }
    }
}
