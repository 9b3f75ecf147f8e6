//! The HTTP front: plain HTTP requests to the service's HTTP functions, each turned into the
//! event of the function's trigger ([`HttpShape`]: HTTP API, Function URL, REST API, ALB),
//! invoked through the same path as the Invoke API, and answered with the function's proxy
//! response, as the trigger would.
//!
//! `/lambda-url/<function>/<path>` reaches any HTTP function (as `cargo lambda watch` does); with
//! exactly one HTTP function, every other path reaches it too. A function error answers 502
//! `{"message":"Internal Server Error"}` and a timeout 504 `{"message":"Endpoint request timed
//! out"}`, as API Gateway does; an unknown function 404 naming the HTTP functions; a body over
//! [`MAX_SYNC_PAYLOAD`] 413. Every request gets an [`AccessEntry`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header, request};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use futures_util::StreamExt as _;
use lamplight_proxy::{Shape as HttpShape, Source};
use serde_json::json;
use tokio::net::TcpListener;

use crate::api::Access;
use crate::invocation::FunctionResult;
use crate::invoke::{InvokeRequest, MAX_SYNC_PAYLOAD};
use crate::registry::Registry;
use crate::response_stream::{self, Streamed, Streaming};

/// The path prefix that names a function: `/lambda-url/<function>/<path>`.
pub const FUNCTION_PREFIX: &str = "/lambda-url/";

/// One request the front answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// The request's method.
    pub method: String,
    /// The request's path (as sent, query string included).
    pub path: String,
    /// The HTTP function it reached, if any.
    pub function: Option<String>,
    /// The status answered.
    pub status: u16,
    /// From the request's arrival to its answer.
    pub duration: Duration,
    /// The invocation's X-Ray trace id, when it was sampled.
    pub trace_id: Option<String>,
    /// The invocation's request id.
    pub request_id: Option<String>,
    /// Why the front answered on its own (a function error, a response that is no proxy
    /// response, an unknown function ...).
    pub note: Option<String>,
}

impl std::fmt::Display for AccessEntry {
    /// `GET /lambda-url/items/items/5 200 12.3ms items request=... trace=1-...`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {:.1}ms",
            self.method,
            self.path,
            self.status,
            self.duration.as_secs_f64() * 1000.0
        )?;
        if let Some(function) = &self.function {
            write!(f, " {function}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " request={id}")?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, " trace={trace}")?;
        }
        if let Some(note) = &self.note {
            write!(f, " ({note})")?;
        }
        Ok(())
    }
}

/// Called with each request's [`AccessEntry`] (default: its line on stdout).
pub type AccessLog = Arc<dyn Fn(&AccessEntry) + Send + Sync>;

pub(crate) struct Front {
    pub functions: BTreeMap<String, HttpShape>,
    pub access: Access,
    pub log: Option<AccessLog>,
}

pub(crate) async fn serve(listener: TcpListener, registry: Arc<Registry>, front: Front) {
    let app = Router::new()
        .fallback(handle)
        .with_state((registry, Arc::new(front)));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("HTTP front failed: {e}");
    }
}

/// An answer in API Gateway's error shape.
fn message(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "message": text }).to_string(),
    )
        .into_response()
}

/// What one request came to.
struct Answer {
    response: Response,
    function: Option<String>,
    trace_id: Option<String>,
    request_id: Option<String>,
    note: Option<String>,
}

impl Answer {
    fn front(response: Response, note: String) -> Self {
        Self {
            response,
            function: None,
            trace_id: None,
            request_id: None,
            note: Some(note),
        }
    }
}

async fn handle(
    State((registry, front)): State<(Arc<Registry>, Arc<Front>)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let answer = answer(&registry, &front, peer, request).await;
    let entry = AccessEntry {
        method,
        path,
        function: answer.function,
        status: answer.response.status().as_u16(),
        duration: started.elapsed(),
        trace_id: answer.trace_id,
        request_id: answer.request_id,
        note: answer.note,
    };
    match &front.log {
        Some(log) => log(&entry),
        None => println!("{entry}"),
    }
    answer.response
}

