//! The running service: functions, the Invoke and control-plane API, the X-Ray sink.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use lamplight_xray::{Sampling, SegmentId, TraceHeader, TraceId};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::config::{Code, FunctionConfig};
use crate::deployment::{CodePackage, Deployment};
use crate::error::ApiError;
use crate::invocation::{FunctionResult, Outcome, Pending, TraceContext};
use crate::logs::LogSink;
use crate::xray::{TraceStore, XraySink};

/// The largest synchronous invocation payload (6 MB).
pub const MAX_SYNC_PAYLOAD: usize = 6_291_456;
/// The largest asynchronous (Event) invocation payload (1 MB since October 2025).
pub const MAX_EVENT_PAYLOAD: usize = 1_048_576;
/// The most bytes of log returned by `X-Amz-Log-Type: Tail`.
pub const LOG_TAIL_BYTES: usize = 4096;

/// A log line as it is echoed: function, log stream, line.
pub type Echo = Arc<dyn Fn(&str, &str, &str) + Send + Sync>;

/// Called with the function name and outcome of every synchronous invocation.
pub type Observer = Arc<dyn Fn(&str, &Outcome) + Send + Sync>;

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
const INHERITED: &[&str] = &[
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
        d: &Deployment,
        runtime_api: SocketAddr,
        stream: &str,
    ) -> Vec<(String, String)> {
        let c = &d.config;
        let task_root = d
            .task_root
            .as_deref()
            .map_or_else(|| "/var/task".to_owned(), |p| p.display().to_string());
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
            ("AWS_LAMBDA_FUNCTION_VERSION", d.version.clone()),
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
        vars.into_iter().collect()
    }
}

/// Code and bookkeeping of a function, as GetFunction reports them.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: String,
    pub revision_id: String,
    pub tags: BTreeMap<String, String>,
}

impl Meta {
    pub fn new(code: &[u8]) -> Self {
        Self {
            code_sha256: BASE64.encode(Sha256::digest(code)),
            code_size: code.len() as u64,
            last_modified: last_modified_now(),
            revision_id: uuid::Uuid::new_v4().to_string(),
            tags: BTreeMap::new(),
        }
    }

    pub fn touch(&mut self) {
        self.last_modified = last_modified_now();
        self.revision_id = uuid::Uuid::new_v4().to_string();
    }
}

fn last_modified_now() -> String {
    let text = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
    format!("{}+0000", text.trim_end_matches('Z'))
}

pub(crate) struct Function {
    pub name: String,
    pub arn: String,
    pub logs: LogSink,
    current: Mutex<Arc<Deployment>>,
    pub meta: Mutex<Meta>,
    pub versions: Mutex<Versions>,
}

/// Published versions and aliases.
#[derive(Default)]
pub(crate) struct Versions {
    pub published: BTreeMap<u64, (Arc<Deployment>, Meta)>,
    /// The `$LATEST` revision the newest version was published from.
    pub last_revision: Option<String>,
    pub aliases: BTreeMap<String, Alias>,
}

/// An alias: a name for a version.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    pub version: u64,
    pub description: String,
    pub revision_id: String,
}

impl Function {
    pub fn deployment(&self) -> Arc<Deployment> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Stops the environments of `$LATEST` and of every published version, busy ones included.
    pub fn stop_every_version(&self) {
        self.deployment().stop_all();
        let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        for (deployment, _) in versions.published.values() {
            deployment.stop_all();
        }
    }

    /// Replaces the deployment (new code or configuration): new invocations go to the new one.
    pub async fn redeploy(&self, next: Arc<Deployment>) {
        let previous = std::mem::replace(
            &mut *self.current.lock().unwrap_or_else(|e| e.into_inner()),
            next.clone(),
        );
        previous.retire(Some(next)).await;
    }
}

/// Where the service listens, and what it echoes.
pub struct LocalLambdaBuilder {
    api_addr: SocketAddr,
    xray_addr: SocketAddr,
    region: String,
    account: String,
    echo: Option<Echo>,
    observer: Option<Observer>,
    daemon_for_functions: Option<SocketAddr>,
    functions: Vec<FunctionConfig>,
    allowed_origins: Vec<String>,
    allowed_hosts: Vec<String>,
    work_parent: Option<PathBuf>,
}

