//! Reading the raw invocation event as an HTTP request: decide its kind, accept the lenient
//! forms real callers send, and say clearly why an event is not an HTTP event.
//!
//! `lambda_http` tries each event type in turn and reports only that none matched. Callers
//! that are not API Gateway (lambda-httpx, test harnesses, Mangum- or Zappa-style minimal
//! events) send `""` or `null` for maps, an empty `requestContext`, lowercase methods: API
//! Gateway's documentation allows most of these, and their meaning is clear. [`HttpEvent::parse`]
//! decides the kind from the fields that define it, rewrites those forms into the shape
//! `lambda_http` expects, and checks what `lambda_http`'s conversion would otherwise panic on
//! (an invalid base64 body, a host that makes no URL), so that a bad event is a clean error.

use std::fmt;

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use lambda_http::aws_lambda_events::alb::AlbTargetGroupRequest;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::LambdaRequest;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Where an HTTP event comes from; it decides the response's shape too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// API Gateway REST API proxy integration, or HTTP API payload format 1.0 (`httpMethod`).
    RestApi,
    /// API Gateway HTTP API payload format 2.0 (`requestContext.http`).
    HttpApi,
    /// A Lambda Function URL: the HTTP API 2.0 shape from a `*.lambda-url.*` domain.
    FunctionUrl,
    /// An Application Load Balancer target group (`requestContext.elb`).
    Alb,
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RestApi => "API Gateway REST (payload 1.0)",
            Self::HttpApi => "API Gateway HTTP API (payload 2.0)",
            Self::FunctionUrl => "Function URL",
            Self::Alb => "ALB",
        })
    }
}

/// Why an event is not an HTTP request lamplight-http can answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The event is not a JSON object at all.
    #[error(
        "expected an API Gateway/ALB/Function URL event (a JSON object), found {found}: \
         invoke this function through API Gateway, an ALB, a Function URL or an HTTP proxy event"
    )]
    NotAnObject {
        /// What the event is instead (`an array`, `a string "…"`).
        found: String,
    },
    /// The event is an object without the fields of any HTTP event.
    #[error(
        "expected an API Gateway/ALB/Function URL event: found {found} and no `httpMethod` or \
         `requestContext.http`"
    )]
    NotHttp {
        /// The field that tells what the event is instead (`Records` of an SQS event, …).
        found: String,
    },
    /// A field of an HTTP event has a value that cannot be read.
    #[error("the {kind} event's `{field}` is invalid: expected {expected}, found {found}")]
    Field {
        /// The event's kind, decided before the field was read.
        kind: EventKind,
        /// The field, as a JSON path (`requestContext.http.method`, `headers.Host`).
        field: String,
        /// What it should be.
        expected: String,
        /// What it is.
        found: String,
    },
}

impl EventError {
    /// The `errorType` Lambda reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::NotAnObject { .. } | Self::NotHttp { .. } => "NotAnHttpEvent",
            Self::Field { .. } => "InvalidHttpEvent",
        }
    }
}

impl From<EventError> for lamplight::FunctionError {
    fn from(error: EventError) -> Self {
        lamplight::FunctionError::new(error.error_type(), error.to_string())
    }
}

/// An event read as an HTTP request; see the [module](self) docs.
#[derive(Debug)]
pub struct HttpEvent {
    kind: EventKind,
    request: LambdaRequest,
}

