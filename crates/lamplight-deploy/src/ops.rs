//! Everyday calls on deployed functions: invoke, get, list, delete.

use aws_sdk_lambda::error::ProvideErrorMetadata as _;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use base64::Engine as _;

use crate::aws::Aws;
use crate::error::DeployError;
use crate::trigger;

/// What an invocation returned.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// HTTP status of the Invoke call.
    pub status: i32,
    /// The response, or the error document.
    pub payload: Vec<u8>,
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    /// The decoded log tail.
    pub logs: String,
    /// The version that ran.
    pub executed_version: Option<String>,
}

/// Invokes `name` (optionally `qualifier`) synchronously with the log tail.
pub async fn invoke(
    aws: &Aws,
    name: &str,
    qualifier: Option<&str>,
    payload: Vec<u8>,
) -> Result<Invoked, DeployError> {
    let out = aws
        .lambda
        .invoke()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_owned))
        .invocation_type(InvocationType::RequestResponse)
        .log_type(LogType::Tail)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("lambda:Invoke", e))?;
    let logs = out
        .log_result()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default();
    Ok(Invoked {
        status: out.status_code(),
        function_error: out.function_error().map(str::to_owned),
        executed_version: out.executed_version().map(str::to_owned),
        payload: out.payload.map(|p| p.into_inner()).unwrap_or_default(),
        logs,
    })
}

/// A deployed function's configuration as Lambda reports it; a field Lambda leaves out is empty
/// (or 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSummary {
    /// The function's name.
    pub name: String,
    /// `provided.al2023`, or another runtime when it was not deployed by lamplight.
    pub runtime: String,
    /// `arm64` or `x86_64`.
    pub architecture: String,
    /// MB.
    pub memory: i32,
    /// Seconds.
    pub timeout: i32,
    /// Bytes of the deployed zip.
    pub code_size: i64,
    /// Base64 SHA-256 of the deployed zip, comparable to [`crate::package::Package::sha256_base64`].
    pub code_sha256: String,
    /// ISO 8601, as Lambda writes it.
    pub last_modified: String,
    /// X-Ray: `Active` or `PassThrough`.
    pub tracing: String,
    /// The unqualified function ARN.
    pub arn: String,
}

fn summary(c: &aws_sdk_lambda::types::FunctionConfiguration) -> FunctionSummary {
    FunctionSummary {
        name: c.function_name().unwrap_or_default().to_owned(),
        runtime: c
            .runtime()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        architecture: c
            .architectures()
            .first()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
        memory: c.memory_size().unwrap_or_default(),
        timeout: c.timeout().unwrap_or_default(),
        code_size: c.code_size(),
        code_sha256: c.code_sha256().unwrap_or_default().to_owned(),
        last_modified: c.last_modified().unwrap_or_default().to_owned(),
        tracing: c
            .tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        arn: c.function_arn().unwrap_or_default().to_owned(),
    }
}

/// The function `name`.
pub async fn get(aws: &Aws, name: &str) -> Result<FunctionSummary, DeployError> {
    let out = aws
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("lambda:GetFunction", e))?;
    out.configuration()
        .map(summary)
        .ok_or_else(|| DeployError::Aws {
            operation: "lambda:GetFunction".into(),
            message: "no configuration in the answer".into(),
        })
}

