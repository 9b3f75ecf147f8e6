//! A deployment: one version of a function's code and configuration, and its environment pool.
//!
//! Warm environments wait in `/next`, new ones start on demand up to the limit, and
//! invocations queue when every environment is busy.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::config::{Code, FunctionConfig};
use crate::context::ServiceContext;
use crate::environment::Environment;
use crate::host::EnvironmentHost;
use crate::invocation::Pending;
use crate::logs::LogSink;

/// A deployment package the service unpacked into its work directory. Every deployment running
/// it (`$LATEST`, the versions published from it) holds it; the directory goes when the last of
/// them is dropped, which is after their environments' processes have exited (an environment
/// holds its deployment until then), or sooner through [`CodePackage::remove_now`] once a deleted
/// function's environments are gone. Without this every UpdateFunctionCode would leave its
/// predecessor on disk for the life of the service.
#[derive(Debug)]
pub(crate) struct CodePackage {
    dir: PathBuf,
    removed: AtomicBool,
}

impl CodePackage {
    /// Takes charge of `dir` (which need not exist yet): it is removed when this is dropped.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            removed: AtomicBool::new(false),
        }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Removes the directory now, on this thread (callers are on a blocking thread, or know
    /// the package is small); later calls and the drop do nothing.
    pub fn remove_now(&self) {
        if !self.removed.swap(true, Ordering::AcqRel) {
            remove_tree(&self.dir);
        }
    }
}

impl Drop for CodePackage {
    fn drop(&mut self) {
        if self.removed.swap(true, Ordering::AcqRel) {
            return;
        }
        let dir = std::mem::take(&mut self.dir);
        // Removing up to 250 MB of files must not stall an async worker.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || remove_tree(&dir));
            }
            Err(_) => remove_tree(&dir),
        }
    }
}

fn remove_tree(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove the unpacked code {}: {e}", dir.display());
    }
}

