//! Segment documents: parsing, validation, and flattening nested subsegments.
//!
//! A document is a segment (the work of one service for one request) or a subsegment sent on its
//! own (`"type": "subsegment"`, with `trace_id` and `parent_id`). Either may nest subsegments.
//! [`parse`] checks what X-Ray checks (ids, trace id, times, parent links of standalone
//! subsegments) and returns every segment and subsegment as a flat [`Segment`] that knows its
//! parent, so a trace can be assembled from documents that arrive in any order.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{SegmentId, TraceId};

/// Whether a record was a top-level segment or a subsegment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A segment: a service's record of a request.
    Segment,
    /// A subsegment: a piece of work inside a segment.
    Subsegment,
}

/// One segment or subsegment, flattened out of its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// 16 hex digits, unique within the trace.
    pub id: SegmentId,
    /// The trace it belongs to.
    pub trace_id: TraceId,
    /// The segment or subsegment it sits under, if any.
    pub parent_id: Option<SegmentId>,
    /// Segment or subsegment.
    pub kind: Kind,
    /// The name shown in the trace map.
    pub name: String,
    /// Start, in epoch seconds.
    pub start_time: f64,
    /// End, in epoch seconds; `None` while in progress.
    pub end_time: Option<f64>,
    /// `aws` for AWS SDK calls, `remote` for other downstream calls.
    pub namespace: Option<String>,
    /// The resource type of a segment (`AWS::Lambda::Function`, ...).
    pub origin: Option<String>,
    /// A client error (4xx).
    pub error: bool,
    /// A 5xx error or an exception.
    pub fault: bool,
    /// Throttled (429).
    pub throttle: bool,
    /// The document's own fields, without nested `subsegments`.
    pub fields: Map<String, Value>,
}

impl Segment {
    /// Duration in seconds, when finished.
    pub fn duration(&self) -> Option<f64> {
        self.end_time.map(|end| end - self.start_time)
    }

    /// A field of the document, looked up by a dotted path (`aws.operation`, `http.response.status`).
    pub fn field(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let first = self.fields.get(parts.next()?)?;
        parts.try_fold(first, |v, key| v.get(key))
    }
}

/// What is wrong with a document; `path` points at the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {problem}")]
pub struct DocumentError {
    /// JSON path of the field at fault (`subsegments[1].end_time`).
    pub path: String,
    /// What is wrong.
    pub problem: String,
}

fn problem(path: &str, field: &str, problem: impl Into<String>) -> DocumentError {
    DocumentError {
        path: if path.is_empty() {
            field.to_owned()
        } else if field.is_empty() {
            path.to_owned()
        } else {
            format!("{path}.{field}")
        },
        problem: problem.into(),
    }
}

/// Parses and validates one segment document, flattening its subsegments.
pub fn parse(document: &[u8]) -> Result<Vec<Segment>, DocumentError> {
    let value: Value = serde_json::from_slice(document).map_err(|e| DocumentError {
        path: "$".into(),
        problem: format!("not JSON: {e}"),
    })?;
    parse_value(&value)
}

/// Validates an already-parsed document, flattening its subsegments.
pub fn parse_value(value: &Value) -> Result<Vec<Segment>, DocumentError> {
    let object = value
        .as_object()
        .ok_or_else(|| problem("$", "", "a segment document is a JSON object"))?;
    let kind = match object.get("type").and_then(Value::as_str) {
        Some("subsegment") => Kind::Subsegment,
        None => Kind::Segment,
        Some(other) => {
            return Err(problem(
                "",
                "type",
                format!("`{other}` is not `subsegment`"),
            ));
        }
    };
    let trace_id = trace_id(object, "")?.ok_or_else(|| problem("", "trace_id", "missing"))?;
    let parent_id = optional_id(object, "", "parent_id")?;
    if kind == Kind::Subsegment && parent_id.is_none() {
        return Err(problem(
            "",
            "parent_id",
            "a subsegment sent on its own needs its parent's id",
        ));
    }
    let mut out = Vec::new();
    flatten(object, "", trace_id, parent_id, kind, &mut out)?;
    Ok(out)
}

fn trace_id(object: &Map<String, Value>, path: &str) -> Result<Option<TraceId>, DocumentError> {
    match object.get("trace_id") {
        None => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|e: crate::ids::IdError| problem(path, "trace_id", e.to_string())),
        Some(_) => Err(problem(path, "trace_id", "must be a string")),
    }
}

fn optional_id(
    object: &Map<String, Value>,
    path: &str,
    field: &str,
) -> Result<Option<SegmentId>, DocumentError> {
    match object.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|e: crate::ids::IdError| problem(path, field, e.to_string())),
        Some(_) => Err(problem(path, field, "must be a string of 16 hex digits")),
    }
}