/// Every function of the account in the region (all pages).
pub async fn list(aws: &Aws) -> Result<Vec<FunctionSummary>, DeployError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .lambda
            .list_functions()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("lambda:ListFunctions", e))?;
        out.extend(page.functions().iter().map(summary));
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Deletes `name` and what deploy created for it, in order: its S3 notifications (found through
/// the alias's permissions, so before the function), its Function URLs, event source mappings
/// (and a queue only when deploy created it, by its tags), its SNS subscriptions (and a topic
/// only when deploy created it, by its tags), its schedule's rule (by tags), its HTTP and REST
/// APIs and its target group (by tags), the role lamplight created (inline and managed policies
/// first), then the function, whose permissions go with it. Returns what was removed, one line
/// each.
pub async fn delete(aws: &Aws, name: &str) -> Result<Vec<String>, DeployError> {
    let mut removed = Vec::new();
    let function = aws
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("lambda:GetFunction", e))?;
    let configuration = function.configuration();
    let arn = configuration
        .and_then(|c| c.function_arn())
        .unwrap_or_default()
        .to_owned();
    // Only the role this function runs as is a candidate: a given role is never lamplight's.
    let runs_as_lamplight_role = configuration
        .and_then(|c| c.role())
        .is_some_and(|r| r.ends_with(&format!("/{}", crate::role::role_name(name))));
    let aliases = match aws.lambda.list_aliases().function_name(name).send().await {
        Ok(a) => a.aliases().to_vec(),
        // A service without aliases (the local one) has no URLs on them either.
        Err(e) if local(e.as_service_error().and_then(|s| s.code())) => Vec::new(),
        Err(e) => return Err(DeployError::from_sdk("lambda:ListAliases", e)),
    };
    removed.extend(delete_from_sources(aws, name, &aliases).await?);
    for alias in &aliases {
        let qualifier = alias.name().unwrap_or_default();
        // Looked up first: moto 5.2.5 answers a delete of a URL that does not exist with
        // success, which would report a removal that never happened.
        match aws
            .lambda
            .get_function_url_config()
            .function_name(name)
            .qualifier(qualifier)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if gone(e.as_service_error().and_then(|s| s.code())) => continue,
            Err(e) => return Err(DeployError::from_sdk("lambda:GetFunctionUrlConfig", e)),
        }
        match aws
            .lambda
            .delete_function_url_config()
            .function_name(name)
            .qualifier(qualifier)
            .send()
            .await
        {
            Ok(_) => removed.push(format!("Function URL of {name}:{qualifier}")),
            Err(e) if gone(e.as_service_error().and_then(|s| s.code())) => {}
            Err(e) => return Err(DeployError::from_sdk("lambda:DeleteFunctionUrlConfig", e)),
        }
    }
    let mut marker: Option<String> = None;
    let mut queues = Vec::new();
    loop {
        let page = match aws
            .lambda
            .list_event_source_mappings()
            .set_marker(marker.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if local(e.as_service_error().and_then(|s| s.code())) => break,
            Err(e) => return Err(DeployError::from_sdk("lambda:ListEventSourceMappings", e)),
        };
        for m in page.event_source_mappings() {
            let of_function = m.function_arn().is_some_and(|f| names_function(f, &arn));
            if !of_function {
                continue;
            }
            let uuid = m.uuid().unwrap_or_default();
            aws.lambda
                .delete_event_source_mapping()
                .uuid(uuid)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("lambda:DeleteEventSourceMapping", e))?;
            removed.push(format!("event source mapping {uuid}"));
            if let Some(source) = m.event_source_arn()
                && source.starts_with("arn:aws:sqs:")
            {
                queues.push(source.to_owned());
            }
        }
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    // The queue `queue = "create"` makes is looked for too: a deploy that failed before its
    // mapping existed left it behind with nothing pointing at it. Its tags still decide.
    let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
    let default_queue = format!(
        "arn:aws:sqs:{}:{account}:{}",
        aws.region,
        trigger::queue_name(name, "create")
    );
    if !queues.contains(&default_queue) {
        queues.push(default_queue);
    }
    for queue in queues {
        let parts: Vec<&str> = queue.split(':').collect();
        let (Some(account), Some(queue_name)) = (parts.get(4), parts.get(5)) else {
            continue;
        };
        let url = match aws
            .sqs
            .get_queue_url()
            .queue_name(*queue_name)
            .queue_owner_aws_account_id(*account)
            .send()
            .await
        {
            Ok(u) => u.queue_url().unwrap_or_default().to_owned(),
            Err(e) if gone(e.as_service_error().and_then(|s| s.code())) => continue,
            Err(e) => return Err(DeployError::from_sdk("sqs:GetQueueUrl", e)),
        };
        let tags = aws
            .sqs
            .list_queue_tags()
            .queue_url(&url)
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("sqs:ListQueueTags", e))?;
        let tags = tags.tags();
        // A queue the user named is theirs: only one deploy tagged as its own is removed.
        if trigger::created_for_map(tags, name) {
            aws.sqs
                .delete_queue()
                .queue_url(&url)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("sqs:DeleteQueue", e))?;
            removed.push(format!("queue {queue_name}"));
        }
    }
    removed.extend(delete_subscriptions(aws, name, &arn, &account).await?);
    removed.extend(delete_rule(aws, name).await?);
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .apigw
            .get_apis()
            .set_next_token(token.take())
            .send()
            .await;
        let page = match page {
            Ok(p) => p,
            // The local service has no API Gateway: nothing of it to remove.
            Err(e) if local(e.as_service_error().and_then(|s| s.code())) => break,
            Err(e) => return Err(DeployError::from_sdk("apigateway:GetApis", e)),
        };
        for api in page.items() {
            if trigger::created_for_map(api.tags(), name) {
                let id = api.api_id().unwrap_or_default();
                aws.apigw
                    .delete_api()
                    .api_id(id)
                    .send()
                    .await
                    .map_err(|e| DeployError::from_sdk("apigateway:DeleteApi", e))?;
                removed.push(format!("HTTP API {id}"));
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    removed.extend(delete_rest_apis(aws, name).await?);
    if let Some(arn) = trigger::created_target_group(aws, name).await? {
        // A listener rule still forwarding to the group makes ELB refuse: say what to do.
        match aws
            .elb
            .delete_target_group()
            .target_group_arn(&arn)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ResourceInUse") => {
                return Err(DeployError::Aws {
                    operation: "elasticloadbalancing:DeleteTargetGroup".into(),
                    message: format!(
                        "target group {arn} is still used by a listener rule: remove the rule, then delete again (the function is kept until then)"
                    ),
                });
            }
            Err(e) => {
                return Err(DeployError::from_sdk(
                    "elasticloadbalancing:DeleteTargetGroup",
                    e,
                ));
            }
        }
        removed.push(format!("target group {arn}"));
    }
    aws.lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("lambda:DeleteFunction", e))?;
    removed.push(format!("function {name}"));
    if runs_as_lamplight_role && let Some(role) = delete_role(aws, name).await? {
        removed.push(format!("role {role}"));
    }
    Ok(removed)
}

