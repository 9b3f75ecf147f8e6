//! An execution environment's lifecycle: the runtime spawned, watched until it exits, its
//! output captured, and everything it ran torn down.
//!
//! What an exit means for the invocations (finish, requeue, fail init) is the environment's;
//! this module only knows processes, pipes and tasks, so it imports nothing above them.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use futures_util::future::BoxFuture;
use tokio::io::AsyncRead;
use tokio::task::AbortHandle;

use crate::output::Output;
use crate::process::{Process, describe};

/// Called once when the runtime is gone, with its exit status (`None` when there was no
/// process, or its status could not be read).
pub(crate) type OnExit = Box<dyn FnOnce(Option<ExitStatus>) -> BoxFuture<'static, ()> + Send>;

/// One line the runtime wrote, to log.
pub(crate) type OnLine = Arc<dyn Fn(String) + Send + Sync>;

/// The runtime could not be started: the text Lambda gives such an init error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SpawnError(String);

/// What the runtime's process is started with.
pub(crate) struct Launch {
    pub path: PathBuf,
    pub env: Vec<(String, String)>,
    pub cwd: Option<PathBuf>,
}

pub(crate) struct Lifecycle {
    started: Instant,
    started_at: SystemTime,
    process: Process,
    output: Output,
    /// The task serving this environment's Runtime API, stopped when the runtime is gone.
    server: Mutex<Option<AbortHandle>>,
}

impl Lifecycle {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            started: Instant::now(),
            started_at: SystemTime::now(),
            process: Process::default(),
            output: Output::default(),
            server: Mutex::new(None),
        })
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// The runtime's pid, for its peak memory.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    pub fn serving(&self, server: AbortHandle) {
        *self.server.lock().unwrap_or_else(|e| e.into_inner()) = Some(server);
    }

    /// Spawns the runtime in its own process group, logs its output through `log` and calls
    /// `exited` once it is gone.
    pub fn spawn(
        self: &Arc<Self>,
        launch: Launch,
        log: OnLine,
        exited: OnExit,
    ) -> Result<(), SpawnError> {
        let path = &launch.path;
        let mut command = tokio::process::Command::new(path);
        command
            .env_clear()
            .envs(launch.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, so that stopping the environment can end everything the
            // runtime started, not only the runtime.
            .process_group(0)
            .kill_on_drop(true);
        if let Some(root) = &launch.cwd {
            command.current_dir(root);
        }
        let spawned = if path.exists() {
            command.spawn()
        } else {
            Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such file",
            ))
        };
        let mut child = spawned.map_err(|e| SpawnError(spawn_failure(path, &e)))?;
        let group = self.process.adopt(&child);
        if let Some(stdout) = child.stdout.take() {
            self.capture(stdout, log.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            self.capture(stderr, log);
        }
        let watcher = self.clone();
        tokio::spawn(async move {
            let status = watcher.process.wait(child, group).await;
            exited(status).await;
        });
        Ok(())
    }

    /// For an external runtime, which has no process here: `exited` is called on [`Self::stop`].
    pub fn watch_external(self: &Arc<Self>, exited: OnExit) {
        let watcher = self.clone();
        tokio::spawn(async move {
            watcher.process.stopped().await;
            exited(None).await;
        });
    }

    fn capture<R: AsyncRead + AsFd + Unpin + Send + 'static>(&self, pipe: R, log: OnLine) {
        self.output.capture(pipe, move |line| log(line));
    }

    /// Kills the runtime's process group now (callers include `Drop`, when no task may run
    /// again); the watcher then calls its `exited`.
    pub fn stop(&self) {
        self.process.stop();
    }

    /// Sends the runtime's process group SIGTERM (graceful shutdown); [`Self::stop`] follows
    /// after the grace period.
    pub fn terminate(&self) {
        self.process.terminate();
    }

    /// Waits (briefly) until what the runtime already wrote is logged.
    pub async fn drain(&self) {
        self.output.drain().await;
    }

    /// After the runtime is gone: stops its Runtime API and logs the rest of its output.
    pub async fn tear_down(&self) {
        if let Some(server) = self.server.lock().unwrap_or_else(|e| e.into_inner()).take() {
            server.abort();
        }
        self.output.drain().await;
        self.output.close();
    }
}

/// Why the runtime ended, as Lambda words it after `Error: `.
pub(crate) fn exit_reason(status: Option<ExitStatus>) -> String {
    match status {
        Some(s) if s.success() => "Runtime exited without providing a reason".to_owned(),
        Some(s) => format!("Runtime exited with error: {}", describe(s)),
        None => "Runtime exited".to_owned(),
    }
}

fn spawn_failure(path: &Path, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("Couldn't find valid bootstrap(s): [{}]", path.display())
    } else {
        format!("fork/exec {}: {e}", path.display())
    }
}
