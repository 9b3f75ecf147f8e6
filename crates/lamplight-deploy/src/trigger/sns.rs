//! `kind = "sns"`: a subscription of the alias to a topic (the user's, or one deploy creates and
//! tags) and the permission letting that topic, and no other, invoke the alias.

use serde::Deserialize;

use super::{
    Applying, CREATED_BY, CREATED_BY_TAG, FUNCTION_TAG, Found, SNS_STATEMENT, Target, TriggerStep,
    code_of, is_not_found, is_unsupported_locally, permission_step, skipped,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

/// `kind = "sns"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sns {
    /// An existing topic's ARN, or `create` (deploy makes `<function>-topic`).
    #[serde(default = "create")]
    pub topic: String,
}

fn create() -> String {
    "create".to_owned()
}

impl Sns {
    /// Checks what serde cannot; the message names the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        let arn = self.topic.starts_with("arn:")
            && self.topic.split(':').nth(2) == Some("sns")
            && self.topic.split(':').count() == 6;
        if self.topic == "create" || arn {
            Ok(())
        } else {
            Err(format!(
                "`topic = \"{}\"`: expected an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>) or \"create\"",
                self.topic
            ))
        }
    }
}

/// The topic `topic = "create"` makes: `<function>-topic`.
pub fn topic_name(function: &str) -> String {
    format!("{function}-topic")
}

/// The ARN of the topic named `name` in this region, if it exists (all pages of ListTopics:
/// SNS has no lookup by name).
async fn find_topic(
    aws: &Aws,
    name: &str,
) -> Result<
    Option<String>,
    aws_sdk_sns::error::SdkError<aws_sdk_sns::operation::list_topics::ListTopicsError>,
> {
    let suffix = format!(":{name}");
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .sns
            .list_topics()
            .set_next_token(token.take())
            .send()
            .await?;
        if let Some(arn) = page
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .find(|arn| arn.ends_with(&suffix))
        {
            return Ok(Some(arn.to_owned()));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// The subscriptions of this function's alias: (subscription ARN, topic ARN).
async fn subscriptions(aws: &Aws, s: &Target) -> Result<Vec<(String, String)>, DeployError> {
    let endpoint = format!(":function:{}:{}", s.name, s.alias);
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .sns
            .list_subscriptions()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("sns:ListSubscriptions", e))?;
        out.extend(
            page.subscriptions()
                .iter()
                .filter(|sub| {
                    sub.protocol() == Some("lambda")
                        && sub.endpoint().is_some_and(|e| e.ends_with(&endpoint))
                })
                .map(|sub| {
                    (
                        sub.subscription_arn().unwrap_or_default().to_owned(),
                        sub.topic_arn().unwrap_or_default().to_owned(),
                    )
                }),
        );
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// The topic's steps: create it when asked, the permission, the subscription.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    sns: &Sns,
    function_exists: bool,
    found: &mut Found,
) -> Result<Vec<TriggerStep>, DeployError> {
    let mut steps = Vec::new();
    let topic = if sns.topic == "create" {
        let name = topic_name(&s.name);
        match find_topic(aws, &name).await {
            Ok(Some(arn)) => Some(arn),
            Ok(None) => {
                steps.push(TriggerStep::CreateTopic(name));
                None
            }
            Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
                return Ok(vec![skipped("sns")]);
            }
            Err(e) => return Err(DeployError::from_sdk("sns:ListTopics", e)),
        }
    } else {
        match aws
            .sns
            .get_topic_attributes()
            .topic_arn(&sns.topic)
            .send()
            .await
        {
            Ok(_) => Some(sns.topic.clone()),
            Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
                return Ok(vec![skipped("sns")]);
            }
            Err(e) if is_not_found(code_of(&e).as_deref()) => {
                return Err(DeployError::InvalidTrigger {
                    function: s.name.clone(),
                    message: format!(
                        "`topic = \"{}\"` does not exist: create it, or write `topic = \"create\"` to let deploy create one",
                        sns.topic
                    ),
                });
            }
            Err(e) => return Err(DeployError::from_sdk("sns:GetTopicAttributes", e)),
        }
    };
    found.topic_arn.clone_from(&topic);
    // The permission first: a message published between the two steps is then delivered.
    if let Some(step) = permission_step(
        aws,
        s,
        function_exists,
        SNS_STATEMENT,
        "sns.amazonaws.com",
        topic.as_deref(),
    )
    .await?
    {
        steps.push(step);
    }
    let current = if function_exists {
        subscriptions(aws, s).await?
    } else {
        Vec::new()
    };
    // A subscription to the topic named before: the trigger moved, so it goes.
    for (sub, other) in &current {
        if topic.as_deref() != Some(other.as_str()) {
            steps.push(TriggerStep::Unsubscribe {
                subscription: sub.clone(),
                topic: other.clone(),
            });
        }
    }
    let subscribed = current
        .iter()
        .any(|(_, t)| topic.as_deref() == Some(t.as_str()));
    if subscribed {
        steps.push(TriggerStep::Unchanged("SNS subscription".into()));
    } else {
        steps.push(TriggerStep::Subscribe(
            topic.unwrap_or_else(|| topic_name(&s.name)),
        ));
    }
    Ok(steps)
}

impl Applying<'_> {
    pub(super) fn topic_arn(&self) -> Result<String, DeployError> {
        self.found
            .topic_arn
            .clone()
            .ok_or_else(|| super::mismatch("sns"))
    }

    /// Carries out an SNS step.
    pub(super) async fn sns_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        match step {
            TriggerStep::CreateTopic(name) => {
                let tags = [
                    (CREATED_BY_TAG, CREATED_BY),
                    (FUNCTION_TAG, self.target.name.as_str()),
                ]
                .into_iter()
                .map(|(k, v)| {
                    aws_sdk_sns::types::Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| DeployError::Aws {
                            operation: "sns:CreateTopic".into(),
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
                let created = retrying("sns:CreateTopic", progress, || {
                    aws.sns
                        .create_topic()
                        .name(name)
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await?;
                self.found.topic_arn = created.topic_arn().map(str::to_owned);
            }
            TriggerStep::Subscribe(_) => {
                let topic = self.topic_arn()?;
                let alias = self.alias_arn();
                retrying("sns:Subscribe", progress, || {
                    aws.sns
                        .subscribe()
                        .topic_arn(&topic)
                        .protocol("lambda")
                        .endpoint(&alias)
                        .return_subscription_arn(true)
                        .send()
                })
                .await?;
            }
            TriggerStep::Unsubscribe { subscription, .. } => {
                retrying("sns:Unsubscribe", progress, || {
                    aws.sns.unsubscribe().subscription_arn(subscription).send()
                })
                .await?;
            }
            _ => return Err(super::mismatch("sns")),
        }
        Ok(())
    }
}