/// The REST APIs deploy created for `name`, by their tags.
async fn delete_rest_apis(aws: &Aws, name: &str) -> Result<Vec<String>, DeployError> {
    let mut removed = Vec::new();
    let mut position: Option<String> = None;
    loop {
        let page = match aws
            .rest
            .get_rest_apis()
            .limit(500)
            .set_position(position.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if local(e.as_service_error().and_then(|s| s.code())) => break,
            Err(e) => return Err(DeployError::from_sdk("apigateway:GetRestApis", e)),
        };
        for api in page.items() {
            if trigger::created_for_map(api.tags(), name) {
                let id = api.id().unwrap_or_default();
                aws.rest
                    .delete_rest_api()
                    .rest_api_id(id)
                    .send()
                    .await
                    .map_err(|e| DeployError::from_sdk("apigateway:DeleteRestApi", e))?;
                removed.push(format!("REST API {id}"));
            }
        }
        match page.position() {
            Some(p) if !p.is_empty() => position = Some(p.to_owned()),
            _ => break,
        }
    }
    Ok(removed)
}

/// Deletes the function's log group `/aws/lambda/<name>` (Lambda creates it on the first
/// invocation, deploy when it sets a retention): its logs are gone for good, so only when asked.
/// `None` when there is none.
pub async fn delete_log_group(aws: &Aws, name: &str) -> Result<Option<String>, DeployError> {
    let group = format!("/aws/lambda/{name}");
    match aws
        .logs
        .delete_log_group()
        .log_group_name(&group)
        .send()
        .await
    {
        Ok(_) => Ok(Some(format!("log group {group}"))),
        Err(e) if gone(e.as_service_error().and_then(|s| s.code())) => Ok(None),
        Err(e) => Err(DeployError::from_sdk("logs:DeleteLogGroup", e)),
    }
}

fn gone(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ResourceNotFoundException"
                | "NotFoundException"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist"
                | "NoSuchEntity"
                | "NotFound"
                | "ResourceNotFound"
                | "NoSuchBucket"
                | "UnknownOperationException"
        )
    )
}

