//! The Lambda API on loopback, over the registry and invoke.
//!
//! Invoke (2015-03-31), the control-plane calls a deploy makes, and lamplight's own read
//! endpoints for traces and logs.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read as _;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use futures_util::StreamExt as _;
use lamplight_limits::MAX_UNZIPPED;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::config::{Code, FunctionConfig, TracingMode};
use crate::deployment::{CodePackage, Deployment};
use crate::error::ApiError;
use crate::invoke::{InvocationType, InvokeRequest, MAX_EVENT_PAYLOAD, MAX_SYNC_PAYLOAD};
use crate::registry::{Alias, Function, Meta, Registry, validate_name};
use crate::response_stream;

/// Control-plane requests larger than this are refused before they are read whole (a 50 MB
/// zip, base64, in JSON).
const MAX_REQUEST: usize = 70 * 1024 * 1024;
/// The largest zipped deployment package (Lambda's limit for a direct upload).
const MAX_ZIPPED: usize = lamplight_limits::MAX_DIRECT_UPLOAD;
/// The most entries a package may hold: parsing a zip's directory costs memory per entry
/// before any limit on bytes can act, and no real function needs more.
pub(crate) const MAX_ENTRIES: usize = 50_000;
/// The longest symbolic link target kept (Linux's own limit).
const MAX_LINK_TARGET: u64 = 4096;

pub(crate) async fn serve(listener: TcpListener, registry: Arc<Registry>, access: Access) {
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .route(
            "/2021-11-15/functions/{name}/response-streaming-invocations",
            post(invoke_with_response_stream),
        )
        .route("/2015-03-31/functions", post(create).get(list))
        .route("/2015-03-31/functions/", get(list))
        .route(
            "/2015-03-31/functions/{name}",
            get(get_function).delete(delete),
        )
        .route(
            "/2015-03-31/functions/{name}/configuration",
            get(get_configuration).put(update_configuration),
        )
        .route(
            "/2015-03-31/functions/{name}/code",
            axum::routing::put(update_code),
        )
        .route(
            "/2015-03-31/functions/{name}/versions",
            post(publish_version),
        )
        .route("/2015-03-31/functions/{name}/aliases", post(create_alias))
        .route(
            "/2015-03-31/functions/{name}/aliases/{alias}",
            get(get_alias).put(update_alias).delete(delete_alias),
        )
        .route("/lamplight", get(page))
        .route("/lamplight/", get(page))
        .route("/lamplight/invocations", get(invocations))
        .route("/lamplight/invocations/{id}", get(invocation))
        .route("/lamplight/traces", get(traces))
        .route("/lamplight/traces/{id}", get(trace))
        .route("/lamplight/xray", get(xray_stats))
        .route("/lamplight/logs/{name}", get(logs))
        .fallback(unknown)
        .with_state(registry)
        // On the whole router, fallback included: nothing is answered to a foreign caller.
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(access),
            guard,
        ));
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("Lambda API server failed: {e}");
    }
}

/// Who may use the API. The service runs code with the developer's AWS credentials, and a web
/// page can make the browser send requests to loopback: cross-site (a `text/plain` POST needs
/// no CORS preflight) or, after rebinding its own DNS name to 127.0.0.1, same-origin. So a
/// request must name a loopback (or the bound, or an allowed) `Host`, come from no `Origin` or a
/// loopback or allowed one, and change state only with a type a page cannot send unasked.
pub(crate) struct Access {
    bound: SocketAddr,
    /// Lowercase, without a trailing `/`.
    origins: Vec<String>,
    /// Lowercase, as `Host` is compared.
    hosts: Vec<String>,
}

/// What a browser may send cross-site without a CORS preflight.
const SIMPLE_CONTENT_TYPES: [&str; 3] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// The response headers a page allowed by origin may read.
const EXPOSED_HEADERS: &str = "x-amzn-requestid, x-amzn-errortype, x-amz-function-error, \
     x-amz-log-result, x-amz-executed-version, x-amzn-trace-id";

