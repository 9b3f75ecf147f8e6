//! What invokes a deployed function: `trigger` in `[package.metadata.lamplight]`, planned as
//! deploy steps ([`TriggerStep`]) after the alias exists and applied idempotently: the current
//! state is read first, so a second deploy with nothing changed changes nothing.
//!
//! One file per kind: `function-url`, `sqs`, `http-api`, `rest-api`, `alb`, `dynamodb`, `sns`,
//! `s3`, `eventbridge`; and `s3_read`, the role's read access beside any trigger.

mod alb;
mod dynamodb;
mod eventbridge;
mod function_url;
mod http_api;
mod rest_api;
mod s3;
mod sns;
mod sqs;

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::aws::{Aws, retrying};
use crate::error::DeployError;

/// What the triggers need of a function's settings: taken from
/// [`crate::settings::DeploySettings`] by its caller, so this module, which the settings name for
/// their `trigger`, does not name the settings back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The function.
    pub name: String,
    /// Its alias, which the triggers invoke.
    pub alias: String,
    /// The user's role, if the function runs as one (then its policies are theirs).
    pub role: Option<String>,
    /// `s3_read`: `bucket/prefix` the role may read objects under.
    pub s3_read: Vec<String>,
    /// What invokes it.
    pub trigger: Option<Trigger>,
}

pub(crate) use alb::created_group as created_target_group;
pub use alb::{Alb, MULTI_VALUE_ATTRIBUTE, target_group_name};
pub use dynamodb::{Dynamodb, StartingPosition, stream_policy};
pub use eventbridge::{Eventbridge, rule_name};
pub use function_url::{Cors, FunctionUrl, UrlAuth};
pub use http_api::HttpApi;
pub use rest_api::{PROXY_PATH, RestApi, invoke_url as rest_api_url};
pub use s3::{S3, bucket_notifications, notification_id, object_read_policy, objects_arn};
pub(crate) use s3::{merged as merged_notifications, valid_bucket_name};
pub use sns::{Sns, topic_name};
pub use sqs::{Sqs, queue_name, queue_policy};

