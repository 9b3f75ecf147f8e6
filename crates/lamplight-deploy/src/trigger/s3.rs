//! `kind = "s3"`: a notification of the user's bucket to the alias (one configuration, id
//! `lamplight-<function>`, merged with the bucket's others), the permission letting that bucket
//! in this account invoke the alias, and an inline role policy reading the bucket's objects
//! under the prefix only. The bucket is never created or deleted.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_bucket_notification_configuration::{
    GetBucketNotificationConfigurationError, GetBucketNotificationConfigurationOutput,
};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};
use serde::Deserialize;

use super::{
    Applying, RolePolicy, S3_POLICY, S3_STATEMENT, Target, Trigger, TriggerStep, code_of,
    is_not_found, is_unsupported_locally, mismatch, permission_step, role_policy, skipped,
    statements,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

/// `kind = "s3"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3 {
    /// An existing bucket's name.
    pub bucket: String,
    /// The events that invoke the function.
    #[serde(default = "object_created")]
    pub events: Vec<String>,
    /// Only keys starting with this.
    #[serde(default)]
    pub prefix: String,
    /// Only keys ending with this.
    #[serde(default)]
    pub suffix: String,
}

fn object_created() -> Vec<String> {
    vec!["s3:ObjectCreated:*".to_owned()]
}

/// 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit.
pub(crate) fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

impl S3 {
    /// Checks what serde cannot; the message names the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        if !valid_bucket_name(&self.bucket) {
            return Err(format!(
                "`bucket = \"{}\"`: expected an existing bucket's name (3 to 63 lowercase letters, digits, `.` and `-`)",
                self.bucket
            ));
        }
        if self.events.is_empty() {
            return Err(
                "`events = []`: list at least one, or leave `events` out for s3:ObjectCreated:*"
                    .into(),
            );
        }
        if let Some(bad) = self.events.iter().find(|e| !e.starts_with("s3:")) {
            return Err(format!(
                "event `{bad}`: expected an S3 event type like s3:ObjectCreated:* or s3:ObjectRemoved:Delete"
            ));
        }
        Ok(())
    }
}

/// The notification's id: one per function, so other notifications of the bucket are told apart.
pub fn notification_id(function: &str) -> String {
    format!("lamplight-{function}")
}

/// The inline policy letting the role read `bucket`'s objects under `prefix`, and nothing else.
pub fn object_read_policy(resources: &[String]) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": resources,
        }]
    })
    .to_string()
}

/// `arn:aws:s3:::<bucket>/<prefix>*`.
pub fn objects_arn(bucket: &str, prefix: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{prefix}*")
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut v = values.to_vec();
    v.sort();
    v
}

/// The key filter rules of a configuration: (prefix, suffix), empty when absent.
fn filters(c: &LambdaFunctionConfiguration) -> (String, String) {
    let mut prefix = String::new();
    let mut suffix = String::new();
    let rules = c
        .filter()
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    for rule in rules {
        let value = rule.value().unwrap_or_default().to_owned();
        match rule
            .name()
            .map(|n| n.as_str().to_ascii_lowercase())
            .as_deref()
        {
            Some("prefix") => prefix = value,
            Some("suffix") => suffix = value,
            _ => {}
        }
    }
    (prefix, suffix)
}

