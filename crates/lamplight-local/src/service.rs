//! The service facade: [`LocalLambdaBuilder`] starts it, [`LocalLambda`] runs it.
//!
//! The builder binds the API, the X-Ray sink and the work directory; the service registers
//! and invokes functions in-process. The wire types live in the private modules below and are
//! re-exported here.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::config::{Code, FunctionConfig};
use crate::context::{INHERITED, ServiceContext};
use crate::error::ApiError;
use crate::front::Front;
use crate::invocation::Outcome;
use crate::registry::{Meta, Registry};
use crate::xray::{TraceStore, XraySink};

pub use crate::front::{AccessEntry, AccessLog, FUNCTION_PREFIX};
pub use crate::invoke::{
    InvocationType, InvokeRequest, InvokeResponse, LOG_TAIL_BYTES, MAX_EVENT_PAYLOAD,
    MAX_SYNC_PAYLOAD,
};
pub use crate::registry::{Echo, FunctionHandle, Observer};
pub use lamplight_proxy::Shape as HttpShape;

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
    http_addr: Option<SocketAddr>,
    http_functions: BTreeMap<String, HttpShape>,
    access_log: Option<AccessLog>,
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
            http_addr: None,
            http_functions: BTreeMap::new(),
            access_log: None,
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

    /// Serves the HTTP front on `addr` (plain HTTP, see [`Self::http_function`]); without it the
    /// service has no front.
    pub fn http_addr(mut self, addr: SocketAddr) -> Self {
        self.http_addr = Some(addr);
        self
    }

    /// Serves the function `name` (registered with [`Self::function`]) on the HTTP front, each
    /// request turned into the event of its trigger: `shape`. It is reached at
    /// `/lambda-url/<name>/<path>`, and at every path when it is the only HTTP function.
    pub fn http_function(mut self, name: impl Into<String>, shape: HttpShape) -> Self {
        self.http_functions.insert(name.into(), shape);
        self
    }

    /// Calls `log` with each HTTP front request's [`AccessEntry`] instead of printing its line on
    /// stdout.
    pub fn access_log(mut self, log: AccessLog) -> Self {
        self.access_log = Some(log);
        self
    }

    /// Binds the API and the X-Ray sink, creates the work directory and registers the
    /// functions given so far.
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
        let registry = Arc::new(Registry::new(
            ctx,
            workdir.path().to_owned(),
            self.echo,
            self.observer,
        ));
        let access =
            crate::api::Access::new(api_addr, self.allowed_origins, self.allowed_hosts.clone());
        let server = tokio::spawn(crate::api::serve(listener, registry.clone(), access));
        let http_listener = match self.http_addr {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| io(&format!("could not listen for HTTP on {addr}"), e))?,
            ),
            None => None,
        };
        let mut service = LocalLambda {
            registry,
            api_addr,
            server,
            http: None,
            xray,
            _workdir: workdir,
        };
        for config in self.functions {
            service.add_function(config).await?;
        }
        if let Some(listener) = http_listener {
            if let Some(missing) = self
                .http_functions
                .keys()
                .find(|name| service.function(name).is_none())
            {
                return Err(ApiError::invalid_parameter(format!(
                    "the HTTP function `{missing}` is not a function of the service"
                )));
            }
            let addr = listener
                .local_addr()
                .map_err(|e| io("no local address", e))?;
            let front = Front {
                access: crate::api::Access::new(addr, Vec::new(), self.allowed_hosts.clone()),
                functions: self.http_functions.clone(),
                log: self.access_log,
            };
            let task = tokio::spawn(crate::front::serve(
                listener,
                service.registry.clone(),
                front,
            ));
            service.http = Some(HttpFront {
                addr,
                functions: self.http_functions,
                task,
            });
        }
        Ok(service)
    }
}

/// A local Lambda service: run functions, invoke them through the Lambda API, read their logs
/// and traces.
pub struct LocalLambda {
    registry: Arc<Registry>,
    api_addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    http: Option<HttpFront>,
    xray: XraySink,
    _workdir: tempfile::TempDir,
}

/// The HTTP front, when the service has one.
struct HttpFront {
    addr: SocketAddr,
    functions: BTreeMap<String, HttpShape>,
    task: tokio::task::JoinHandle<()>,
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
        if let Some(http) = &self.http {
            http.task.abort();
        }
        if let Ok(functions) = self.registry.functions.read() {
            // No task may run after this: no grace period, the process groups die now
            // ([`LocalLambda::shutdown`] is the graceful way).
            for f in functions.values() {
                f.kill_every_version();
            }
        }
    }
}

impl LocalLambda {
    /// A builder, for loopback ports chosen by the system and `us-east-1`.
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