impl HttpEvent {
    /// Reads `event` as an HTTP request, accepting the lenient forms real callers send.
    pub fn parse(event: Value) -> Result<Self, EventError> {
        let Value::Object(mut event) = event else {
            return Err(EventError::NotAnObject {
                found: describe(&event),
            });
        };
        let context = event.get("requestContext");
        let has_http = context.and_then(|c| c.get("http")).is_some();
        let has_elb = context.and_then(|c| c.get("elb")).is_some();
        let v2 = has_http
            || event.get("version").and_then(Value::as_str) == Some("2.0")
            || event.contains_key("rawPath");
        if v2 {
            let kind = if is_function_url(&event) {
                EventKind::FunctionUrl
            } else {
                EventKind::HttpApi
            };
            normalise_v2(&mut event, kind)?;
            let request: ApiGatewayV2httpRequest = typed(event, kind)?;
            check_uri(
                kind,
                &request.headers,
                request.request_context.domain_name.as_deref(),
                &request.raw_path,
                request.request_context.stage.as_deref(),
                request.raw_query_string.as_deref(),
            )?;
            return Ok(Self {
                kind,
                request: LambdaRequest::ApiGatewayV2(request),
            });
        }
        if has_elb {
            let kind = EventKind::Alb;
            normalise_v1(&mut event, kind)?;
            let request: AlbTargetGroupRequest = typed(event, kind)?;
            let query = v1_query(
                &request.multi_value_query_string_parameters,
                &request.query_string_parameters,
            );
            check_uri(
                kind,
                &request.headers,
                None,
                &request.path,
                None,
                query.as_deref(),
            )?;
            return Ok(Self {
                kind,
                request: LambdaRequest::Alb(request),
            });
        }
        if ["httpMethod", "path", "resource"]
            .iter()
            .any(|k| event.contains_key(*k))
        {
            let kind = EventKind::RestApi;
            normalise_v1(&mut event, kind)?;
            let request: ApiGatewayProxyRequest = typed(event, kind)?;
            let query = v1_query(
                &request.multi_value_query_string_parameters,
                &request.query_string_parameters,
            );
            check_uri(
                kind,
                &request.headers,
                request.request_context.domain_name.as_deref(),
                &request.path,
                request.request_context.stage.as_deref(),
                query.as_deref(),
            )?;
            return Ok(Self {
                kind,
                request: LambdaRequest::ApiGatewayV1(request),
            });
        }
        Err(EventError::NotHttp {
            found: not_http(&event),
        })
    }

    /// Which integration sent the event, and so which shape its response takes.
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The request the router sees (before the REST API stage is taken off the path).
    pub fn into_request(self) -> lambda_http::Request {
        self.request.into()
    }

    pub(crate) fn into_lambda_request(self) -> LambdaRequest {
        self.request
    }
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.is_empty() => "an empty string".to_owned(),
        Value::String(s) => {
            let mut short: String = s.chars().take(40).collect();
            if short.len() < s.len() {
                short.push('…');
            }
            format!("the string {short:?}")
        }
        Value::Array(a) if a.is_empty() => "an empty array".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(o) if o.is_empty() => "an empty object".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// What an object that is not an HTTP event looks like, by the field that says so.
fn not_http(event: &Map<String, Value>) -> String {
    if let Some(records) = event.get("Records") {
        let source = records
            .get(0)
            .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
            .and_then(Value::as_str);
        let what = match source {
            Some("aws:sqs") => "an SQS batch",
            Some("aws:sns") => "an SNS notification",
            Some("aws:s3") => "an S3 notification",
            Some("aws:dynamodb") => "a DynamoDB stream batch",
            Some("aws:kinesis") => "a Kinesis batch",
            _ => "an SQS/SNS/S3 batch?",
        };
        return format!("`Records` ({what})");
    }
    if event.contains_key("detail-type") {
        return "`detail-type` (an EventBridge event)".to_owned();
    }
    if event.contains_key("awslogs") {
        return "`awslogs` (a CloudWatch Logs subscription)".to_owned();
    }
    if let Some(context) = event.get("requestContext").and_then(Value::as_object)
        && (context.contains_key("eventType") || context.contains_key("connectionId"))
    {
        return "`requestContext.eventType` (an API Gateway WebSocket event; lamplight-http \
                serves HTTP requests only)"
            .to_owned();
    }
    if event.is_empty() {
        return "an empty object".to_owned();
    }
    let mut keys: Vec<&str> = event.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let shown: Vec<String> = keys.iter().take(6).map(|k| format!("`{k}`")).collect();
    let more = if keys.len() > 6 { ", …" } else { "" };
    format!("the fields {}{more}", shown.join(", "))
}

fn is_function_url(event: &Map<String, Value>) -> bool {
    event
        .get("requestContext")
        .and_then(|c| c.get("domainName"))
        .and_then(Value::as_str)
        .is_some_and(|d| d.contains(".lambda-url."))
}

fn field_error(kind: EventKind, field: &str, expected: &str, found: &Value) -> EventError {
    EventError::Field {
        kind,
        field: field.to_owned(),
        expected: expected.to_owned(),
        found: describe(found),
    }
}

/// `""`, `null` and `[]` mean "none" for a map: API Gateway itself sends `null`, and minimal
/// proxies send `""`.
fn is_nothing(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A scalar as the text API Gateway would have sent (`3` → `"3"`); `None` for null.
fn scalar_text(value: &Value) -> Option<Result<String, ()>> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(Ok(s.clone())),
        Value::Number(n) => Some(Ok(n.to_string())),
        Value::Bool(b) => Some(Ok(b.to_string())),
        Value::Array(_) | Value::Object(_) => Some(Err(())),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum MapShape {
    /// Name → one value.
    Single,
    /// Name → list of values (`multiValueHeaders`); a lone value becomes a list of one.
    Multi,
    /// Name → one value or a list (query maps, which `lambda_http` reads either way).
    Either,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    None,
    Headers,
}

/// Rewrites `event[key]` into a map of strings (or lists of strings), or removes it when it
/// means "none".
fn normalise_map(
    event: &mut Map<String, Value>,
    key: &str,
    shape: MapShape,
    check: Check,
    kind: EventKind,
) -> Result<(), EventError> {
    let Some(value) = event.get_mut(key) else {
        return Ok(());
    };
    if is_nothing(value) {
        event.remove(key);
        return Ok(());
    }
    let Value::Object(map) = value else {
        return Err(field_error(
            kind,
            key,
            "an object of names to values (or null)",
            value,
        ));
    };
    let mut out = Map::new();
    for (name, value) in map.iter() {
        if check == Check::Headers && HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(EventError::Field {
                kind,
                field: format!("{key}.{name}"),
                expected: "a header name (letters, digits and `!#$%&'*+-.^_`|~`)".to_owned(),
                found: format!("the name {name:?}"),
            });
        }
        let field = || format!("{key}.{name}");
        let text = |v: &Value| -> Result<Option<String>, EventError> {
            let text = match scalar_text(v) {
                None => return Ok(None),
                Some(Ok(text)) => text,
                Some(Err(())) => {
                    return Err(field_error(kind, &field(), "a string", v));
                }
            };
            if check == Check::Headers && HeaderValue::from_str(&text).is_err() {
                return Err(field_error(
                    kind,
                    &field(),
                    "a header value (visible ASCII or UTF-8 text, no control characters)",
                    v,
                ));
            }
            Ok(Some(text))
        };
        let normalised = match (value, shape) {
            (Value::Array(items), MapShape::Multi | MapShape::Either) => {
                let mut all = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(t) = text(item)? {
                        all.push(Value::String(t));
                    }
                }
                if all.is_empty() {
                    continue;
                }
                Value::Array(all)
            }
            (Value::Array(_), MapShape::Single) => {
                return Err(field_error(kind, &field(), "a string", value));
            }
            (scalar, shape) => {
                let Some(t) = text(scalar)? else { continue };
                if shape == MapShape::Multi {
                    Value::Array(vec![Value::String(t)])
                } else {
                    Value::String(t)
                }
            }
        };
        out.insert(name.clone(), normalised);
    }
    *value = Value::Object(out);
    Ok(())
}

