//! A runtime's process: spawned in its own group, watched until exit, killed with its children.

use std::process::ExitStatus;
use std::sync::Mutex;

use rustix::process::{Pid, Signal};
use tokio::process::Child;
use tokio::sync::Notify;

/// The process side of an execution environment. An external runtime has no process: then only
/// [`Process::stop`] and [`Process::stopped`] matter.
#[derive(Default)]
pub(crate) struct Process {
    pid: Mutex<Option<u32>>,
    /// The runtime's process group while it may have members: the `bootstrap` leads it, and
    /// whatever it starts (a shell script's children) joins it, so one signal ends them all.
    group: Mutex<Option<Pid>>,
    stop: Notify,
}

impl Process {
    /// The runtime's pid, once spawned (for its peak memory).
    pub fn pid(&self) -> Option<u32> {
        *self.pid.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `child` (spawned with `process_group(0)`) as the runtime and returns its group.
    pub fn adopt(&self, child: &Child) -> Option<Pid> {
        *self.pid.lock().unwrap_or_else(|e| e.into_inner()) = child.id();
        // With `process_group(0)` the group id is the child's pid.
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        *self.group.lock().unwrap_or_else(|e| e.into_inner()) = group;
        group
    }

    /// Waits until `child` exits, or kills it on [`Process::stop`]; either way what it left
    /// running in `group` is killed too. `None` when its status could not be read.
    pub async fn wait(&self, mut child: Child, group: Option<Pid>) -> Option<ExitStatus> {
        // Ends the group if this future is dropped unfinished (the runtime shutting down).
        let guard = GroupGuard(group);
        let status = tokio::select! {
            status = child.wait() => status.ok(),
            () = self.stop.notified() => {
                let _ = child.start_kill();
                child.wait().await.ok()
            }
        };
        // The runtime is gone: so is its environment, with whatever it left running.
        // Forget the group first so no later `stop` signals a group id the kernel may
        // have handed out again once every member is gone.
        self.group.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(guard);
        status
    }

    /// Resolves on [`Process::stop`]: how an external runtime's environment learns it ends.
    pub async fn stopped(&self) {
        self.stop.notified().await;
    }

    /// Asks the process group to stop (SIGTERM), as Lambda does at shutdown when an extension
    /// is registered; [`Process::stop`] kills it if it is still there after the grace period.
    pub fn terminate(&self) {
        if let Some(group) = *self.group.lock().unwrap_or_else(|e| e.into_inner()) {
            signal_group(group, Signal::TERM);
        }
    }

    /// Kills the process group now (callers include `Drop`, when no task may run again), then
    /// wakes the watcher.
    pub fn stop(&self) {
        if let Some(group) = *self.group.lock().unwrap_or_else(|e| e.into_inner()) {
            kill_group(group);
        }
        self.stop.notify_one();
    }
}

/// An exit status as Lambda words it in `Runtime exited with error: ...`.
pub(crate) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(9)) => "signal: killed".into(),
        (None, Some(6)) => "signal: aborted".into(),
        (None, Some(11)) => "signal: segmentation fault".into(),
        (None, Some(sig)) => format!("signal: {sig}"),
        (None, None) => status.to_string(),
    }
}

/// Sends SIGKILL to every process in `group`. A group with no members left is not an error.
fn kill_group(group: Pid) {
    signal_group(group, Signal::KILL);
}

fn signal_group(group: Pid, signal: Signal) {
    match rustix::process::kill_process_group(group, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => tracing::warn!("could not signal process group {group:?}: {e}"),
    }
}

/// Kills a runtime's process group when dropped: when its watcher ends, however it ends.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            kill_group(group);
        }
    }
}