fn flatten(
    object: &Map<String, Value>,
    path: &str,
    trace: TraceId,
    parent_id: Option<SegmentId>,
    kind: Kind,
    out: &mut Vec<Segment>,
) -> Result<(), DocumentError> {
    let id = optional_id(object, path, "id")?.ok_or_else(|| problem(path, "id", "missing"))?;
    if let Some(own) = trace_id(object, path)?
        && own != trace
    {
        return Err(problem(
            path,
            "trace_id",
            format!("`{own}` differs from its segment's `{trace}`"),
        ));
    }
    let name = match object.get("name") {
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= 200 => s.clone(),
        Some(Value::String(_)) => return Err(problem(path, "name", "must be 1 to 200 characters")),
        _ => return Err(problem(path, "name", "missing")),
    };
    let start_time = object
        .get("start_time")
        .and_then(Value::as_f64)
        .ok_or_else(|| {
            problem(
                path,
                "start_time",
                "missing, or not a number of epoch seconds",
            )
        })?;
    let in_progress = object.get("in_progress").and_then(Value::as_bool) == Some(true);
    let end_time = match (object.get("end_time").and_then(Value::as_f64), in_progress) {
        (Some(end), _) if end < start_time => {
            return Err(problem(
                path,
                "end_time",
                format!("{end} is before start_time {start_time}"),
            ));
        }
        (Some(end), _) => Some(end),
        (None, true) => None,
        (None, false) => {
            return Err(problem(
                path,
                "end_time",
                "missing, and the segment is not in_progress",
            ));
        }
    };
    let flag = |name: &str| object.get(name).and_then(Value::as_bool) == Some(true);
    let text = |name: &str| object.get(name).and_then(Value::as_str).map(str::to_owned);
    let mut fields = object.clone();
    let children = fields.remove("subsegments");
    out.push(Segment {
        id,
        trace_id: trace.clone(),
        parent_id,
        kind,
        name,
        start_time,
        end_time,
        namespace: text("namespace"),
        origin: text("origin"),
        error: flag("error"),
        fault: flag("fault"),
        throttle: flag("throttle"),
        fields,
    });
    match children {
        None => Ok(()),
        Some(Value::Array(children)) => {
            for (i, child) in children.iter().enumerate() {
                let child_path = if path.is_empty() {
                    format!("subsegments[{i}]")
                } else {
                    format!("{path}.subsegments[{i}]")
                };
                let child = child
                    .as_object()
                    .ok_or_else(|| problem(&child_path, "", "a subsegment is a JSON object"))?;
                flatten(
                    child,
                    &child_path,
                    trace.clone(),
                    Some(id),
                    Kind::Subsegment,
                    out,
                )?;
            }
            Ok(())
        }
        Some(_) => Err(problem(path, "subsegments", "must be an array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(value: Value) -> Vec<u8> {
        serde_json::to_vec(&value).expect("json")
    }

    #[test]
    fn nested_subsegments_are_flattened_with_their_parents() {
        let segments = parse(&doc(json!({
            "name": "greeter",
            "id": "70de5b6f19ff9a0a",
            "trace_id": "1-581cf771-a006649127e371903a2de979",
            "start_time": 1.478293361271e9,
            "end_time": 1.478293361449e9,
            "origin": "AWS::Lambda::Function",
            "subsegments": [{
                "name": "S3",
                "id": "53995c3f42cd8ad8",
                "start_time": 1.478293361300e9,
                "end_time": 1.478293361400e9,
                "namespace": "aws",
                "aws": {"operation": "GetObject"},
                "fault": true,
            }]
        })))
        .expect("valid");
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0].kind, Kind::Segment);
        assert_eq!(segments[0].origin.as_deref(), Some("AWS::Lambda::Function"));
        assert!(segments[0].fields.get("subsegments").is_none());
        let s3 = &segments[1];
        assert_eq!(s3.kind, Kind::Subsegment);
        assert_eq!(s3.parent_id, Some(segments[0].id));
        assert_eq!(s3.trace_id, segments[0].trace_id);
        assert_eq!(s3.field("aws.operation"), Some(&json!("GetObject")));
        assert!(s3.fault);
        assert!((s3.duration().expect("ended") - 0.1).abs() < 1e-3);
    }

    #[test]
    fn every_rule_names_the_field_at_fault() {
        let base = json!({
            "name": "n", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
            "start_time": 10.0, "end_time": 11.0
        });
        let with = |key: &str, value: Value| {
            let mut v = base.clone();
            v[key] = value;
            v
        };
        let without = |key: &str| {
            let mut v = base.clone();
            v.as_object_mut().expect("object").remove(key);
            v
        };
        let cases = [
            (without("id"), "id: missing"),
            (with("id", json!("xyz")), "id: invalid X-Ray segment id"),
            (without("trace_id"), "trace_id: missing"),
            (
                with("trace_id", json!("1-2-3")),
                "trace_id: invalid X-Ray trace id",
            ),
            (without("name"), "name: missing"),
            (
                with("end_time", json!(9.0)),
                "end_time: 9 is before start_time 10",
            ),
            (
                without("end_time"),
                "end_time: missing, and the segment is not in_progress",
            ),
            (
                with("type", json!("subsegment")),
                "parent_id: a subsegment sent on its own",
            ),
            (
                with(
                    "subsegments",
                    json!([{"name": "x", "id": "70de5b6f19ff9a0b", "start_time": 10.5}]),
                ),
                "subsegments[0].end_time: missing",
            ),
            (json!([1]), "$: a segment document is a JSON object"),
        ];
        for (value, expected) in cases {
            let err = parse(&doc(value.clone()))
                .expect_err(&value.to_string())
                .to_string();
            assert!(err.starts_with(expected), "{value}: {err}");
        }
        let in_progress = with("in_progress", json!(true));
        let mut in_progress = in_progress;
        in_progress
            .as_object_mut()
            .expect("object")
            .remove("end_time");
        assert_eq!(parse(&doc(in_progress)).expect("valid")[0].end_time, None);
    }
}
