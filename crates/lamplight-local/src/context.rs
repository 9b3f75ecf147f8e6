//! What every execution environment shares, and the variables Lambda sets for a function.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::config::FunctionConfig;
use crate::xray::TraceStore;

/// What the service's environments share.
pub(crate) struct ServiceContext {
    pub region: String,
    pub account: String,
    pub traces: Arc<TraceStore>,
    pub xray_addr: SocketAddr,
    /// What functions get as `AWS_XRAY_DAEMON_ADDRESS` (the sink, unless overridden).
    pub daemon_for_functions: SocketAddr,
    pub host_env: Vec<(String, String)>,
    /// The service's own Lambda API, for functions that invoke functions.
    pub lambda_endpoint: String,
}

/// Host variables a function's environment inherits: credentials (as Lambda gives the role's),
/// and the Rust and shell settings a developer expects locally.
pub(crate) const INHERITED: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PATH",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "RUST_LIB_BACKTRACE",
    "LLVM_PROFILE_FILE",
];

impl ServiceContext {
    /// The environment of one execution environment's process, as Lambda sets it.
    pub fn environment_for(
        &self,
        c: &FunctionConfig,
        version: &str,
        task_root: Option<&Path>,
        runtime_api: SocketAddr,
        stream: &str,
    ) -> Vec<(String, String)> {
        let task_root =
            task_root.map_or_else(|| "/var/task".to_owned(), |p| p.display().to_string());
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        vars.insert(
            "PATH".into(),
            "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into(),
        );
        for (k, v) in &self.host_env {
            vars.insert(k.clone(), v.clone());
        }
        let reserved = [
            ("_HANDLER", c.handler.clone()),
            ("AWS_REGION", self.region.clone()),
            ("AWS_DEFAULT_REGION", self.region.clone()),
            ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", c.runtime)),
            ("AWS_LAMBDA_FUNCTION_NAME", c.name.clone()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", c.memory_mb.to_string()),
            ("AWS_LAMBDA_FUNCTION_VERSION", version.to_owned()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            (
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", c.name),
            ),
            ("AWS_LAMBDA_LOG_STREAM_NAME", stream.to_owned()),
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
            (
                "AWS_XRAY_DAEMON_ADDRESS",
                self.daemon_for_functions.to_string(),
            ),
            ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into()),
            ("LAMBDA_TASK_ROOT", task_root.clone()),
            ("LAMBDA_RUNTIME_DIR", task_root),
            ("LANG", "en_US.UTF-8".into()),
            ("TZ", ":UTC".into()),
        ];
        // A function that invokes another reaches this service, not AWS (its own variables can
        // say otherwise), and has credentials to sign with, as Lambda gives every function.
        vars.insert(
            "AWS_ENDPOINT_URL_LAMBDA".into(),
            self.lambda_endpoint.clone(),
        );
        if !vars.contains_key("AWS_ACCESS_KEY_ID") {
            for key in [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
            ] {
                vars.insert(key.into(), "lamplight-local".into());
            }
        }
        if c.log_format.eq_ignore_ascii_case("json") {
            vars.insert("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into());
        }
        for (k, v) in &c.environment {
            vars.insert(k.clone(), v.clone());
        }
        // Reserved variables win over the function's own, as in Lambda.
        for (k, v) in reserved {
            vars.insert(k.to_owned(), v);
        }
        // Lambda Managed Instances tell the runtime how many invocations to poll for at once.
        if let Some(n) = c.max_concurrency {
            vars.insert("AWS_LAMBDA_MAX_CONCURRENCY".into(), n.to_string());
        }
        vars.into_iter().collect()
    }
}