/// Tag on resources deploy created (queue, API), so delete removes them and nothing else.
pub const CREATED_BY_TAG: &str = "lamplight:created-by";
/// Its value.
pub const CREATED_BY: &str = "lamplight";
/// Tag naming the function a created resource serves.
pub const FUNCTION_TAG: &str = "lamplight:function";
/// The inline role policy that lets the function read its queue.
pub const SQS_POLICY: &str = "lamplight-sqs";
/// The inline role policy that lets the function read its DynamoDB stream.
pub const DYNAMODB_POLICY: &str = "lamplight-dynamodb";
/// Statement id of the permission letting the SNS topic invoke the alias.
pub const SNS_STATEMENT: &str = "lamplight-sns";
/// Statement id of the permission letting the bucket invoke the alias.
pub const S3_STATEMENT: &str = "lamplight-s3";
/// The inline role policy that lets the function read the objects of its trigger's bucket.
pub const S3_POLICY: &str = "lamplight-s3";
/// The inline role policy of `s3_read`: reading other objects the function needs.
pub const S3_READ_POLICY: &str = "lamplight-s3-read";
/// Statement id of the permission letting the schedule's rule invoke the alias.
pub const EVENTBRIDGE_STATEMENT: &str = "lamplight-eventbridge";
/// Statement id of the HTTP API's invoke permission.
pub const HTTP_API_STATEMENT: &str = "lamplight-http-api";
/// Statement id of the REST API's invoke permission.
pub const REST_API_STATEMENT: &str = "lamplight-rest-api";
/// Statement id of the permission letting the target group invoke the alias.
pub const ALB_STATEMENT: &str = "lamplight-alb";
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
    /// An API Gateway REST API (`{proxy+}` and the root, Lambda proxy) on one stage.
    RestApi(RestApi),
    /// A DynamoDB stream event source mapping on the alias.
    Dynamodb(Dynamodb),
    /// A subscription of the alias to an SNS topic.
    Sns(Sns),
    /// A notification of an S3 bucket to the alias.
    S3(S3),
    /// A schedule: an EventBridge rule targeting the alias.
    Eventbridge(Eventbridge),
    /// An Application Load Balancer target group of type `lambda`.
    Alb(Alb),
    /// The user wires the function: deploy creates nothing.
    Custom {},
}

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
        let checked = match &trigger {
            Self::Custom {} => return Ok(None),
            Self::Sqs(sqs) => sqs.validate(function),
            Self::HttpApi(api) => api.validate(),
            Self::FunctionUrl(url) => url.validate(),
            Self::Dynamodb(ddb) => ddb.validate(),
            Self::Sns(sns) => sns.validate(),
            Self::S3(s3) => s3.validate(),
            Self::Eventbridge(eb) => eb.validate(),
            Self::RestApi(api) => api.validate(),
            Self::Alb(_) => Ok(()),
        };
        checked.map_err(invalid)?;
        Ok(Some(trigger))
    }

    /// `function-url`, `sqs`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Self::FunctionUrl(_) => "function-url",
            Self::Sqs(_) => "sqs",
            Self::HttpApi(_) => "http-api",
            Self::RestApi(_) => "rest-api",
            Self::Dynamodb(_) => "dynamodb",
            Self::Sns(_) => "sns",
            Self::S3(_) => "s3",
            Self::Eventbridge(_) => "eventbridge",
            Self::Alb(_) => "alb",
            Self::Custom {} => "custom",
        }
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
    /// Put an inline policy on the lamplight role.
    PutRolePolicy {
        /// The lamplight role.
        role: String,
        /// The policy's name ([`DYNAMODB_POLICY`], ...).
        policy: String,
        /// The policy document.
        document: String,
        /// What it allows, for the plan.
        summary: String,
    },
    /// Map a DynamoDB stream to the alias.
    CreateStreamMapping {
        /// The stream's ARN.
        stream: String,
        /// `LATEST` or `TRIM_HORIZON`.
        starting_position: String,
    },
    /// Change the stream mapping's settings.
    UpdateStreamMapping {
        /// The mapping.
        uuid: String,
        /// What changes.
        changes: Vec<String>,
    },
    /// Remove a mapping of the function from a source of the trigger's kind it no longer reads
    /// (the setting names another queue or stream).
    RemoveEventSourceMapping {
        /// The mapping.
        uuid: String,
        /// Its source's ARN.
        source: String,
    },
    /// Create the topic, tagged as lamplight's.
    CreateTopic(String),
    /// Subscribe the alias to the topic (protocol `lambda`).
    Subscribe(String),
    /// Remove the alias's subscription to a topic it no longer listens to.
    Unsubscribe {
        /// The subscription.
        subscription: String,
        /// Its topic.
        topic: String,
    },
    /// Let a service invoke the alias, limited to the trigger's resource (`SourceArn`).
    AllowInvoke {
        /// The statement id ([`SNS_STATEMENT`], ...).
        sid: String,
        /// The service principal.
        principal: String,
        /// The statement exists with another source: it is removed first.
        replace: bool,
    },
    /// Point the bucket's notification `lamplight-<function>` at the alias, keeping its others.
    PutBucketNotification {
        /// The bucket.
        bucket: String,
        /// `add`, or what changes.
        change: String,
    },
    /// Remove the notification `lamplight-<function>` from the bucket the trigger named before,
    /// keeping its others.
    RemoveBucketNotification {
        /// The earlier bucket.
        bucket: String,
    },
    /// Take an inline policy off the lamplight role: the setting is gone.
    DeleteRolePolicy {
        /// The lamplight role.
        role: String,
        /// The policy's name.
        policy: String,
    },
    /// Create the schedule's rule (tagged), or change its schedule in place.
    PutRule {
        /// The rule.
        name: String,
        /// `rate(...)` or `cron(...)`.
        schedule: String,
        /// Whether it is new.
        create: bool,
    },
    /// Make the alias the rule's target.
    PutRuleTarget(String),
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
    /// Create the REST API (tagged), `ANY` on `/` and `/{proxy+}` to the alias, and deploy it.
    CreateRestApi {
        /// The API's name.
        name: String,
        /// The stage it is deployed to.
        stage: String,
    },
    /// Deploy the REST API to its stage, rewiring its methods to the alias first if asked.
    DeployRestApi {
        /// The API.
        api_id: String,
        /// Whether the methods and integrations are put again (they do not call the alias).
        rewire: bool,
        /// The stage.
        stage: String,
        /// Stages under other names, removed.
        remove_stages: Vec<String>,
    },
    /// Create the target group (type `lambda`, tagged).
    CreateTargetGroup {
        /// Its name ([`target_group_name`]).
        name: String,
    },
    /// Turn the target group's multi-value headers on or off.
    SetTargetGroupMultiValue(bool),
    /// Make the alias the target group's target, deregistering others.
    RegisterTarget {
        /// Targets that are not the alias (an earlier alias).
        deregister: Vec<String>,
    },
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
            Self::PutRolePolicy {
                role,
                policy,
                summary,
                ..
            } => write!(f, "let role {role} {summary} (inline policy {policy})"),
            Self::CreateStreamMapping {
                stream,
                starting_position,
            } => write!(
                f,
                "map stream {stream} to the alias (ReportBatchItemFailures, from {starting_position})"
            ),
            Self::UpdateStreamMapping { uuid, changes } => {
                write!(f, "update mapping {uuid}: {}", changes.join(", "))
            }
            Self::RemoveEventSourceMapping { uuid, source } => {
                if service_of(source) == Some("sqs") {
                    let queue = source.rsplit(':').next().unwrap_or(source);
                    write!(f, "remove mapping {uuid} of the earlier queue {queue}")
                } else {
                    write!(f, "remove mapping {uuid} of the earlier stream {source}")
                }
            }
            Self::CreateTopic(name) => write!(f, "create the SNS topic {name}"),
            Self::Subscribe(topic) => write!(f, "subscribe the alias to topic {topic}"),
            Self::Unsubscribe { topic, .. } => {
                write!(f, "unsubscribe the alias from topic {topic}")
            }
            Self::AllowInvoke {
                sid,
                principal,
                replace,
            } => write!(
                f,
                "{} {principal} to invoke the alias from the trigger's resource only (statement {sid})",
                if *replace { "again allow" } else { "allow" }
            ),
            Self::PutBucketNotification { bucket, change } => write!(
                f,
                "notify the alias of bucket {bucket}'s events ({change}; its other notifications kept)"
            ),
            Self::RemoveBucketNotification { bucket } => write!(
                f,
                "remove the alias's notification from bucket {bucket} (its other notifications kept)"
            ),
            Self::DeleteRolePolicy { role, policy } => {
                write!(f, "remove inline policy {policy} from role {role}")
            }
            Self::PutRule {
                name,
                schedule,
                create,
            } => write!(
                f,
                "{} EventBridge rule {name} (schedule {schedule})",
                if *create { "create" } else { "update" }
            ),
            Self::PutRuleTarget(name) => write!(f, "target the alias from rule {name}"),
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
            Self::CreateRestApi { name, stage } => write!(
                f,
                "create REST API {name} (ANY / and ANY /{PROXY_PATH} to the alias, Lambda proxy) and deploy stage {stage}"
            ),
            Self::DeployRestApi {
                api_id,
                rewire,
                stage,
                remove_stages,
            } => {
                if *rewire {
                    write!(
                        f,
                        "point REST API {api_id}'s ANY / and ANY /{PROXY_PATH} at the alias, then deploy stage {stage}"
                    )?;
                } else {
                    write!(f, "deploy REST API {api_id} to stage {stage}")?;
                }
                if !remove_stages.is_empty() {
                    write!(f, "; remove stages {}", remove_stages.join(", "))?;
                }
                Ok(())
            }
            Self::CreateTargetGroup { name } => write!(
                f,
                "create target group {name} (type lambda; the listener rule that forwards to it is yours)"
            ),
            Self::SetTargetGroupMultiValue(on) => write!(
                f,
                "turn multi-value headers {} on the target group",
                if *on { "on" } else { "off" }
            ),
            Self::RegisterTarget { deregister } => {
                write!(f, "register the alias as the target group's target")?;
                if !deregister.is_empty() {
                    write!(f, " (deregister {})", deregister.join(", "))?;
                }
                Ok(())
            }
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
    topic_arn: Option<String>,
    rule_arn: Option<String>,
    target_group_arn: Option<String>,
}