fn local(code: Option<&str>) -> bool {
    code == Some("UnknownOperationException")
}

/// Takes the function out of what notifies it that deploy does not own: each alias's permission
/// statements name the source (`lamplight-s3`: the bucket), whose notification `lamplight-<name>`
/// is removed, every other notification of the bucket kept.
async fn delete_from_sources(
    aws: &Aws,
    name: &str,
    aliases: &[aws_sdk_lambda::types::AliasConfiguration],
) -> Result<Vec<String>, DeployError> {
    let mut removed = Vec::new();
    let mut buckets = Vec::new();
    for alias in aliases {
        let policy = match aws
            .lambda
            .get_policy()
            .function_name(name)
            .qualifier(alias.name().unwrap_or_default())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) if gone(e.as_service_error().and_then(|s| s.code())) => continue,
            Err(e) => return Err(DeployError::from_sdk("lambda:GetPolicy", e)),
        };
        let document: serde_json::Value =
            serde_json::from_str(policy.policy().unwrap_or_default()).unwrap_or_default();
        for st in document["Statement"].as_array().into_iter().flatten() {
            if st["Sid"] == trigger::S3_STATEMENT
                && let Some(bucket) = st["Condition"]["ArnLike"]["AWS:SourceArn"]
                    .as_str()
                    .and_then(|a| a.strip_prefix("arn:aws:s3:::"))
                && !buckets.iter().any(|b| b == bucket)
            {
                buckets.push(bucket.to_owned());
            }
        }
    }
    let id = trigger::notification_id(name);
    for bucket in buckets {
        let current = match trigger::bucket_notifications(aws, &bucket).await {
            Ok(c) => c,
            Err(e) if gone(trigger::code_of(&e).as_deref()) => continue,
            Err(e) => {
                return Err(DeployError::from_sdk(
                    "s3:GetBucketNotificationConfiguration",
                    e,
                ));
            }
        };
        if !current
            .lambda_function_configurations()
            .iter()
            .any(|c| c.id() == Some(id.as_str()))
        {
            continue;
        }
        aws.s3
            .put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(trigger::merged_notifications(&current, &id, None))
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("s3:PutBucketNotificationConfiguration", e))?;
        removed.push(format!("S3 notification {id} of bucket {bucket}"));
    }
    Ok(removed)
}

/// Deletes the schedule's rule deploy created for `name` (by its tags), its targets first.
async fn delete_rule(aws: &Aws, name: &str) -> Result<Vec<String>, DeployError> {
    let rule = trigger::rule_name(name);
    let found = match aws.events.describe_rule().name(&rule).send().await {
        Ok(r) => r,
        Err(e) if gone(trigger::code_of(&e).as_deref()) => return Ok(Vec::new()),
        Err(e) => return Err(DeployError::from_sdk("events:DescribeRule", e)),
    };
    let tags = aws
        .events
        .list_tags_for_resource()
        .resource_arn(found.arn().unwrap_or_default())
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("events:ListTagsForResource", e))?;
    let tags: std::collections::HashMap<String, String> = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    // A rule of that name someone else made stays.
    if !trigger::created_for_map(Some(&tags), name) {
        return Ok(Vec::new());
    }
    let targets = aws
        .events
        .list_targets_by_rule()
        .rule(&rule)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("events:ListTargetsByRule", e))?;
    let ids: Vec<String> = targets
        .targets()
        .iter()
        .map(|t| t.id().to_owned())
        .collect();
    if !ids.is_empty() {
        aws.events
            .remove_targets()
            .rule(&rule)
            .set_ids(Some(ids))
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("events:RemoveTargets", e))?;
    }
    aws.events
        .delete_rule()
        .name(&rule)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("events:DeleteRule", e))?;
    Ok(vec![format!("EventBridge rule {rule}")])
}