impl Access {
    pub(crate) fn new(bound: SocketAddr, origins: Vec<String>, hosts: Vec<String>) -> Self {
        Self {
            bound,
            origins: origins
                .into_iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect(),
            hosts: hosts
                .into_iter()
                .map(|h| h.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.hosts.contains(&host) {
            return true;
        }
        let name = host_name(&host);
        if name == "localhost" || self.hosts.iter().any(|h| h == name) {
            return true;
        }
        match name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            // A DNS-rebinding page sends its own name; an address cannot be rebound. Bound to
            // every interface, the service cannot list its addresses, so any address goes.
            Ok(ip) => {
                ip.to_canonical().is_loopback()
                    || ip == self.bound.ip()
                    || self.bound.ip().is_unspecified()
            }
            Err(_) => false,
        }
    }

    /// `Some(true)` for an origin allowed by [`crate::LocalLambdaBuilder::allow_origin`] (it gets
    /// CORS headers), `Some(false)` for a loopback page, `None` for anything else.
    fn origin_allowed(&self, origin: &str) -> Option<bool> {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if self.origins.contains(&origin) {
            return Some(true);
        }
        let host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))?;
        let name = host_name(host);
        let loopback = name == "localhost"
            || name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback());
        loopback.then_some(false)
    }

    /// Refuses a request addressed to a name that is not loopback, the bound address or an
    /// allowed host (a DNS-rebinding page's own name); the HTTP front checks this alone.
    pub(crate) fn check_hosts(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
        // Both the request line's authority (absolute form) and `Host` must pass. A request
        // without either is no browser's: browsers always send `Host`.
        let hosts = uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .into_iter()
            .chain(headers.get_all(header::HOST).iter().map(text));
        for host in hosts {
            if !self.host_allowed(&host) {
                return Err(ApiError::forbidden(format!(
                    "lamplight-local refused a request with Host `{host}`: it answers only requests addressed to \
                     localhost, a loopback address or {}, so that a web page cannot reach it by pointing its own DNS name \
                     at this machine (DNS rebinding). To serve another name (a proxy, a container name), allow it with \
                     LocalLambdaBuilder::allow_host.",
                    self.bound
                )));
            }
        }
        Ok(())
    }

    /// Checks a request; `Ok(Some(origin))` when the answer needs CORS headers for `origin`.
    fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<Option<String>, ApiError> {
        self.check_hosts(uri, headers)?;
        let mut cors = None;
        let mut origins = headers.get_all(header::ORIGIN).iter().map(text).peekable();
        let has_origin = origins.peek().is_some();
        for origin in origins {
            match self.origin_allowed(&origin) {
                Some(true) => cors = Some(origin),
                Some(false) => {}
                None => {
                    return Err(ApiError::forbidden(format!(
                        "lamplight-local refused a request from the web page at Origin `{origin}`: it runs functions \
                         with your AWS credentials, so it serves only pages on localhost unless told otherwise. To \
                         serve this page, start it with --allow-origin {origin} (LocalLambdaBuilder::allow_origin)."
                    )));
                }
            }
        }
        let cross_site =
            header(headers, "sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site"));
        // Browsers omit `Origin` on some cross-site requests (a GET from an `<img>`); their
        // fetch metadata still says where the request comes from.
        if cross_site && !has_origin {
            return Err(ApiError::forbidden(
                "lamplight-local refused a cross-site request from a web page (Sec-Fetch-Site: cross-site): it runs \
                 functions with your AWS credentials. To serve a page, start the service with --allow-origin <origin> \
                 (LocalLambdaBuilder::allow_origin)."
                    .into(),
            ));
        }
        let changes_state = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        if changes_state {
            for content_type in headers.get_all(header::CONTENT_TYPE).iter().map(text) {
                let media = content_type
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                if SIMPLE_CONTENT_TYPES.contains(&media.as_str()) {
                    return Err(ApiError::unsupported_media_type(format!(
                        "lamplight-local refused {method} {} with Content-Type `{content_type}`: a web page can send \
                         that type to any site without asking, so it is not accepted on requests that change anything. \
                         Send Content-Type: application/json (control-plane calls and Invoke; aws-sdk-lambda and the AWS \
                         CLI do), or application/octet-stream for an Invoke payload; with curl add \
                         -H 'Content-Type: application/json'.",
                        uri.path()
                    )));
                }
            }
        }
        Ok(cors)
    }
}

/// A header value as text; bytes that are not are kept visibly (and match no allowed name).
fn text(value: &HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes()).into_owned()
}

/// `name` of `name`, `name:port`, `[v6]` or `[v6]:port`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(v6, _)| &host[..=v6.len()]);
    }
    match host.rsplit_once(':') {
        // More than one colon: a bare IPv6 address, no port.
        Some((name, _)) if !name.contains(':') => name,
        _ => host,
    }
}

/// The [`Access`] check in front of every route, CORS for allowed origins, and the error
/// shape for answers the router and axum's extractors make on their own.
async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let cors = match access.check(request.method(), request.uri(), request.headers()) {
        Ok(cors) => cors,
        Err(e) => return e.into_response(),
    };
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let Some(origin) = cors.and_then(|o| HeaderValue::from_str(&o).ok()) else {
        return shaped(next.run(request).await, &method, &path).await;
    };
    let preflight = method == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, DELETE"),
        );
        if let Some(asked) = request
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        response
    } else {
        let mut response = shaped(next.run(request).await, &method, &path).await;
        response.headers_mut().insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
        response
    };
    let h = response.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.append(header::VARY, HeaderValue::from_static("origin"));
    response
}

/// An error answer without `x-amzn-ErrorType` (axum's plain-text rejection of a path or query,
/// the router's 405) rewritten in the API's shape, which is what the SDKs parse.
async fn shaped(response: Response, method: &Method, path: &str) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key("x-amzn-errortype")
    {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if status == StatusCode::METHOD_NOT_ALLOWED {
        format!("lamplight-local does not implement {method} {path}")
    } else if text.is_empty() {
        format!("{method} {path}: {status}")
    } else {
        format!("{method} {path}: {text}")
    };
    ApiError::from_rejection(status.as_u16(), message).into_response()
}