/// The error's code; from the `x-amzn-ErrorType` header when the body names none: the local
/// Lambda service answers every service in JSON, which SNS's and S3's XML parsers cannot read.
pub(crate) fn code_of<E: aws_sdk_lambda::error::ProvideErrorMetadata>(
    e: &aws_sdk_lambda::error::SdkError<E, aws_sdk_lambda::config::http::HttpResponse>,
) -> Option<String> {
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_owned)
        .or_else(|| {
            e.raw_response()
                .and_then(|r| r.headers().get("x-amzn-ErrorType"))
                .map(|v| v.split(':').next().unwrap_or(v).to_owned())
        })
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
                | "NotFound"
        )
    )
}

/// The local Lambda service answers what it does not implement with `UnknownOperationException`;
/// a form-encoded request (SNS's query protocol) it refuses before routing, with
/// `UnsupportedMediaTypeException`.
pub(crate) fn is_unsupported_locally(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("UnknownOperationException" | "UnsupportedMediaTypeException")
    )
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

/// The statements of the alias's resource policy (none when it has none).
async fn statements(aws: &Aws, s: &Target) -> Result<Vec<serde_json::Value>, DeployError> {
    match aws
        .lambda
        .get_policy()
        .function_name(&s.name)
        .qualifier(&s.alias)
        .send()
        .await
    {
        Ok(found) => Ok(policy_statements(found.policy().unwrap_or_default())),
        Err(e) if is_not_found(code_of(&e).as_deref()) => Ok(Vec::new()),
        Err(e) => Err(DeployError::from_sdk("lambda:GetPolicy", e)),
    }
}

