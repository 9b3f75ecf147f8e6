//! HTTP requests as the events a Lambda function receives from an HTTP trigger, and the
//! function's proxy response back as an HTTP response. Pure conversion: no AWS SDK, no I/O.
//!
//! | [`Shape`] | event | response |
//! |---|---|---|
//! | [`Shape::HttpApi`] | API Gateway HTTP API, payload format 2.0 | `statusCode`, `headers`, `cookies`; a payload without `statusCode` is a 200 JSON body |
//! | [`Shape::FunctionUrl`] | the same 2.0 payload, `requestContext.domainName` `<url-id>.lambda-url.<region>.on.aws` | as HTTP API |
//! | [`Shape::RestApi`] | API Gateway REST API proxy integration, payload format 1.0, with `multiValueHeaders` and `multiValueQueryStringParameters` | `statusCode` required |
//! | [`Shape::Alb`] | ALB target group event (`requestContext.elb.targetGroupArn`), single-value headers and query, or multi-value ones when the target group has `lambda.multi_value_headers.enabled` | `statusCode` required |
//!
//! ```
//! use lamplight_proxy::{Shape, Source};
//!
//! let (parts, ()) = http::Request::get("/items/7?tag=a").body(()).unwrap().into_parts();
//! let event = lamplight_proxy::event(Shape::HttpApi, &parts, b"", &Source::new("orders"));
//! assert_eq!(event["rawPath"], "/items/7");
//! assert_eq!(event["queryStringParameters"]["tag"], "a");
//!
//! let response = lamplight_proxy::response(
//!     Shape::HttpApi,
//!     br#"{"statusCode": 201, "cookies": ["s=1"], "body": "made"}"#,
//! )
//! .unwrap();
//! assert_eq!(response.status(), 201);
//! assert_eq!(response.headers()["set-cookie"], "s=1");
//! ```
//!
//! Text bodies travel as they are, anything else base64 (`isBase64Encoded`). Header values that
//! are not UTF-8 are read lossily; header names are lowercase, as the services send them. A
//! response that is not a proxy response is a [`BadResponse`] saying what is wrong (API Gateway
//! would answer 502), never a panic.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, request};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Which trigger the function is behind, and so which event it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shape {
    /// API Gateway HTTP API, payload format 2.0.
    HttpApi,
    /// A Lambda Function URL (payload 2.0, a `lambda-url` domain).
    FunctionUrl,
    /// API Gateway REST API proxy integration, payload format 1.0.
    RestApi,
    /// An Application Load Balancer target group.
    Alb {
        /// The target group sends `multiValueHeaders` and `multiValueQueryStringParameters`
        /// instead of single values (`lambda.multi_value_headers.enabled`).
        multi_value_headers: bool,
    },
}

impl Shape {
    /// The shape for `[package.metadata.lamplight] trigger.kind` (`http-api`, `function-url`,
    /// `rest-api`, `alb`), `None` for a kind that is not an HTTP trigger.
    pub fn from_trigger(kind: &str, multi_value_headers: bool) -> Option<Self> {
        match kind {
            "http-api" => Some(Self::HttpApi),
            "function-url" => Some(Self::FunctionUrl),
            "rest-api" => Some(Self::RestApi),
            "alb" => Some(Self::Alb {
                multi_value_headers,
            }),
            _ => None,
        }
    }

    /// The trigger kind, as `[package.metadata.lamplight] trigger.kind` spells it.
    pub fn kind(self) -> &'static str {
        match self {
            Self::HttpApi => "http-api",
            Self::FunctionUrl => "function-url",
            Self::RestApi => "rest-api",
            Self::Alb { .. } => "alb",
        }
    }

    /// Payload format 2.0 (HTTP API, Function URL): a response without `statusCode` is a body.
    fn is_v2(self) -> bool {
        matches!(self, Self::HttpApi | Self::FunctionUrl)
    }
}

/// Where the event comes from: what the trigger would put in `requestContext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The function's name (in the Function URL's id and the ALB target group's ARN).
    pub function: String,
    /// The region (`us-east-1` by default).
    pub region: String,
    /// The account (`123456789012` by default).
    pub account: String,
    /// The caller's address (`127.0.0.1` by default).
    pub source_ip: String,
}

impl Source {
    /// A caller on loopback in `us-east-1`, account `123456789012`.
    pub fn new(function: impl Into<String>) -> Self {
        Self {
            function: function.into(),
            region: "us-east-1".to_owned(),
            account: "123456789012".to_owned(),
            source_ip: "127.0.0.1".to_owned(),
        }
    }
}