impl Default for LocalLambdaBuilder {
    fn default() -> Self {
        Self {
            api_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            xray_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            echo: None,
            observer: None,
            daemon_for_functions: None,
            functions: Vec::new(),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            work_parent: None,
        }
    }
}

impl LocalLambdaBuilder {
    /// Listens for the Invoke and control-plane API on `addr` (default: a free loopback port).
    pub fn api_addr(mut self, addr: SocketAddr) -> Self {
        self.api_addr = addr;
        self
    }

    /// Listens for X-Ray segments on `addr` (default: a free loopback port).
    pub fn xray_addr(mut self, addr: SocketAddr) -> Self {
        self.xray_addr = addr;
        self
    }

    /// Gives functions another `AWS_XRAY_DAEMON_ADDRESS` than the sink's (a real daemon, or an
    /// address nothing listens on, to see that functions do not wait for it).
    pub fn function_daemon_address(mut self, addr: SocketAddr) -> Self {
        self.daemon_for_functions = Some(addr);
        self
    }

    /// The region functions run in (default `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Calls `echo(function, stream, line)` for every log line as it is written.
    pub fn echo(mut self, echo: Echo) -> Self {
        self.echo = Some(echo);
        self
    }

    /// Calls `observer(function, outcome)` when each synchronous invocation ends.
    pub fn observe(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Registers a function at start.
    pub fn function(mut self, config: FunctionConfig) -> Self {
        self.functions.push(config);
        self
    }

    /// Serves browser requests from `origin` (`https://app.example`, scheme and host and port
    /// as the browser sends them in `Origin`), answering them with CORS headers. Without it only
    /// loopback origins are served: any web page could otherwise drive the service, which runs
    /// code with your AWS credentials.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// Serves requests whose `Host` is `host` (a name, `name:port`, or an IP address), besides
    /// loopback and the address the service is bound to: for a proxy or a container name.
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// Creates the work directory (unpacked deployment packages) inside `dir` instead of the
    /// system's temporary directory.
    pub fn work_dir_in(mut self, dir: impl Into<PathBuf>) -> Self {
        self.work_parent = Some(dir.into());
        self
    }

    /// Starts the service.
    pub async fn start(self) -> Result<LocalLambda, ApiError> {
        let io = |what: &str, e: std::io::Error| ApiError::service(format!("{what}: {e}"));
        let xray = XraySink::bind(self.xray_addr).await.map_err(|e| {
            io(
                &format!("could not bind the X-Ray sink to {}", self.xray_addr),
                e,
            )
        })?;
        let workdir = match &self.work_parent {
            Some(parent) => tempfile::Builder::new()
                .prefix("lamplight-local-")
                .tempdir_in(parent),
            None => tempfile::Builder::new()
                .prefix("lamplight-local-")
                .tempdir(),
        }
        .map_err(|e| io("could not create a work directory", e))?;
        let host_env = INHERITED
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| ((*k).to_owned(), v)))
            .collect();
        let listener = tokio::net::TcpListener::bind(self.api_addr)
            .await
            .map_err(|e| io(&format!("could not listen on {}", self.api_addr), e))?;
        let api_addr = listener
            .local_addr()
            .map_err(|e| io("no local address", e))?;
        let ctx = Arc::new(ServiceContext {
            region: self.region,
            account: self.account,
            traces: xray.store().clone(),
            xray_addr: xray.addr(),
            daemon_for_functions: self.daemon_for_functions.unwrap_or(xray.addr()),
            host_env,
            lambda_endpoint: format!("http://{api_addr}"),
        });
        let inner = Arc::new(ServiceInner {
            ctx,
            functions: RwLock::default(),
            reserved: Mutex::default(),
            workdir: workdir.path().to_owned(),
            echo: self.echo,
            observer: self.observer,
        });
        let access = crate::api::Access::new(api_addr, self.allowed_origins, self.allowed_hosts);
        let server = tokio::spawn(crate::api::serve(listener, inner.clone(), access));
        let service = LocalLambda {
            inner,
            api_addr,
            server,
            xray,
            _workdir: workdir,
        };
        for config in self.functions {
            service.add_function(config).await?;
        }
        Ok(service)
    }
}