/// The `Sid`s of the alias's resource policy (none when it has none).
async fn statement_ids(aws: &Aws, s: &Target) -> Result<Vec<String>, DeployError> {
    Ok(statements(aws, s)
        .await?
        .iter()
        .filter_map(|st| st.get("Sid").and_then(|v| v.as_str()).map(str::to_owned))
        .collect())
}

/// The step giving `principal` the permission `sid`, limited to `source` (`None`: a resource
/// this deploy creates, so any existing statement is for another one); `None` when it exists
/// as wanted.
async fn permission_step(
    aws: &Aws,
    s: &Target,
    function_exists: bool,
    sid: &str,
    principal: &str,
    source: Option<&str>,
) -> Result<Option<TriggerStep>, DeployError> {
    let existing = if function_exists {
        statements(aws, s).await?
    } else {
        Vec::new()
    };
    let current = existing
        .iter()
        .find(|st| st.get("Sid").and_then(|v| v.as_str()) == Some(sid));
    let same = current.is_some_and(|st| {
        source.is_some() && st["Condition"]["ArnLike"]["AWS:SourceArn"].as_str() == source
    });
    Ok((!same).then(|| TriggerStep::AllowInvoke {
        sid: sid.to_owned(),
        principal: principal.to_owned(),
        replace: current.is_some(),
    }))
}

/// Where an inline policy of the lamplight role stands.
pub(crate) enum RolePolicy {
    /// The function runs as the user's role (named here): theirs to change.
    Yours(String),
    /// The lamplight role (named here) lacks it, or has another document.
    Differs(String),
    /// As wanted.
    Same,
    /// The service answering (the local one) has no IAM.
    Local,
}

/// Compares the lamplight role's inline policy `policy` with `wanted` (`None` when its resource
/// does not exist yet, so it will have to be put); IAM returns documents URL-encoded.
pub(crate) async fn role_policy(
    aws: &Aws,
    s: &Target,
    policy: &str,
    wanted: Option<&str>,
) -> Result<RolePolicy, DeployError> {
    if let Some(role) = &s.role {
        return Ok(RolePolicy::Yours(role.clone()));
    }
    let role = crate::role::role_name(&s.name);
    let current = match aws
        .iam
        .get_role_policy()
        .role_name(&role)
        .policy_name(policy)
        .send()
        .await
    {
        Ok(p) => Some(crate::role::decode_trust_policy(p.policy_document())),
        Err(e) if is_not_found(code_of(&e).as_deref()) => None,
        Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => return Ok(RolePolicy::Local),
        Err(e) => return Err(DeployError::from_sdk("iam:GetRolePolicy", e)),
    };
    let same = match (current, wanted) {
        (Some(c), Some(w)) => {
            serde_json::from_str::<serde_json::Value>(&c).ok()
                == serde_json::from_str::<serde_json::Value>(w).ok()
        }
        _ => false,
    };
    Ok(if same {
        RolePolicy::Same
    } else {
        RolePolicy::Differs(role)
    })
}

