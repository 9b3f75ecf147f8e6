//! What invokes a deployed function: `trigger` in `[package.metadata.lamplight]`, planned as
//! deploy steps ([`TriggerStep`]) after the alias exists and applied idempotently: the current
//! state is read first, so a second deploy with nothing changed changes nothing.
//!
//! Supported: `function-url`, `sqs`, `http-api`. The other kinds parse, so a template's metadata
//! is never rejected as malformed, but deploy refuses them by name rather than ignore them.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_apigatewayv2::types::ProtocolType;
use aws_sdk_lambda::types::{Cors as LambdaCors, FunctionResponseType, FunctionUrlAuthType};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Deserialize;

use crate::aws::{Aws, retrying};
use crate::error::DeployError;
use crate::settings::DeploySettings;

/// Tag on resources deploy created (queue, API), so delete removes them and nothing else.
pub const CREATED_BY_TAG: &str = "lamplight:created-by";
/// Its value.
pub const CREATED_BY: &str = "lamplight";
/// Tag naming the function a created resource serves.
pub const FUNCTION_TAG: &str = "lamplight:function";
/// The inline role policy that lets the function read its queue.
pub const SQS_POLICY: &str = "lamplight-sqs";
/// Statement id of the HTTP API's invoke permission.
pub const HTTP_API_STATEMENT: &str = "lamplight-http-api";
/// Statement id of the public Function URL's `lambda:InvokeFunctionUrl` permission.
pub const PUBLIC_URL_STATEMENT: &str = "lamplight-function-url-public";
/// Statement id of its companion `lambda:InvokeFunction` permission, limited to calls through
/// the URL: Lambda asks for both on public URLs created since October 2025.
pub const PUBLIC_URL_INVOKE_STATEMENT: &str = "lamplight-function-url-public-invoke";

/// `trigger = { kind = "...", ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Trigger {
    /// A Function URL on the alias.
    FunctionUrl(FunctionUrl),
    /// An SQS event source mapping on the alias.
    Sqs(Sqs),
    /// An API Gateway HTTP API (payload 2.0) integrated with the alias.
    HttpApi(HttpApi),
    /// Not supported yet.
    RestApi {},
    /// Not supported yet.
    Dynamodb {},
    /// Not supported yet.
    Sns {},
    /// Not supported yet.
    S3 {},
    /// Not supported yet.
    Eventbridge {},
    /// Not supported yet.
    Alb {},
    /// The user wires the function: deploy creates nothing.
    Custom {},
}

/// Who may call a Function URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum UrlAuth {
    /// Signed requests only (the default).
    #[default]
    #[serde(rename = "AWS_IAM")]
    AwsIam,
    /// Anyone on the internet.
    #[serde(rename = "NONE")]
    None,
}

impl UrlAuth {
    fn as_str(self) -> &'static str {
        match self {
            Self::AwsIam => "AWS_IAM",
            Self::None => "NONE",
        }
    }
}

/// `kind = "function-url"`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionUrl {
    /// `AWS_IAM` (default) or `NONE` (public: deploy warns).
    #[serde(default)]
    pub auth: UrlAuth,
    /// Browser access; none unless set.
    pub cors: Option<Cors>,
}

/// A Function URL's CORS settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// `["https://example.com"]`, or `["*"]`.
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// `["GET", "POST"]`.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// `["content-type"]`.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Seconds a browser caches the preflight answer.
    pub max_age: Option<i32>,
}

/// `kind = "sqs"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sqs {
    /// An existing queue's ARN, `create` (deploy makes `<function>-queue`), or a queue name
    /// (used when it exists, else created).
    #[serde(default = "create")]
    pub queue: String,
    /// Records per invocation, 1 to 10000.
    #[serde(default = "ten")]
    pub batch_size: i32,
    /// Seconds to gather a batch, 0 to 300.
    #[serde(default)]
    pub batching_window_seconds: i32,
}

fn create() -> String {
    "create".to_owned()
}

fn ten() -> i32 {
    10
}

/// `kind = "http-api"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApi {
    /// Route keys such as `GET /orders/{id}`; `$default` sends every request to the function.
    #[serde(default = "default_routes")]
    pub routes: Vec<String>,
}

