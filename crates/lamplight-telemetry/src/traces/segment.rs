//! Ended spans as X-Ray segment documents: one standalone (sub)segment document per span.
//!
//! Written here rather than taken from opentelemetry-aws's `SegmentTranslator`: that
//! translator validates names with the `regex` crate, whose engines were a quarter of a
//! traced function's binary (about 370 KB of code, 170 KB of the zip), for three character
//! classes. The mapping below covers the attributes lamplight's own spans carry (AWS SDK calls,
//! outgoing HTTP, the handler span, `annotate`/`metadata`/`record_failure`) and the
//! OpenTelemetry semantic conventions they follow; any other attribute stays out of the
//! document, as it did with the translator's defaults.
//!
//! | span | document |
//! |---|---|
//! | remote or local parent | `"type": "subsegment"` with `parent_id`; none: a segment |
//! | `rpc.system = aws-api` | `namespace: aws`, `aws.operation`, `aws.region`, `aws.request_id` |
//! | kind client or producer | `namespace: remote` |
//! | `http.request.method`, `url.full`, `http.response.status_code` | `http.request`, `http.response` |
//! | status 429 / 4xx / 5xx, or an error status | `throttle`+`error` / `error` / `fault` |
//! | events named `exception` | `cause.exceptions[]` (`type`, `message`, `remote`) |
//! | `annotation.<key>` | `annotations` (indexed; key reduced to letters, digits, `_`) |
//! | `metadata.<key>` and [`METADATA`] | `metadata` |
//! | `AWS_REGION`, `AWS_LAMBDA_LOG_GROUP_NAME` | `aws.region`, `cloudwatch_logs` |

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use serde::Serialize;
use serde_json::Value as Json;

/// Span attributes kept as metadata without a `metadata.` prefix: what has no field of its own.
pub(crate) const METADATA: &[&str] = &[
    "aws.s3.bucket",
    "aws.s3.key",
    "faas.invocation_id",
    "faas.coldstart",
];

/// X-Ray keeps at most 50 annotations per document.
const MAX_ANNOTATIONS: usize = 50;
/// X-Ray refuses documents of traces whose id was stamped longer ago than this.
const MAX_TRACE_AGE_SECS: u64 = 30 * 24 * 3600;
/// X-Ray's longest segment name.
const MAX_NAME_CHARS: usize = 200;

/// What every document of this execution environment shares.
#[derive(Debug, Clone, Default)]
pub(crate) struct Translator {
    region: Option<String>,
    log_group: Option<String>,
}