/// Waits (bounded) until none of `deployments` has an environment left, then removes their
/// unpacked code: for a deleted function, whose processes [`Deployment::stop_all`] has killed.
pub(crate) async fn remove_code_when_stopped(deployments: Vec<Arc<Deployment>>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while deployments.iter().any(|d| d.environments() > 0) {
        if tokio::time::Instant::now() >= deadline {
            // A process outlived SIGKILL's delivery: leave the directory to the last drop.
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let packages: Vec<Arc<CodePackage>> = deployments
        .iter()
        .filter_map(|d| d.package.clone())
        .collect();
    let _ = tokio::task::spawn_blocking(move || {
        for package in packages {
            package.remove_now();
        }
    })
    .await;
}

/// Why an invocation was not admitted.
#[derive(Debug)]
pub(crate) struct QueueFull {
    pub max_environments: usize,
    pub max_queued: usize,
}

pub(crate) struct Deployment {
    pub config: FunctionConfig,
    pub arn: String,
    pub version: String,
    /// `LAMBDA_TASK_ROOT`: where the code lives.
    pub task_root: Option<PathBuf>,
    /// The unpacked package at `task_root`, when the service unpacked it (not for a bootstrap
    /// path the user gave, which is theirs).
    pub package: Option<Arc<CodePackage>>,
    pub logs: LogSink,
    pub ctx: Arc<ServiceContext>,
    pool: Mutex<Pool>,
    retired: AtomicBool,
    next_env: AtomicU64,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Arc<Environment>>,
    all: Vec<Arc<Environment>>,
    /// Environments being started: counted against the limit before they exist.
    starting: usize,
    /// Environments that answered their invocation and have not polled again yet: they will
    /// take queued work within moments, so it waits for them instead of starting another.
    returning: usize,
    waiting: VecDeque<Pending>,
}

impl Pool {
    fn size(&self) -> usize {
        self.all.len() + self.starting
    }
}

impl Deployment {
    pub fn new(
        config: FunctionConfig,
        arn: String,
        task_root: Option<PathBuf>,
        package: Option<Arc<CodePackage>>,
        logs: LogSink,
        ctx: Arc<ServiceContext>,
    ) -> Arc<Self> {
        Arc::new(Self {
            config,
            arn,
            version: "$LATEST".into(),
            task_root,
            package,
            logs,
            ctx,
            pool: Mutex::default(),
            retired: AtomicBool::new(false),
            next_env: AtomicU64::new(1),
        })
    }

    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A published version: the same code and configuration, its own environments.
    pub fn published(&self, version: u64) -> Arc<Self> {
        Arc::new(Self {
            config: self.config.clone(),
            arn: self.arn.clone(),
            version: version.to_string(),
            task_root: self.task_root.clone(),
            package: self.package.clone(),
            logs: self.logs.clone(),
            ctx: self.ctx.clone(),
            pool: Mutex::default(),
            retired: AtomicBool::new(false),
            next_env: AtomicU64::new(1),
        })
    }

    /// Starts the one environment of an external runtime, which waits for a process the user
    /// starts; returns its Runtime API address.
    pub async fn start_external(self: &Arc<Self>) -> std::io::Result<std::net::SocketAddr> {
        self.pool().starting += 1;
        let id = self.next_env.fetch_add(1, Ordering::Relaxed);
        match Environment::start(self.clone(), id, None).await {
            Ok(env) => Ok(env.runtime_api()),
            Err((e, _)) => {
                self.pool().starting -= 1;
                Err(e)
            }
        }
    }

    /// Hands `pending` to a warm environment, starts a new one, or queues it (without a bound:
    /// for invocations already admitted, moving between environments or deployments).
    pub async fn dispatch(self: &Arc<Self>, pending: Pending) {
        match self.place(pending, false) {
            Ok(Some(first)) => self.start_environment(first).await,
            Ok(None) => {}
            // Unbounded placement always finds a place.
            Err((pending, _)) => self.pool().waiting.push_back(pending),
        }
    }

    /// Admits a new invocation: hands it to a warm environment or queues it, and returns it
    /// when a new environment must be started for it ([`Self::start_environment`]). Refuses
    /// it when `max_queued` invocations already wait, as Lambda throttles at its limit.
    // The error hands the caller's own value back, not a new allocation worth boxing.
    #[allow(clippy::result_large_err)]
    pub fn admit(
        self: &Arc<Self>,
        pending: Pending,
    ) -> Result<Option<Pending>, (Pending, QueueFull)> {
        self.place(pending, true)
    }

    #[allow(clippy::result_large_err)]
    fn place(
        &self,
        mut pending: Pending,
        bounded: bool,
    ) -> Result<Option<Pending>, (Pending, QueueFull)> {
        let mut pool = self.pool();
        if self.config.max_concurrency.is_some() {
            // Managed Instances: fill the running environments (oldest first) before
            // starting another; each refuses work beyond its concurrency.
            for env in &pool.all {
                match env.assign(pending) {
                    Ok(()) => return Ok(None),
                    Err(back) => pending = back,
                }
            }
            // An environment still starting will poll for n at once: what fits waits for it
            // rather than starting yet another one.
            let n = self.config.concurrency();
            if pool.starting * n > pool.starting + pool.waiting.len() {
                pool.waiting.push_back(pending);
                return Ok(None);
            }
        }
        loop {
            let Some(env) = pool.idle.pop() else { break };
            match env.assign(pending) {
                Ok(()) => return Ok(None),
                Err(back) => pending = back,
            }
        }
        let external = self.config.code == Code::External;
        let returning_soon = pool.returning > pool.waiting.len();
        if !external
            && !returning_soon
            && pool.size() < self.config.max_environments
            && !self.is_retired()
        {
            // Reserve the place now so concurrent dispatches count it.
            pool.starting += 1;
            return Ok(Some(pending));
        }
        if bounded && pool.waiting.len() >= self.config.max_queued {
            return Err((
                pending,
                QueueFull {
                    max_environments: self.config.max_environments,
                    max_queued: self.config.max_queued,
                },
            ));
        }
        pool.waiting.push_back(pending);
        Ok(None)
    }

    /// Starts an environment for `first`, whose place [`Self::admit`] reserved.
    pub fn start_environment(
        self: &Arc<Self>,
        first: Pending,
    ) -> futures_util::future::BoxFuture<'static, ()> {
        self.spawn_environment(first)
    }

    /// Boxed with an explicit `Send`: starting an environment can, through its exit, start
    /// another, and the compiler cannot see through that cycle on its own.
    fn spawn_environment(
        self: &Arc<Self>,
        first: Pending,
    ) -> futures_util::future::BoxFuture<'static, ()> {
        let this = self.clone();
        Box::pin(async move { this.spawn_environment_now(first).await })
    }

    async fn spawn_environment_now(self: Arc<Self>, first: Pending) {
        let id = self.next_env.fetch_add(1, Ordering::Relaxed);
        if let Err((e, first)) = Environment::start(self.clone(), id, Some(first)).await {
            self.pool().starting -= 1;
            if let Some(pending) = first {
                let outcome = crate::invocation::Outcome::failed(
                    &pending,
                    "Runtime.Unknown",
                    format!(
                        "RequestId: {} Error: could not start an execution environment: {e}",
                        pending.request_id
                    ),
                    String::new(),
                );
                if let Some(reply) = pending.reply {
                    let _ = reply.send(outcome);
                }
            }
        }
    }

    /// The last process of a retired deployment is gone: its code can go now, unless a
    /// deployment still in use shares it (a version published from it, or the successor of a
    /// configuration-only update). Waiting for the drop instead would keep it for as long as
    /// anything still holds a finished environment.
    fn remove_code_if_unshared(&self) {
        let Some(package) = &self.package else {
            return;
        };
        // Deployments are the only holders, and no new one can share a retired deployment's
        // package: a count of one is this deployment alone.
        if Arc::strong_count(package) == 1 {
            let package = package.clone();
            tokio::task::spawn_blocking(move || package.remove_now());
        }
    }

    fn fail_external(&self, pending: Pending) {
        let outcome = crate::invocation::Outcome::failed(
            &pending,
            "Runtime.ExitError",
            format!(
                "RequestId: {} Error: the external runtime exited; start it again",
                pending.request_id
            ),
            String::new(),
        );
        if let Some(reply) = pending.reply {
            let _ = reply.send(outcome);
        }
    }

    /// Stops taking work: idle environments stop now, busy ones after their invocation;
    /// queued invocations move to `successor` (or fail when the function is deleted).
    pub async fn retire(self: &Arc<Self>, successor: Option<Arc<Deployment>>) {
        self.retired.store(true, Ordering::Release);
        let (idle, waiting) = {
            let mut pool = self.pool();
            (
                std::mem::take(&mut pool.idle),
                std::mem::take(&mut pool.waiting),
            )
        };
        for env in idle {
            env.shut_down(crate::extensions::ShutdownReason::Spindown);
        }
        if self.config.max_concurrency.is_some() {
            let all = self.pool().all.clone();
            // Busy ones stop when their last invocation ends.
            for env in all.iter().filter(|e| e.is_unloaded()) {
                env.stop();
            }
        }
        for pending in waiting {
            match &successor {
                Some(next) => next.dispatch(pending).await,
                None => {
                    let outcome = crate::invocation::Outcome::failed(
                        &pending,
                        "ResourceNotFoundException",
                        format!("Function not found: {}", self.arn),
                        String::new(),
                    );
                    if let Some(reply) = pending.reply {
                        let _ = reply.send(outcome);
                    }
                }
            }
        }
    }

    /// Shuts every environment down (busy ones included): at once, or after `SHUTDOWN` and
    /// the grace period when extensions are registered.
    pub fn stop_all(&self) {
        let all = self.pool().all.clone();
        for env in all {
            env.shut_down(crate::extensions::ShutdownReason::Spindown);
        }
    }

    /// Kills every environment now, extensions or not (the service being dropped).
    pub fn kill_all(&self) {
        let all = self.pool().all.clone();
        for env in all {
            env.stop();
        }
    }

    /// The Runtime API of the first environment, for external runtimes.
    pub fn external_runtime_api(&self) -> Option<std::net::SocketAddr> {
        if self.config.code != Code::External {
            return None;
        }
        self.pool().all.first().map(|e| e.runtime_api())
    }

    /// How many environments are alive.
    pub fn environments(&self) -> usize {
        self.pool().all.len()
    }
}