/// Reads a request body of at most `limit` bytes: refused from its `Content-Length` before a
/// byte is read, or as soon as a chunked body passes the limit, in the API's error shape.
async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
    operation: &str,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::too_large(format!(
            "Request must be smaller than {limit} bytes for the {operation} operation"
        ))
    };
    let declared = header(headers, "content-length").and_then(|l| l.trim().parse::<u64>().ok());
    if declared.is_some_and(|l| l > limit as u64) {
        return Err(too_large());
    }
    // Grown as bytes arrive: a declared length alone does not earn an allocation.
    let mut buffer = Vec::with_capacity(declared.map_or(0, |l| l.min(1 << 20) as usize));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::invalid_content(format!("could not read the request body: {e}"))
        })?;
        if buffer.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

type Shared = State<Arc<Registry>>;

#[derive(Deserialize, Default)]
struct QualifierQuery {
    #[serde(rename = "Qualifier")]
    qualifier: Option<String>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn invoke(
    State(registry): Shared,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let invocation_type = match header(&headers, "x-amz-invocation-type").as_deref() {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "X-Amz-Invocation-Type `{other}` is not RequestResponse, Event or DryRun"
            )));
        }
    };
    // Refused before it is read: an invocation's payload limit is far below a request's.
    let limit = match invocation_type {
        InvocationType::Event => MAX_EVENT_PAYLOAD,
        _ => MAX_SYNC_PAYLOAD,
    };
    let payload = read_body(body, &headers, limit, "InvokeFunction").await?;
    let request = InvokeRequest {
        function: name,
        qualifier: query.qualifier,
        invocation_type,
        log_tail: header(&headers, "x-amz-log-type").as_deref() == Some("Tail"),
        payload,
        client_context: header(&headers, "x-amz-client-context"),
        trace_header: header(&headers, "x-amzn-trace-id"),
    };
    let out = registry.invoke(request).await?;
    let mut response = Response::new(Body::from(out.payload));
    *response.status_mut() = StatusCode::from_u16(out.status).unwrap_or(StatusCode::OK);
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("x-amzn-requestid", &out.request_id);
    set("x-amz-executed-version", &out.executed_version);
    if let Some(trace) = &out.trace_header {
        set("x-amzn-trace-id", trace);
    }
    if let Some(error) = &out.function_error {
        set("x-amz-function-error", error);
    }
    if let Some(logs) = &out.log_result {
        set("x-amz-log-result", logs);
    }
    Ok(response)
}

