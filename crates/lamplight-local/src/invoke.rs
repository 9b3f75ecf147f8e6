//! One Invoke call: its request and response, and handing it to a deployment.
//!
//! Payload and client-context checks and trace sampling happen here, and this is the one
//! place an [`InvokeResponse`] is built.

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use lamplight_xray::{Sampling, SegmentId, TraceHeader, TraceId};
use tokio::sync::oneshot;

use crate::config::TracingMode;
use crate::error::ApiError;
use crate::invocation::{FunctionResult, Outcome, Pending, Record, StreamTap, TraceContext};
use crate::registry::Registry;

pub use lamplight_limits::{MAX_EVENT_PAYLOAD, MAX_SYNC_PAYLOAD};
/// The most bytes of log returned by `X-Amz-Log-Type: Tail`.
pub const LOG_TAIL_BYTES: usize = 4096;

/// How the caller wants the function invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvocationType {
    /// Wait for the result.
    #[default]
    RequestResponse,
    /// Queue it and return 202.
    Event,
    /// Validate the request only.
    DryRun,
}

/// One Invoke call.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    /// Name, partial ARN, or ARN, optionally with `:qualifier`.
    pub function: String,
    /// `Qualifier` query parameter.
    pub qualifier: Option<String>,
    /// `X-Amz-Invocation-Type`.
    pub invocation_type: InvocationType,
    /// `X-Amz-Log-Type: Tail`.
    pub log_tail: bool,
    /// The event, JSON (whitespace alone stands for `{}`, as Lambda takes an empty body).
    pub payload: Bytes,
    /// `X-Amz-Client-Context` (base64 JSON).
    pub client_context: Option<String>,
    /// `X-Amzn-Trace-Id` of the caller.
    pub trace_header: Option<String>,
}

/// What an Invoke call returns.
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    /// 200, 202 or 204.
    pub status: u16,
    /// The function's response or error document.
    pub payload: Bytes,
    /// `X-Amz-Function-Error`.
    pub function_error: Option<String>,
    /// `X-Amz-Log-Result`: base64 of the last 4 KB of the invocation's logs.
    pub log_result: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: String,
    /// `X-Amz-Request-Id`.
    pub request_id: String,
    /// `X-Amzn-Trace-Id` of the invocation.
    pub trace_header: Option<String>,
    /// The full outcome (synchronous invocations).
    pub outcome: Option<Outcome>,
}

impl InvokeResponse {
    /// The one place a response is built: `status` 204 (dry run) and 202 (queued) carry no
    /// outcome; a synchronous one's payload, function error and log tail come from `outcome`.
    fn new(
        status: u16,
        executed_version: String,
        request_id: String,
        trace_header: String,
        outcome: Option<Outcome>,
        log_tail: bool,
    ) -> Self {
        let (payload, function_error) = match outcome.as_ref().map(|o| &o.result) {
            None => (Bytes::new(), None),
            Some(FunctionResult::Response(body)) => (body.clone(), None),
            Some(FunctionResult::Error { body, .. }) => {
                (body.clone(), Some("Unhandled".to_owned()))
            }
        };
        let log_result = outcome.as_ref().filter(|_| log_tail).map(|outcome| {
            let logs = outcome.logs.as_bytes();
            let mut start = logs.len().saturating_sub(LOG_TAIL_BYTES);
            // Keep the tail valid UTF-8.
            while start < logs.len() && (logs[start] & 0b1100_0000) == 0b1000_0000 {
                start += 1;
            }
            BASE64.encode(&logs[start..])
        });
        Self {
            status,
            payload,
            function_error,
            log_result,
            executed_version,
            request_id,
            trace_header: Some(trace_header),
            outcome,
        }
    }
}

impl Registry {
    pub(crate) async fn invoke(&self, request: InvokeRequest) -> Result<InvokeResponse, ApiError> {
        self.invoke_with(request, None).await
    }