/// The event `shape`'s trigger sends for a request with these `parts` and `body`.
pub fn event(shape: Shape, parts: &request::Parts, body: &[u8], source: &Source) -> Value {
    match shape {
        Shape::HttpApi | Shape::FunctionUrl => v2_event(shape, parts, body, source),
        Shape::RestApi => rest_api_event(parts, body, source),
        Shape::Alb {
            multi_value_headers,
        } => alb_event(parts, body, source, multi_value_headers),
    }
}

/// What is wrong with a function's answer that is no proxy response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadResponse(pub String);

impl std::fmt::Display for BadResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadResponse {}

/// The function's answer `payload` (its response document) as the HTTP response the trigger
/// would send: status, `headers`, `multiValueHeaders` (which win over single headers of the
/// same name), `cookies` (payload 2.0) as `set-cookie`, and the body, base64-decoded when
/// `isBase64Encoded`. Payload 2.0 takes an answer without `statusCode` as a 200 JSON body.
pub fn response(shape: Shape, payload: &[u8]) -> Result<Response<Bytes>, BadResponse> {
    let bad = |s: String| BadResponse(s);
    let value: Value = serde_json::from_slice(payload)
        .map_err(|e| bad(format!("the payload is not JSON ({e})")))?;
    if value.get("statusCode").is_none() {
        if shape.is_v2() {
            let mut response = Response::new(Bytes::copy_from_slice(payload));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Ok(response);
        }
        return Err(bad("it has no `statusCode`".to_owned()));
    }
    let proxy: ProxyResponse =
        serde_json::from_value(value).map_err(|e| bad(format!("its fields do not parse ({e})")))?;
    let status = StatusCode::from_u16(proxy.status_code)
        .map_err(|_| bad(format!("{} is not an HTTP status", proxy.status_code)))?;
    let body = match proxy.body {
        None => Bytes::new(),
        Some(text) if proxy.is_base64_encoded => {
            Bytes::from(BASE64.decode(text.as_bytes()).map_err(|e| {
                bad(format!(
                    "the body is marked base64 but does not decode ({e})"
                ))
            })?)
        }
        Some(text) => Bytes::from(text),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut put = |name: &str, value: &str, append: bool| -> Result<(), BadResponse> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(format!("`{name}` is not a header name")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| bad(format!("the value of `{name}` is not a header value")))?;
        if append {
            headers.append(name, value);
        } else {
            headers.insert(name, value);
        }
        Ok(())
    };
    for (name, value) in &proxy.headers {
        if !proxy
            .multi_value_headers
            .keys()
            .any(|k| k.eq_ignore_ascii_case(name))
        {
            put(name, &header_text(value), false)?;
        }
    }
    for (name, values) in &proxy.multi_value_headers {
        for value in values {
            put(name, &header_text(value), true)?;
        }
    }
    if shape.is_v2() {
        for cookie in &proxy.cookies {
            put("set-cookie", cookie, true)?;
        }
    }
    Ok(response)
}

/// The pairs of a query string, percent-decoded (`+` is a space).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProxyResponse {
    status_code: u16,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    multi_value_headers: BTreeMap<String, Vec<Value>>,
    #[serde(default)]
    cookies: Vec<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: bool,
}

fn header_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Text bodies travel as they are; anything that is not UTF-8 is base64.
fn encode_body(body: &[u8]) -> (Value, bool) {
    if body.is_empty() {
        return (Value::Null, false);
    }
    match std::str::from_utf8(body) {
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (Value::String(BASE64.encode(body)), true),
    }
}

fn lossy(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// Header values joined per name with `,` (as API Gateway does), names lowercase.
fn joined_headers(headers: &HeaderMap, skip_cookies: bool) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        if skip_cookies && name == http::header::COOKIE {
            continue;
        }
        let value = lossy(value);
        out.entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    out
}

fn multi_headers(headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        out.entry(name.as_str().to_owned())
            .or_default()
            .push(lossy(value));
    }
    out
}

/// The last value of each repeated header, as REST APIs and ALB keep in `headers`.
fn last_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    multi_headers(headers)
        .into_iter()
        .filter_map(|(k, mut v)| v.pop().map(|last| (k, last)))
        .collect()
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn now() -> (String, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
    (
        humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + now).to_string(),
        millis,
    )
}

/// 32 lowercase hex digits standing for the function, stable across runs (a Function URL's
/// id, an ALB target group's suffix).
fn stable_id(name: &str) -> String {
    // FNV-1a, twice with different offsets.
    let hash = |offset: u64| {
        name.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        hash(0xcbf2_9ce4_8422_2325),
        hash(0x8422_2325_cbf2_9ce4)
    )
}