/// The bucket's steps: the role's read policy, the permission, the notification.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    s3: &S3,
    function_exists: bool,
) -> Result<Vec<TriggerStep>, DeployError> {
    let current = match bucket_notifications(aws, &s3.bucket).await {
        Ok(c) => c,
        Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
            return Ok(vec![skipped("s3")]);
        }
        Err(e) if is_not_found(code_of(&e).as_deref()) => {
            // Deploy never creates the bucket: it holds the user's objects.
            return Err(DeployError::InvalidTrigger {
                function: s.name.clone(),
                message: format!(
                    "`bucket = \"{}\"` does not exist: create it first",
                    s3.bucket
                ),
            });
        }
        Err(e) => {
            return Err(DeployError::from_sdk(
                "s3:GetBucketNotificationConfiguration",
                e,
            ));
        }
    };
    let mut steps = Vec::new();
    let document = object_read_policy(&[objects_arn(&s3.bucket, &s3.prefix)]);
    match role_policy(aws, s, S3_POLICY, Some(&document)).await? {
        RolePolicy::Yours(role) => steps.push(TriggerStep::Skipped {
            what: "the bucket policy".into(),
            reason: format!(
                "role {role} is yours: let it s3:GetObject on {}",
                objects_arn(&s3.bucket, &s3.prefix)
            ),
        }),
        RolePolicy::Differs(role) => steps.push(TriggerStep::PutRolePolicy {
            role,
            policy: S3_POLICY.to_owned(),
            document,
            summary: format!(
                "s3:GetObject on {} only",
                objects_arn(&s3.bucket, &s3.prefix)
            ),
        }),
        // The kind's own API answered, so IAM is there too: `Local` cannot happen here.
        RolePolicy::Same | RolePolicy::Local => {}
    }
    // Before the permission is replaced: its statement is what names the earlier bucket, so a
    // deploy failing here finds it again next time.
    if function_exists {
        steps.extend(earlier_notification(aws, s, &s3.bucket).await?);
    }
    // Before the notification: S3 checks that it may invoke the function when it is put.
    if let Some(step) = permission_step(
        aws,
        s,
        function_exists,
        S3_STATEMENT,
        "s3.amazonaws.com",
        Some(&format!("arn:aws:s3:::{}", s3.bucket)),
    )
    .await?
    {
        steps.push(step);
    }
    let id = notification_id(&s.name);
    let alias = format!(":function:{}:{}", s.name, s.alias);
    let ours = current
        .lambda_function_configurations()
        .iter()
        .find(|c| c.id() == Some(id.as_str()));
    let change = match ours {
        None => Some("add".to_owned()),
        Some(c) => {
            let mut changes = Vec::new();
            if !c.lambda_function_arn().ends_with(&alias) {
                changes.push("target".to_owned());
            }
            let events: Vec<String> = c.events().iter().map(|e| e.as_str().to_owned()).collect();
            if sorted(&events) != sorted(&s3.events) {
                changes.push(format!("events -> {}", s3.events.join(", ")));
            }
            let (prefix, suffix) = filters(c);
            if prefix != s3.prefix {
                changes.push(format!("prefix \"{prefix}\" -> \"{}\"", s3.prefix));
            }
            if suffix != s3.suffix {
                changes.push(format!("suffix \"{suffix}\" -> \"{}\"", s3.suffix));
            }
            (!changes.is_empty()).then(|| changes.join(", "))
        }
    };
    match change {
        Some(change) => steps.push(TriggerStep::PutBucketNotification {
            bucket: s3.bucket.clone(),
            change,
        }),
        None => steps.push(TriggerStep::Unchanged("S3 bucket notification".into())),
    }
    Ok(steps)
}

/// The step removing this function's notification from the bucket the alias's [`S3_STATEMENT`]
/// names (`AWS:SourceArn`, `arn:aws:s3:::<bucket>`), when that is not `bucket`: the trigger moved,
/// and the earlier bucket would otherwise keep notifying an alias that now refuses it. `None`
/// when the earlier bucket is gone or holds no such notification.
async fn earlier_notification(
    aws: &Aws,
    s: &Target,
    bucket: &str,
) -> Result<Option<TriggerStep>, DeployError> {
    let earlier = statements(aws, s)
        .await?
        .into_iter()
        .filter(|st| st.get("Sid").and_then(|v| v.as_str()) == Some(S3_STATEMENT))
        .find_map(|st| {
            st["Condition"]["ArnLike"]["AWS:SourceArn"]
                .as_str()
                .and_then(|a| a.strip_prefix("arn:aws:s3:::"))
                .map(str::to_owned)
        });
    let Some(earlier) = earlier.filter(|b| b != bucket) else {
        return Ok(None);
    };
    let current = match bucket_notifications(aws, &earlier).await {
        Ok(c) => c,
        Err(e) if bucket_gone(code_of(&e).as_deref()) => return Ok(None),
        Err(e) => {
            return Err(DeployError::from_sdk(
                "s3:GetBucketNotificationConfiguration",
                e,
            ));
        }
    };
    let id = notification_id(&s.name);
    let ours = current
        .lambda_function_configurations()
        .iter()
        .any(|c| c.id() == Some(id.as_str()));
    Ok(ours.then_some(TriggerStep::RemoveBucketNotification { bucket: earlier }))
}

/// A bucket that no longer exists: nothing of it is left to clean up.
fn bucket_gone(code: Option<&str>) -> bool {
    is_not_found(code) || code == Some("NoSuchBucket")
}

/// The notification configuration of `bucket`. moto 5.2.5 answers a bucket that has none with
/// an empty `<GetBucketNotificationResponse/>`, which the SDK cannot decode (S3 sends an empty
/// `<NotificationConfiguration/>`): that answer is read as no notifications, so a trigger on a
/// fresh bucket deploys against moto too.
pub async fn bucket_notifications(
    aws: &Aws,
    bucket: &str,
) -> Result<
    GetBucketNotificationConfigurationOutput,
    SdkError<GetBucketNotificationConfigurationError, HttpResponse>,