/// Unsubscribes every qualifier of the function `arn` from SNS, then deletes the topics of
/// those subscriptions that deploy created for `name` (by their tags), and `<name>-topic` if it
/// is one: a deploy that failed before subscribing left it behind.
async fn delete_subscriptions(
    aws: &Aws,
    name: &str,
    arn: &str,
    account: &str,
) -> Result<Vec<String>, DeployError> {
    let mut removed = Vec::new();
    let mut topics = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match aws
            .sns
            .list_subscriptions()
            .set_next_token(token.take())
            .send()
            .await
        {
            Ok(p) => p,
            // The local service has no SNS: nothing of it to remove.
            Err(e) if trigger::is_unsupported_locally(trigger::code_of(&e).as_deref()) => {
                return Ok(removed);
            }
            Err(e) => return Err(DeployError::from_sdk("sns:ListSubscriptions", e)),
        };
        for sub in page.subscriptions() {
            let of_function = sub.protocol() == Some("lambda")
                && sub.endpoint().is_some_and(|e| names_function(e, arn));
            if !of_function {
                continue;
            }
            let sub_arn = sub.subscription_arn().unwrap_or_default();
            aws.sns
                .unsubscribe()
                .subscription_arn(sub_arn)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("sns:Unsubscribe", e))?;
            removed.push(format!("SNS subscription {sub_arn}"));
            if let Some(topic) = sub.topic_arn() {
                topics.push(topic.to_owned());
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    let default_topic = format!(
        "arn:aws:sns:{}:{account}:{}",
        aws.region,
        trigger::topic_name(name)
    );
    if !topics.contains(&default_topic) {
        topics.push(default_topic);
    }
    topics.dedup();
    for topic in topics {
        let tags = match aws
            .sns
            .list_tags_for_resource()
            .resource_arn(&topic)
            .send()
            .await
        {
            Ok(t) => t,
            Err(e) if gone(e.as_service_error().and_then(|s| s.code())) => continue,
            Err(e) => return Err(DeployError::from_sdk("sns:ListTagsForResource", e)),
        };
        let tags: std::collections::HashMap<String, String> = tags
            .tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect();
        // A topic the user named is theirs: only one deploy tagged as its own is removed.
        if trigger::created_for_map(Some(&tags), name) {
            aws.sns
                .delete_topic()
                .topic_arn(&topic)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("sns:DeleteTopic", e))?;
            removed.push(format!(
                "topic {}",
                topic.rsplit(':').next().unwrap_or_default()
            ));
        }
    }
    Ok(removed)
}

/// Deletes the role lamplight created for `name` (its description says so), after its policies;
/// a role the user gave, or one someone else made under that name, stays.
async fn delete_role(aws: &Aws, name: &str) -> Result<Option<String>, DeployError> {
    let role = crate::role::role_name(name);
    let found = match aws.iam.get_role().role_name(&role).send().await {
        Ok(r) => r,
        Err(e) if gone(e.as_service_error().and_then(|s| s.code())) => return Ok(None),
        Err(e) => return Err(DeployError::from_sdk("iam:GetRole", e)),
    };
    let ours = found
        .role()
        .and_then(|r| r.description())
        .is_some_and(|d| d.ends_with("created by lamplight"));
    if !ours {
        return Ok(None);
    }
    let inline = aws
        .iam
        .list_role_policies()
        .role_name(&role)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("iam:ListRolePolicies", e))?;
    for policy in inline.policy_names() {
        aws.iam
            .delete_role_policy()
            .role_name(&role)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("iam:DeleteRolePolicy", e))?;
    }
    let attached = aws
        .iam
        .list_attached_role_policies()
        .role_name(&role)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("iam:ListAttachedRolePolicies", e))?;
    for policy in attached.attached_policies() {
        aws.iam
            .detach_role_policy()
            .role_name(&role)
            .policy_arn(policy.policy_arn().unwrap_or_default())
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("iam:DetachRolePolicy", e))?;
    }
    aws.iam
        .delete_role()
        .role_name(&role)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("iam:DeleteRole", e))?;
    Ok(Some(role))
}

/// Whether `candidate` is `function_arn` itself or one of its qualified forms (`…:live`,
/// `…:3`): mappings and subscriptions point at the alias, or, in moto, at a version.
fn names_function(candidate: &str, function_arn: &str) -> bool {
    candidate
        .strip_prefix(function_arn)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(':'))
}