/// The pool's side of its environments' lifecycle: the only implementation of these, so an
/// environment (which cannot import this module) reaches its pool through them.
impl EnvironmentHost for Deployment {
    type Environment = Environment;

    fn config(&self) -> &FunctionConfig {
        &self.config
    }

    fn arn(&self) -> &str {
        &self.arn
    }

    fn version(&self) -> &str {
        &self.version
    }

    fn task_root(&self) -> Option<&Path> {
        self.task_root.as_deref()
    }

    fn logs(&self) -> &LogSink {
        &self.logs
    }

    fn context(&self) -> &ServiceContext {
        &self.ctx
    }

    fn register(&self, env: Arc<Environment>) {
        let mut pool = self.pool();
        pool.starting -= 1;
        pool.all.push(env);
    }

    fn next_for(&self, env: &Arc<Environment>) -> Option<Pending> {
        let mut pool = self.pool();
        if let Some(next) = pool.waiting.pop_front() {
            return Some(next);
        }
        // Concurrent environments are found through `all` by their load, not parked idle.
        if !self.is_retired() && self.config.max_concurrency.is_none() {
            pool.idle.push(env.clone());
        }
        None
    }

    fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    fn returning(&self) {
        self.pool().returning += 1;
    }

    fn returned(&self) {
        let mut pool = self.pool();
        pool.returning = pool.returning.saturating_sub(1);
    }

    fn requeue(self: Arc<Self>, pending: Pending) -> BoxFuture<'static, ()> {
        Box::pin(async move { self.dispatch(pending).await })
    }

    fn environment_gone(self: Arc<Self>, env_id: u64) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let next = {
                let mut pool = self.pool();
                pool.idle.retain(|e| e.id() != env_id);
                pool.all.retain(|e| e.id() != env_id);
                if self.is_retired() && pool.size() == 0 {
                    self.remove_code_if_unshared();
                }
                if pool.size() < self.config.max_environments && !self.is_retired() {
                    let next = pool.waiting.pop_front();
                    if next.is_some() && self.config.code != Code::External {
                        pool.starting += 1;
                    }
                    next
                } else {
                    None
                }
            };
            if let Some(next) = next {
                if self.config.code == Code::External {
                    // An external runtime that exits cannot be restarted by the service.
                    self.fail_external(next);
                } else {
                    self.spawn_environment(next).await;
                }
            }
        })
    }
}