/// InvokeWithResponseStream: the response as an event stream, chunk by chunk as the function
/// streams it (one chunk for a function that answers buffered). Errors of the request come
/// back before the stream as Invoke's do; a function error ends the stream in `InvokeComplete`.
async fn invoke_with_response_stream(
    State(registry): Shared,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let invocation_type = match header(&headers, "x-amz-invocation-type").as_deref() {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "X-Amz-Invocation-Type `{other}` is not RequestResponse or DryRun"
            )));
        }
    };
    let payload = read_body(body, &headers, MAX_SYNC_PAYLOAD, "InvokeWithResponseStream").await?;
    let request = InvokeRequest {
        function: name,
        qualifier: query.qualifier,
        invocation_type,
        log_tail: header(&headers, "x-amz-log-type").as_deref() == Some("Tail"),
        payload,
        client_context: header(&headers, "x-amz-client-context"),
        trace_header: header(&headers, "x-amzn-trace-id"),
    };
    let version = registry
        .find_deployment(&request.function, request.qualifier.as_deref())
        .map(|(_, _, version)| version)
        .ok();
    if invocation_type == InvocationType::DryRun {
        let out = registry.invoke(request).await?;
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(&out.request_id) {
            response.headers_mut().insert("x-amzn-requestid", v);
        }
        return Ok(response);
    }
    let streamed = response_stream::invoke_streaming(registry, request).await?;
    let request_id = match &streamed {
        response_stream::Streamed::Buffered(out) => out.request_id.clone(),
        response_stream::Streamed::Streaming(s) => s.request_id.clone(),
    };
    let mut response = Response::new(Body::from_stream(response_stream::event_stream(streamed)));
    let h = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("content-type", response_stream::EVENT_STREAM);
    set("x-amzn-requestid", &request_id);
    if let Some(version) = &version {
        set("x-amz-executed-version", version);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CodeInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    image_uri: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnvironmentInput {
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TracingInput {
    mode: Option<String>,
}

/// `CapacityProviderConfig` (Lambda Managed Instances): only its concurrency matters locally.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CapacityProviderInput {
    lambda_managed_instances_capacity_provider_config: Option<ManagedInstancesInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManagedInstancesInput {
    per_execution_environment_max_concurrency: Option<u64>,
}

impl CapacityProviderInput {
    /// Sets `max_concurrency` from `PerExecutionEnvironmentMaxConcurrency` (1 to 1600, as
    /// Lambda accepts); the capacity provider itself is recorded nowhere: this machine is it.
    fn apply(self, config: &mut FunctionConfig) -> Result<(), ApiError> {
        let Some(n) = self
            .lambda_managed_instances_capacity_provider_config
            .and_then(|m| m.per_execution_environment_max_concurrency)
        else {
            return Ok(());
        };
        if !(1..=1600).contains(&n) {
            return Err(ApiError::invalid_parameter(format!(
                "PerExecutionEnvironmentMaxConcurrency {n} is outside 1 to 1600"
            )));
        }
        config.max_concurrency = usize::try_from(n).ok();
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LoggingInput {
    log_format: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateInput {
    function_name: String,
    code: CodeInput,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<u64>,
    memory_size: Option<u32>,
    environment: Option<EnvironmentInput>,
    tracing_config: Option<TracingInput>,
    logging_config: Option<LoggingInput>,
    capacity_provider_config: Option<CapacityProviderInput>,
    architectures: Option<Vec<String>>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ConfigurationInput {
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<u64>,
    memory_size: Option<u32>,
    environment: Option<EnvironmentInput>,
    tracing_config: Option<TracingInput>,
    logging_config: Option<LoggingInput>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CodeUpdateInput {
    zip_file: Option<String>,
    s3_bucket: Option<String>,
    image_uri: Option<String>,
    architectures: Option<Vec<String>>,
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(body))
        .map_err(|e| ApiError::invalid_parameter(format!("could not read the request: {e}")))
}

impl ConfigurationInput {
    fn apply(self, config: &mut FunctionConfig) -> Result<(), ApiError> {
        if let Some(v) = self.runtime {
            config.runtime = v;
        }
        if let Some(v) = self.role {
            config.role = v;
        }
        if let Some(v) = self.handler {
            config.handler = v;
        }
        if let Some(v) = self.description {
            config.description = v;
        }
        if let Some(v) = self.timeout {
            if !u32::try_from(v).is_ok_and(|v| lamplight_limits::TIMEOUT_SECONDS.contains(&v)) {
                return Err(ApiError::invalid_parameter(format!(
                    "Timeout {v} is outside 1 to 900 seconds"
                )));
            }
            config.timeout = Duration::from_secs(v);
        }
        if let Some(v) = self.memory_size {
            if !lamplight_limits::MEMORY_MB.contains(&v) {
                return Err(ApiError::invalid_parameter(format!(
                    "MemorySize {v} is outside 128 to 10240 MB"
                )));
            }
            config.memory_mb = v;
        }
        if let Some(env) = self.environment {
            let size: usize = env.variables.iter().map(|(k, v)| k.len() + v.len()).sum();
            if size > 4096 {
                return Err(ApiError::invalid_parameter(format!(
                    "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {size} bytes"
                )));
            }
            config.environment = env.variables;
        }
        if let Some(mode) = self.tracing_config.and_then(|t| t.mode) {
            config.tracing = TracingMode::parse(&mode).ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "TracingConfig.Mode `{mode}` is not Active or PassThrough"
                ))
            })?;
        }
        if let Some(format) = self.logging_config.and_then(|l| l.log_format) {
            config.log_format = format;
        }
        Ok(())
    }
}

/// Why a deployment package could not be unpacked.
#[derive(Debug, thiserror::Error)]
enum UnpackError {
    #[error("Unzipped size must be smaller than {MAX_UNZIPPED} bytes")]
    TooLarge,
    #[error(
        "the package has more than {MAX_ENTRIES} entries; lamplight-local unpacks at most {MAX_ENTRIES}"
    )]
    TooManyEntries,
    #[error("entry `{0}` escapes the package (absolute, `..` above the package, or a NUL byte)")]
    Escapes(String),
    #[error("symbolic link `{name}` -> `{target}` is refused: {why}")]
    Link {
        name: String,
        target: String,
        why: &'static str,
    },
    #[error(transparent)]
    Zip(#[from] zip::result::ZipError),
    // The cause is in the message, not a `source`: this error is only ever shown as text.
    #[error("could not unpack `{entry}`: {error}")]
    Io {
        entry: String,
        error: std::io::Error,
    },
}

impl UnpackError {
    fn io(entry: &str) -> impl FnOnce(std::io::Error) -> Self + '_ {
        move |error| Self::Io {
            entry: entry.to_owned(),
            error,
        }
    }

    fn into_api(self) -> ApiError {
        match self {
            Self::TooLarge => ApiError::invalid_parameter(self.to_string()),
            Self::Io { error, .. } if error.kind() == std::io::ErrorKind::StorageFull => {
                ApiError::service(format!(
                    "lamplight-local could not unpack the package: {error} (free space where the work directory is, or \
                     move it with LocalLambdaBuilder::work_dir_in)"
                ))
            }
            other => ApiError::invalid_parameter(format!(
                "Could not unzip uploaded file. Please check your file, then try to upload again. ({other})"
            )),
        }
    }
}