impl Translator {
    /// From Lambda's reserved variables.
    pub(crate) fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Self {
            region: var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")),
            log_group: var("AWS_LAMBDA_LOG_GROUP_NAME").or_else(|| {
                var("AWS_LAMBDA_FUNCTION_NAME").map(|name| format!("/aws/lambda/{name}"))
            }),
        }
    }

    /// The document of one span; `None` for one X-Ray would refuse: an invalid trace or span
    /// id, or a trace id stamped more than 30 days ago.
    pub(crate) fn document<'a>(&'a self, span: &'a SpanData) -> Option<Document<'a>> {
        let context = &span.span_context;
        if !context.is_valid() {
            return None;
        }
        let trace = format!("{:032x}", context.trace_id());
        let stamped = u64::from_str_radix(&trace[..8], 16).ok()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
        if stamped + MAX_TRACE_AGE_SECS < now {
            return None;
        }
        let parent = (span.parent_span_id != SpanId::INVALID)
            .then(|| format!("{:016x}", span.parent_span_id));
        let mut doc = Document {
            kind: parent.as_ref().map(|_| "subsegment"),
            name: segment_name(&span.name),
            id: format!("{:016x}", context.span_id()),
            trace_id: format!("1-{}-{}", &trace[..8], &trace[8..]),
            parent_id: parent,
            start_time: epoch_seconds(span.start_time),
            end_time: epoch_seconds(span.end_time),
            namespace: matches!(span.span_kind, SpanKind::Client | SpanKind::Producer)
                .then_some("remote"),
            error: false,
            fault: false,
            throttle: false,
            http: Http::default(),
            aws: Aws {
                region: self.region.as_deref().map(Cow::Borrowed),
                xray: Sdk {
                    sdk: "lamplight",
                    sdk_version: env!("CARGO_PKG_VERSION"),
                },
                ..Aws::default()
            },
            annotations: BTreeMap::new(),
            metadata: BTreeMap::new(),
            cause: None,
            cloudwatch_logs: self
                .log_group
                .as_deref()
                .map(|group| Logs { log_group: [group] }),
        };
        let mut status = None;
        for KeyValue { key, value, .. } in &span.attributes {
            let key = key.as_str();
            match key {
                "rpc.system" if text(value) == "aws-api" => doc.namespace = Some("aws"),
                "aws.operation" => doc.aws.operation = Some(text(value)),
                "aws.region" => doc.aws.region = Some(text(value)),
                "aws.request_id" => doc.aws.request_id = Some(text(value)),
                "http.request.method" => doc.http.request.method = Some(text(value)),
                "url.full" => doc.http.request.url = Some(text(value)),
                "http.response.status_code" => {
                    status = integer(value);
                    doc.http.response.status = status;
                }
                _ => {
                    if let Some(name) = key.strip_prefix("annotation.") {
                        if doc.annotations.len() < MAX_ANNOTATIONS
                            && let Some(value) = annotation(value)
                        {
                            doc.annotations.insert(annotation_key(name), value);
                        }
                    } else if let Some(name) = key.strip_prefix("metadata.") {
                        doc.metadata.insert(Cow::Borrowed(name), json(value));
                    } else if METADATA.contains(&key) {
                        doc.metadata.insert(Cow::Borrowed(key), json(value));
                    }
                }
            }
        }
        let failed = matches!(span.status, Status::Error { .. });
        let exceptions: Vec<Exception<'_>> = span
            .events
            .iter()
            .filter(|e| e.name == "exception")
            .map(|event| {
                let mut exception = Exception {
                    id: format!(
                        "{:016x}",
                        lamplight_xray::ids::SegmentId::generate().as_u64()
                    ),
                    kind: None,
                    message: None,
                    remote: doc.namespace.is_some(),
                };
                for KeyValue { key, value, .. } in &event.attributes {
                    match key.as_str() {
                        "exception.type" => exception.kind = Some(text(value)),
                        "exception.message" => exception.message = Some(text(value)),
                        _ => {}
                    }
                }
                exception
            })
            .collect();
        if failed || !exceptions.is_empty() {
            match status {
                Some(429) => (doc.throttle, doc.error) = (true, true),
                Some(400..=499) => doc.error = true,
                Some(500..=599) => doc.fault = true,
                _ if failed => doc.fault = true,
                _ => {}
            }
        }
        if !exceptions.is_empty() {
            doc.cause = Some(Cause { exceptions });
        }
        Some(doc)
    }
}

/// A segment document, serialized as X-Ray reads it.
#[derive(Debug, Serialize)]
pub(crate) struct Document<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    name: Cow<'a, str>,
    id: String,
    trace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    start_time: f64,
    end_time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'static str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    error: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    fault: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    throttle: bool,
    #[serde(skip_serializing_if = "Http::is_empty")]
    http: Http<'a>,
    aws: Aws<'a>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, Json>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<Cow<'a, str>, Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<Cause<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudwatch_logs: Option<Logs<'a>>,
}

#[derive(Debug, Default, Serialize)]
struct Http<'a> {
    #[serde(skip_serializing_if = "Request::is_empty")]
    request: Request<'a>,
    #[serde(skip_serializing_if = "Response::is_empty")]
    response: Response,
}

impl Http<'_> {
    fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }
}

#[derive(Debug, Default, Serialize)]
struct Request<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<Cow<'a, str>>,
}

impl Request<'_> {
    fn is_empty(&self) -> bool {
        self.method.is_none() && self.url.is_none()
    }
}

#[derive(Debug, Default, Serialize)]
struct Response {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<i64>,
}

impl Response {
    fn is_empty(&self) -> bool {
        self.status.is_none()
    }
}

#[derive(Debug, Default, Serialize)]
struct Aws<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<Cow<'a, str>>,
    xray: Sdk,
}

#[derive(Debug, Default, Serialize)]
struct Sdk {
    sdk: &'static str,
    sdk_version: &'static str,
}

