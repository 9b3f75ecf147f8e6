//! `kind = "dynamodb"`: an event source mapping from a table's stream to the alias, and an
//! inline role policy to read that stream only. The table is the user's: deploy only reads it.

use aws_sdk_lambda::types::{EventSourcePosition, FunctionResponseType};
use serde::Deserialize;

use super::{
    Applying, DYNAMODB_POLICY, RolePolicy, Target, Trigger, TriggerStep, code_of, find_mapping,
    is_not_found, is_unsupported_locally, mismatch, role_policy, skipped, stale_mappings,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

/// Where a new mapping starts reading the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum StartingPosition {
    /// Only records written from now on (the default).
    #[default]
    #[serde(rename = "LATEST")]
    Latest,
    /// Every record the stream still holds (the last 24 hours).
    #[serde(rename = "TRIM_HORIZON")]
    TrimHorizon,
}

impl StartingPosition {
    fn as_str(self) -> &'static str {
        match self {
            Self::Latest => "LATEST",
            Self::TrimHorizon => "TRIM_HORIZON",
        }
    }
}

/// `kind = "dynamodb"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dynamodb {
    /// The table's name or ARN: its latest stream is used.
    pub table: Option<String>,
    /// A stream's ARN, instead of `table`.
    pub stream: Option<String>,
    /// `LATEST` (default) or `TRIM_HORIZON`; Lambda fixes it when the mapping is created.
    #[serde(default)]
    pub starting_position: StartingPosition,
    /// Records per invocation, 1 to 10000.
    #[serde(default = "hundred")]
    pub batch_size: i32,
    /// Split a failing batch in two and retry each half, to isolate the bad record.
    #[serde(default = "yes")]
    pub bisect_batch_on_error: bool,
    /// Retries of a failing batch, -1 (until the record expires) to 10000; Lambda's default
    /// (-1) when left out.
    pub maximum_retry_attempts: Option<i32>,
}

fn hundred() -> i32 {
    100
}

fn yes() -> bool {
    true
}

/// `arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>`.
fn is_stream_arn(arn: &str) -> bool {
    arn.starts_with("arn:")
        && arn.split(':').nth(2) == Some("dynamodb")
        && arn.contains(":table/")
        && arn.contains("/stream/")
}

impl Dynamodb {
    /// Checks what serde cannot; the message names the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        match (&self.table, &self.stream) {
            (None, None) | (Some(_), Some(_)) => {
                return Err(
                    "write either `table = \"<name or table ARN>\"` or `stream = \"<stream ARN>\"`"
                        .into(),
                );
            }
            (Some(table), None) if table.is_empty() => {
                return Err("`table = \"\"`: name the table".into());
            }
            (None, Some(stream)) if !is_stream_arn(stream) => {
                return Err(format!(
                    "`stream = \"{stream}\"`: expected a stream ARN like arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>"
                ));
            }
            _ => {}
        }
        if !(1..=10_000).contains(&self.batch_size) {
            return Err(format!(
                "`batch_size = {}`: expected 1 to 10000",
                self.batch_size
            ));
        }
        if let Some(n) = self.maximum_retry_attempts
            && !(-1..=10_000).contains(&n)
        {
            return Err(format!(
                "`maximum_retry_attempts = {n}`: expected -1 (until the record expires) to 10000"
            ));
        }
        Ok(())
    }
}

/// The table's name from a name or a table ARN (`arn:…:table/<name>`).
fn table_name(table: &str) -> &str {
    table
        .split_once(":table/")
        .map_or(table, |(_, rest)| rest.split('/').next().unwrap_or(rest))
}

/// The inline policy letting the role read `stream_arn`, and nothing else.
pub fn stream_policy(stream_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams"
            ],
            "Resource": stream_arn,
        }]
    })
    .to_string()
}