> {
    match aws
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Err(e) if empty_moto_answer(&e) => {
            Ok(GetBucketNotificationConfigurationOutput::builder().build())
        }
        answer => answer,
    }
}

/// A successful answer whose body is moto's self-closed, so empty, response element.
fn empty_moto_answer<E>(e: &SdkError<E, HttpResponse>) -> bool {
    e.raw_response().is_some_and(|r| {
        r.status().is_success()
            && r.body().bytes().is_some_and(|body| {
                let body = String::from_utf8_lossy(body);
                body.contains("<GetBucketNotificationResponse")
                    && !body.contains("</GetBucketNotificationResponse>")
            })
    })
}

/// `current` with the configuration `id` replaced by `ours` (or removed, for `None`); every
/// other notification of the bucket is kept as it is.
pub(crate) fn merged(
    current: &aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput,
    id: &str,
    ours: Option<LambdaFunctionConfiguration>,
) -> NotificationConfiguration {
    let mut lambdas: Vec<LambdaFunctionConfiguration> = current
        .lambda_function_configurations()
        .iter()
        .filter(|c| c.id() != Some(id))
        .cloned()
        .collect();
    lambdas.extend(ours);
    NotificationConfiguration::builder()
        .set_topic_configurations(Some(current.topic_configurations().to_vec()))
        .set_queue_configurations(Some(current.queue_configurations().to_vec()))
        .set_lambda_function_configurations(Some(lambdas))
        .set_event_bridge_configuration(current.event_bridge_configuration().cloned())
        .build()
}

impl Applying<'_> {
    /// Carries out an S3 step.
    pub(super) async fn s3_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        if let TriggerStep::RemoveBucketNotification { bucket } = step {
            return self.remove_notification(bucket, progress).await;
        }
        let s3 = match &self.target.trigger {
            Some(Trigger::S3(s3)) => s3.clone(),
            _ => return Err(mismatch("s3")),
        };
        let TriggerStep::PutBucketNotification { bucket, .. } = step else {
            return Err(mismatch("s3"));
        };
        let mut rules = Vec::new();
        for (name, value) in [
            (FilterRuleName::Prefix, &s3.prefix),
            (FilterRuleName::Suffix, &s3.suffix),
        ] {
            if !value.is_empty() {
                rules.push(FilterRule::builder().name(name).value(value).build());
            }
        }
        let filter = (!rules.is_empty()).then(|| {
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
                .build()
        });
        let id = notification_id(&self.target.name);
        let ours = LambdaFunctionConfiguration::builder()
            .id(&id)
            .lambda_function_arn(self.alias_arn())
            .set_events(Some(
                s3.events.iter().map(|e| Event::from(e.as_str())).collect(),
            ))
            .set_filter(filter)
            .build()
            .map_err(|e| DeployError::Aws {
                operation: "s3:PutBucketNotificationConfiguration".into(),
                message: e.to_string(),
            })?;
        // Read again right before writing: the bucket's other notifications are kept as they
        // are now, not as the plan saw them.
        let current = bucket_notifications(aws, bucket)
            .await
            .map_err(|e| DeployError::from_sdk("s3:GetBucketNotificationConfiguration", e))?;
        let configuration = merged(&current, &id, Some(ours));
        retrying("s3:PutBucketNotificationConfiguration", progress, || {
            aws.s3
                .put_bucket_notification_configuration()
                .bucket(bucket)
                .notification_configuration(configuration.clone())
                .send()
        })
        .await?;
        Ok(())
    }

    /// Takes this function's notification off `bucket`, every other one kept; a bucket gone, or
    /// without it, since the plan is left as it is.
    async fn remove_notification(
        &self,
        bucket: &str,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let id = notification_id(&self.target.name);
        // Read again right before writing, as for a put: the others are kept as they are now.
        let current = match bucket_notifications(aws, bucket).await {
            Ok(c) => c,
            Err(e) if bucket_gone(code_of(&e).as_deref()) => return Ok(()),
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
            return Ok(());
        }
        let configuration = merged(&current, &id, None);
        retrying("s3:PutBucketNotificationConfiguration", progress, || {
            aws.s3
                .put_bucket_notification_configuration()
                .bucket(bucket)
                .notification_configuration(configuration.clone())
                .send()
        })
        .await?;
        Ok(())
    }
}