fn default_routes() -> Vec<String> {
    vec!["$default".to_owned()]
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

impl Trigger {
    /// Parses and checks `trigger` of `function`; `None` for `custom`.
    pub fn from_value(
        function: &str,
        value: &serde_json::Value,
    ) -> Result<Option<Self>, DeployError> {
        let invalid = |message: String| DeployError::InvalidTrigger {
            function: function.to_owned(),
            message,
        };
        let trigger: Self = serde_json::from_value(value.clone()).map_err(|e| {
            // serde names the expected values of a bad one; a missing or mistyped table needs
            // the shape spelled out.
            let text = e.to_string();
            if text.contains("`kind`") || !value.is_object() {
                invalid(format!(
                    "{text}; write `trigger = {{ kind = \"function-url\" }}` (or sqs, http-api, custom, ...)"
                ))
            } else {
                invalid(text)
            }
        })?;
        match &trigger {
            Self::Custom {} => return Ok(None),
            Self::Sqs(sqs) => {
                if !(1..=10_000).contains(&sqs.batch_size) {
                    return Err(invalid(format!(
                        "`batch_size = {}`: expected 1 to 10000",
                        sqs.batch_size
                    )));
                }
                if !(0..=300).contains(&sqs.batching_window_seconds) {
                    return Err(invalid(format!(
                        "`batching_window_seconds = {}`: expected 0 to 300",
                        sqs.batching_window_seconds
                    )));
                }
                // Lambda refuses batches over 10 without a window to gather them in.
                if sqs.batch_size > 10 && sqs.batching_window_seconds == 0 {
                    return Err(invalid(format!(
                        "`batch_size = {}` needs `batching_window_seconds` of at least 1 (SQS batches over 10 are gathered over a window)",
                        sqs.batch_size
                    )));
                }
                let name = queue_name(function, &sqs.queue);
                if !sqs.queue.starts_with("arn:") && !valid_queue_name(&name) {
                    return Err(invalid(format!(
                        "`queue = \"{}\"`: expected an SQS queue ARN, \"create\", or a queue name of 1 to 80 letters, digits, `-` and `_`",
                        sqs.queue
                    )));
                }
            }
            Self::HttpApi(api) => {
                if api.routes.is_empty() {
                    return Err(invalid(
                        "`routes = []`: list at least one route, or leave `routes` out for `$default`".into(),
                    ));
                }
                for route in &api.routes {
                    let ok = route == "$default"
                        || route.split_once(' ').is_some_and(|(method, path)| {
                            METHODS.contains(&method) && path.starts_with('/')
                        });
                    if !ok {
                        return Err(invalid(format!(
                            "route `{route}`: expected `$default` or `METHOD /path` like `GET /orders/{{id}}` (methods: {})",
                            METHODS.join(", ")
                        )));
                    }
                }
            }
            Self::FunctionUrl(url) => {
                if let Some(age) = url.cors.as_ref().and_then(|c| c.max_age)
                    && !(0..=86_400).contains(&age)
                {
                    return Err(invalid(format!(
                        "`cors.max_age = {age}`: expected 0 to 86400 (seconds)"
                    )));
                }
            }
            _ => {}
        }
        Ok(Some(trigger))
    }

    /// `function-url`, `sqs`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FunctionUrl(_) => "function-url",
            Self::Sqs(_) => "sqs",
            Self::HttpApi(_) => "http-api",
            Self::RestApi {} => "rest-api",
            Self::Dynamodb {} => "dynamodb",
            Self::Sns {} => "sns",
            Self::S3 {} => "s3",
            Self::Eventbridge {} => "eventbridge",
            Self::Alb {} => "alb",
            Self::Custom {} => "custom",
        }
    }
}

fn valid_queue_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The queue's name: the ARN's last part, `<function>-queue` for `create`, else as written.
pub fn queue_name(function: &str, queue: &str) -> String {
    if queue.starts_with("arn:") {
        queue.rsplit(':').next().unwrap_or_default().to_owned()
    } else if queue == "create" {
        format!("{function}-queue")
    } else {
        queue.to_owned()
    }
}

/// One trigger step of a deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerStep {
    /// Create the alias's Function URL.
    CreateFunctionUrl {
        /// `AWS_IAM` or `NONE`.
        auth: String,
    },
    /// Change the Function URL's settings.
    UpdateFunctionUrl(Vec<String>),
    /// Let anyone invoke the public URL (`lambda:InvokeFunctionUrl`, principal `*`).
    AllowPublicUrl,
    /// Take back the public permission: the URL is `AWS_IAM` now.
    RemovePublicUrlPermission,
    /// Create the queue, tagged as lamplight's.
    CreateQueue(String),
    /// Let the role read the queue (inline policy [`SQS_POLICY`]).
    PutQueuePolicy {
        /// The lamplight role.
        role: String,
        /// The queue's name.
        queue: String,
    },
    /// Map the queue to the alias.
    CreateEventSourceMapping(String),
    /// Change the mapping's settings.
    UpdateEventSourceMapping {
        /// The mapping.
        uuid: String,
        /// What changes.
        changes: Vec<String>,
    },
    /// Create the HTTP API, its integration, routes and `$default` stage.
    CreateHttpApi(String),
    /// Add or remove routes of the API.
    UpdateHttpApiRoutes {
        /// The API.
        api_id: String,
        /// Route keys to add.
        add: Vec<String>,
        /// Route keys to remove.
        remove: Vec<String>,
    },
    /// Let the API invoke the alias ([`HTTP_API_STATEMENT`]).
    AllowHttpApi,
    /// The trigger is as configured.
    Unchanged(String),
    /// Not done, and why (the local service, a role that is the user's).
    Skipped {
        /// What was not done.
        what: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for TriggerStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CreateFunctionUrl { auth } => write!(f, "create a Function URL (auth {auth})"),
            Self::UpdateFunctionUrl(changes) => {
                write!(f, "update the Function URL: {}", changes.join(", "))
            }
            Self::AllowPublicUrl => f.write_str(
                "allow anyone to call the Function URL (lambda:InvokeFunctionUrl, and lambda:InvokeFunction via the URL only; principal *)",
            ),
            Self::RemovePublicUrlPermission => {
                f.write_str("remove the public Function URL permission")
            }
            Self::CreateQueue(name) => write!(f, "create the SQS queue {name}"),
            Self::PutQueuePolicy { role, queue } => write!(
                f,
                "let role {role} receive, delete and read attributes of queue {queue} only"
            ),
            Self::CreateEventSourceMapping(queue) => {
                write!(
                    f,
                    "map queue {queue} to the alias (ReportBatchItemFailures)"
                )
            }
            Self::UpdateEventSourceMapping { uuid, changes } => {
                write!(f, "update mapping {uuid}: {}", changes.join(", "))
            }
            Self::CreateHttpApi(name) => write!(
                f,
                "create HTTP API {name} (payload 2.0, stage $default with auto-deploy)"
            ),
            Self::UpdateHttpApiRoutes {
                api_id,
                add,
                remove,
            } => write!(
                f,
                "update routes of HTTP API {api_id}: add [{}], remove [{}]",
                add.join(", "),
                remove.join(", ")
            ),
            Self::AllowHttpApi => write!(
                f,
                "allow the HTTP API to invoke the alias (statement {HTTP_API_STATEMENT})"
            ),
            Self::Unchanged(what) => write!(f, "keep the {what} (unchanged)"),
            Self::Skipped { what, reason } => write!(f, "skip {what}: {reason}"),
        }
    }
}