/// The trigger steps of a deploy of `s`; `function_exists` is false on a first deploy (nothing
/// can be attached to it yet, so everything is created).
pub async fn plan(
    aws: &Aws,
    s: &Target,
    function_exists: bool,
) -> Result<(Vec<TriggerStep>, Found), DeployError> {
    let mut found = Found::default();
    let mut steps = match &s.trigger {
        None => Vec::new(),
        Some(Trigger::FunctionUrl(url)) => function_url::plan(aws, s, url, function_exists).await?,
        Some(Trigger::Sqs(sqs)) => sqs::plan(aws, s, sqs, function_exists, &mut found).await?,
        Some(Trigger::HttpApi(api)) => {
            http_api::plan(aws, s, api, function_exists, &mut found).await?
        }
        Some(Trigger::Dynamodb(ddb)) => dynamodb::plan(aws, s, ddb, function_exists).await?,
        Some(Trigger::Sns(sns)) => sns::plan(aws, s, sns, function_exists, &mut found).await?,
        Some(Trigger::S3(s3)) => s3::plan(aws, s, s3, function_exists).await?,
        Some(Trigger::Eventbridge(eb)) => {
            eventbridge::plan(aws, s, eb, function_exists, &mut found).await?
        }
        Some(Trigger::RestApi(api)) => {
            rest_api::plan(aws, s, api, function_exists, &mut found).await?
        }
        Some(Trigger::Alb(alb)) => alb::plan(aws, s, alb, function_exists, &mut found).await?,
        Some(Trigger::Custom {}) => Vec::new(),
    };
    steps.extend(s3_read_step(aws, s).await?);
    Ok((steps, found))
}

/// `s3_read` as the inline policy [`S3_READ_POLICY`]: put when it differs, removed when the
/// setting is gone.
async fn s3_read_step(aws: &Aws, s: &Target) -> Result<Option<TriggerStep>, DeployError> {
    let resources: Vec<String> = s
        .s3_read
        .iter()
        .map(|r| {
            let (bucket, prefix) = r.split_once('/').unwrap_or((r, ""));
            objects_arn(bucket, prefix)
        })
        .collect();
    let document = (!resources.is_empty()).then(|| object_read_policy(&resources));
    let state = role_policy(aws, s, S3_READ_POLICY, document.as_deref()).await?;
    Ok(match (state, document) {
        (RolePolicy::Yours(role), Some(_)) => Some(TriggerStep::Skipped {
            what: "s3_read".into(),
            reason: format!(
                "role {role} is yours: let it s3:GetObject on {}",
                resources.join(", ")
            ),
        }),
        (RolePolicy::Local, Some(_)) => Some(TriggerStep::Skipped {
            what: "s3_read".into(),
            reason: "not supported locally (no IAM)".into(),
        }),
        (RolePolicy::Differs(role), Some(document)) => Some(TriggerStep::PutRolePolicy {
            role,
            policy: S3_READ_POLICY.to_owned(),
            document,
            summary: format!("s3:GetObject on {} only", resources.join(", ")),
        }),
        // No setting: a policy left from an earlier one goes (`Differs` also means absent).
        (RolePolicy::Differs(role), None)
            if role_has_policy(aws, &role, S3_READ_POLICY).await? =>
        {
            Some(TriggerStep::DeleteRolePolicy {
                role,
                policy: S3_READ_POLICY.to_owned(),
            })
        }
        _ => None,
    })
}

async fn role_has_policy(aws: &Aws, role: &str, policy: &str) -> Result<bool, DeployError> {
    match aws
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(policy)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(code_of(&e).as_deref()) => Ok(false),
        Err(e) => Err(DeployError::from_sdk("iam:GetRolePolicy", e)),
    }
}

/// Every event source mapping of `source` (all pages); of every source for `None`.
async fn mappings_of(
    aws: &Aws,
    source: Option<&str>,
) -> Result<Vec<aws_sdk_lambda::types::EventSourceMappingConfiguration>, DeployError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .lambda
            .list_event_source_mappings()
            .set_event_source_arn(source.map(str::to_owned))
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
    s: &Target,
    queue_arn: &str,
) -> Result<Option<aws_sdk_lambda::types::EventSourceMappingConfiguration>, DeployError> {
    Ok(mappings_of(aws, Some(queue_arn))
        .await?
        .into_iter()
        .find(|m| of_function(m, s)))
}

/// Whether the mapping invokes this function. Any qualifier counts: Lambda reports the alias
/// ARN, but moto 5.2.5 reports the version the alias pointed at when the mapping was made.
fn of_function(m: &aws_sdk_lambda::types::EventSourceMappingConfiguration, s: &Target) -> bool {
    let whole = format!(":function:{}", s.name);
    let qualified = format!("{whole}:");
    m.function_arn()
        .is_some_and(|a| a.ends_with(&whole) || a.contains(&qualified))
}

/// The service of an ARN (`arn:<partition>:<service>:...`).
fn service_of(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').nth(1)
}

