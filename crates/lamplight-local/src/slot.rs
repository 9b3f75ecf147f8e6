//! An execution environment's invocation slot: what the Runtime API sees of it.
//!
//! The invocation handed to it and not yet taken, the one its runtime is running, and the init
//! and liveness state the Runtime API answers from.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::invocation::Pending;
use crate::logs::InvocationLog;

/// Holds at most one handed-over invocation: an environment runs one at a time, so a second
/// `assign` fails and the pool keeps it.
pub(crate) struct Slot {
    tx: mpsc::Sender<Pending>,
    rx: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    state: Mutex<SlotState>,
}

#[derive(Default)]
pub(crate) struct SlotState {
    pub init_duration: Option<Duration>,
    pub init_error: Option<(String, Bytes)>,
    pub init_timed_out: bool,
    pub served: u64,
    pub in_flight: Option<InFlight>,
    /// Answered an invocation and has not polled again yet.
    pub returning: bool,
    /// Lines since the last invocation ended (init output, then the current invocation's).
    pub log: InvocationLog,
    pub dead: bool,
}

pub(crate) struct InFlight {
    pub pending: Pending,
    pub started: Instant,
    pub started_at: SystemTime,
    pub cold: bool,
    pub timer: AbortHandle,
}

impl Slot {
    /// A slot already holding `first`, the invocation the environment starts for.
    pub fn new(first: Option<Pending>) -> Self {
        let (tx, rx) = mpsc::channel(1);
        if let Some(first) = first {
            // A fresh channel of capacity 1 always takes one.
            let _ = tx.try_send(first);
        }
        Self {
            tx,
            rx: tokio::sync::Mutex::new(rx),
            state: Mutex::default(),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `pending` over; gives it back when the environment is gone or already holds one.
    // The error is the caller's own value coming back, not a new allocation worth boxing.
    #[allow(clippy::result_large_err)]
    pub fn assign(&self, pending: Pending) -> Result<(), Pending> {
        if self.state().dead {
            return Err(pending);
        }
        self.tx.try_send(pending).map_err(|e| e.into_inner())
    }

    /// The handed-over invocations, for the one `/next` poll allowed to wait on them at a time.
    pub async fn queue(&self) -> tokio::sync::MutexGuard<'_, mpsc::Receiver<Pending>> {
        self.rx.lock().await
    }

    /// Takes no more invocations and returns those handed over but never started.
    pub async fn close(&self) -> Vec<Pending> {
        let mut unstarted = Vec::new();
        let mut rx = self.rx.lock().await;
        rx.close();
        while let Ok(pending) = rx.try_recv() {
            unstarted.push(pending);
        }
        unstarted
    }
}