/// What the plan found deployed, for apply to reuse.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    queue_url: Option<String>,
    queue_arn: Option<String>,
    api_id: Option<String>,
    api_endpoint: Option<String>,
}

fn code_of<E: aws_sdk_lambda::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_lambda::error::SdkError<E, R>,
) -> Option<String> {
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_owned)
}

fn is_not_found(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ResourceNotFoundException"
                | "NotFoundException"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist"
                | "NoSuchEntity"
        )
    )
}

/// The local Lambda service answers what it does not implement with this code.
fn is_unsupported_locally(code: Option<&str>) -> bool {
    code == Some("UnknownOperationException")
}

fn skipped(kind: &str) -> TriggerStep {
    TriggerStep::Skipped {
        what: format!("the {kind} trigger"),
        reason: "not supported locally (this Lambda API does not implement it)".into(),
    }
}

fn policy_statements(policy: &str) -> Vec<serde_json::Value> {
    serde_json::from_str::<serde_json::Value>(policy)
        .ok()
        .and_then(|p| p.get("Statement").cloned())
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default()
}

/// The `Sid`s of the alias's resource policy (none when it has none).
async fn statement_ids(aws: &Aws, s: &DeploySettings) -> Result<Vec<String>, DeployError> {
    match aws
        .lambda
        .get_policy()
        .function_name(&s.name)
        .qualifier(&s.alias)
        .send()
        .await
    {
        Ok(found) => Ok(policy_statements(found.policy().unwrap_or_default())
            .iter()
            .filter_map(|st| st.get("Sid").and_then(|v| v.as_str()).map(str::to_owned))
            .collect()),
        Err(e) if is_not_found(code_of(&e).as_deref()) => Ok(Vec::new()),
        Err(e) => Err(DeployError::from_sdk("lambda:GetPolicy", e)),
    }
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut v = values.to_vec();
    v.sort();
    v
}

fn cors_differs(current: Option<&LambdaCors>, wanted: Option<&Cors>) -> bool {
    let empty = Cors::default();
    let wanted = wanted.unwrap_or(&empty);
    let (origins, methods, headers, age) = current.map_or_else(
        || (Vec::new(), Vec::new(), Vec::new(), None),
        |c| {
            (
                c.allow_origins().to_vec(),
                c.allow_methods().to_vec(),
                c.allow_headers().to_vec(),
                c.max_age().filter(|a| *a != 0),
            )
        },
    );
    sorted(&origins) != sorted(&wanted.allow_origins)
        || sorted(&methods) != sorted(&wanted.allow_methods)
        || sorted(&headers) != sorted(&wanted.allow_headers)
        || age != wanted.max_age.filter(|a| *a != 0)
}