/// Removal steps for this function's mappings from sources of `service` (`sqs`, `dynamodb`)
/// other than `current`: the setting moved to another queue or stream, and the function would
/// otherwise keep reading the earlier one too. Mappings from other services are left alone: a
/// trigger only answers for sources of its own kind.
async fn stale_mappings(
    aws: &Aws,
    s: &Target,
    service: &str,
    current: Option<&str>,
) -> Result<Vec<TriggerStep>, DeployError> {
    Ok(mappings_of(aws, None)
        .await?
        .into_iter()
        .filter(|m| of_function(m, s))
        // Lambda deletes a mapping asynchronously: one on its way out needs nothing more, and a
        // second delete of it would fail.
        .filter(|m| m.state() != Some("Deleting"))
        .filter_map(|m| {
            let source = m.event_source_arn()?;
            (service_of(source) == Some(service) && Some(source) != current).then(|| {
                TriggerStep::RemoveEventSourceMapping {
                    uuid: m.uuid().unwrap_or_default().to_owned(),
                    source: source.to_owned(),
                }
            })
        })
        .collect())
}

/// Whether a resource's tags say deploy created it for `function` (both [`CREATED_BY_TAG`] and
/// [`FUNCTION_TAG`]): only such a resource is deploy's to change or delete.
pub(crate) fn created_for<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    function: &str,
) -> bool {
    let (mut by_lamplight, mut of_function) = (false, false);
    for (key, value) in tags {
        by_lamplight |= key == CREATED_BY_TAG && value == CREATED_BY;
        of_function |= key == FUNCTION_TAG && value == function;
    }
    by_lamplight && of_function
}

/// [`created_for`] of the tag maps the SDKs return (SQS, API Gateway).
pub(crate) fn created_for_map(
    tags: Option<&std::collections::HashMap<String, String>>,
    function: &str,
) -> bool {
    created_for(
        tags.into_iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str())),
        function,
    )
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
    pub target: &'a Target,
    /// The unqualified function ARN.
    pub function_arn: String,
    /// What the plan found, completed by the steps that create things.
    pub found: Found,
    /// URLs to print at the end: (what, url).
    pub urls: Vec<(String, String)>,
}