pub(crate) struct ServiceInner {
    pub ctx: Arc<ServiceContext>,
    pub functions: RwLock<BTreeMap<String, Arc<Function>>>,
    /// Names a CreateFunction is unpacking code for: taken under the registry lock, so a
    /// second CreateFunction of the name is refused instead of silently replacing the first.
    reserved: Mutex<BTreeSet<String>>,
    pub workdir: PathBuf,
    echo: Option<Echo>,
    observer: Option<Observer>,
}

/// A local Lambda service: run functions, invoke them through the Lambda API, read their logs
/// and traces.
pub struct LocalLambda {
    inner: Arc<ServiceInner>,
    api_addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    xray: XraySink,
    _workdir: tempfile::TempDir,
}

impl std::fmt::Debug for LocalLambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLambda")
            .field("endpoint", &self.endpoint_url())
            .field("xray", &self.xray.addr())
            .finish_non_exhaustive()
    }
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        self.server.abort();
        if let Ok(functions) = self.inner.functions.read() {
            for f in functions.values() {
                f.stop_every_version();
            }
        }
    }
}

/// A registered function.
#[derive(Clone)]
pub struct FunctionHandle {
    function: Arc<Function>,
    runtime_api: Option<SocketAddr>,
}

impl std::fmt::Debug for FunctionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionHandle")
            .field("name", &self.function.name)
            .field("runtime_api", &self.runtime_api)
            .finish()
    }
}

impl FunctionHandle {
    /// The function's name.
    pub fn name(&self) -> &str {
        &self.function.name
    }

    /// The function's ARN.
    pub fn arn(&self) -> &str {
        &self.function.arn
    }

    /// For [`Code::External`]: the `host:port` to give the runtime as `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> Option<SocketAddr> {
        self.runtime_api
    }

    /// The function's log lines, grouped by log stream (one per execution environment).
    pub fn log_streams(&self) -> BTreeMap<String, Vec<String>> {
        self.function.logs.streams()
    }

    /// How many execution environments are alive.
    pub fn environments(&self) -> usize {
        self.function.deployment().environments()
    }
}

impl LocalLambda {
    /// A builder.
    pub fn builder() -> LocalLambdaBuilder {
        LocalLambdaBuilder::default()
    }

    /// `http://127.0.0.1:<port>`: the endpoint URL for `aws-sdk-lambda` and the AWS CLI.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// The address of the Invoke API.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The work directory: deployment packages uploaded through the API are unpacked below it,
    /// and it is removed when the service is dropped.
    pub fn work_dir(&self) -> &Path {
        self._workdir.path()
    }

    /// The X-Ray sink's address (`AWS_XRAY_DAEMON_ADDRESS` of every function).
    pub fn xray_addr(&self) -> SocketAddr {
        self.xray.addr()
    }

    /// Every trace received.
    pub fn traces(&self) -> &Arc<TraceStore> {
        self.xray.store()
    }

    /// Registers a function (replacing one of the same name).
    pub async fn add_function(&self, config: FunctionConfig) -> Result<FunctionHandle, ApiError> {
        let code = match &config.code {
            Code::Bootstrap(path) => std::fs::read(path).map_err(|e| {
                ApiError::invalid_parameter(format!(
                    "cannot read the bootstrap {}: {e}",
                    path.display()
                ))
            })?,
            Code::External => Vec::new(),
        };
        let task_root = match &config.code {
            Code::Bootstrap(path) => path.parent().map(Path::to_owned),
            Code::External => None,
        };
        self.inner
            .register(config, Meta::new(&code), task_root, None, true)
            .await
    }

    /// The Runtime API address of an external function's environment (see [`Code::External`]).
    pub fn external_runtime_api(&self, name: &str) -> Option<SocketAddr> {
        let f = self.inner.functions.read().ok()?.get(name).cloned()?;
        f.deployment().external_runtime_api()
    }

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<FunctionHandle> {
        let f = self.inner.functions.read().ok()?.get(name).cloned()?;
        Some(FunctionHandle {
            function: f,
            runtime_api: None,
        })
    }

