//! The environment Lambda gives a function: every reserved variable as a documented constant, and
//! [`Env`], their typed view, read once per execution environment.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

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
    /// `host:port` of the Runtime API.
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
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let get = |name: &str| vars.get(name).filter(|v| !v.is_empty()).cloned();
        let mut problems = Vec::new();
        let mut required = |name: &'static str| {
            get(name).unwrap_or_else(|| {
                problems.push(EnvProblem {
                    name,
                    problem: "not set".into(),
                });
                String::new()
            })
        };
        let function_name = required(vars::AWS_LAMBDA_FUNCTION_NAME);
        let function_version = required(vars::AWS_LAMBDA_FUNCTION_VERSION);
        let memory = required(vars::AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
        let memory_mb = if memory.is_empty() {
            0
        } else {
            memory.parse().unwrap_or_else(|e| {
                problems.push(EnvProblem {
                    name: vars::AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
                    problem: format!("`{memory}` is not a whole number of MB ({e})"),
                });
                0
            })
        };
        let max_concurrency = get(vars::AWS_LAMBDA_MAX_CONCURRENCY).and_then(|v| {
            v.parse()
                .map_err(|e| {
                    problems.push(EnvProblem {
                        name: vars::AWS_LAMBDA_MAX_CONCURRENCY,
                        problem: format!("`{v}` is not a whole number ({e})"),
                    })
                })
                .ok()
        });
        let xray_daemon_address = get(vars::AWS_XRAY_DAEMON_ADDRESS).and_then(|v| {
            parse_daemon_address(&v)
                .map_err(|problem| {
                    problems.push(EnvProblem {
                        name: vars::AWS_XRAY_DAEMON_ADDRESS,
                        problem,
                    })
                })
                .ok()
        });
        let log_format = match get(vars::AWS_LAMBDA_LOG_FORMAT) {
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(v) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
            None => LogFormat::Text,
            Some(v) => {
                problems.push(EnvProblem {
                    name: vars::AWS_LAMBDA_LOG_FORMAT,
                    problem: format!("`{v}` is neither `Text` nor `JSON`"),
                });
                LogFormat::Text
            }
        };
        if !problems.is_empty() {
            return Err(EnvError { problems });
        }
        Ok(Self {
            function_name,
            function_version,
            memory_mb,
            region: get(vars::AWS_REGION).or_else(|| get(vars::AWS_DEFAULT_REGION)),
            log_group: get(vars::AWS_LAMBDA_LOG_GROUP_NAME),
            log_stream: get(vars::AWS_LAMBDA_LOG_STREAM_NAME),
            log_format,
            log_level: get(vars::AWS_LAMBDA_LOG_LEVEL),
            initialization_type: get(vars::AWS_LAMBDA_INITIALIZATION_TYPE)
                .map_or(InitializationType::OnDemand, |v| {
                    InitializationType::parse(&v)
                }),
            execution_env: get(vars::AWS_EXECUTION_ENV),
            runtime_api: get(vars::AWS_LAMBDA_RUNTIME_API),
            max_concurrency,
            xray_daemon_address,
            xray_context_missing: get(vars::AWS_XRAY_CONTEXT_MISSING),
            handler: get(vars::HANDLER),
            task_root: get(vars::LAMBDA_TASK_ROOT).map(PathBuf::from),
            tz: get(vars::TZ),
        })
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
}
