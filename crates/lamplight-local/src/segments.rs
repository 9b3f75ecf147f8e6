//! The service's own X-Ray segments for one invocation: `AWS::Lambda` (the service) and
//! `AWS::Lambda::Function` (the function, parent of the handler's segments).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lamplight_xray::{Segment, SegmentId};
use serde_json::json;

use crate::invocation::{FunctionResult, Pending};

/// One finished invocation, as its segments describe it.
pub(crate) struct Finished<'a> {
    pub function_name: &'a str,
    pub function_arn: &'a str,
    pub pending: &'a Pending,
    /// When the environment started: the start of `Initialization`.
    pub environment_started_at: SystemTime,
    /// When the runtime took the invocation.
    pub started_at: SystemTime,
    /// How long init took, for the invocation that started the environment.
    pub init: Option<Duration>,
    pub result: &'a FunctionResult,
}

/// Both segments, ending now.
pub(crate) fn invocation_segments(f: &Finished<'_>) -> Vec<Segment> {
    let trace = &f.pending.trace;
    let now = epoch(SystemTime::now());
    let received = epoch(f.pending.received_at);
    let started = epoch(f.started_at);
    let mut function_subsegments = Vec::new();
    if let Some(init) = f.init {
        let init_start = epoch(f.environment_started_at);
        function_subsegments.push(json!({
            "name": "Initialization",
            "id": SegmentId::generate().to_string(),
            "start_time": init_start,
            "end_time": init_start + init.as_secs_f64(),
        }));
    }
    function_subsegments.push(json!({
        "name": "Invocation",
        "id": SegmentId::generate().to_string(),
        "start_time": started,
        "end_time": now,
    }));
    let mut function = json!({
        "name": f.function_name,
        "id": trace.function_segment.to_string(),
        "trace_id": trace.root.to_string(),
        "parent_id": trace.service_segment.to_string(),
        "start_time": f.init.map_or(started, |_| epoch(f.environment_started_at)),
        "end_time": now,
        "origin": "AWS::Lambda::Function",
        "resource_arn": f.function_arn,
        "aws": {"function_arn": f.pending.invoked_arn},
        "subsegments": function_subsegments,
    });
    if let FunctionResult::Error { error_type, body } = f.result {
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        function["fault"] = json!(true);
        function["cause"] = json!({"exceptions": [{
            "id": SegmentId::generate().to_string(),
            "type": error_type,
            "message": message,
        }]});
    }
    let mut service = json!({
        "name": f.function_name,
        "id": trace.service_segment.to_string(),
        "trace_id": trace.root.to_string(),
        "start_time": received,
        "end_time": now,
        "origin": "AWS::Lambda",
        "resource_arn": f.function_arn,
        "aws": {"request_id": f.pending.request_id},
        "http": {"response": {"status": 200}},
    });
    if let Some(parent) = trace.caller_parent {
        service["parent_id"] = json!(parent.to_string());
    }
    let mut segments = Vec::new();
    for doc in [service, function] {
        match lamplight_xray::document::parse_value(&doc) {
            Ok(s) => segments.extend(s),
            Err(e) => tracing::error!("lamplight-local built an invalid segment: {e}"),
        }
    }
    segments
}

fn epoch(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