    /// Runs one Invoke call in-process (no HTTP), exactly as the Invoke API would.
    pub async fn call(&self, request: InvokeRequest) -> Result<InvokeResponse, ApiError> {
        self.inner.invoke(request).await
    }

    /// Invokes `function` synchronously in-process (no HTTP), as the Invoke API would.
    pub async fn invoke(
        &self,
        function: &str,
        payload: impl Into<Bytes>,
    ) -> Result<Outcome, ApiError> {
        let request = InvokeRequest {
            function: function.to_owned(),
            payload: payload.into(),
            ..InvokeRequest::default()
        };
        let response = self.inner.invoke(request).await?;
        response
            .outcome
            .ok_or_else(|| ApiError::service("the invocation ended without an outcome"))
    }
}

/// How the caller wants the function invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvocationType {
    /// Wait for the result.
    #[default]
    RequestResponse,
    /// Queue it and return 202.
    Event,
    /// Validate the request only.
    DryRun,
}

/// One Invoke call.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    /// Name, partial ARN, or ARN, optionally with `:qualifier`.
    pub function: String,
    /// `Qualifier` query parameter.
    pub qualifier: Option<String>,
    /// `X-Amz-Invocation-Type`.
    pub invocation_type: InvocationType,
    /// `X-Amz-Log-Type: Tail`.
    pub log_tail: bool,
    /// The event.
    pub payload: Bytes,
    /// `X-Amz-Client-Context` (base64 JSON).
    pub client_context: Option<String>,
    /// `X-Amzn-Trace-Id` of the caller.
    pub trace_header: Option<String>,
}

/// What an Invoke call returns.
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    /// 200, 202 or 204.
    pub status: u16,
    /// The function's response or error document.
    pub payload: Bytes,
    /// `X-Amz-Function-Error`.
    pub function_error: Option<String>,
    /// `X-Amz-Log-Result`: base64 of the last 4 KB of the invocation's logs.
    pub log_result: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: String,
    /// The request id.
    pub request_id: String,
    /// `X-Amzn-Trace-Id` of the invocation.
    pub trace_header: Option<String>,
    /// The full outcome (synchronous invocations).
    pub outcome: Option<Outcome>,
}

/// A function name held by one CreateFunction while it unpacks; released when dropped.
pub(crate) struct Reservation {
    inner: Arc<ServiceInner>,
    name: String,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.inner
            .reserved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.name);
    }
}

impl ServiceInner {
    /// Holds `name` for a CreateFunction: refused (409) when a function or another
    /// CreateFunction has it.
    pub(crate) fn reserve(self: &Arc<Self>, name: &str) -> Result<Reservation, ApiError> {
        let functions = self
            .functions
            .read()
            .map_err(|_| ApiError::service("function registry poisoned"))?;
        let mut reserved = self.reserved.lock().unwrap_or_else(|e| e.into_inner());
        if functions.contains_key(name) || !reserved.insert(name.to_owned()) {
            return Err(ApiError::conflict(format!(
                "Function already exist: {name}"
            )));
        }
        Ok(Reservation {
            inner: self.clone(),
            name: name.to_owned(),
        })
    }