    /// The HTTP front's address, when it has one ([`LocalLambdaBuilder::http_addr`]).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|h| h.addr)
    }

    /// The HTTP functions and their triggers' shapes.
    pub fn http_functions(&self) -> BTreeMap<String, HttpShape> {
        self.http
            .as_ref()
            .map(|h| h.functions.clone())
            .unwrap_or_default()
    }

    /// `http://127.0.0.1:<port>/lambda-url/<name>/`: where the HTTP front serves `name`.
    pub fn http_url(&self, name: &str) -> Option<String> {
        let http = self.http.as_ref()?;
        http.functions
            .contains_key(name)
            .then(|| format!("http://{}{FUNCTION_PREFIX}{name}/", http.addr))
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
    /// A relative bootstrap path is taken from this process's current directory: the
    /// function's runtime starts elsewhere (in its task root), where it would mean nothing.
    pub async fn add_function(
        &self,
        mut config: FunctionConfig,
    ) -> Result<FunctionHandle, ApiError> {
        let code = match &mut config.code {
            Code::Bootstrap(path) => {
                let given = path.clone();
                *path = std::path::absolute(&given).map_err(|e| {
                    ApiError::invalid_parameter(format!(
                        "the bootstrap path {} of {}: {e}",
                        given.display(),
                        config.name
                    ))
                })?;
                std::fs::read(&*path).map_err(|e| {
                    let as_given = if given.is_relative() {
                        format!(" (given as {})", given.display())
                    } else {
                        String::new()
                    };
                    ApiError::invalid_parameter(format!(
                        "cannot read the bootstrap of {} at {}{as_given}: {e}; build it first, or give the path of an executable",
                        config.name,
                        path.display()
                    ))
                })?
            }
            Code::External => Vec::new(),
        };
        let task_root = match &config.code {
            Code::Bootstrap(path) => path.parent().map(Path::to_owned),
            Code::External => None,
        };
        self.registry
            .register(config, Meta::new(&code), task_root, None, true)
            .await
    }

    /// The Runtime API address of an external function's environment (see [`Code::External`]).
    pub fn external_runtime_api(&self, name: &str) -> Option<SocketAddr> {
        let f = self.registry.functions.read().ok()?.get(name).cloned()?;
        f.deployment().external_runtime_api()
    }

    /// The function called `name`.
    pub fn function(&self, name: &str) -> Option<FunctionHandle> {
        let f = self.registry.functions.read().ok()?.get(name).cloned()?;
        Some(FunctionHandle::new(f, None))
    }

    /// Holds new invocations of `name` (through the API or in-process) until the returned
    /// guard is dropped, as `cargo xtask watch` does while it rebuilds: they then run on
    /// whatever is registered by then. Invocations already running are not waited for.
    pub async fn hold(&self, name: &str) -> Hold {
        Hold {
            _gate: self.registry.hold(name).await,
        }
    }

    /// Shuts every execution environment down as Lambda does and waits until they are gone:
    /// environments with extensions get `SHUTDOWN` (and their runtime SIGTERM) and the grace
    /// period (500 ms, 2 s with an external extension) before they are killed; others are
    /// killed at once. Call it before dropping the service to stop gracefully (dropping it
    /// kills everything at once). The service stays usable: new invocations start new
    /// environments.
    pub async fn shutdown(&self) {
        let functions: Vec<_> = match self.registry.functions.read() {
            Ok(functions) => functions.values().cloned().collect(),
            Err(_) => return,
        };
        for f in &functions {
            f.stop_every_version();
        }
        // The longest grace period, and time for the kill to be reaped.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while functions
            .iter()
            .any(|f| f.environments_of_every_version() > 0)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs one Invoke call in-process (no HTTP), exactly as the Invoke API would.
    pub async fn call(&self, request: InvokeRequest) -> Result<InvokeResponse, ApiError> {
        self.registry.invoke(request).await
    }

    /// Runs one call in-process (no HTTP) as InvokeWithResponseStream would: the response's
    /// bytes as the function streams them, then the end of the invocation. Errors of the call
    /// itself (no such function, throttled) come back before anything is streamed.
    pub async fn call_streaming(
        &self,
        request: InvokeRequest,
    ) -> Result<crate::ResponseStream, ApiError> {
        crate::response_stream::invoke_streaming(self.registry.clone(), request)
            .await
            .map(crate::ResponseStream::new)
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
        let response = self.registry.invoke(request).await?;
        response
            .outcome
            .ok_or_else(|| ApiError::service("the invocation ended without an outcome"))
    }
}

/// New invocations of a function wait while this lives ([`LocalLambda::hold`]).
#[must_use = "invocations are held only while the guard lives"]
pub struct Hold {
    _gate: tokio::sync::OwnedRwLockWriteGuard<()>,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hold")
    }
}
