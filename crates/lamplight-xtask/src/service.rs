//! The local service as `cargo xtask local` and `watch` run it: the `lamplight-local` program,
//! built optimized once per lamplight version, started with a spec on its stdin, driven by
//! commands, stopped with the signals that stop `cargo xtask`.
//!
//! Why a second process: `cargo xtask` is built in cargo's `dev` profile (the first `cargo
//! xtask` compiles the AWS SDKs; optimizing them would cost minutes), and an unoptimized service
//! answers several times slower than the same code optimized. The service's own dependency
//! graph is small (no SDK), so building it optimized is a one-time cost of about a minute.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lamplight_local::serve::{Command, Spec, StopSignals};
use tokio::io::AsyncWriteExt as _;
use tokio::process::{Child, ChildStdin};

/// The cargo profile the service is built with: release, minus what makes a release slow to
/// build (fat or thin LTO, one codegen unit) and what the service does not need (debug info).
/// Given on cargo's command line (`--config`), so no workspace has to declare it.
const PROFILE: &str = "lamplight-service";
const PROFILE_SETTINGS: &[&str] = &[
    "inherits=\"release\"",
    "opt-level=3",
    "lto=false",
    "codegen-units=16",
    "debug=false",
    "incremental=false",
    "strip=false",
    "panic=\"unwind\"",
];

/// How long a started service may take to listen.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// After a forwarded signal, how long the service may take to stop before it is killed.
const STOP_WITHIN: Duration = Duration::from_secs(10);

/// The optimized `lamplight-local` program being built (or found fresh) by cargo.
pub(crate) struct Build {
    cargo: std::process::Child,
    binary: PathBuf,
}

impl Build {
    /// Starts building the program of the workspace at `root`, from the `lamplight-local` crate
    /// in its lockfile: the same source as this `cargo xtask`. Its profile has a directory (and
    /// a cargo lock) of its own, so the functions' debug builds can run meanwhile.
    pub(crate) fn start(root: &Path, target_dir: &Path) -> Result<Self> {
        let binary = target_dir.join(PROFILE).join("lamplight-local");
        let mut cargo =
            std::process::Command::new(std::env::var_os("CARGO").unwrap_or("cargo".into()));
        cargo
            .current_dir(root)
            .args([
                "build",
                "--package",
                "lamplight-local",
                "--bin",
                "lamplight-local",
            ])
            .args(["--profile", PROFILE]);
        for setting in PROFILE_SETTINGS {
            cargo
                .arg("--config")
                .arg(format!("profile.{PROFILE}.{setting}"));
        }
        if binary.exists() {
            // Almost always fresh: cargo only checks, and says nothing.
            cargo.arg("--quiet");
        } else {
            eprintln!(
                "building the local Lambda service, optimized (once per lamplight version; about a minute) ..."
            );
        }
        let cargo = cargo
            .spawn()
            .context("cannot run cargo to build the local Lambda service")?;
        Ok(Self { cargo, binary })
    }

    /// Waits for the build: the program's path.
    pub(crate) fn finish(mut self) -> Result<PathBuf> {
        let status = self
            .cargo
            .wait()
            .context("waiting for cargo to build the local Lambda service")?;
        if !status.success() {
            bail!(
                "building the local Lambda service (`lamplight-local`, profile {PROFILE}) failed ({status}); cargo's errors are above"
            );
        }
        if !self.binary.exists() {
            bail!(
                "cargo built the local Lambda service but {} is missing",
                self.binary.display()
            );
        }
        Ok(self.binary.clone())
    }
}

impl Drop for Build {
    /// A build given up on (a function failed to build first) does not go on in the background.
    fn drop(&mut self) {
        if let Ok(None) = self.cargo.try_wait() {
            let _ = self.cargo.kill();
            let _ = self.cargo.wait();
        }
    }
}

/// The running service.
pub(crate) struct Service {
    child: Child,
}

/// Where commands go to the running service.
pub(crate) struct Control {
    stdin: ChildStdin,
}

impl Service {
    /// Starts `binary` with `spec`, and returns once it listens (or with why it stopped).
    pub(crate) async fn start(binary: &Path, spec: &Spec) -> Result<(Self, Control)> {
        let mut child = tokio::process::Command::new(binary)
            .stdin(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdin = child
            .stdin
            .take()
            .context("the local Lambda service has no stdin")?;
        let mut control = Control { stdin };
        let line = serde_json::to_vec(spec).context("writing the service's spec")?;
        // A service that stopped at once cannot take its spec; the wait below says why.
        let _ = control.write_line(line).await;
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().context("waiting for the local service")? {
                // It said why on stderr.
                bail!("the local Lambda service stopped before serving ({status})");
            }
            if tokio::net::TcpStream::connect(spec.api_addr).await.is_ok() {
                break;
            }
            if started.elapsed() > READY_WITHIN {
                let _ = child.start_kill();
                bail!(
                    "the local Lambda service did not listen on {} within {} s",
                    spec.api_addr,
                    READY_WITHIN.as_secs()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok((Self { child }, control))
    }

    /// Waits for the service to stop, forwarding the stop signals this process receives (a
    /// supervisor may signal `cargo xtask` alone, not its process group); returns the exit
    /// status to end with, as a shell would report the service's.
    pub(crate) async fn wait(mut self, mut signals: StopSignals) -> Result<i32> {
        let mut deadline: Option<tokio::time::Instant> = None;
        loop {
            let kill_at = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = self.child.wait() => {
                    return Ok(exit_code(status.context("waiting for the local service")?));
                }
                signal = signals.recv() => {
                    if let Some(pid) = self.child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                        let signal = match signal.number() {
                            1 => rustix::process::Signal::HUP,
                            2 => rustix::process::Signal::INT,
                            _ => rustix::process::Signal::TERM,
                        };
                        let _ = rustix::process::kill_process(pid, signal);
                    }
                    deadline.get_or_insert(tokio::time::Instant::now() + STOP_WITHIN);
                }
                () = kill_at => {
                    eprintln!("the local Lambda service did not stop within {} s: killed", STOP_WITHIN.as_secs());
                    let _ = self.child.start_kill();
                    deadline = None;
                }
            }
        }
    }
}

impl Control {
    /// Sends one command; fails when the service has stopped.
    pub(crate) async fn send(&mut self, command: &Command) -> Result<()> {
        let line = serde_json::to_vec(command).context("writing a command")?;
        self.write_line(line)
            .await
            .context("the local Lambda service has stopped")
    }

    async fn write_line(&mut self, mut line: Vec<u8>) -> std::io::Result<()> {
        line.push(b'\n');
        self.stdin.write_all(&line).await?;
        self.stdin.flush().await
    }
}

/// The status to exit with: the service's code, or 128 + the signal that ended it.
fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_death_is_reported_as_a_shell_would() {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(exit_code(ExitStatus::from_raw(2)), 130);
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 143);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
    }
}