/// Decodes and unpacks a deployment package into a new directory of the work directory, off
/// the async workers; returns the package's Meta and its directory. Nothing is left on disk
/// when it fails.
async fn unpack(
    registry: &Registry,
    name: &str,
    zip_file: Option<String>,
    s3: bool,
    image: bool,
) -> Result<(Meta, Arc<CodePackage>), ApiError> {
    if s3 || image {
        return Err(ApiError::invalid_parameter(
            "lamplight-local runs code given as Code.ZipFile; S3 and container image code are not supported locally".into(),
        ));
    }
    let encoded =
        zip_file.ok_or_else(|| ApiError::invalid_parameter("Code.ZipFile is required".into()))?;
    // Only a validated function name may become a path component.
    validate_name(name)?;
    let dir = registry
        .workdir
        .join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    let work = tokio::task::spawn_blocking(move || {
        let bytes = BASE64
            .decode(encoded.as_bytes())
            .map_err(|e| ApiError::invalid_parameter(format!("Code.ZipFile is not base64: {e}")))?;
        if bytes.len() > MAX_ZIPPED {
            return Err(ApiError::too_large(format!(
                "Zipped size must be smaller than {MAX_ZIPPED} bytes (this one is {}); upload it to S3 instead",
                bytes.len()
            )));
        }
        let package = CodePackage::new(dir);
        if let Err(e) = extract(&bytes, package.path()) {
            package.remove_now();
            return Err(e.into_api());
        }
        Ok((Meta::new(&bytes), Arc::new(package)))
    });
    work.await
        .map_err(|e| ApiError::service(format!("unpacking the package failed: {e}")))?
}

/// Unpacks `zip` into `dir` (created here): entries streamed to disk and counted, at most
/// [`MAX_UNZIPPED`] bytes and [`MAX_ENTRIES`] entries, none outside `dir`, symbolic links kept
/// only when they resolve inside it.
fn extract(zip: &[u8], dir: &std::path::Path) -> Result<(), UnpackError> {
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    // The zip reader parses the whole central directory, trusting its count, before anything
    // here can refuse an entry: count the directory's records first. Every record starts with
    // this signature, so there are at most as many records as occurrences.
    let records = zip.windows(4).filter(|w| *w == b"PK\x01\x02").count();
    if records > MAX_ENTRIES {
        return Err(UnpackError::TooManyEntries);
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))?;
    if archive.len() > MAX_ENTRIES {
        return Err(UnpackError::TooManyEntries);
    }
    // The declared sizes refuse an honest oversized package before any write; the bytes
    // actually inflated are counted below all the same, as the declarations can lie.
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        declared = declared.saturating_add(archive.by_index_raw(i)?.size());
    }
    if declared > MAX_UNZIPPED {
        return Err(UnpackError::TooLarge);
    }
    std::fs::create_dir(dir).map_err(UnpackError::io("the package directory"))?;
    let mut written: u64 = 0;
    let mut links = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let name = entry.name().to_owned();
        let relative = entry
            .enclosed_name()
            .and_then(|p| normalize(&p))
            .ok_or_else(|| UnpackError::Escapes(name.clone()))?;
        if relative.as_os_str().is_empty() {
            continue;
        }
        let path = dir.join(&relative);
        if entry.is_symlink() {
            let mut target = Vec::new();
            (&mut entry)
                .take(MAX_LINK_TARGET + 1)
                .read_to_end(&mut target)
                .map_err(UnpackError::io(&name))?;
            // Links are made after every file: no file is ever written through one.
            links.push((name, relative, target));
            continue;
        }
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(UnpackError::io(&name))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(UnpackError::io(&name))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(UnpackError::io(&name))?;
        let budget = MAX_UNZIPPED - written;
        let copied = std::io::copy(&mut (&mut entry).take(budget + 1), &mut file)
            .map_err(UnpackError::io(&name))?;
        if copied > budget {
            return Err(UnpackError::TooLarge);
        }
        written += copied;
        let mode = entry.unix_mode().unwrap_or(0o644) & 0o777;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(UnpackError::io(&name))?;
    }
    for (name, relative, target) in links {
        link(dir, &name, &relative, &target)?;
    }
    Ok(())
}

/// `path` with `.` dropped and `..` applied; `None` when it leaves its root or is not relative.
fn normalize(path: &std::path::Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Makes the symbolic link `relative` -> `target` inside `dir`, when it provably resolves
/// inside `dir`: a relative target of leading `..` (no more than the link is deep) then names
/// only, at a place no other link leads through. Each link then resolves inside from a real
/// directory, and a name that is itself a link leads inside again.
fn link(
    dir: &std::path::Path,
    name: &str,
    relative: &std::path::Path,
    target: &[u8],
) -> Result<(), UnpackError> {
    let refuse = |why| UnpackError::Link {
        name: name.to_owned(),
        target: String::from_utf8_lossy(target).into_owned(),
        why,
    };
    if target.is_empty() || target.len() as u64 > MAX_LINK_TARGET || target.contains(&0) {
        return Err(refuse("the target is empty, too long or holds a NUL byte"));
    }
    let target_path = std::path::Path::new(OsStr::from_bytes(target));
    let mut ups = 0usize;
    let mut named = false;
    for component in target_path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse("an absolute target points outside the package"));
            }
            Component::CurDir => {}
            Component::ParentDir if named => {
                return Err(refuse(
                    "`..` after a name could lead through another link out of the package",
                ));
            }
            Component::ParentDir => ups += 1,
            Component::Normal(_) => named = true,
        }
    }
    let depth = relative.components().count().saturating_sub(1);
    if ups > depth {
        return Err(refuse("the target points outside the package"));
    }
    // No directory on the way to the link may itself be a link: the target is judged from
    // the link's real place.
    let mut place = dir.to_owned();
    if let Some(parent) = relative.parent() {
        for part in parent.components() {
            place.push(part);
            match std::fs::symlink_metadata(&place) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(refuse("it is inside another symbolic link of the package"));
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(UnpackError::io(name))?;
    }
    std::os::unix::fs::symlink(target_path, &path).map_err(UnpackError::io(name))
}