/// `body`: text as it is; a JSON object or array sent as the body itself becomes its text;
/// a base64 body is checked (and re-encoded in standard base64 if sent URL-safe or unpadded),
/// because `lambda_http` panics on one that does not decode.
fn normalise_body(event: &mut Map<String, Value>, kind: EventKind) -> Result<(), EventError> {
    let base64 = match event.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s.is_empty() => false,
        Some(other) => {
            return Err(field_error(kind, "isBase64Encoded", "true or false", other));
        }
    };
    event.insert("isBase64Encoded".to_owned(), Value::Bool(base64));
    let body = match event.get("body") {
        None | Some(Value::Null) => {
            event.remove("body");
            return Ok(());
        }
        Some(Value::String(s)) => s.clone(),
        Some(json @ (Value::Object(_) | Value::Array(_))) if !base64 => json.to_string(),
        Some(other @ (Value::Number(_) | Value::Bool(_))) if !base64 => other.to_string(),
        Some(other) => {
            return Err(field_error(kind, "body", "a base64 string", other));
        }
    };
    let body = if base64 {
        reencode_base64(&body).map_err(|problem| EventError::Field {
            kind,
            field: "body".to_owned(),
            expected: "base64 text, as `isBase64Encoded` is true".to_owned(),
            found: format!("text that does not decode ({problem})"),
        })?
    } else {
        body
    };
    event.insert("body".to_owned(), Value::String(body));
    Ok(())
}