    /// Registers a function; with `replace` false, refuses (409) a name already registered.
    pub(crate) async fn register(
        self: &Arc<Self>,
        config: FunctionConfig,
        meta: Meta,
        task_root: Option<PathBuf>,
        package: Option<Arc<CodePackage>>,
        replace: bool,
    ) -> Result<FunctionHandle, ApiError> {
        validate_name(&config.name)?;
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.ctx.region, self.ctx.account, config.name
        );
        let logs = match &self.echo {
            Some(echo) => {
                let echo = echo.clone();
                let name = config.name.clone();
                LogSink::with_echo(Arc::new(move |stream: &str, line: &str| {
                    echo(&name, stream, line)
                }))
            }
            None => LogSink::default(),
        };
        let external = config.code == Code::External;
        let deployment = Deployment::new(
            config.clone(),
            arn.clone(),
            task_root,
            package,
            logs.clone(),
            self.ctx.clone(),
        );
        let runtime_api = if external {
            Some(
                deployment
                    .start_external()
                    .await
                    .map_err(|e| ApiError::service(format!("could not open a Runtime API: {e}")))?,
            )
        } else {
            None
        };
        let function = Arc::new(Function {
            name: config.name.clone(),
            arn,
            logs,
            current: Mutex::new(deployment),
            meta: Mutex::new(meta),
            versions: Mutex::default(),
        });
        let previous = {
            let mut functions = self
                .functions
                .write()
                .map_err(|_| ApiError::service("function registry poisoned"))?;
            if !replace && functions.contains_key(&config.name) {
                drop(functions);
                function.deployment().stop_all();
                return Err(ApiError::conflict(format!(
                    "Function already exist: {}",
                    config.name
                )));
            }
            functions.insert(config.name.clone(), function.clone())
        };
        if let Some(previous) = previous {
            previous.deployment().retire(None).await;
            previous.stop_every_version();
        }
        Ok(FunctionHandle {
            function,
            runtime_api,
        })
    }

    pub(crate) fn find(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<Function>, String), ApiError> {
        self.find_deployment(reference, qualifier)
            .map(|(f, _, v)| (f, v))
    }

    /// The function, the deployment a qualifier (`$LATEST`, a version, an alias) names, and the
    /// version it runs.
    pub(crate) fn find_deployment(
        &self,
        reference: &str,
        qualifier: Option<&str>,
    ) -> Result<(Arc<Function>, Arc<Deployment>, String), ApiError> {
        let (name, qualifier_in_name) = parse_reference(reference)?;
        let qualifier = qualifier.or(qualifier_in_name.as_deref());
        let not_found = || {
            let arn = format!(
                "arn:aws:lambda:{}:{}:function:{name}",
                self.ctx.region, self.ctx.account
            );
            let arn = match qualifier {
                Some(q) => format!("{arn}:{q}"),
                None => arn,
            };
            ApiError::not_found(format!("Function not found: {arn}"))
        };
        let function = self
            .functions
            .read()
            .ok()
            .and_then(|f| f.get(&name).cloned())
            .ok_or_else(not_found)?;
        let resolved = {
            let versions = function.versions.lock().unwrap_or_else(|e| e.into_inner());
            match qualifier {
                None | Some("$LATEST") => None,
                Some(q) => {
                    let number = q
                        .parse::<u64>()
                        .ok()
                        .or_else(|| versions.aliases.get(q).map(|a| a.version));
                    match number
                        .and_then(|n| versions.published.get(&n).map(|(d, _)| (n, d.clone())))
                    {
                        Some((n, d)) => Some((d, n.to_string())),
                        None => return Err(not_found()),
                    }
                }
            }
        };
        match resolved {
            Some((deployment, version)) => Ok((function, deployment, version)),
            None => {
                let deployment = function.deployment();
                Ok((function, deployment, "$LATEST".into()))
            }
        }
    }

    pub(crate) async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, ApiError> {
        let (function, deployment, version) =
            self.find_deployment(&request.function, request.qualifier.as_deref())?;
        let limit = match request.invocation_type {
            InvocationType::Event => MAX_EVENT_PAYLOAD,
            _ => MAX_SYNC_PAYLOAD,
        };
        if request.payload.len() > limit {
            return Err(ApiError::too_large(format!(
                "Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )));
        }
        let payload = if request.payload.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&request.payload) {
                return Err(ApiError::invalid_content(format!(
                    "Could not parse request body into json: Could not parse payload into json: {e}"
                )));
            }
            request.payload
        };
        let client_context = match &request.client_context {
            None => None,
            Some(encoded) => Some(
                BASE64
                    .decode(encoded)
                    .ok()
                    .and_then(|raw| String::from_utf8(raw).ok())
                    .filter(|text| {
                        serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_object())
                    })
                    .ok_or_else(|| {
                        ApiError::invalid_content(
                            "Client context must be a valid Base64-encoded JSON object.".into(),
                        )
                    })?,
            ),
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let trace = trace_context(request.trace_header.as_deref(), deployment.config.tracing);
        let trace_header = format!(
            "Root={};Parent={};Sampled={}",
            trace.root,
            trace.service_segment,
            u8::from(trace.sampled)
        );
        if request.invocation_type == InvocationType::DryRun {
            return Ok(InvokeResponse {
                status: 204,
                payload: Bytes::new(),
                function_error: None,
                log_result: None,
                executed_version: version,
                request_id,
                trace_header: Some(trace_header),
                outcome: None,
            });
        }
        let (reply, outcome) = oneshot::channel();
        let pending = Pending {
            request_id: request_id.clone(),
            payload,
            invoked_arn: match request.qualifier.as_deref() {
                Some(q) => format!("{}:{q}", function.arn),
                None => function.arn.clone(),
            },
            client_context,
            identity: None,
            trace,
            received_at: SystemTime::now(),
            reply: (request.invocation_type == InvocationType::RequestResponse).then_some(reply),
        };
        let start = deployment.admit(pending).map_err(|(_, full)| {
            ApiError::throttled(
                format!(
                    "Rate Exceeded. Function {} has {} busy execution environment(s) and {} invocation(s) waiting for them; \
                     lamplight-local throttles the rest. Raise FunctionConfig::max_queued or max_environments to let more wait or run.",
                    function.name, full.max_environments, full.max_queued
                ),
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            )
        })?;
        if request.invocation_type == InvocationType::Event {
            if let Some(first) = start {
                tokio::spawn(deployment.start_environment(first));
            }
            return Ok(InvokeResponse {
                status: 202,
                payload: Bytes::new(),
                function_error: None,
                log_result: None,
                executed_version: version,
                request_id,
                trace_header: Some(trace_header),
                outcome: None,
            });
        }
        if let Some(first) = start {
            deployment.start_environment(first).await;
        }
        let outcome = outcome.await.map_err(|_| {
            ApiError::service("the execution environment went away without an answer")
        })?;
        if let Some(observer) = &self.observer {
            observer(&function.name, &outcome);
        }
        let (payload, function_error) = match &outcome.result {
            FunctionResult::Response(body) => (body.clone(), None),
            FunctionResult::Error { body, .. } => (body.clone(), Some("Unhandled".to_owned())),
        };
        let log_result = request.log_tail.then(|| {
            let logs = outcome.logs.as_bytes();
            let mut start = logs.len().saturating_sub(LOG_TAIL_BYTES);
            // Keep the tail valid UTF-8.
            while start < logs.len() && (logs[start] & 0b1100_0000) == 0b1000_0000 {
                start += 1;
            }
            BASE64.encode(&logs[start..])
        });
        Ok(InvokeResponse {
            status: 200,
            payload,
            function_error,
            log_result,
            executed_version: version,
            request_id,
            trace_header: Some(trace_header),
            outcome: Some(outcome),
        })
    }
}