/// The trigger steps of a deploy of `s`; `function_exists` is false on a first deploy (nothing
/// can be attached to it yet, so everything is created).
pub async fn plan(
    aws: &Aws,
    s: &DeploySettings,
    function_exists: bool,
) -> Result<(Vec<TriggerStep>, Found), DeployError> {
    let mut found = Found::default();
    let Some(trigger) = &s.trigger else {
        return Ok((Vec::new(), found));
    };
    let mut steps = Vec::new();
    match trigger {
        Trigger::FunctionUrl(url) => {
            let current = if function_exists {
                match aws
                    .lambda
                    .get_function_url_config()
                    .function_name(&s.name)
                    .qualifier(&s.alias)
                    .send()
                    .await
                {
                    Ok(c) => Some(c),
                    Err(e) if is_not_found(code_of(&e).as_deref()) => None,
                    Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
                        return Ok((vec![skipped(trigger.kind())], found));
                    }
                    Err(e) => return Err(DeployError::from_sdk("lambda:GetFunctionUrlConfig", e)),
                }
            } else {
                None
            };
            match &current {
                None => steps.push(TriggerStep::CreateFunctionUrl {
                    auth: url.auth.as_str().to_owned(),
                }),
                Some(c) => {
                    let mut changes = Vec::new();
                    if c.auth_type().as_str() != url.auth.as_str() {
                        changes.push(format!("auth -> {}", url.auth.as_str()));
                    }
                    if cors_differs(c.cors(), url.cors.as_ref()) {
                        changes.push("cors".to_owned());
                    }
                    if changes.is_empty() {
                        steps.push(TriggerStep::Unchanged("Function URL".into()));
                    } else {
                        steps.push(TriggerStep::UpdateFunctionUrl(changes));
                    }
                }
            }
            let statements = if function_exists {
                statement_ids(aws, s).await?
            } else {
                Vec::new()
            };
            let has = |sid: &str| statements.iter().any(|id| id == sid);
            let both = has(PUBLIC_URL_STATEMENT) && has(PUBLIC_URL_INVOKE_STATEMENT);
            let either = has(PUBLIC_URL_STATEMENT) || has(PUBLIC_URL_INVOKE_STATEMENT);
            match url.auth {
                UrlAuth::None if !both => steps.push(TriggerStep::AllowPublicUrl),
                UrlAuth::AwsIam if either => steps.push(TriggerStep::RemovePublicUrlPermission),
                _ => {}
            }
        }
        Trigger::Sqs(sqs) => {
            let name = queue_name(&s.name, &sqs.queue);
            match aws.sqs.get_queue_url().queue_name(&name).send().await {
                Ok(q) => {
                    let url = q.queue_url().unwrap_or_default().to_owned();
                    let arn = aws
                        .sqs
                        .get_queue_attributes()
                        .queue_url(&url)
                        .attribute_names(QueueAttributeName::QueueArn)
                        .send()
                        .await
                        .map_err(|e| DeployError::from_sdk("sqs:GetQueueAttributes", e))?
                        .attributes()
                        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
                        .unwrap_or_default();
                    found.queue_url = Some(url);
                    found.queue_arn = Some(arn);
                }
                Err(e) if is_not_found(code_of(&e).as_deref()) => {
                    if sqs.queue.starts_with("arn:") {
                        return Err(DeployError::InvalidTrigger {
                            function: s.name.clone(),
                            message: format!(
                                "`queue = \"{}\"` does not exist in {}: create it, or write `queue = \"create\"` to let deploy create one",
                                sqs.queue, aws.region
                            ),
                        });
                    }
                    steps.push(TriggerStep::CreateQueue(name.clone()));
                }
                Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
                    return Ok((vec![skipped(trigger.kind())], found));
                }
                Err(e) => return Err(DeployError::from_sdk("sqs:GetQueueUrl", e)),
            }
            match &s.role {
                Some(role) => steps.push(TriggerStep::Skipped {
                    what: "the queue policy".into(),
                    reason: format!(
                        "role {role} is yours: let it sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the queue"
                    ),
                }),
                None => {
                    let role = crate::role::role_name(&s.name);
                    let wanted = found.queue_arn.as_deref().map(queue_policy);
                    let current = match aws
                        .iam
                        .get_role_policy()
                        .role_name(&role)
                        .policy_name(SQS_POLICY)
                        .send()
                        .await
                    {
                        Ok(p) => Some(crate::role::decode_trust_policy(p.policy_document())),
                        Err(e) if is_not_found(code_of(&e).as_deref()) => None,
                        Err(e) => return Err(DeployError::from_sdk("iam:GetRolePolicy", e)),
                    };
                    let same = match (current, wanted) {
                        (Some(c), Some(w)) => {
                            serde_json::from_str::<serde_json::Value>(&c).ok()
                                == serde_json::from_str::<serde_json::Value>(&w).ok()
                        }
                        _ => false,
                    };
                    if !same {
                        steps.push(TriggerStep::PutQueuePolicy { role, queue: name });
                    }
                }
            }
            let mapping = match (&found.queue_arn, function_exists) {
                (Some(arn), true) => find_mapping(aws, s, arn).await?,
                _ => None,
            };
            match mapping {
                None => steps.push(TriggerStep::CreateEventSourceMapping(queue_name(
                    &s.name, &sqs.queue,
                ))),
                Some(m) => {
                    let mut changes = Vec::new();
                    if m.batch_size() != Some(sqs.batch_size) {
                        changes.push(format!(
                            "batch_size {} -> {}",
                            m.batch_size().unwrap_or_default(),
                            sqs.batch_size
                        ));
                    }
                    let window = m.maximum_batching_window_in_seconds().unwrap_or_default();
                    if window != sqs.batching_window_seconds {
                        changes.push(format!(
                            "batching_window_seconds {window} -> {}",
                            sqs.batching_window_seconds
                        ));
                    }
                    if !m
                        .function_response_types()
                        .contains(&FunctionResponseType::ReportBatchItemFailures)
                    {
                        changes.push("ReportBatchItemFailures".into());
                    }
                    if changes.is_empty() {
                        steps.push(TriggerStep::Unchanged("SQS event source mapping".into()));
                    } else {
                        steps.push(TriggerStep::UpdateEventSourceMapping {
                            uuid: m.uuid().unwrap_or_default().to_owned(),
                            changes,
                        });
                    }
                }
            }
        }
        Trigger::HttpApi(api) => {
            let existing = match find_api(aws, &s.name).await {
                Ok(a) => a,
                Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
                    return Ok((vec![skipped(trigger.kind())], found));
                }
                Err(e) => return Err(DeployError::from_sdk("apigateway:GetApis", e)),
            };
            match existing {
                None => steps.push(TriggerStep::CreateHttpApi(s.name.clone())),
                Some((id, endpoint)) => {
                    let routes = aws
                        .apigw
                        .get_routes()
                        .api_id(&id)
                        .send()
                        .await
                        .map_err(|e| DeployError::from_sdk("apigateway:GetRoutes", e))?;
                    let current: Vec<String> = routes
                        .items()
                        .iter()
                        .filter_map(|r| r.route_key().map(str::to_owned))
                        .collect();
                    let add: Vec<String> = api
                        .routes
                        .iter()
                        .filter(|r| !current.contains(r))
                        .cloned()
                        .collect();
                    let remove: Vec<String> = current
                        .iter()
                        .filter(|r| !api.routes.contains(r))
                        .cloned()
                        .collect();
                    if add.is_empty() && remove.is_empty() {
                        steps.push(TriggerStep::Unchanged("HTTP API".into()));
                    } else {
                        steps.push(TriggerStep::UpdateHttpApiRoutes {
                            api_id: id.clone(),
                            add,
                            remove,
                        });
                    }
                    found.api_id = Some(id);
                    found.api_endpoint = Some(endpoint);
                }
            }
            let statements = if function_exists {
                statement_ids(aws, s).await?
            } else {
                Vec::new()
            };
            if !statements.iter().any(|id| id == HTTP_API_STATEMENT) {
                steps.push(TriggerStep::AllowHttpApi);
            }
        }
        other => {
            return Err(DeployError::UnsupportedTrigger {
                function: s.name.clone(),
                kind: other.kind().to_owned(),
            });
        }
    }
    Ok((steps, found))
}