#[derive(Debug, Serialize)]
struct Cause<'a> {
    exceptions: Vec<Exception<'a>>,
}

#[derive(Debug, Serialize)]
struct Exception<'a> {
    id: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    remote: bool,
}

#[derive(Debug, Serialize)]
struct Logs<'a> {
    log_group: [&'a str; 1],
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// X-Ray accepts names of letters, digits, whitespace and `_ . : / % & # = + \ - @`, at most
/// 200 characters; anything else is left out rather than failing the whole document.
fn segment_name(name: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/%&#=+\\-@".contains(c);
    if name.chars().all(allowed) && name.chars().nth(MAX_NAME_CHARS).is_none() && !name.is_empty() {
        return Cow::Borrowed(name);
    }
    let clean: String = name
        .chars()
        .filter(|c| allowed(*c))
        .take(MAX_NAME_CHARS)
        .collect();
    Cow::Owned(if clean.trim().is_empty() {
        "span".to_owned()
    } else {
        clean
    })
}

/// Annotation keys are letters, digits and underscores: anything else becomes `_`.
fn annotation_key(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::I64(n) => Some(*n),
        Value::String(s) => s.as_str().parse().ok(),
        _ => None,
    }
}

/// Annotations hold a string, a number or a boolean; anything else is not kept.
fn annotation(value: &Value) -> Option<Json> {
    match value {
        Value::Array(_) => None,
        other => Some(json(other)),
    }
}

