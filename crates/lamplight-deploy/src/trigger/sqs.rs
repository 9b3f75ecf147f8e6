//! `kind = "sqs"`: an event source mapping from a queue (the user's, or one deploy creates and
//! tags) to the alias, and an inline role policy to read that queue only.

use aws_sdk_lambda::types::FunctionResponseType;
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Deserialize;

use super::{
    Applying, Found, RolePolicy, SQS_POLICY, Target, Trigger, TriggerStep, code_of, find_mapping,
    is_not_found, is_unsupported_locally, mismatch, role_policy, skipped, stale_mappings, tags,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

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

impl Sqs {
    /// Checks what serde cannot; the message names the key.
    pub(super) fn validate(&self, function: &str) -> Result<(), String> {
        if !(1..=10_000).contains(&self.batch_size) {
            return Err(format!(
                "`batch_size = {}`: expected 1 to 10000",
                self.batch_size
            ));
        }
        if !(0..=300).contains(&self.batching_window_seconds) {
            return Err(format!(
                "`batching_window_seconds = {}`: expected 0 to 300",
                self.batching_window_seconds
            ));
        }
        // Lambda refuses batches over 10 without a window to gather them in.
        if self.batch_size > 10 && self.batching_window_seconds == 0 {
            return Err(format!(
                "`batch_size = {}` needs `batching_window_seconds` of at least 1 (SQS batches over 10 are gathered over a window)",
                self.batch_size
            ));
        }
        let name = queue_name(function, &self.queue);
        if !self.queue.starts_with("arn:") && !valid_queue_name(&name) {
            return Err(format!(
                "`queue = \"{}\"`: expected an SQS queue ARN, \"create\", or a queue name of 1 to 80 letters, digits, `-` and `_`",
                self.queue
            ));
        }
        Ok(())
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

/// The queue's steps: create it when asked, the role's read policy, the mapping.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    sqs: &Sqs,
    function_exists: bool,
    found: &mut Found,
) -> Result<Vec<TriggerStep>, DeployError> {
    let mut steps = Vec::new();
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
            return Ok(vec![skipped("sqs")]);
        }
        Err(e) => return Err(DeployError::from_sdk("sqs:GetQueueUrl", e)),
    }
    let wanted = found.queue_arn.as_deref().map(queue_policy);
    match role_policy(aws, s, SQS_POLICY, wanted.as_deref()).await? {
        RolePolicy::Yours(role) => steps.push(TriggerStep::Skipped {
            what: "the queue policy".into(),
            reason: format!(
                "role {role} is yours: let it sqs:ReceiveMessage, sqs:DeleteMessage and sqs:GetQueueAttributes on the queue"
            ),
        }),
        RolePolicy::Differs(role) => steps.push(TriggerStep::PutQueuePolicy { role, queue: name }),
        // The kind's own API answered, so IAM is there too: `Local` cannot happen here.
        RolePolicy::Same | RolePolicy::Local => {}
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
    // After the new mapping: a deploy failing between the two leaves the function reading the
    // earlier queue still, never neither. A queue yet to be created makes every other one earlier.
    if function_exists {
        steps.extend(stale_mappings(aws, s, "sqs", found.queue_arn.as_deref()).await?);
    }
    Ok(steps)
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

fn sqs_err<E, R>(operation: &str, e: aws_sdk_sqs::error::SdkError<E, R>) -> DeployError
where
    E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    DeployError::from_sdk(operation, e)
}

impl Applying<'_> {
    fn sqs_settings(&self) -> Option<&Sqs> {
        match &self.target.trigger {
            Some(Trigger::Sqs(sqs)) => Some(sqs),
            _ => None,
        }
    }

    fn queue_arn(&self) -> Result<String, DeployError> {
        self.found.queue_arn.clone().ok_or_else(|| mismatch("sqs"))
    }

    /// Carries out an SQS step.
    pub(super) async fn sqs_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
        half_done: &mut Option<String>,
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let s = self.target;
        match step {
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
            _ => return Err(mismatch("sqs")),
        }
        Ok(())
    }
}
