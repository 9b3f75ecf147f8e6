//! An execution environment's invocation slot: what the Runtime API sees of it.
//!
//! The invocation handed to it and not yet taken, the one its runtime is running, and the init
//! and liveness state the Runtime API answers from.
//!
//! An environment of a function with `max_concurrency` N (Lambda Managed Instances) holds up to
//! N invocations at once, handed over or running: its runtime keeps up to N `/next` polls
//! outstanding, and each running invocation keeps its own log.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::invocation::Pending;
use crate::logs::InvocationLog;

/// Holds at most one handed-over invocation: an environment runs one at a time, so a second
/// `assign` fails and the pool keeps it. With a concurrency N above 1 it holds up to N,
/// handed over or running, and refuses the next.
pub(crate) struct Slot {
    concurrency: usize,
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
    /// The running invocations: at most one, except in concurrent mode.
    pub in_flight: Vec<InFlight>,
    /// Concurrent mode: invocations handed over or running, against the concurrency; an
    /// invocation that timed out keeps its place until its runtime answers it.
    pub load: usize,
    /// Concurrent mode: invocations answered `Sandbox.Timedout` that the runtime still runs.
    pub timed_out: Vec<String>,
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
    /// Concurrent mode: this invocation's own lines (sequential mode uses [`SlotState::log`]).
    pub log: InvocationLog,
}

impl SlotState {
    /// The running invocation `request_id`.
    pub fn running(&self, request_id: &str) -> Option<&InFlight> {
        self.in_flight
            .iter()
            .find(|f| f.pending.request_id == request_id)
    }

    /// Takes the running invocation `request_id` out.
    pub fn take_running(&mut self, request_id: &str) -> Option<InFlight> {
        let at = self
            .in_flight
            .iter()
            .position(|f| f.pending.request_id == request_id)?;
        Some(self.in_flight.swap_remove(at))
    }

    /// Concurrent mode: one line of the environment's output, for the invocations it belongs
    /// to. Lines naming a running invocation's request id (lamplight's and Lambda's own lines
    /// do) are that invocation's; any other line could be any of them, so each gets it; with
    /// none running it is init output, kept for the first invocation.
    pub fn route_line(&mut self, line: &str) {
        if self.in_flight.is_empty() {
            self.log.push_line(line);
            return;
        }
        let mut named = false;
        for flight in &mut self.in_flight {
            if line.contains(flight.pending.request_id.as_str()) {
                flight.log.push_line(line);
                named = true;
            }
        }
        if !named {
            for flight in &mut self.in_flight {
                flight.log.push_line(line);
            }
        }
    }
}

impl Slot {
    /// A slot already holding `first`, the invocation the environment starts for.
    /// `concurrency` is 1 for Lambda's one-invocation-per-environment model.
    pub fn new(first: Option<Pending>, concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        let (tx, rx) = mpsc::channel(concurrency);
        let mut state = SlotState::default();
        if let Some(first) = first {
            // A fresh channel of capacity at least 1 always takes one.
            let _ = tx.try_send(first);
            state.load = 1;
        }
        Self {
            concurrency,
            tx,
            rx: tokio::sync::Mutex::new(rx),
            state: Mutex::new(state),
        }
    }

    /// Whether this environment serves several invocations at once.
    pub fn is_concurrent(&self) -> bool {
        self.concurrency > 1
    }

    pub fn state(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands `pending` over; gives it back when the environment is gone or already holds one.
    // The error is the caller's own value coming back, not a new allocation worth boxing.
    #[allow(clippy::result_large_err)]
    pub fn assign(&self, pending: Pending) -> Result<(), Pending> {
        let mut state = self.state();
        if state.dead || (self.is_concurrent() && state.load >= self.concurrency) {
            return Err(pending);
        }
        self.tx.try_send(pending).map_err(|e| e.into_inner())?;
        state.load += 1;
        Ok(())
    }

    /// The handed-over invocations, for the one `/next` poll allowed to wait on them at a time
    /// (in concurrent mode the others wait their turn on this lock, in order).
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
