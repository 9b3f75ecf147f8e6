//! One invocation on its way through the service: what the caller sent, and what it gets back.

use std::time::SystemTime;

use bytes::Bytes;
use lamplight_xray::{SegmentId, TraceId};
use tokio::sync::oneshot;

use crate::logs::Report;

/// The trace an invocation belongs to, and the ids of the service's own segments in it.
#[derive(Debug, Clone)]
pub(crate) struct TraceContext {
    pub root: TraceId,
    pub caller_parent: Option<SegmentId>,
    pub service_segment: SegmentId,
    pub function_segment: SegmentId,
    pub sampled: bool,
}

impl TraceContext {
    /// The `Lambda-Runtime-Trace-Id` header: the function segment is the handler's parent.
    pub fn runtime_header(&self) -> String {
        format!(
            "Root={};Parent={};Sampled={}",
            self.root,
            self.function_segment,
            u8::from(self.sampled)
        )
    }
}

/// An invocation accepted by the Invoke API, waiting for or running in an environment.
pub(crate) struct Pending {
    pub request_id: String,
    pub payload: Bytes,
    pub invoked_arn: String,
    pub client_context: Option<String>,
    pub identity: Option<String>,
    pub trace: TraceContext,
    pub received_at: SystemTime,
    pub reply: Option<oneshot::Sender<Outcome>>,
    /// Where a streamed response goes as it arrives (InvokeWithResponseStream, the HTTP
    /// front); `None` buffers a streamed response into the [`Outcome`], as `Invoke` does.
    pub stream: Option<StreamTap>,
}

/// What a caller reading a streamed response sees before the [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamEvent {
    /// The runtime began a streamed response, with its `Content-Type` (the HTTP integration's
    /// type means the body starts with a prelude).
    Started {
        request_id: String,
        content_type: Option<String>,
    },
    /// Bytes of the response, as they arrived.
    Chunk(Bytes),
}

/// The sending end of a streamed response; bounded, so a slow reader slows the runtime.
pub(crate) type StreamTap = tokio::sync::mpsc::Sender<StreamEvent>;

/// What the function produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionResult {
    /// The runtime posted a response.
    Response(Bytes),
    /// The runtime posted an error, crashed, or timed out: the error document.
    Error {
        /// `Lambda-Runtime-Function-Error-Type` or the service's own type (`Runtime.ExitError`).
        error_type: String,
        /// The error document returned to the caller.
        body: Bytes,
    },
}

/// The end of one invocation: its result, its log lines and its `REPORT` figures.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The invocation's `RequestId`.
    pub request_id: String,
    /// Response or error.
    pub result: FunctionResult,
    /// The invocation's log lines, `START` to `REPORT`.
    pub logs: String,
    /// The `REPORT` figures (absent when the invocation never reached an environment).
    pub report: Option<Report>,
    /// The trace id, when the invocation was sampled.
    pub trace_id: Option<TraceId>,
}

impl Outcome {
    /// An invocation that failed before it reached the function.
    pub(crate) fn failed(
        pending: &Pending,
        error_type: &str,
        message: String,
        logs: String,
    ) -> Self {
        Self {
            request_id: pending.request_id.clone(),
            result: FunctionResult::Error {
                error_type: error_type.to_owned(),
                body: error_body(error_type, &message),
            },
            logs,
            report: None,
            trace_id: pending.trace.sampled.then(|| pending.trace.root.clone()),
        }
    }
}

/// `{"errorType": ..., "errorMessage": ...}` as Lambda writes its own errors.
pub(crate) fn error_body(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string())
}

/// The most invocations the service remembers for `/lamplight/invocations`; older ones go first.
pub(crate) const MAX_RECORDS: usize = 200;
/// The most bytes of one invocation's log kept with its record (its tail).
pub(crate) const MAX_RECORD_LOG: usize = 64 * 1024;

/// One finished invocation, as the page at `/lamplight/` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Record {
    pub request_id: String,
    pub function: String,
    pub trace_id: Option<String>,
    /// When the Invoke call arrived, in epoch milliseconds.
    pub time: u64,
    /// From handing the event to the runtime to its result, in ms (absent when it never ran).
    pub duration_ms: Option<f64>,
    /// Init duration in ms, for the invocation that started its environment.
    pub init_ms: Option<f64>,
    pub cold_start: bool,
    /// `ok` or `error`.
    pub status: &'static str,
    /// The function error's type (`Runtime.ExitError`, the handler's own type, ...).
    pub error_type: Option<String>,
    /// The invocation's log lines, `START` to `REPORT` (the newest [`MAX_RECORD_LOG`] bytes).
    #[serde(skip)]
    pub logs: String,
}

impl Record {
    pub fn new(function: &str, received_at: SystemTime, outcome: &Outcome) -> Self {
        let report = outcome.report.as_ref();
        let error_type = match &outcome.result {
            FunctionResult::Response(_) => None,
            FunctionResult::Error { error_type, .. } => Some(error_type.clone()),
        };
        let mut start = outcome.logs.len().saturating_sub(MAX_RECORD_LOG);
        while !outcome.logs.is_char_boundary(start) {
            start += 1;
        }
        Self {
            request_id: outcome.request_id.clone(),
            function: function.to_owned(),
            trace_id: outcome.trace_id.as_ref().map(ToString::to_string),
            time: received_at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            duration_ms: report.map(|r| r.duration.as_secs_f64() * 1000.0),
            init_ms: report
                .and_then(|r| r.init_duration)
                .map(|d| d.as_secs_f64() * 1000.0),
            cold_start: report.is_some_and(|r| r.init_duration.is_some()),
            status: if error_type.is_some() { "error" } else { "ok" },
            error_type,
            logs: outcome.logs[start..].to_owned(),
        }
    }
}
