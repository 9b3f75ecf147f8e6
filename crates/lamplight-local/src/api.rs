//! The Lambda API on loopback: Invoke (2015-03-31), the control-plane calls a deploy makes, and
//! lamplight's own read endpoints for traces and logs.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::config::{Code, FunctionConfig, TracingMode};
use crate::deployment::Deployment;
use crate::error::ApiError;
use crate::service::{Function, InvocationType, InvokeRequest, Meta, ServiceInner};

/// Requests larger than this are refused before they are read whole.
const MAX_REQUEST: usize = 70 * 1024 * 1024;

pub(crate) async fn serve(listener: TcpListener, inner: Arc<ServiceInner>) {
    let app = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
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
        .route("/lamplight/traces", get(traces))
        .route("/lamplight/traces/{id}", get(trace))
        .route("/lamplight/xray", get(xray_stats))
        .route("/lamplight/logs/{name}", get(logs))
        .fallback(unknown)
        .layer(DefaultBodyLimit::max(MAX_REQUEST))
        .with_state(inner);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("Lambda API server failed: {e}");
    }
}

type Shared = State<Arc<ServiceInner>>;

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
    State(inner): Shared,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
    headers: HeaderMap,
    body: Bytes,
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
    let request = InvokeRequest {
        function: name,
        qualifier: query.qualifier,
        invocation_type,
        log_tail: header(&headers, "x-amz-log-type").as_deref() == Some("Tail"),
        payload: body,
        client_context: header(&headers, "x-amz-client-context"),
        trace_header: header(&headers, "x-amzn-trace-id"),
    };
    let out = inner.invoke(request).await?;
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
            if !(1..=900).contains(&v) {
                return Err(ApiError::invalid_parameter(format!(
                    "Timeout {v} is outside 1 to 900 seconds"
                )));
            }
            config.timeout = Duration::from_secs(v);
        }
        if let Some(v) = self.memory_size {
            if !(128..=10240).contains(&v) {
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

/// Decodes and unpacks a deployment package; returns the code bytes and the directory.
fn unpack(
    inner: &ServiceInner,
    name: &str,
    zip_file: Option<String>,
    s3: bool,
    image: bool,
) -> Result<(Vec<u8>, PathBuf), ApiError> {
    if s3 || image {
        return Err(ApiError::invalid_parameter(
            "lamplight-local runs code given as Code.ZipFile; S3 and container image code are not supported locally".into(),
        ));
    }
    let encoded =
        zip_file.ok_or_else(|| ApiError::invalid_parameter("Code.ZipFile is required".into()))?;
    let bytes = BASE64
        .decode(encoded.as_bytes())
        .map_err(|e| ApiError::invalid_parameter(format!("Code.ZipFile is not base64: {e}")))?;
    if bytes.len() > 50 * 1024 * 1024 {
        return Err(ApiError::too_large(format!(
            "Zipped size must be smaller than 52428800 bytes (this one is {}); upload it to S3 instead",
            bytes.len()
        )));
    }
    let dir = inner
        .workdir
        .join(name)
        .join(uuid::Uuid::new_v4().simple().to_string());
    extract(&bytes, &dir).map_err(|e| {
        ApiError::invalid_parameter(format!(
            "Could not unzip uploaded file. Please check your file, then try to upload again. ({e})"
        ))
    })?;
    Ok((bytes, dir))
}

fn extract(zip: &[u8], dir: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| e.to_string())?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(format!("entry `{}` escapes the package", entry.name()));
        };
        let path = dir.join(relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| e.to_string())?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
        std::fs::write(&path, data).map_err(|e| e.to_string())?;
        let mode = entry.unix_mode().unwrap_or(0o644) & 0o777;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

async fn create(State(inner): Shared, body: Bytes) -> Result<Response, ApiError> {
    let input: CreateInput = parse_json(&body)?;
    if inner
        .functions
        .read()
        .map_err(|_| ApiError::service("registry poisoned"))?
        .contains_key(&input.function_name)
    {
        return Err(ApiError::conflict(format!(
            "Function already exist: {}",
            input.function_name
        )));
    }
    let (code, dir) = unpack(
        &inner,
        &input.function_name,
        input.code.zip_file,
        input.code.s3_bucket.is_some(),
        input.code.image_uri.is_some(),
    )?;
    let mut config = FunctionConfig::new(
        input.function_name.clone(),
        Code::Bootstrap(dir.join("bootstrap")),
    );
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
    let mut meta = Meta::new(&code);
    meta.tags = input.tags;
    let handle = inner.register(config, meta, Some(dir)).await?;
    let function = inner.find(handle.name(), None)?.0;
    Ok((StatusCode::CREATED, axum::Json(configuration(&function))).into_response())
}

async fn list(State(inner): Shared) -> Result<Response, ApiError> {
    let functions: Vec<Value> = inner
        .functions
        .read()
        .map_err(|_| ApiError::service("registry poisoned"))?
        .values()
        .map(|f| configuration(f))
        .collect();
    Ok(axum::Json(json!({"Functions": functions})).into_response())
}

async fn get_function(
    State(inner): Shared,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, query.qualifier.as_deref())?;
    let tags = function
        .meta
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .tags
        .clone();
    Ok(axum::Json(json!({
        "Configuration": configuration(&function),
        "Code": {"RepositoryType": "S3", "Location": format!("file://{}", inner.workdir.join(&function.name).display())},
        "Tags": tags,
    }))
    .into_response())
}