fn reencode_base64(text: &str) -> Result<String, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    if STANDARD.decode(text).is_ok() {
        return Ok(text.to_owned());
    }
    // Line-wrapped (MIME) base64 and the URL-safe alphabet mean the same bytes.
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut first_error = None;
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        match engine.decode(&compact) {
            Ok(bytes) => return Ok(STANDARD.encode(bytes)),
            Err(e) => {
                first_error.get_or_insert(e.to_string());
            }
        }
    }
    Err(first_error.unwrap_or_default())
}

/// An HTTP method: uppercase (`get` is `GET`), and a valid token.
fn read_method(value: Option<&Value>, field: &str, kind: EventKind) -> Result<Value, EventError> {
    let expected = "an HTTP method such as \"GET\"";
    match value {
        Some(Value::String(m)) if !m.is_empty() => {
            let upper = m.to_ascii_uppercase();
            if http::Method::from_bytes(upper.as_bytes()).is_err() {
                return Err(field_error(
                    kind,
                    field,
                    expected,
                    &Value::String(m.clone()),
                ));
            }
            Ok(Value::String(upper))
        }
        Some(other) => Err(field_error(kind, field, expected, other)),
        None => Err(EventError::Field {
            kind,
            field: field.to_owned(),
            expected: expected.to_owned(),
            found: "nothing (the field is missing)".to_owned(),
        }),
    }
}