impl Applying<'_> {
    fn alias_arn(&self) -> String {
        format!("{}:{}", self.function_arn, self.target.alias)
    }

    /// The account, from the function's ARN (`arn:aws:lambda:region:account:function:name`).
    fn account(&self) -> String {
        self.function_arn
            .split(':')
            .nth(4)
            .unwrap_or_default()
            .to_owned()
    }

    /// The resource (and account, where the ARN names none) a permission is limited to.
    fn invoke_source(&self) -> Result<(String, Option<String>), DeployError> {
        match &self.target.trigger {
            Some(Trigger::Sns(_)) => Ok((self.topic_arn()?, None)),
            Some(Trigger::Eventbridge(_)) => Ok((self.rule_arn()?, None)),
            Some(Trigger::RestApi(_)) => {
                let id = self
                    .found
                    .api_id
                    .clone()
                    .ok_or_else(|| mismatch("rest-api"))?;
                Ok((
                    format!(
                        "arn:aws:execute-api:{}:{}:{id}/*",
                        self.aws.region,
                        self.account()
                    ),
                    None,
                ))
            }
            Some(Trigger::Alb(_)) => Ok((self.target_group_arn()?, None)),
            // A bucket ARN names no account: the permission names it, so a bucket of the same
            // name in another account cannot invoke the function.
            Some(Trigger::S3(s3)) => {
                Ok((format!("arn:aws:s3:::{}", s3.bucket), Some(self.account())))
            }
            Some(other) => Err(mismatch(other.kind())),
            None => Err(mismatch("custom")),
        }
    }

    async fn allow_invoke(
        &self,
        sid: &str,
        principal: &str,
        replace: bool,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let s = self.target;
        let (source, account) = self.invoke_source()?;
        if replace {
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
        retrying("lambda:AddPermission", progress, || {
            aws.lambda
                .add_permission()
                .function_name(&s.name)
                .qualifier(&s.alias)
                .statement_id(sid)
                .action("lambda:InvokeFunction")
                .principal(principal)
                .source_arn(&source)
                .set_source_account(account.clone())
                .send()
        })
        .await
        .map(|_| ())
    }

    /// Carries out one step; `half_done` says what a step that failed part way changed.
    pub async fn step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
        half_done: &mut Option<String>,
    ) -> Result<(), DeployError> {
        match step {
            TriggerStep::CreateFunctionUrl { .. }
            | TriggerStep::UpdateFunctionUrl(_)
            | TriggerStep::AllowPublicUrl
            | TriggerStep::RemovePublicUrlPermission => {
                self.function_url_step(step, progress, half_done).await
            }
            TriggerStep::CreateQueue(_)
            | TriggerStep::PutQueuePolicy { .. }
            | TriggerStep::CreateEventSourceMapping(_)
            | TriggerStep::UpdateEventSourceMapping { .. } => {
                self.sqs_step(step, progress, half_done).await
            }
            TriggerStep::CreateHttpApi(_)
            | TriggerStep::UpdateHttpApiRoutes { .. }
            | TriggerStep::AllowHttpApi => self.http_api_step(step, progress, half_done).await,
            TriggerStep::CreateRestApi { .. } | TriggerStep::DeployRestApi { .. } => {
                self.rest_api_step(step, progress, half_done).await
            }
            TriggerStep::CreateTargetGroup { .. }
            | TriggerStep::SetTargetGroupMultiValue(_)
            | TriggerStep::RegisterTarget { .. } => self.alb_step(step, progress, half_done).await,
            TriggerStep::CreateStreamMapping { .. } | TriggerStep::UpdateStreamMapping { .. } => {
                self.dynamodb_step(step, progress).await
            }
            TriggerStep::PutBucketNotification { .. }
            | TriggerStep::RemoveBucketNotification { .. } => self.s3_step(step, progress).await,
            TriggerStep::RemoveEventSourceMapping { uuid, .. } => {
                let aws = self.aws;
                retrying("lambda:DeleteEventSourceMapping", progress, || async {
                    // Gone already (deleted by hand since the plan): what the step wanted.
                    match aws
                        .lambda
                        .delete_event_source_mapping()
                        .uuid(uuid)
                        .send()
                        .await
                    {
                        Err(e) if is_not_found(code_of(&e).as_deref()) => Ok(()),
                        other => other.map(|_| ()),
                    }
                })
                .await
            }
            TriggerStep::PutRule { .. } | TriggerStep::PutRuleTarget(_) => {
                self.eventbridge_step(step, progress).await
            }
            TriggerStep::DeleteRolePolicy { role, policy } => {
                retrying("iam:DeleteRolePolicy", progress, || {
                    self.aws
                        .iam
                        .delete_role_policy()
                        .role_name(role)
                        .policy_name(policy)
                        .send()
                })
                .await
                .map(|_| ())
            }
            TriggerStep::CreateTopic(_)
            | TriggerStep::Subscribe(_)
            | TriggerStep::Unsubscribe { .. } => self.sns_step(step, progress).await,
            TriggerStep::AllowInvoke {
                sid,
                principal,
                replace,
            } => self.allow_invoke(sid, principal, *replace, progress).await,
            TriggerStep::PutRolePolicy {
                role,
                policy,
                document,
                ..
            } => retrying("iam:PutRolePolicy", progress, || {
                self.aws
                    .iam
                    .put_role_policy()
                    .role_name(role)
                    .policy_name(policy)
                    .policy_document(document)
                    .send()
            })
            .await
            .map(|_| ()),
            TriggerStep::Unchanged(_) | TriggerStep::Skipped { .. } => Ok(()),
        }
    }

    /// After the steps: the URL to call, for the kinds that have one.
    pub async fn finish(&mut self) -> Result<(), DeployError> {
        let s = self.target;
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
            Some(Trigger::RestApi(_)) => {
                if let Some(url) = self.rest_api_url() {
                    self.urls.push(("url".into(), url));
                }
            }
            Some(Trigger::Alb(_)) => {
                if let Some(arn) = &self.found.target_group_arn {
                    self.urls.push(("targets".into(), arn.clone()));
                    self.urls.push((
                        "next".into(),
                        "add a listener rule that forwards to this target group: the load balancer and its listener are yours".into(),
                    ));
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
        let t = Trigger::from_value("f", &json!({"kind": "dynamodb", "table": "orders"}))
            .expect("valid");
        assert_eq!(
            t,
            Some(Trigger::Dynamodb(Dynamodb {
                table: Some("orders".into()),
                stream: None,
                starting_position: StartingPosition::Latest,
                batch_size: 100,
                bisect_batch_on_error: true,
                maximum_retry_attempts: None,
            }))
        );
        let t = Trigger::from_value("f", &json!({"kind": "sns"})).expect("valid");
        assert_eq!(
            t,
            Some(Trigger::Sns(Sns {
                topic: "create".into()
            }))
        );
        let t =
            Trigger::from_value("f", &json!({"kind": "s3", "bucket": "uploads"})).expect("valid");
        assert_eq!(
            t,
            Some(Trigger::S3(S3 {
                bucket: "uploads".into(),
                events: vec!["s3:ObjectCreated:*".into()],
                prefix: String::new(),
                suffix: String::new(),
            }))
        );
        let t = Trigger::from_value(
            "f",
            &json!({"kind": "eventbridge", "schedule": "cron(0 2 * * ? *)"}),
        )
        .expect("valid");
        assert_eq!(t.map(|t| t.kind()), Some("eventbridge"));
        for ok in [
            "rate(1 day)",
            "rate(15 minutes)",
            "cron(0/5 8-17 ? * MON-FRI *)",
        ] {
            Trigger::from_value("f", &json!({"kind": "eventbridge", "schedule": ok}))
                .unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        let t = Trigger::from_value("f", &json!({"kind": "rest-api"})).expect("valid");
        assert_eq!(t, Some(Trigger::RestApi(RestApi::default())));
        let t = Trigger::from_value("f", &json!({"kind": "alb", "multi_value_headers": true}))
            .expect("valid");
        assert_eq!(
            t,
            Some(Trigger::Alb(Alb {
                multi_value_headers: true
            }))
        );
        assert_eq!(queue_name("orders", "create"), "orders-queue");
        assert_eq!(
            queue_name("orders", "arn:aws:sqs:us-east-1:123456789012:jobs"),
            "jobs"
        );
    }

    #[test]
    fn removals_name_the_earlier_source() {
        let queue = TriggerStep::RemoveEventSourceMapping {
            uuid: "u1".into(),
            source: "arn:aws:sqs:us-east-1:123456789012:jobs".into(),
        };
        assert_eq!(
            queue.to_string(),
            "remove mapping u1 of the earlier queue jobs"
        );
        let stream =
            "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000";
        let step = TriggerStep::RemoveEventSourceMapping {
            uuid: "u2".into(),
            source: stream.into(),
        };
        assert_eq!(
            step.to_string(),
            format!("remove mapping u2 of the earlier stream {stream}")
        );
        assert_eq!(service_of(stream), Some("dynamodb"));
        assert_eq!(service_of("sqs:jobs"), None);
        let bucket = TriggerStep::RemoveBucketNotification {
            bucket: "old".into(),
        };
        assert_eq!(
            bucket.to_string(),
            "remove the alias's notification from bucket old (its other notifications kept)"
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
            (json!({"kind": "dynamodb"}), "write either `table"),
            (
                json!({"kind": "dynamodb", "stream": "orders"}),
                "`stream = \"orders\"`",
            ),
            (
                json!({"kind": "dynamodb", "table": "t", "starting_position": "AT_TIMESTAMP"}),
                "unknown variant `AT_TIMESTAMP`",
            ),
            (
                json!({"kind": "dynamodb", "table": "t", "maximum_retry_attempts": -2}),
                "`maximum_retry_attempts = -2`",
            ),
            (
                json!({"kind": "sns", "topic": "orders"}),
                "`topic = \"orders\"`",
            ),
            (json!({"kind": "s3"}), "missing field `bucket`"),
            (
                json!({"kind": "s3", "bucket": "Uploads"}),
                "`bucket = \"Uploads\"`",
            ),
            (
                json!({"kind": "s3", "bucket": "uploads", "events": ["ObjectCreated"]}),
                "event `ObjectCreated`",
            ),
            (
                json!({"kind": "eventbridge", "schedule": "rate(1 days)"}),
                "`schedule = \"rate(1 days)\"`: expected `rate(<n> <unit>)`",
            ),
            (
                json!({"kind": "eventbridge", "schedule": "cron(0 2 * * *)"}),
                "`schedule = \"cron(0 2 * * *)\"`",
            ),
            (
                json!({"kind": "eventbridge", "schedule": "daily"}),
                "`schedule = \"daily\"`",
            ),
            (
                json!({"kind": "lambda-url"}),
                "unknown variant `lambda-url`",
            ),
            (
                json!({"kind": "rest-api", "stage": "v1/beta"}),
                "`stage = \"v1/beta\"`",
            ),
            (
                json!({"kind": "alb", "listener": "arn"}),
                "unknown field `listener`",
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