fn v2_event(shape: Shape, parts: &request::Parts, body: &[u8], source: &Source) -> Value {
    let query = parts.uri.query().unwrap_or("");
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in query_pairs(query) {
        params
            .entry(k)
            .and_modify(|all| {
                all.push(',');
                all.push_str(&v);
            })
            .or_insert(v);
    }
    let cookies: Vec<String> = parts
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect();
    let (body, base64) = encode_body(body);
    let (time, epoch) = now();
    let (api_id, domain, prefix) = if shape == Shape::FunctionUrl {
        let id = stable_id(&source.function);
        let domain = format!("{id}.lambda-url.{}.on.aws", source.region);
        (id.clone(), domain, id)
    } else {
        let host = parts
            .uri
            .host()
            .map(str::to_owned)
            .or_else(|| {
                parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        let prefix = host.split('.').next().unwrap_or(&host).to_owned();
        ("lamplight".to_owned(), host, prefix)
    };
    let account = if shape == Shape::FunctionUrl {
        // What a Function URL with `AuthType: NONE` sends.
        "anonymous".to_owned()
    } else {
        source.account.clone()
    };
    let user_agent = header_str(&parts.headers, http::header::USER_AGENT);
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parts.uri.path(),
        "rawQueryString": query,
        "headers": joined_headers(&parts.headers, true),
        "requestContext": {
            "accountId": account,
            "apiId": api_id,
            "domainName": domain,
            "domainPrefix": prefix,
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": source.source_ip,
                "userAgent": user_agent,
            },
            "requestId": request_id(),
            "routeKey": "$default",
            "stage": "$default",
            "time": time,
            "timeEpoch": epoch,
        },
        "body": body,
        "isBase64Encoded": base64,
    });
    if !params.is_empty() {
        event["queryStringParameters"] = json!(params);
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    event
}

fn rest_api_event(parts: &request::Parts, body: &[u8], source: &Source) -> Value {
    let query = parts.uri.query().unwrap_or("");
    let mut single: BTreeMap<String, String> = BTreeMap::new();
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in query_pairs(query) {
        single.insert(k.clone(), v.clone());
        multi.entry(k).or_default().push(v);
    }
    let (body, base64) = encode_body(body);
    let (time, epoch) = now();
    let path = parts.uri.path();
    let user_agent = header_str(&parts.headers, http::header::USER_AGENT);
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": parts.method.as_str(),
        "headers": last_headers(&parts.headers),
        "multiValueHeaders": multi_headers(&parts.headers),
        "queryStringParameters": if single.is_empty() { Value::Null } else { json!(single) },
        "multiValueQueryStringParameters": if multi.is_empty() { Value::Null } else { json!(multi) },
        "pathParameters": { "proxy": path.trim_start_matches('/') },
        "stageVariables": null,
        "requestContext": {
            "accountId": source.account,
            "apiId": "lamplight",
            "resourcePath": "/{proxy+}",
            "httpMethod": parts.method.as_str(),
            "path": path,
            "protocol": "HTTP/1.1",
            "requestId": request_id(),
            "requestTime": time,
            "requestTimeEpoch": epoch,
            "stage": "$default",
            "identity": { "sourceIp": source.source_ip, "userAgent": user_agent },
        },
        "body": body,
        "isBase64Encoded": base64,
    })
}

/// ALB passes the query string's keys and values as they were sent, not percent-decoded.
fn raw_query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect()
}

fn alb_event(parts: &request::Parts, body: &[u8], source: &Source, multi_value: bool) -> Value {
    let query = parts.uri.query().unwrap_or("");
    let (body, base64) = encode_body(body);
    let target_group = format!(
        "arn:aws:elasticloadbalancing:{}:{}:targetgroup/{}/{}",
        source.region,
        source.account,
        // Target group names are at most 32 characters.
        source.function.chars().take(32).collect::<String>(),
        &stable_id(&source.function)[..16]
    );
    let mut event = json!({
        "requestContext": { "elb": { "targetGroupArn": target_group } },
        "httpMethod": parts.method.as_str(),
        "path": parts.uri.path(),
        "body": body.as_str().unwrap_or(""),
        "isBase64Encoded": base64,
    });
    if multi_value {
        let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in raw_query_pairs(query) {
            params.entry(k).or_default().push(v);
        }
        event["multiValueHeaders"] = json!(multi_headers(&parts.headers));
        event["multiValueQueryStringParameters"] = json!(params);
    } else {
        let params: BTreeMap<String, String> = raw_query_pairs(query).into_iter().collect();
        event["headers"] = json!(last_headers(&parts.headers));
        event["queryStringParameters"] = json!(params);
    }
    event
}

#[cfg(test)]
mod tests;