/// The function `path` reaches and the path it sees, or why none.
fn route<'a>(
    functions: &BTreeMap<String, HttpShape>,
    path: &'a str,
) -> Result<(String, &'a str), String> {
    if let Some(rest) = path.strip_prefix(FUNCTION_PREFIX) {
        let (name, inner) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if functions.contains_key(name) {
            return Ok((name.to_owned(), inner));
        }
        if functions.len() != 1 {
            return Err(format!("no HTTP function `{name}`"));
        }
    }
    match functions.keys().next() {
        Some(only) if functions.len() == 1 => Ok((only.clone(), path)),
        _ => Err(format!("no HTTP function at {path}")),
    }
}

fn listing(functions: &BTreeMap<String, HttpShape>) -> String {
    if functions.is_empty() {
        return "the service has no HTTP function".to_owned();
    }
    let each: Vec<String> = functions
        .iter()
        .map(|(name, shape)| format!("{FUNCTION_PREFIX}{name}/ ({})", shape.kind()))
        .collect();
    format!("the HTTP functions are at {}", each.join(", "))
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    let too_large = || {
        message(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "Request Entity Too Large: the body is more than {limit} bytes, the most a \
                 synchronous Lambda invocation takes"
            ),
        )
    };
    let mut buffer = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            message(
                StatusCode::BAD_REQUEST,
                &format!("could not read the request body: {e}"),
            )
        })?;
        if buffer.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

async fn answer(
    registry: &Arc<Registry>,
    front: &Front,
    peer: SocketAddr,
    request: Request,
) -> Answer {
    if let Err(e) = front.access.check_hosts(request.uri(), request.headers()) {
        return Answer::front(message(StatusCode::FORBIDDEN, &e.message), e.message);
    }
    let (name, inner) = match route(&front.functions, request.uri().path()) {
        Ok(found) => found,
        Err(why) => {
            let text = format!("{why}: {}", listing(&front.functions));
            return Answer::front(message(StatusCode::NOT_FOUND, &text), why);
        }
    };
    let Some(shape) = front.functions.get(&name).copied() else {
        return Answer::front(
            message(StatusCode::NOT_FOUND, "no such function"),
            name.clone(),
        );
    };
    let target = match request.uri().query() {
        Some(q) => format!("{inner}?{q}"),
        None => inner.to_owned(),
    };
    let (mut parts, body) = request.into_parts();
    let uri: Uri = match target.parse() {
        Ok(uri) => uri,
        Err(e) => {
            let text = format!("`{target}` is no request path: {e}");
            return Answer::front(message(StatusCode::BAD_REQUEST, &text), text);
        }
    };
    parts.uri = uri;
    let mut answer = match read_body(body, MAX_SYNC_PAYLOAD).await {
        Ok(body) => invoke(registry, &name, shape, &parts, &body, peer).await,
        Err(response) => Answer::front(response, "body too large".to_owned()),
    };
    answer.function = Some(name);
    answer
}