async fn get_configuration(
    State(inner): Shared,
    Path(name): Path<String>,
    Query(query): Query<QualifierQuery>,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, query.qualifier.as_deref())?;
    Ok(axum::Json(configuration(&function)).into_response())
}

async fn delete(State(inner): Shared, Path(name): Path<String>) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
    inner
        .functions
        .write()
        .map_err(|_| ApiError::service("registry poisoned"))?
        .remove(&function.name);
    let deployment = function.deployment();
    deployment.retire(None).await;
    deployment.stop_all();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn update_configuration(
    State(inner): Shared,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
    let input: ConfigurationInput = parse_json(&body)?;
    let current = function.deployment();
    let mut config = current.config.clone();
    input.apply(&mut config)?;
    redeploy(&function, &current, config, current.task_root.clone()).await;
    function
        .meta
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .touch();
    Ok(axum::Json(configuration(&function)).into_response())
}

async fn update_code(
    State(inner): Shared,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
    let input: CodeUpdateInput = parse_json(&body)?;
    let (code, dir) = unpack(
        &inner,
        &function.name,
        input.zip_file,
        input.s3_bucket.is_some(),
        input.image_uri.is_some(),
    )?;
    let current = function.deployment();
    let mut config = current.config.clone();
    config.code = Code::Bootstrap(dir.join("bootstrap"));
    if let Some(arch) = input.architectures.and_then(|a| a.into_iter().next()) {
        config.architecture = arch;
    }
    redeploy(&function, &current, config, Some(dir)).await;
    {
        let mut meta = function.meta.lock().unwrap_or_else(|e| e.into_inner());
        let tags = std::mem::take(&mut meta.tags);
        *meta = Meta::new(&code);
        meta.tags = tags;
    }
    Ok(axum::Json(configuration(&function)).into_response())
}

async fn redeploy(
    function: &Function,
    current: &Deployment,
    config: FunctionConfig,
    task_root: Option<PathBuf>,
) {
    let next = Deployment::new(
        config,
        function.arn.clone(),
        task_root,
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
    json!({
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
    })
}

async fn publish_version(
    State(inner): Shared,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
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

fn alias_document(function: &Function, name: &str, alias: &crate::service::Alias) -> Value {
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
    State(inner): Shared,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
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
    let alias = crate::service::Alias {
        version,
        description: input.description.unwrap_or_default(),
        revision_id: uuid::Uuid::new_v4().to_string(),
    };
    let body = alias_document(&function, &alias_name, &alias);
    versions.aliases.insert(alias_name, alias);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn get_alias(
    State(inner): Shared,
    Path((name, alias_name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
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
    State(inner): Shared,
    Path((name, alias_name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
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
    State(inner): Shared,
    Path((name, alias_name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
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

async fn traces(State(inner): Shared) -> Response {
    let summaries: Vec<Value> = inner
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
    State(inner): Shared,
    Path(id): Path<String>,
    Query(query): Query<TraceQuery>,
) -> Result<Response, ApiError> {
    let id = id
        .parse()
        .map_err(|e: lamplight_xray::IdError| ApiError::invalid_parameter(e.to_string()))?;
    let trace = inner
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

async fn xray_stats(State(inner): Shared) -> Response {
    axum::Json(json!({
        "address": inner.ctx.xray_addr.to_string(),
        "stats": inner.ctx.traces.stats(),
        "rejections": inner.ctx.traces.rejections(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct LogQuery {
    since: Option<u64>,
}

async fn logs(
    State(inner): Shared,
    Path(name): Path<String>,
    Query(query): Query<LogQuery>,
) -> Result<Response, ApiError> {
    let (function, _) = inner.find(&name, None)?;
    Ok(
        axum::Json(json!({"events": function.logs.since(query.since.unwrap_or(0))}))
            .into_response(),
    )
}

async fn unknown(method: Method, uri: Uri) -> ApiError {
    ApiError::unknown_operation(method.as_str(), uri.path())
}
