//! The function registry: functions by name, their versions and aliases, and their handles.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use crate::config::{Code, FunctionConfig};
use crate::context::ServiceContext;
use crate::deployment::{CodePackage, Deployment};
use crate::error::ApiError;
use crate::invocation::{MAX_RECORDS, Outcome, Record};
use crate::logs::LogSink;

/// A log line as it is echoed: function, log stream, line.
pub type Echo = Arc<dyn Fn(&str, &str, &str) + Send + Sync>;

/// Called with the function name and outcome of every synchronous invocation.
pub type Observer = Arc<dyn Fn(&str, &Outcome) + Send + Sync>;

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

    /// Kills the environments of `$LATEST` and of every published version now, with no
    /// shutdown sequence.
    pub fn kill_every_version(&self) {
        self.deployment().kill_all();
        let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        for (deployment, _) in versions.published.values() {
            deployment.kill_all();
        }
    }

    /// How many environments `$LATEST` and the published versions have alive.
    pub fn environments_of_every_version(&self) -> usize {
        let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        self.deployment().environments()
            + versions
                .published
                .values()
                .map(|(d, _)| d.environments())
                .sum::<usize>()
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

pub(crate) struct Registry {
    pub ctx: Arc<ServiceContext>,
    pub functions: RwLock<BTreeMap<String, Arc<Function>>>,
    /// Names a CreateFunction is unpacking code for: taken under the registry lock, so a
    /// second CreateFunction of the name is refused instead of silently replacing the first.
    reserved: Mutex<BTreeSet<String>>,
    pub workdir: PathBuf,
    echo: Option<Echo>,
    pub(crate) observer: Option<Observer>,
    /// Per function: the gate invocations pass on their way in, which a reload holds shut
    /// while it rebuilds, so they run on the new code instead of failing or racing it.
    gates: Mutex<BTreeMap<String, Arc<tokio::sync::RwLock<()>>>>,
    /// The newest synchronous invocations, oldest first, for the page at `/lamplight/`.
    records: Mutex<VecDeque<Record>>,
}

impl Registry {
    /// An empty registry; `echo` sees every function's log lines, `observer` every synchronous
    /// invocation's outcome.
    pub fn new(
        ctx: Arc<ServiceContext>,
        workdir: PathBuf,
        echo: Option<Echo>,
        observer: Option<Observer>,
    ) -> Self {
        Self {
            ctx,
            functions: RwLock::default(),
            reserved: Mutex::default(),
            workdir,
            echo,
            observer,
            gates: Mutex::default(),
            records: Mutex::default(),
        }
    }

    /// Remembers a finished invocation, dropping the oldest past [`MAX_RECORDS`].
    pub(crate) fn record(&self, record: Record) {
        let mut records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.push_back(record);
        while records.len() > MAX_RECORDS {
            records.pop_front();
        }
    }

    /// What `each` makes of the remembered invocations, newest first.
    pub(crate) fn records<T>(&self, each: impl FnMut(&Record) -> T) -> Vec<T> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.iter().rev().map(each).collect()
    }

    /// The remembered invocation `request_id`.
    pub(crate) fn record_of(&self, request_id: &str) -> Option<Record> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records.iter().find(|r| r.request_id == request_id).cloned()
    }

    /// Shuts the gate of `name` until the guard is dropped; waits for no invocation.
    pub(crate) async fn hold(&self, name: &str) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        let gate = {
            let mut gates = self
                .gates
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            gates.entry(name.to_owned()).or_default().clone()
        };
        // Invocations hold the gate only while passing it, so this waits for none of them.
        gate.write_owned().await
    }

    /// Waits while a reload holds the gate of the function `reference` names (only functions
    /// that were ever held have a gate: a name from a request never makes one).
    pub(crate) async fn pass_gate(&self, reference: &str) {
        let Ok((name, _)) = parse_reference(reference) else {
            return;
        };
        let gate = self
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&name)
            .cloned();
        if let Some(gate) = gate {
            drop(gate.read().await);
        }
    }
}

/// A function registered with the service: its logs and environments, and for an external
/// runtime the address its process needs.
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
    /// A handle on `function`; `runtime_api` only for an external function's first environment.
    pub(crate) fn new(function: Arc<Function>, runtime_api: Option<SocketAddr>) -> Self {
        Self {
            function,
            runtime_api,
        }
    }

    /// The name it was registered under.
    pub fn name(&self) -> &str {
        &self.function.name
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
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

/// A function name held by one CreateFunction while it unpacks; released when dropped.
pub(crate) struct Reservation {
    registry: Arc<Registry>,
    name: String,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.registry
            .reserved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.name);
    }
}

impl Registry {
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
            registry: self.clone(),
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
        Ok(FunctionHandle::new(function, runtime_api))
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
    if lamplight_limits::is_function_name(name) {
        Ok(())
    } else {
        Err(ApiError::validation_name(name))
    }
}