async fn invoke(
    registry: &Arc<Registry>,
    name: &str,
    shape: HttpShape,
    parts: &request::Parts,
    body: &[u8],
    peer: SocketAddr,
) -> Answer {
    let source = Source {
        function: name.to_owned(),
        region: registry.ctx.region.clone(),
        account: registry.ctx.account.clone(),
        source_ip: peer.ip().to_canonical().to_string(),
    };
    let event = lamplight_proxy::event(shape, parts, body, &source);
    let payload = Bytes::from(event.to_string());
    let size = payload.len();
    let request = InvokeRequest {
        function: name.to_owned(),
        payload,
        trace_header: parts
            .headers
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..InvokeRequest::default()
    };
    // A Function URL streams when its function does; the other triggers buffer.
    let invoked = if matches!(shape, HttpShape::FunctionUrl) {
        response_stream::invoke_streaming(registry.clone(), request).await
    } else {
        registry
            .invoke(request)
            .await
            .map(|r| Streamed::Buffered(Box::new(r)))
    };
    let response = match invoked {
        Ok(Streamed::Buffered(response)) => *response,
        Ok(Streamed::Streaming(streaming)) => return streamed(streaming).await,
        Err(e) => {
            let (status, text) = match e.status {
                413 => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "Request Entity Too Large: the event for this request is {size} bytes, \
                         more than the {MAX_SYNC_PAYLOAD} a synchronous Lambda invocation takes"
                    ),
                ),
                429 => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too Many Requests".to_owned(),
                ),
                404 => (StatusCode::NOT_FOUND, e.message.clone()),
                _ => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal Server Error".to_owned(),
                ),
            };
            return Answer::front(message(status, &text), e.to_string());
        }
    };
    let request_id = Some(response.request_id.clone());
    let outcome = response.outcome;
    let trace_id = outcome
        .as_ref()
        .and_then(|o| o.trace_id.as_ref())
        .map(ToString::to_string);
    let (mut http, note) = match outcome.map(|o| o.result) {
        Some(FunctionResult::Response(payload)) => match lamplight_proxy::response(shape, &payload)
        {
            Ok(r) => (r.map(Body::from), None),
            Err(bad) => (
                message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
                Some(format!("not a proxy response: {bad}")),
            ),
        },
        Some(FunctionResult::Error { error_type, body }) => {
            let detail = String::from_utf8_lossy(&body).into_owned();
            if error_type == "Sandbox.Timedout" {
                (
                    message(StatusCode::GATEWAY_TIMEOUT, "Endpoint request timed out"),
                    Some(detail),
                )
            } else {
                (
                    message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
                    Some(detail),
                )
            }
        }
        None => (
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
            Some("the invocation ended without an outcome".to_owned()),
        ),
    };
    if let Some(trace) = &trace_id
        && !http.headers().contains_key("x-amzn-trace-id")
        && let Ok(value) = HeaderValue::from_str(&format!("Root={trace}"))
    {
        http.headers_mut().insert("x-amzn-trace-id", value);
    }
    Answer {
        response: http,
        function: None,
        trace_id,
        request_id,
        note,
    }
}

/// The answer of a function streaming to its Function URL: headers once its prelude is in,
/// then the body as it arrives.
async fn streamed(streaming: Streaming) -> Answer {
    let request_id = Some(streaming.request_id.clone());
    match response_stream::http_response(streaming).await {
        Ok(response) => Answer {
            response,
            function: None,
            trace_id: None,
            request_id,
            note: Some("streamed".to_owned()),
        },
        Err(why) => Answer {
            response: message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
            function: None,
            trace_id: None,
            request_id,
            note: Some(why),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn functions(names: &[&str]) -> BTreeMap<String, HttpShape> {
        names
            .iter()
            .map(|n| ((*n).to_owned(), HttpShape::HttpApi))
            .collect()
    }

    #[test]
    fn paths_name_functions() {
        let two = functions(&["items", "users"]);
        assert_eq!(
            route(&two, "/lambda-url/items/a/b"),
            Ok(("items".into(), "/a/b"))
        );
        assert_eq!(route(&two, "/lambda-url/users"), Ok(("users".into(), "/")));
        assert_eq!(route(&two, "/lambda-url/users/"), Ok(("users".into(), "/")));
        assert!(route(&two, "/lambda-url/nope/x").is_err());
        assert!(route(&two, "/items/5").is_err());
        assert!(route(&two, "/").is_err());

        let one = functions(&["items"]);
        assert_eq!(route(&one, "/items/5"), Ok(("items".into(), "/items/5")));
        assert_eq!(
            route(&one, "/lambda-url/items/5"),
            Ok(("items".into(), "/5"))
        );
        assert_eq!(
            route(&one, "/lambda-url/other/5"),
            Ok(("items".into(), "/lambda-url/other/5"))
        );
        assert!(route(&functions(&[]), "/x").is_err());
    }

    #[test]
    fn access_lines_carry_status_duration_and_trace() {
        let entry = AccessEntry {
            method: "GET".into(),
            path: "/lambda-url/items/items/5?x=1".into(),
            function: Some("items".into()),
            status: 200,
            duration: Duration::from_micros(12_345),
            trace_id: Some("1-5759e988-bd862e3fe1be46a994272793".into()),
            request_id: Some("r1".into()),
            note: None,
        };
        assert_eq!(
            entry.to_string(),
            "GET /lambda-url/items/items/5?x=1 200 12.3ms items request=r1 \
             trace=1-5759e988-bd862e3fe1be46a994272793"
        );
    }
}