async fn create(
    State(registry): Shared,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(body, &headers, MAX_REQUEST, "CreateFunction").await?;
    let input: CreateInput = parse_json(&body)?;
    // The name becomes a directory: nothing is touched before it is known to be a plain name.
    validate_name(&input.function_name)?;
    let mut config = FunctionConfig::new(input.function_name.clone(), Code::External);
    config.tracing = TracingMode::PassThrough;
    if let Some(arch) = input.architectures.and_then(|a| a.into_iter().next()) {
        config.architecture = arch;
    }
    ConfigurationInput {
        runtime: input.runtime,
        role: input.role,
        handler: input.handler,
        description: input.description,
        timeout: input.timeout,
        memory_size: input.memory_size,
        environment: input.environment,
        tracing_config: input.tracing_config,
        logging_config: input.logging_config,
    }
    .apply(&mut config)?;
    if let Some(capacity) = input.capacity_provider_config {
        capacity.apply(&mut config)?;
    }
    // Held until the function is registered (or this fails): a second CreateFunction of the
    // name is refused now, not after both have unpacked.
    let _reservation = registry.reserve(&input.function_name)?;
    let (mut meta, package) = unpack(
        &registry,
        &input.function_name,
        input.code.zip_file,
        input.code.s3_bucket.is_some(),
        input.code.image_uri.is_some(),
    )
    .await?;
    config.code = Code::Bootstrap(package.path().join("bootstrap"));
    meta.tags = input.tags;
    let task_root = Some(package.path().to_owned());
    let handle = registry
        .register(config, meta, task_root, Some(package), false)
        .await?;
    let function = registry.find(handle.name(), None)?.0;
    Ok((StatusCode::CREATED, axum::Json(configuration(&function))).into_response())
}

async fn list(State(registry): Shared) -> Result<Response, ApiError> {
    let functions: Vec<Value> = registry
        .functions
        .read()
        .map_err(|_| ApiError::service("registry poisoned"))?
        .values()
        .map(|f| configuration(f))
        .collect();
    Ok(axum::Json(json!({"Functions": functions})).into_response())
}

async fn get_function(
    State(registry): Shared,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
) -> Result<Response, ApiError> {
    let (function, _) = registry.find(&name, query.qualifier.as_deref())?;
    let tags = function
        .meta
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .tags
        .clone();
    Ok(axum::Json(json!({
        "Configuration": configuration(&function),
        "Code": {"RepositoryType": "S3", "Location": format!("file://{}", function.deployment().task_root.as_deref().unwrap_or(&registry.workdir).display())},
        "Tags": tags,
    }))
    .into_response())
}

async fn get_configuration(
    State(registry): Shared,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
) -> Result<Response, ApiError> {
    let (function, _) = registry.find(&name, query.qualifier.as_deref())?;
    Ok(axum::Json(configuration(&function)).into_response())
}