fn trace_context(header: Option<&str>, mode: crate::config::TracingMode) -> TraceContext {
    let caller: Option<TraceHeader> = header.and_then(|h| h.parse().ok());
    let sampled = match (&caller, mode) {
        (Some(h), crate::config::TracingMode::Active) => h.sampling != Sampling::NotSampled,
        (None, crate::config::TracingMode::Active) => true,
        (Some(h), crate::config::TracingMode::PassThrough) => h.sampling == Sampling::Sampled,
        (None, crate::config::TracingMode::PassThrough) => false,
    };
    TraceContext {
        root: caller
            .as_ref()
            .map_or_else(TraceId::generate, |h| h.root.clone()),
        caller_parent: caller.as_ref().and_then(|h| h.parent),
        service_segment: SegmentId::generate(),
        function_segment: SegmentId::generate(),
        sampled,
    }
}

/// Splits `name`, `name:qualifier`, `account:function:name[:q]` or a full ARN.
fn parse_reference(reference: &str) -> Result<(String, Option<String>), ApiError> {
    let parts: Vec<&str> = reference.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        [_, "function", name] => (*name, None),
        [_, "function", name, q] => (*name, Some(*q)),
        ["arn", _, "lambda", _, _, "function", name] => (*name, None),
        ["arn", _, "lambda", _, _, "function", name, q] => (*name, Some(*q)),
        _ => return Err(ApiError::validation_name(reference)),
    };
    validate_name(name)?;
    Ok((name.to_owned(), qualifier.map(str::to_owned)))
}

/// A function name as Lambda accepts it: the only names that may become a path.
pub(crate) fn validate_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation_name(name))
    }
}