fn json(value: &Value) -> Json {
    fn array<T: Clone + Into<Json>>(items: &[T]) -> Json {
        Json::Array(items.iter().cloned().map(Into::into).collect())
    }
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I64(n) => Json::from(*n),
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::Array(Array::Bool(items)) => array(items),
        Value::Array(Array::I64(items)) => array(items),
        Value::Array(Array::F64(items)) => array(items),
        Value::Array(Array::String(items)) => Json::Array(
            items
                .iter()
                .map(|s| Json::String(s.as_str().to_owned()))
                .collect(),
        ),
        other => Json::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry::{InstrumentationScope, KeyValue};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::Duration;

    fn span(name: &'static str, kind: SpanKind, attributes: Vec<KeyValue>) -> SpanData {
        let start = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_hex(&format!("{:08x}bd862e3fe1be46a994272793", now_secs()))
                    .expect("trace"),
                SpanId::from_hex("53995c3f42cd8ad8").expect("span"),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from_hex("0000000000000abc").expect("parent"),
            parent_span_is_remote: false,
            span_kind: kind,
            name: Cow::Borrowed(name),
            start_time: start,
            end_time: start + Duration::from_millis(125),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::builder("t").build(),
        }
    }

    fn now_secs() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
    }

    fn translate(span: &SpanData) -> Json {
        let translator = Translator {
            region: Some("eu-west-1".into()),
            log_group: Some("/aws/lambda/orders".into()),
        };
        serde_json::to_value(translator.document(span).expect("a document")).expect("json")
    }

    #[test]
    fn a_span_is_a_subsegment_with_ids_times_and_the_environment() {
        let doc = translate(&span("handler", SpanKind::Internal, vec![]));
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(
            doc["trace_id"],
            format!("1-{:08x}-bd862e3fe1be46a994272793", now_secs())
        );
        assert_eq!(doc["id"], "53995c3f42cd8ad8");
        assert_eq!(doc["parent_id"], "0000000000000abc");
        assert_eq!(doc["start_time"], 1_700_000_000.25);
        assert_eq!(doc["end_time"], 1_700_000_000.375);
        assert_eq!(doc["aws"]["region"], "eu-west-1");
        assert_eq!(doc["cloudwatch_logs"]["log_group"][0], "/aws/lambda/orders");
        assert!(doc.get("namespace").is_none() && doc.get("fault").is_none());
        // And X-Ray's own reader accepts it.
        lamplight_xray::document::parse_value(&doc).expect("a valid document");
    }

    #[test]
    fn an_aws_call_has_its_namespace_operation_region_request_id_and_s3_location() {
        let doc = translate(&span(
            "S3",
            SpanKind::Client,
            vec![
                KeyValue::new("rpc.system", "aws-api"),
                KeyValue::new("aws.operation", "GetObject"),
                KeyValue::new("aws.region", "us-east-1"),
                KeyValue::new("aws.request_id", "R1"),
                KeyValue::new("aws.s3.bucket", "stock"),
                KeyValue::new("http.response.status_code", 200_i64),
            ],
        ));
        assert_eq!(doc["namespace"], "aws");
        assert_eq!(doc["aws"]["operation"], "GetObject");
        assert_eq!(doc["aws"]["region"], "us-east-1");
        assert_eq!(doc["aws"]["request_id"], "R1");
        assert_eq!(doc["metadata"]["aws.s3.bucket"], "stock");
        assert_eq!(doc["http"]["response"]["status"], 200);
    }

    #[test]
    fn failures_set_error_fault_throttle_and_the_cause() {
        let mut failed = span(
            "api.example.com",
            SpanKind::Client,
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("url.full", "https://api.example.com/v1"),
                KeyValue::new("http.response.status_code", 503_i64),
            ],
        );
        failed.status = Status::error("answered 503");
        failed.events.events.push(opentelemetry::trace::Event::new(
            "exception",
            UNIX_EPOCH,
            vec![
                KeyValue::new("exception.type", "HttpStatus"),
                KeyValue::new("exception.message", "answered 503 Service Unavailable"),
            ],
            0,
        ));
        let doc = translate(&failed);
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(doc["http"]["request"]["method"], "GET");
        assert_eq!(doc["http"]["request"]["url"], "https://api.example.com/v1");
        assert_eq!(
            (doc["fault"].clone(), doc.get("error")),
            (Json::Bool(true), None)
        );
        let exception = &doc["cause"]["exceptions"][0];
        assert_eq!(exception["type"], "HttpStatus");
        assert_eq!(exception["message"], "answered 503 Service Unavailable");
        assert_eq!(exception["remote"], true);
        assert_eq!(exception["id"].as_str().map(str::len), Some(16));

        for (code, error, throttle) in [(404, true, false), (429, true, true)] {
            let mut client = span(
                "h",
                SpanKind::Client,
                vec![KeyValue::new("http.response.status_code", code)],
            );
            client.status = Status::error("x");
            let doc = translate(&client);
            assert_eq!(doc.get("error").is_some(), error, "{code}");
            assert_eq!(doc.get("throttle").is_some(), throttle, "{code}");
            assert!(doc.get("fault").is_none(), "{code}");
        }
        let mut internal = span("worker", SpanKind::Internal, vec![]);
        internal.status = Status::error("boom");
        assert_eq!(
            translate(&internal)["fault"],
            true,
            "an error without a status is a fault"
        );
    }

    #[test]
    fn annotations_and_metadata_come_from_their_prefixes() {
        let doc = translate(&span(
            "outer",
            SpanKind::Internal,
            vec![
                KeyValue::new("annotation.Customer", "c-42"),
                KeyValue::new("annotation.bad key!", 7_i64),
                KeyValue::new("metadata.cart", "3 items"),
                KeyValue::new("faas.coldstart", true),
                KeyValue::new("user.secret_field", "not exported"),
            ],
        ));
        assert_eq!(doc["annotations"]["Customer"], "c-42");
        assert_eq!(doc["annotations"]["bad_key_"], 7);
        assert_eq!(doc["metadata"]["cart"], "3 items");
        assert_eq!(doc["metadata"]["faas.coldstart"], true);
        assert!(!doc.to_string().contains("not exported"));
    }

    #[test]
    fn a_trace_older_than_30_days_has_no_document() {
        let mut stale = span("old", SpanKind::Internal, vec![]);
        stale.span_context = SpanContext::new(
            TraceId::from_hex("5759e988bd862e3fe1be46a994272793").expect("trace"),
            SpanId::from_hex("53995c3f42cd8ad8").expect("span"),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        assert!(Translator::default().document(&stale).is_none());
    }

    #[test]
    fn names_x_ray_refuses_are_cleaned_not_dropped() {
        assert_eq!(segment_name("GET /orders/{id}"), "GET /orders/id");
        assert_eq!(segment_name("<>"), "span");
        assert_eq!(segment_name(&"x".repeat(300)).len(), MAX_NAME_CHARS);
        assert!(matches!(segment_name("handler"), Cow::Borrowed(_)));
    }
}