    /// [`Registry::invoke`], with a streamed response sent to `stream` as it arrives; the
    /// response's [`Outcome`] then holds no payload (it went to `stream`).
    pub(crate) async fn invoke_with(
        &self,
        request: InvokeRequest,
        stream: Option<StreamTap>,
    ) -> Result<InvokeResponse, ApiError> {
        self.pass_gate(&request.function).await;
        let (function, deployment, version) =
            self.find_deployment(&request.function, request.qualifier.as_deref())?;
        let limit = match request.invocation_type {
            InvocationType::Event => MAX_EVENT_PAYLOAD,
            _ => MAX_SYNC_PAYLOAD,
        };
        if request.payload.len() > limit {
            return Err(ApiError::too_large(format!(
                "Request must be smaller than {limit} bytes for the InvokeFunction operation"
            )));
        }
        let payload = if request.payload.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&request.payload) {
                return Err(ApiError::invalid_content(format!(
                    "Could not parse request body into json: Could not parse payload into json: {e}"
                )));
            }
            request.payload
        };
        let client_context = match &request.client_context {
            None => None,
            Some(encoded) => Some(
                BASE64
                    .decode(encoded)
                    .ok()
                    .and_then(|raw| String::from_utf8(raw).ok())
                    .filter(|text| {
                        serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| v.is_object())
                    })
                    .ok_or_else(|| {
                        ApiError::invalid_content(
                            "Client context must be a valid Base64-encoded JSON object.".into(),
                        )
                    })?,
            ),
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let received_at = SystemTime::now();
        let trace = trace_context(request.trace_header.as_deref(), deployment.config.tracing);
        let trace_header = format!(
            "Root={};Parent={};Sampled={}",
            trace.root,
            trace.service_segment,
            u8::from(trace.sampled)
        );
        if request.invocation_type == InvocationType::DryRun {
            return Ok(InvokeResponse::new(
                204,
                version,
                request_id,
                trace_header,
                None,
                false,
            ));
        }
        let (reply, outcome) = oneshot::channel();
        let pending = Pending {
            request_id: request_id.clone(),
            payload,
            invoked_arn: match request.qualifier.as_deref() {
                Some(q) => format!("{}:{q}", function.arn),
                None => function.arn.clone(),
            },
            client_context,
            identity: None,
            trace,
            received_at,
            reply: (request.invocation_type == InvocationType::RequestResponse).then_some(reply),
            stream,
        };
        let start = deployment.admit(pending).map_err(|(_, full)| {
            ApiError::throttled(
                format!(
                    "Rate Exceeded. Function {} has {} busy execution environment(s) and {} invocation(s) waiting for them; \
                     lamplight-local throttles the rest. Raise FunctionConfig::max_queued or max_environments to let more wait or run.",
                    function.name, full.max_environments, full.max_queued
                ),
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            )
        })?;
        if request.invocation_type == InvocationType::Event {
            if let Some(first) = start {
                tokio::spawn(deployment.start_environment(first));
            }
            return Ok(InvokeResponse::new(
                202,
                version,
                request_id,
                trace_header,
                None,
                false,
            ));
        }
        if let Some(first) = start {
            deployment.start_environment(first).await;
        }
        let outcome = outcome.await.map_err(|_| {
            ApiError::service("the execution environment went away without an answer")
        })?;
        self.record(Record::new(&function.name, received_at, &outcome));
        if let Some(observer) = &self.observer {
            observer(&function.name, &outcome);
        }
        Ok(InvokeResponse::new(
            200,
            version,
            request_id,
            trace_header,
            Some(outcome),
            request.log_tail,
        ))
    }
}

fn trace_context(header: Option<&str>, mode: TracingMode) -> TraceContext {
    let caller: Option<TraceHeader> = header.and_then(|h| h.parse().ok());
    let sampled = match (&caller, mode) {
        (Some(h), TracingMode::Active) => h.sampling != Sampling::NotSampled,
        (None, TracingMode::Active) => true,
        (Some(h), TracingMode::PassThrough) => h.sampling == Sampling::Sampled,
        (None, TracingMode::PassThrough) => false,
    };
    TraceContext {
        root: caller
            .as_ref()
            .map_or_else(TraceId::generate, |h| h.root.clone()),
        caller_parent: caller.as_ref().and_then(|h| h.parent),
        service_segment: SegmentId::generate(),
        function_segment: SegmentId::generate(),
        sampled,
    }
}