/// The stream's steps: the role's read policy, the mapping.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    ddb: &Dynamodb,
    function_exists: bool,
) -> Result<Vec<TriggerStep>, DeployError> {
    let invalid = |message: String| DeployError::InvalidTrigger {
        function: s.name.clone(),
        message,
    };
    let stream = match (&ddb.stream, &ddb.table) {
        (Some(stream), _) => stream.clone(),
        (None, Some(table)) => {
            let name = table_name(table);
            match aws.dynamodb.describe_table().table_name(name).send().await {
                Ok(t) => t
                    .table()
                    .and_then(|t| t.latest_stream_arn())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        invalid(format!(
                            "table {name} has no stream: enable one with new images (aws dynamodb update-table --table-name {name} --stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE), or name a stream with `stream = \"<ARN>\"`"
                        ))
                    })?,
                Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
                    return Ok(vec![skipped("dynamodb")]);
                }
                Err(e) if is_not_found(code_of(&e).as_deref()) => {
                    // Deploy never creates the table: it holds the user's data.
                    return Err(invalid(format!(
                        "`table = \"{table}\"` does not exist in {}: create it (with a NEW_IMAGE stream) first",
                        aws.region
                    )));
                }
                Err(e) => return Err(DeployError::from_sdk("dynamodb:DescribeTable", e)),
            }
        }
        // `validate` asked for one of them.
        (None, None) => return Err(mismatch("dynamodb")),
    };
    let mut steps = Vec::new();
    let document = stream_policy(&stream);
    match role_policy(aws, s, DYNAMODB_POLICY, Some(&document)).await? {
        RolePolicy::Yours(role) => steps.push(TriggerStep::Skipped {
            what: "the stream policy".into(),
            reason: format!(
                "role {role} is yours: let it dynamodb:DescribeStream, GetRecords, GetShardIterator and ListStreams on {stream}"
            ),
        }),
        RolePolicy::Differs(role) => steps.push(TriggerStep::PutRolePolicy {
            role,
            policy: DYNAMODB_POLICY.to_owned(),
            document,
            summary: format!("read stream {stream} only"),
        }),
        // The kind's own API answered, so IAM is there too: `Local` cannot happen here.
        RolePolicy::Same | RolePolicy::Local => {}
    }
    let (mapping, stale) = if function_exists {
        (
            find_mapping(aws, s, &stream).await?,
            stale_mappings(aws, s, "dynamodb", Some(&stream)).await?,
        )
    } else {
        (None, Vec::new())
    };
    match mapping {
        None => steps.push(TriggerStep::CreateStreamMapping {
            stream,
            starting_position: ddb.starting_position.as_str().to_owned(),
        }),
        Some(m) => {
            let mut changes = Vec::new();
            if m.batch_size() != Some(ddb.batch_size) {
                changes.push(format!(
                    "batch_size {} -> {}",
                    m.batch_size().unwrap_or_default(),
                    ddb.batch_size
                ));
            }
            let bisect = m.bisect_batch_on_function_error().unwrap_or_default();
            if bisect != ddb.bisect_batch_on_error {
                changes.push(format!(
                    "bisect_batch_on_error {bisect} -> {}",
                    ddb.bisect_batch_on_error
                ));
            }
            // Left out means Lambda's default: whatever the mapping has is fine.
            if let Some(wanted) = ddb.maximum_retry_attempts
                && m.maximum_retry_attempts() != Some(wanted)
            {
                changes.push(format!(
                    "maximum_retry_attempts {} -> {wanted}",
                    m.maximum_retry_attempts()
                        .map_or_else(|| "default".to_owned(), |n| n.to_string())
                ));
            }
            if !m
                .function_response_types()
                .contains(&FunctionResponseType::ReportBatchItemFailures)
            {
                changes.push("ReportBatchItemFailures".into());
            }
            let position = m.starting_position().map(|p| p.as_str().to_owned());
            if changes.is_empty() {
                steps.push(TriggerStep::Unchanged(
                    "DynamoDB stream event source mapping".into(),
                ));
            } else {
                steps.push(TriggerStep::UpdateStreamMapping {
                    uuid: m.uuid().unwrap_or_default().to_owned(),
                    changes,
                });
            }
            // Lambda cannot change where a mapping started: say so rather than pretend.
            if let Some(position) = position
                && position != ddb.starting_position.as_str()
            {
                steps.push(TriggerStep::Skipped {
                    what: format!("starting_position {position} -> {}", ddb.starting_position.as_str()),
                    reason: "Lambda sets it only when a mapping is created: `cargo xtask delete` the function (the table stays) and deploy again to start over".into(),
                });
            }
        }
    }
    // After the new mapping: a deploy failing between the two leaves the function reading the
    // earlier stream still, never neither.
    steps.extend(stale);
    Ok(steps)
}

impl Applying<'_> {
    fn dynamodb_settings(&self) -> Result<Dynamodb, DeployError> {
        match &self.target.trigger {
            Some(Trigger::Dynamodb(ddb)) => Ok(ddb.clone()),
            _ => Err(mismatch("dynamodb")),
        }
    }

    /// Carries out a DynamoDB stream step.
    pub(super) async fn dynamodb_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let ddb = self.dynamodb_settings()?;
        match step {
            TriggerStep::CreateStreamMapping {
                stream,
                starting_position,
            } => {
                let alias = self.alias_arn();
                // A new inline policy takes seconds to reach Lambda: `retrying` waits for it.
                retrying("lambda:CreateEventSourceMapping", progress, || {
                    aws.lambda
                        .create_event_source_mapping()
                        .function_name(&alias)
                        .event_source_arn(stream)
                        .starting_position(EventSourcePosition::from(starting_position.as_str()))
                        .batch_size(ddb.batch_size)
                        .bisect_batch_on_function_error(ddb.bisect_batch_on_error)
                        .set_maximum_retry_attempts(ddb.maximum_retry_attempts)
                        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                        .send()
                })
                .await?;
            }
            TriggerStep::UpdateStreamMapping { uuid, .. } => {
                retrying("lambda:UpdateEventSourceMapping", progress, || {
                    aws.lambda
                        .update_event_source_mapping()
                        .uuid(uuid)
                        .batch_size(ddb.batch_size)
                        .bisect_batch_on_function_error(ddb.bisect_batch_on_error)
                        .set_maximum_retry_attempts(ddb.maximum_retry_attempts)
                        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
                        .send()
                })
                .await?;
            }
            _ => return Err(mismatch("dynamodb")),
        }
        Ok(())
    }
}