/// The inline policy letting the role read `queue_arn`, and nothing else.
pub fn queue_policy(queue_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": queue_arn,
        }]
    })
    .to_string()
}

/// Every event source mapping of `queue_arn` (all pages).
async fn mappings_of(
    aws: &Aws,
    queue_arn: &str,
) -> Result<Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration>, DeployError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .lambda
            .list_event_source_mappings()
            .event_source_arn(queue_arn)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("lambda:ListEventSourceMappings", e))?;
        out.extend(page.event_source_mappings().iter().cloned());
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    Ok(out)
}

/// The mapping of `queue_arn` to this function's alias, if any.
async fn find_mapping(
    aws: &Aws,
    s: &DeploySettings,
    queue_arn: &str,
) -> Result<Option<aws_sdk_lambda::types::EventSourceMappingConfiguration>, DeployError> {
    // Any qualifier of this function counts: Lambda reports the alias ARN, but moto 5.2.5 reports
    // the version the alias pointed at when the mapping was made.
    let whole = format!(":function:{}", s.name);
    let qualified = format!("{whole}:");
    Ok(mappings_of(aws, queue_arn).await?.into_iter().find(|m| {
        m.function_arn()
            .is_some_and(|a| a.ends_with(&whole) || a.contains(&qualified))
    }))
}

/// The HTTP API deploy created for `function` (found by its tags): id and endpoint.
async fn find_api(
    aws: &Aws,
    function: &str,
) -> Result<
    Option<(String, String)>,
    aws_sdk_apigatewayv2::error::SdkError<aws_sdk_apigatewayv2::operation::get_apis::GetApisError>,
> {
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .apigw
            .get_apis()
            .set_next_token(token.take())
            .send()
            .await?;
        for api in page.items() {
            let tags = api.tags();
            if tags.and_then(|t| t.get(FUNCTION_TAG)).map(String::as_str) == Some(function)
                && tags.and_then(|t| t.get(CREATED_BY_TAG)).map(String::as_str) == Some(CREATED_BY)
            {
                return Ok(Some((
                    api.api_id().unwrap_or_default().to_owned(),
                    api.api_endpoint().unwrap_or_default().to_owned(),
                )));
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(None),
        }
    }
}

fn tags(function: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (CREATED_BY_TAG.to_owned(), CREATED_BY.to_owned()),
        (FUNCTION_TAG.to_owned(), function.to_owned()),
    ])
}

/// What applying trigger steps needs beyond the plan: the function's ARN once it exists.
pub struct Applying<'a> {
    /// The clients.
    pub aws: &'a Aws,
    /// The function as it should be.
    pub settings: &'a DeploySettings,
    /// The unqualified function ARN.
    pub function_arn: String,
    /// What the plan found, completed by the steps that create things.
    pub found: Found,
    /// URLs to print at the end: (what, url).
    pub urls: Vec<(String, String)>,
}