async fn delete(State(registry): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let (function, _) = registry.find(&name, None)?;
    registry
        .functions
        .write()
        .map_err(|_| ApiError::service("registry poisoned"))?
        .remove(&function.name);
    let deployment = function.deployment();
    deployment.retire(None).await;
    deployment.stop_all();
    let mut deployments = vec![deployment];
    deployments.extend(
        function
            .versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .published
            .values()
            .map(|(d, _)| d.clone()),
    );
    for version in &deployments[1..] {
        version.retire(None).await;
        version.stop_all();
    }
    // The code goes once the processes running it have: not left for the service's life.
    tokio::spawn(crate::deployment::remove_code_when_stopped(deployments));
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn update_configuration(
    State(registry): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(body, &headers, MAX_REQUEST, "UpdateFunctionConfiguration").await?;
    let (function, _) = registry.find(&name, None)?;
    let input: ConfigurationInput = parse_json(&body)?;
    let current = function.deployment();
    let mut config = current.config.clone();
    input.apply(&mut config)?;
    redeploy(
        &function,
        &current,
        config,
        current.task_root.clone(),
        current.package.clone(),
    )
    .await;
    function
        .meta
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .touch();
    Ok(axum::Json(configuration(&function)).into_response())
}

async fn update_code(
    State(registry): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(body, &headers, MAX_REQUEST, "UpdateFunctionCode").await?;
    let (function, _) = registry.find(&name, None)?;
    let input: CodeUpdateInput = parse_json(&body)?;
    let (code_meta, package) = unpack(
        &registry,
        &function.name,
        input.zip_file,
        input.s3_bucket.is_some(),
        input.image_uri.is_some(),
    )
    .await?;
    let current = function.deployment();
    let mut config = current.config.clone();
    config.code = Code::Bootstrap(package.path().join("bootstrap"));
    if let Some(arch) = input.architectures.and_then(|a| a.into_iter().next()) {
        config.architecture = arch;
    }
    let task_root = Some(package.path().to_owned());
    // The previous package goes when the retired deployment (and any version published from
    // it) is dropped, after its environments' processes have exited.
    redeploy(&function, &current, config, task_root, Some(package)).await;
    {
        let mut meta = function.meta.lock().unwrap_or_else(|e| e.into_inner());
        let tags = std::mem::take(&mut meta.tags);
        *meta = code_meta;
        meta.tags = tags;
    }
    Ok(axum::Json(configuration(&function)).into_response())
}

async fn redeploy(
    function: &Function,
    current: &Deployment,
    config: FunctionConfig,
    task_root: Option<PathBuf>,
    package: Option<Arc<CodePackage>>,
) {
    let next = Deployment::new(
        config,
        function.arn.clone(),
        task_root,
        package,
        function.logs.clone(),
        current.ctx.clone(),
    );
    function.redeploy(next).await;
}

/// The FunctionConfiguration document of `$LATEST`.
fn configuration(function: &Function) -> Value {
    let d = function.deployment();
    let meta = function
        .meta
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    configuration_of(function, &d, &meta)
}

/// The FunctionConfiguration document of one deployment (`$LATEST` or a version).
fn configuration_of(function: &Function, d: &Deployment, meta: &Meta) -> Value {
    let c = &d.config;
    let arn = if d.version == "$LATEST" {
        function.arn.clone()
    } else {
        format!("{}:{}", function.arn, d.version)
    };
    let mut document = json!({
        "FunctionName": c.name,
        "FunctionArn": arn,
        "Runtime": c.runtime,
        "Role": c.role,
        "Handler": c.handler,
        "CodeSize": meta.code_size,
        "Description": c.description,
        "Timeout": c.timeout.as_secs(),
        "MemorySize": c.memory_mb,
        "LastModified": meta.last_modified,
        "CodeSha256": meta.code_sha256,
        "Version": d.version,
        "Environment": {"Variables": c.environment},
        "TracingConfig": {"Mode": c.tracing.as_str()},
        "RevisionId": meta.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": [c.architecture],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": {"LogFormat": c.log_format, "LogGroup": format!("/aws/lambda/{}", c.name)},
    });
    if let (Some(n), Some(doc)) = (c.max_concurrency, document.as_object_mut()) {
        doc.insert(
            "CapacityProviderConfig".into(),
            json!({"LambdaManagedInstancesCapacityProviderConfig": {
                "PerExecutionEnvironmentMaxConcurrency": n,
            }}),
        );
    }
    document
}

async fn publish_version(
    State(registry): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let (function, _) = registry.find(&name, None)?;
    let meta = function
        .meta
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut versions = function.versions.lock().unwrap_or_else(|e| e.into_inner());
    // As Lambda: publishing an unchanged $LATEST returns the newest version, not a new one.
    if versions.last_revision.as_deref() == Some(meta.revision_id.as_str())
        && let Some((_, (deployment, meta))) = versions.published.last_key_value()
    {
        return Ok((
            StatusCode::CREATED,
            axum::Json(configuration_of(&function, deployment, meta)),
        )
            .into_response());
    }
    let number = versions
        .published
        .last_key_value()
        .map_or(1, |(n, _)| n + 1);
    let deployment = function.deployment().published(number);
    let body = configuration_of(&function, &deployment, &meta);
    versions
        .published
        .insert(number, (deployment, meta.clone()));
    versions.last_revision = Some(meta.revision_id);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasInput {
    name: Option<String>,
    function_version: Option<String>,
    description: Option<String>,
}

fn alias_document(function: &Function, name: &str, alias: &Alias) -> Value {
    json!({
        "AliasArn": format!("{}:{name}", function.arn),
        "Name": name,
        "FunctionVersion": alias.version.to_string(),
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    })
}

fn version_number(function: &Function, version: Option<&str>) -> Result<u64, ApiError> {
    let version =
        version.ok_or_else(|| ApiError::invalid_parameter("FunctionVersion is required".into()))?;
    let number: u64 = version.parse().map_err(|_| {
        ApiError::invalid_parameter(format!(
            "FunctionVersion `{version}` is not a published version number"
        ))
    })?;
    if !function
        .versions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .published
        .contains_key(&number)
    {
        return Err(ApiError::not_found(format!(
            "Function not found: {}:{number}",
            function.arn
        )));
    }
    Ok(number)
}

async fn create_alias(
    State(registry): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(body, &headers, MAX_REQUEST, "CreateAlias").await?;
    let (function, _) = registry.find(&name, None)?;
    let input: AliasInput = parse_json(&body)?;
    let alias_name = input
        .name
        .ok_or_else(|| ApiError::invalid_parameter("Name is required".into()))?;
    let version = version_number(&function, input.function_version.as_deref())?;
    let mut versions = function.versions.lock().unwrap_or_else(|e| e.into_inner());
    if versions.aliases.contains_key(&alias_name) {
        return Err(ApiError::conflict(format!(
            "Alias already exists: {}:{alias_name}",
            function.arn
        )));
    }
    let alias = Alias {
        version,
        description: input.description.unwrap_or_default(),
        revision_id: uuid::Uuid::new_v4().to_string(),
    };
    let body = alias_document(&function, &alias_name, &alias);
    versions.aliases.insert(alias_name, alias);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn get_alias(
    State(registry): Shared,
    Path((name, alias_name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (function, _) = registry.find(&name, None)?;
    let versions = function.versions.lock().unwrap_or_else(|e| e.into_inner());
    let alias = versions.aliases.get(&alias_name).ok_or_else(|| {
        ApiError::not_found(format!(
            "Cannot find alias arn: {}:{alias_name}",
            function.arn
        ))
    })?;
    Ok(axum::Json(alias_document(&function, &alias_name, alias)).into_response())
}

async fn update_alias(
    State(registry): Shared,
    Path((name, alias_name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = read_body(body, &headers, MAX_REQUEST, "UpdateAlias").await?;
    let (function, _) = registry.find(&name, None)?;
    let input: AliasInput = parse_json(&body)?;
    let version = match input.function_version.as_deref() {
        Some(v) => Some(version_number(&function, Some(v))?),
        None => None,
    };
    let mut versions = function.versions.lock().unwrap_or_else(|e| e.into_inner());
    let alias = versions.aliases.get_mut(&alias_name).ok_or_else(|| {
        ApiError::not_found(format!(
            "Cannot find alias arn: {}:{alias_name}",
            function.arn
        ))
    })?;
    if let Some(v) = version {
        alias.version = v;
    }
    if let Some(d) = input.description {
        alias.description = d;
    }
    alias.revision_id = uuid::Uuid::new_v4().to_string();
    let alias = alias.clone();
    Ok(axum::Json(alias_document(&function, &alias_name, &alias)).into_response())
}

async fn delete_alias(
    State(registry): Shared,
    Path((name, alias_name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (function, _) = registry.find(&name, None)?;
    function
        .versions
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .aliases
        .remove(&alias_name);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct TraceQuery {
    format: Option<String>,
}

async fn traces(State(registry): Shared) -> Response {
    let summaries: Vec<Value> = registry
        .ctx
        .traces
        .traces()
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "segments": t.segments.len(),
                "start": t.start(),
                "duration": t.end().zip(t.start()).map(|(e, s)| e - s),
                "fault": t.segments.iter().any(|s| s.fault),
                "error": t.segments.iter().any(|s| s.error),
            })
        })
        .collect();
    axum::Json(json!({"traces": summaries})).into_response()
}

async fn trace(
    State(registry): Shared,
    Path(id): Path<String>,
    Query(query): Query<TraceQuery>,
) -> Result<Response, ApiError> {
    let id = id
        .parse()
        .map_err(|e: lamplight_xray::IdError| ApiError::invalid_parameter(e.to_string()))?;
    let trace = registry
        .ctx
        .traces
        .trace(&id)
        .ok_or_else(|| ApiError::not_found(format!("no segments received for trace {id}")))?;
    Ok(match query.format.as_deref() {
        Some("text") => trace.waterfall(40).into_response(),
        _ => axum::Json(json!({"id": trace.id, "segments": trace.segments, "tree": trace.tree()}))
            .into_response(),
    })
}

async fn xray_stats(State(registry): Shared) -> Response {
    axum::Json(json!({
        "address": registry.ctx.xray_addr.to_string(),
        "stats": registry.ctx.traces.stats(),
        "rejections": registry.ctx.traces.rejections(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct LogQuery {
    since: Option<u64>,
}

async fn logs(
    State(registry): Shared,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let (function, _) = registry.find(&name, None)?;
    Ok(
        axum::Json(json!({"events": function.logs.since(query.since.unwrap_or(0))}))
            .into_response(),
    )
}

/// The page of recent invocations, their logs and trace waterfalls; it polls the endpoints
/// below, same-origin, and loads nothing from elsewhere.
async fn page(uri: Uri) -> Response {
    if uri.path() == "/lamplight" {
        return (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, "/lamplight/")],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        lamplight_xray::page::live(),
    )
        .into_response()
}

/// The newest synchronous invocations, newest first.
async fn invocations(State(registry): Shared) -> Response {
    let list = registry.records(|r| serde_json::to_value(r).unwrap_or_default());
    axum::Json(json!({"invocations": list})).into_response()
}

/// One remembered invocation with its log lines.
async fn invocation(State(registry): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let record = registry
        .record_of(&id)
        .ok_or_else(|| ApiError::not_found(format!("no invocation {id} is remembered")))?;
    let mut value = serde_json::to_value(&record).unwrap_or_default();
    value["logs"] = json!(record.logs.lines().collect::<Vec<_>>());
    Ok(axum::Json(value).into_response())
}

async fn unknown(method: Method, uri: Uri) -> ApiError {
    ApiError::unknown_operation(method.as_str(), uri.path())
}
