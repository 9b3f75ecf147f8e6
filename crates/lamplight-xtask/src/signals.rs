//! How `cargo xtask local` stops: on SIGINT, SIGTERM or SIGHUP it shuts the service down (every
//! function's process group killed, its work directory removed) and exits as the signal would.

use anyhow::{Context, Result};
use lamplight_local::LocalLambda;

/// A signal that stops `cargo xtask local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// SIGHUP (the terminal went away).
    HangUp,
}

impl StopSignal {
    /// The signal's number.
    pub fn number(self) -> i32 {
        match self {
            Self::HangUp => 1,
            Self::Interrupt => 2,
            Self::Terminate => 15,
        }
    }

    /// The exit status a shell reports for a process the signal ended: 128 plus its number.
    pub fn exit_code(self) -> i32 {
        128 + self.number()
    }

    /// `SIGINT`, `SIGTERM` or `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            Self::HangUp => "SIGHUP",
            Self::Interrupt => "SIGINT",
            Self::Terminate => "SIGTERM",
        }
    }
}

/// Handlers for the signals that stop the service. Once installed, those signals no longer end
/// the process: [`StopSignals::recv`] reports them instead.
#[derive(Debug)]
pub struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hang_up: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs handlers for SIGINT, SIGTERM and SIGHUP.
    pub fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot handle {name}"))
        };
        Ok(Self {
            interrupt: install(SignalKind::interrupt(), "SIGINT")?,
            terminate: install(SignalKind::terminate(), "SIGTERM")?,
            hang_up: install(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// The next stop signal.
    pub async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
            _ = self.hang_up.recv() => StopSignal::HangUp,
        }
    }
}

/// Runs until a stop signal arrives, then shuts `service` down; returns the signal.
pub async fn stop_on_signal(service: LocalLambda, mut signals: StopSignals) -> StopSignal {
    let signal = signals.recv().await;
    shutdown(service).await;
    signal
}

/// Stops the service: every execution environment shuts down as Lambda's do (with extensions,
/// SHUTDOWN and SIGTERM, then a kill after the grace period of at most 2 s; without, a kill at
/// once), then the service's work directory is removed. All of it happens before this returns,
/// so the process may exit right after.
pub async fn shutdown(service: LocalLambda) {
    service.shutdown().await;
    // `LocalLambda`'s `Drop` kills what is left, synchronously, and its temporary work
    // directory is removed as it is dropped.
    drop(service);
}