fn sqs_err<E, R>(operation: &str, e: aws_sdk_sqs::error::SdkError<E, R>) -> DeployError
where
    E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    DeployError::from_sdk(operation, e)
}

impl Applying<'_> {
    fn alias_arn(&self) -> String {
        format!("{}:{}", self.function_arn, self.settings.alias)
    }

    /// The account, from the function's ARN (`arn:aws:lambda:region:account:function:name`).
    fn account(&self) -> String {
        self.function_arn
            .split(':')
            .nth(4)
            .unwrap_or_default()
            .to_owned()
    }

    fn url_settings(&self) -> Option<&FunctionUrl> {
        match &self.settings.trigger {
            Some(Trigger::FunctionUrl(url)) => Some(url),
            _ => None,
        }
    }

    fn sqs_settings(&self) -> Option<&Sqs> {
        match &self.settings.trigger {
            Some(Trigger::Sqs(sqs)) => Some(sqs),
            _ => None,
        }
    }

    fn cors(&self) -> Option<LambdaCors> {
        self.url_settings().and_then(|u| u.cors.as_ref()).map(|c| {
            LambdaCors::builder()
                .set_allow_origins(Some(c.allow_origins.clone()))
                .set_allow_methods(Some(c.allow_methods.clone()))
                .set_allow_headers(Some(c.allow_headers.clone()))
                .set_max_age(c.max_age)
                .build()
        })
    }

    /// Carries out one step; `half_done` says what a step that failed part way changed.
    pub async fn step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
        half_done: &mut Option<String>,
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let s = self.settings;
        match step {
            TriggerStep::CreateFunctionUrl { auth } => {
                let cors = self.cors();
                let out = retrying("lambda:CreateFunctionUrlConfig", progress, || {
                    aws.lambda
                        .create_function_url_config()
                        .function_name(&s.name)
                        .qualifier(&s.alias)
                        .auth_type(FunctionUrlAuthType::from(auth.as_str()))
                        .set_cors(cors.clone())
                        .send()
                })
                .await?;
                self.urls
                    .push(("url".into(), out.function_url().to_owned()));
            }
            TriggerStep::UpdateFunctionUrl(_) => {
                let auth = self.url_settings().map(|u| u.auth).unwrap_or_default();
                // Explicitly empty lists clear what was set before (moto 5.2.5 ignores an empty
                // `Cors` object and keeps the old settings).
                let cors = self.cors().unwrap_or_else(|| {
                    LambdaCors::builder()
                        .set_allow_origins(Some(Vec::new()))
                        .set_allow_methods(Some(Vec::new()))
                        .set_allow_headers(Some(Vec::new()))
                        .max_age(0)
                        .build()
                });
                let out = retrying("lambda:UpdateFunctionUrlConfig", progress, || {
                    aws.lambda
                        .update_function_url_config()
                        .function_name(&s.name)
                        .qualifier(&s.alias)
                        .auth_type(FunctionUrlAuthType::from(auth.as_str()))
                        .cors(cors.clone())
                        .send()
                })
                .await?;
                self.urls
                    .push(("url".into(), out.function_url().to_owned()));
            }
            TriggerStep::AllowPublicUrl => {
                let existing = statement_ids(aws, s).await?;
                if !existing.iter().any(|id| id == PUBLIC_URL_STATEMENT) {
                    retrying("lambda:AddPermission", progress, || {
                        aws.lambda
                            .add_permission()
                            .function_name(&s.name)
                            .qualifier(&s.alias)
                            .statement_id(PUBLIC_URL_STATEMENT)
                            .action("lambda:InvokeFunctionUrl")
                            .principal("*")
                            .function_url_auth_type(FunctionUrlAuthType::None)
                            .send()
                    })
                    .await?;
                }
                if !existing.iter().any(|id| id == PUBLIC_URL_INVOKE_STATEMENT) {
                    let added = retrying("lambda:AddPermission", progress, || {
                        aws.lambda
                            .add_permission()
                            .function_name(&s.name)
                            .qualifier(&s.alias)
                            .statement_id(PUBLIC_URL_INVOKE_STATEMENT)
                            .action("lambda:InvokeFunction")
                            .principal("*")
                            .invoked_via_function_url(true)
                            .send()
                    })
                    .await;
                    if let Err(e) = added {
                        *half_done = Some(format!(
                            "added statement {PUBLIC_URL_STATEMENT} (lambda:InvokeFunctionUrl); adding {PUBLIC_URL_INVOKE_STATEMENT} failed"
                        ));
                        return Err(e);
                    }
                }
            }
            TriggerStep::RemovePublicUrlPermission => {
                let existing = statement_ids(aws, s).await?;
                for sid in [PUBLIC_URL_STATEMENT, PUBLIC_URL_INVOKE_STATEMENT] {
                    if existing.iter().any(|id| id == sid) {
                        retrying("lambda:RemovePermission", progress, || {
                            aws.lambda
                                .remove_permission()
                                .function_name(&s.name)
                                .qualifier(&s.alias)
                                .statement_id(sid)
                                .send()
                        })
                        .await?;
                    }
                }
            }
            TriggerStep::CreateQueue(name) => {
                let url = aws
                    .sqs
                    .create_queue()
                    .queue_name(name)
                    .set_tags(Some(tags(&s.name).into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| sqs_err("sqs:CreateQueue", e))?
                    .queue_url()
                    .unwrap_or_default()
                    .to_owned();
                let arn = aws
                    .sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .send()
                    .await;
                let arn = match arn {
                    Ok(a) => a
                        .attributes()
                        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
                        .unwrap_or_default(),
                    Err(e) => {
                        *half_done = Some(format!("created queue {url}"));
                        return Err(sqs_err("sqs:GetQueueAttributes", e));
                    }
                };
                self.found.queue_url = Some(url);
                self.found.queue_arn = Some(arn);
            }
            TriggerStep::PutQueuePolicy { role, .. } => {
                let arn = self.queue_arn()?;
                retrying("iam:PutRolePolicy", progress, || {
                    aws.iam
                        .put_role_policy()
                        .role_name(role)
                        .policy_name(SQS_POLICY)
                        .policy_document(queue_policy(&arn))
                        .send()
                })
                .await?;
            }
            TriggerStep::CreateEventSourceMapping(_) => {
                let arn = self.queue_arn()?;
                let sqs = self
                    .sqs_settings()
                    .cloned()
                    .ok_or_else(|| mismatch("sqs"))?;
                let alias = self.alias_arn();
                // A new inline policy takes seconds to reach Lambda: `retrying` waits for it.
                retrying("lambda:CreateEventSourceMapping", progress, || {
                    aws.lambda
                        .create_event_source_mapping()
                        .function_name(&alias)
                        .event_source_arn(&arn)
                        .batch_size(sqs.batch_size)
                        .maximum_batching_window_in_seconds(sqs.batching_window_seconds)
                        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                        .send()
                })
                .await?;
            }
            TriggerStep::UpdateEventSourceMapping { uuid, .. } => {
                let sqs = self
                    .sqs_settings()
                    .cloned()
                    .ok_or_else(|| mismatch("sqs"))?;
                retrying("lambda:UpdateEventSourceMapping", progress, || {
                    aws.lambda
                        .update_event_source_mapping()
                        .uuid(uuid)
                        .batch_size(sqs.batch_size)
                        .maximum_batching_window_in_seconds(sqs.batching_window_seconds)
                        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                        .send()
                })
                .await?;
            }
            TriggerStep::CreateHttpApi(name) => {
                let routes = match &s.trigger {
                    Some(Trigger::HttpApi(api)) => api.routes.clone(),
                    _ => return Err(mismatch("http-api")),
                };
                let api = aws
                    .apigw
                    .create_api()
                    .name(name)
                    .protocol_type(ProtocolType::Http)
                    .set_tags(Some(tags(&s.name).into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| DeployError::from_sdk("apigateway:CreateApi", e))?;
                let id = api.api_id().unwrap_or_default().to_owned();
                let endpoint = api.api_endpoint().unwrap_or_default().to_owned();
                self.found.api_id = Some(id.clone());
                self.found.api_endpoint = Some(endpoint);
                if let Err(e) = self.wire_api(&id, &routes).await {
                    *half_done = Some(format!(
                        "created HTTP API {id} (wiring it failed: deploy again, or `cargo xtask delete` to start over)"
                    ));
                    return Err(e);
                }
            }
            TriggerStep::UpdateHttpApiRoutes {
                api_id,
                add,
                remove,
            } => {
                let routes = aws
                    .apigw
                    .get_routes()
                    .api_id(api_id)
                    .send()
                    .await
                    .map_err(|e| DeployError::from_sdk("apigateway:GetRoutes", e))?;
                for route in routes.items() {
                    if route
                        .route_key()
                        .is_some_and(|k| remove.iter().any(|r| r == k))
                    {
                        aws.apigw
                            .delete_route()
                            .api_id(api_id)
                            .route_id(route.route_id().unwrap_or_default())
                            .send()
                            .await
                            .map_err(|e| DeployError::from_sdk("apigateway:DeleteRoute", e))?;
                    }
                }
                let target = routes
                    .items()
                    .iter()
                    .find_map(|r| r.target().map(str::to_owned));
                let target = match target {
                    Some(t) => t,
                    None => format!("integrations/{}", self.integrate(api_id).await?),
                };
                for key in add {
                    self.route(api_id, key, &target).await?;
                }
            }
            TriggerStep::AllowHttpApi => {
                let id = self
                    .found
                    .api_id
                    .clone()
                    .ok_or_else(|| mismatch("http-api"))?;
                let source = format!(
                    "arn:aws:execute-api:{}:{}:{id}/*",
                    aws.region,
                    self.account()
                );
                retrying("lambda:AddPermission", progress, || {
                    aws.lambda
                        .add_permission()
                        .function_name(&s.name)
                        .qualifier(&s.alias)
                        .statement_id(HTTP_API_STATEMENT)
                        .action("lambda:InvokeFunction")
                        .principal("apigateway.amazonaws.com")
                        .source_arn(&source)
                        .send()
                })
                .await?;
            }
            TriggerStep::Unchanged(_) | TriggerStep::Skipped { .. } => {}
        }
        Ok(())
    }

    fn queue_arn(&self) -> Result<String, DeployError> {
        self.found.queue_arn.clone().ok_or_else(|| mismatch("sqs"))
    }

    async fn integrate(&self, api_id: &str) -> Result<String, DeployError> {
        let integration = self
            .aws
            .apigw
            .create_integration()
            .api_id(api_id)
            .integration_type(aws_sdk_apigatewayv2::types::IntegrationType::AwsProxy)
            .integration_uri(self.alias_arn())
            .payload_format_version("2.0")
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("apigateway:CreateIntegration", e))?;
        Ok(integration.integration_id().unwrap_or_default().to_owned())
    }

    async fn route(&self, api_id: &str, key: &str, target: &str) -> Result<(), DeployError> {
        self.aws
            .apigw
            .create_route()
            .api_id(api_id)
            .route_key(key)
            .target(target)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| DeployError::from_sdk("apigateway:CreateRoute", e))
    }

    async fn wire_api(&self, api_id: &str, routes: &[String]) -> Result<(), DeployError> {
        let target = format!("integrations/{}", self.integrate(api_id).await?);
        for key in routes {
            self.route(api_id, key, &target).await?;
        }
        self.aws
            .apigw
            .create_stage()
            .api_id(api_id)
            .stage_name("$default")
            .auto_deploy(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| DeployError::from_sdk("apigateway:CreateStage", e))
    }

    /// After the steps: the URL to call, for the kinds that have one.
    pub async fn finish(&mut self) -> Result<(), DeployError> {
        let s = self.settings;
        match &s.trigger {
            Some(Trigger::FunctionUrl(_)) if self.urls.is_empty() => {
                match self
                    .aws
                    .lambda
                    .get_function_url_config()
                    .function_name(&s.name)
                    .qualifier(&s.alias)
                    .send()
                    .await
                {
                    Ok(c) => self.urls.push(("url".into(), c.function_url().to_owned())),
                    // The local service has no URLs: the step said so already.
                    Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {}
                    Err(e) => return Err(DeployError::from_sdk("lambda:GetFunctionUrlConfig", e)),
                }
            }
            Some(Trigger::HttpApi(_)) => {
                if let Some(endpoint) = &self.found.api_endpoint {
                    self.urls.push(("url".into(), endpoint.clone()));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A step planned for one kind applied with settings of another: a bug, said plainly.
fn mismatch(kind: &str) -> DeployError {
    DeployError::Aws {
        operation: format!("applying the {kind} trigger"),
        message: "the plan does not match the settings: plan again".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn triggers_parse_with_defaults_and_custom_is_none() {
        let t = Trigger::from_value("f", &json!({"kind": "sqs"})).expect("valid");
        assert_eq!(
            t,
            Some(Trigger::Sqs(Sqs {
                queue: "create".into(),
                batch_size: 10,
                batching_window_seconds: 0
            }))
        );
        let t = Trigger::from_value("f", &json!({"kind": "function-url"})).expect("valid");
        assert_eq!(t, Some(Trigger::FunctionUrl(FunctionUrl::default())));
        let t = Trigger::from_value("f", &json!({"kind": "http-api"})).expect("valid");
        assert_eq!(
            t,
            Some(Trigger::HttpApi(HttpApi {
                routes: vec!["$default".into()]
            }))
        );
        assert_eq!(
            Trigger::from_value("f", &json!({"kind": "custom"})).expect("valid"),
            None
        );
        for kind in ["rest-api", "dynamodb", "sns", "s3", "eventbridge", "alb"] {
            let t = Trigger::from_value("f", &json!({"kind": kind, "anything": 1}))
                .expect("parses")
                .expect("some");
            assert_eq!(t.kind(), kind);
        }
        assert_eq!(queue_name("orders", "create"), "orders-queue");
        assert_eq!(
            queue_name("orders", "arn:aws:sqs:us-east-1:123456789012:jobs"),
            "jobs"
        );
    }

    #[test]
    fn bad_triggers_name_the_key_and_what_to_do() {
        for (value, expected) in [
            (json!({"kind": "sqs", "batch_size": 0}), "`batch_size = 0`"),
            (
                json!({"kind": "sqs", "batch_size": 100}),
                "needs `batching_window_seconds`",
            ),
            (json!({"kind": "sqs", "queue": "a b"}), "`queue = \"a b\"`"),
            (
                json!({"kind": "sqs", "batchsize": 5}),
                "unknown field `batchsize`",
            ),
            (
                json!({"kind": "function-url", "auth": "OPEN"}),
                "unknown variant `OPEN`",
            ),
            (
                json!({"kind": "http-api", "routes": ["FETCH /x"]}),
                "route `FETCH /x`",
            ),
            (
                json!({"kind": "lambda-url"}),
                "unknown variant `lambda-url`",
            ),
            (json!({}), "missing field `kind`; write `trigger = { kind"),
            (json!("sqs"), "write `trigger = { kind"),
        ] {
            let err = Trigger::from_value("orders", &value).expect_err("invalid");
            let text = err.to_string();
            assert!(
                text.contains("trigger of orders") && text.contains(expected),
                "{value}: {text}"
            );
        }
    }
}