/// A request path that starts with `/`.
fn rooted(path: &str) -> String {
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// Context fields that are metadata, not the request: a value of the wrong type there is
/// dropped rather than costing the caller the request.
fn tidy_context(context: &mut Map<String, Value>, strings: &[&str], numbers: &[&str]) {
    context.retain(|key, value| {
        if strings.contains(&key.as_str()) {
            value.is_string()
        } else if numbers.contains(&key.as_str()) {
            value.is_i64()
        } else {
            true
        }
    });
}

/// `requestContext` taken out of the event as an object (an empty one when it is missing or
/// not an object: lambda-httpx and test harnesses send `{}` or nothing); put it back after.
fn take_context(event: &mut Map<String, Value>) -> Map<String, Value> {
    match event.remove("requestContext") {
        Some(Value::Object(context)) => context,
        _ => Map::new(),
    }
}

/// API Gateway sends a repeated header twice: all its values in `multiValueHeaders`, the last
/// in `headers`. `lambda_http` lets `headers` replace `multiValueHeaders`, which would keep
/// only the last value: leave such a header to `multiValueHeaders` alone. Headers with one
/// value stay in both, as `lambda_http` builds the URI from `headers` (`Host`).
fn drop_repeated_from_single(event: &mut Map<String, Value>) {
    let repeated: Vec<String> = match event.get("multiValueHeaders") {
        Some(Value::Object(multi)) => multi
            .iter()
            .filter(|(_, values)| values.as_array().is_some_and(|v| v.len() > 1))
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect(),
        _ => return,
    };
    if repeated.is_empty() {
        return;
    }
    if let Some(Value::Object(single)) = event.get_mut("headers") {
        single.retain(|name, _| !repeated.contains(&name.to_ascii_lowercase()));
    }
}

/// REST API (payload 1.0) and ALB events share their request fields.
fn normalise_v1(event: &mut Map<String, Value>, kind: EventKind) -> Result<(), EventError> {
    let method = read_method(event.get("httpMethod"), "httpMethod", kind)?;
    event.insert("httpMethod".to_owned(), method.clone());
    let path = match (event.get("path"), event.get("resource")) {
        (Some(Value::String(p)), _) => rooted(p),
        (None | Some(Value::Null), Some(Value::String(r))) if !r.contains('{') => rooted(r),
        (None | Some(Value::Null), _) => "/".to_owned(),
        (Some(other), _) => {
            return Err(field_error(
                kind,
                "path",
                "the request path, such as \"/orders/7\"",
                other,
            ));
        }
    };
    event.insert("path".to_owned(), Value::String(path));
    if event.get("resource").is_some_and(|r| !r.is_string()) {
        event.remove("resource");
    }
    for (key, shape, check) in [
        ("headers", MapShape::Single, Check::Headers),
        ("multiValueHeaders", MapShape::Multi, Check::Headers),
        ("queryStringParameters", MapShape::Either, Check::None),
        (
            "multiValueQueryStringParameters",
            MapShape::Multi,
            Check::None,
        ),
        ("pathParameters", MapShape::Single, Check::None),
        ("stageVariables", MapShape::Single, Check::None),
    ] {
        normalise_map(event, key, shape, check, kind)?;
    }
    drop_repeated_from_single(event);
    if kind == EventKind::Alb {
        for key in ["pathParameters", "stageVariables"] {
            event.remove(key);
        }
        let mut context = take_context(event);
        if let Some(elb) = context.get_mut("elb") {
            match elb {
                Value::Object(elb) => tidy_context(elb, &["targetGroupArn"], &[]),
                _ => *elb = Value::Object(Map::new()),
            }
        }
        event.insert("requestContext".to_owned(), Value::Object(context));
    } else {
        let mut context = take_context(event);
        // The request's method is the event's; an empty context (lambda-httpx, test
        // harnesses) has none, and `lambda_http` needs one.
        if !context.get("httpMethod").is_some_and(Value::is_string)
            || read_method(context.get("httpMethod"), "", kind).is_err()
        {
            context.insert("httpMethod".to_owned(), method);
        }
        tidy_context(
            &mut context,
            &[
                "accountId",
                "resourceId",
                "operationName",
                "stage",
                "domainName",
                "domainPrefix",
                "requestId",
                "protocol",
                "resourcePath",
                "path",
                "requestTime",
                "apiId",
            ],
            &["requestTimeEpoch"],
        );
        if context.get("identity").is_some_and(|i| !i.is_object()) {
            context.remove("identity");
        }
        if let Some(Value::Object(identity)) = context.get_mut("identity") {
            // Every identity field is an optional string.
            identity.retain(|_, v| v.is_string());
        }
        if context.get("authorizer").is_some_and(|a| !a.is_object()) {
            context.remove("authorizer");
        }
        event.insert("requestContext".to_owned(), Value::Object(context));
    }
    normalise_body(event, kind)
}

/// HTTP API (payload 2.0) and Function URL events.
fn normalise_v2(event: &mut Map<String, Value>, kind: EventKind) -> Result<(), EventError> {
    let context = match event.get_mut("requestContext") {
        Some(Value::Object(context)) => context,
        other => {
            let found = other.map_or_else(|| "nothing".to_owned(), |v| describe(v));
            return Err(EventError::Field {
                kind,
                field: "requestContext".to_owned(),
                expected: "an object with `http.method`".to_owned(),
                found,
            });
        }
    };
    let http = match context.get_mut("http") {
        Some(Value::Object(http)) => http,
        other => {
            let found = other.map_or_else(|| "nothing".to_owned(), |v| describe(v));
            return Err(EventError::Field {
                kind,
                field: "requestContext.http".to_owned(),
                expected: "an object with `method` and `path`".to_owned(),
                found,
            });
        }
    };
    let method = read_method(http.get("method"), "requestContext.http.method", kind)?;
    http.insert("method".to_owned(), method);
    tidy_context(http, &["path", "protocol", "sourceIp", "userAgent"], &[]);
    let context_path = http.get("path").and_then(Value::as_str).map(rooted);
    tidy_context(
        context,
        &[
            "routeKey",
            "accountId",
            "stage",
            "requestId",
            "apiId",
            "domainName",
            "domainPrefix",
            "time",
        ],
        &["timeEpoch"],
    );
    for key in ["authorizer", "authentication"] {
        if context.get(key).is_some_and(|a| !a.is_object()) {
            context.remove(key);
        }
    }
    let path = match event.get("rawPath") {
        Some(Value::String(p)) => rooted(p),
        None | Some(Value::Null) => context_path.unwrap_or_else(|| "/".to_owned()),
        Some(other) => {
            return Err(field_error(
                kind,
                "rawPath",
                "the request path, such as \"/orders/7\"",
                other,
            ));
        }
    };
    // `lambda_http` also reads `path` as `rawPath`: one of them only.
    event.remove("path");
    event.insert("rawPath".to_owned(), Value::String(path));
    match event.get("rawQueryString") {
        None | Some(Value::Null) => {
            event.remove("rawQueryString");
        }
        Some(Value::String(q)) => {
            let q = query_safe(q);
            event.insert("rawQueryString".to_owned(), Value::String(q));
        }
        Some(other) => {
            return Err(field_error(
                kind,
                "rawQueryString",
                "the query string, such as \"limit=5\"",
                other,
            ));
        }
    }
    match event.get("cookies") {
        None => {}
        Some(c) if is_nothing(c) => {
            event.remove("cookies");
        }
        Some(Value::String(c)) => {
            let cookies = vec![Value::String(c.clone())];
            event.insert("cookies".to_owned(), Value::Array(cookies));
        }
        Some(Value::Array(items)) => {
            let mut cookies = Vec::with_capacity(items.len());
            for item in items {
                match scalar_text(item) {
                    None => {}
                    Some(Ok(text)) => cookies.push(Value::String(text)),
                    Some(Err(())) => {
                        return Err(field_error(kind, "cookies", "a list of strings", item));
                    }
                }
            }
            event.insert("cookies".to_owned(), Value::Array(cookies));
        }
        Some(other) => {
            return Err(field_error(kind, "cookies", "a list of strings", other));
        }
    }
    for (key, shape, check) in [
        ("headers", MapShape::Single, Check::Headers),
        ("queryStringParameters", MapShape::Either, Check::None),
        ("pathParameters", MapShape::Single, Check::None),
        ("stageVariables", MapShape::Single, Check::None),
    ] {
        normalise_map(event, key, shape, check, kind)?;
    }
    // Fields of custom-authorizer payloads that `lambda_http` would read; never in requests.
    for key in [
        "httpMethod",
        "type",
        "methodArn",
        "identitySource",
        "authorizationToken",
    ] {
        event.remove(key);
    }
    for key in ["resource", "version", "routeKey"] {
        if event.get(key).is_some_and(|v| !v.is_string()) {
            event.remove(key);
        }
    }
    normalise_body(event, kind)
}

/// Percent-encodes what may not appear in a URI's query, so that a raw query string with a
/// space or a quote still makes a request (`lambda_http` would panic on it).
fn query_safe(query: &str) -> String {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b);
    if query.bytes().all(allowed) {
        return query.to_owned();
    }
    let mut out = String::with_capacity(query.len() + 8);
    for b in query.bytes() {
        if allowed(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn typed<T: DeserializeOwned>(event: Map<String, Value>, kind: EventKind) -> Result<T, EventError> {
    serde_path_to_error::deserialize(Value::Object(event)).map_err(|e| EventError::Field {
        kind,
        field: e.path().to_string(),
        expected: format!("the {kind} event's shape"),
        found: e.inner().to_string(),
    })
}

/// The query `lambda_http` puts in the URI of a REST API or ALB request: the multi-value map's
/// when it has any, else the single-value map's.
fn v1_query(multi: &QueryMap, single: &QueryMap) -> Option<String> {
    if !multi.is_empty() {
        Some(multi.to_query_string())
    } else if !single.is_empty() {
        Some(single.to_query_string())
    } else {
        None
    }
}

/// `lambda_http` builds the request URI from the `Host` and `X-Forwarded-Proto` headers and
/// the path, and panics when they make no URL: check the same parts first.
fn check_uri(
    kind: EventKind,
    headers: &http::HeaderMap,
    domain: Option<&str>,
    path: &Option<String>,
    stage: Option<&str>,
    query: Option<&str>,
) -> Result<(), EventError> {
    let path = path.as_deref().unwrap_or_default();
    let path = match stage {
        Some(stage)
            if stage != "$default"
                && std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_none()
                && !path.starts_with(&format!("/{stage}/")) =>
        {
            format!("/{stage}{path}")
        }
        _ => path.to_owned(),
    };
    let from_header = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok());
    let host = from_header.or(domain);
    let url = match host {
        None => format!("http://localhost{path}"),
        Some(host) => {
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|s| s.to_str().ok())
                .unwrap_or("https");
            format!("{scheme}://{host}{path}")
        }
    };
    let parsed = url::Url::parse(&url).ok().and_then(|u| {
        let mut text = if host.is_some() {
            u.to_string()
        } else {
            u.path().to_owned()
        };
        if let Some(q) = query.filter(|q| !q.is_empty()) {
            text.push('?');
            text.push_str(q);
        }
        text.parse::<http::Uri>().ok()
    });
    if parsed.is_some() {
        return Ok(());
    }
    let (field, found) = match (stage, host) {
        (Some(stage), _) if url::Url::parse(&format!("http://localhost/{stage}")).is_err() => {
            ("requestContext.stage", stage.to_owned())
        }
        (_, Some(host)) => {
            let field = if from_header.is_some() {
                "headers.host"
            } else {
                "requestContext.domainName"
            };
            (field, format!("{host:?} (with the path {path:?})"))
        }
        _ => ("path", path.clone()),
    };
    Err(EventError::Field {
        kind,
        field: field.to_owned(),
        expected: "parts that make a URL (`X-Forwarded-Proto`://`Host``path`)".to_owned(),
        found,
    })
}
