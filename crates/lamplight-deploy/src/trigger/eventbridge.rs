//! `kind = "eventbridge"`: a schedule, as an EventBridge rule `<function>-schedule` (tagged)
//! targeting the alias, and the permission letting that rule, and no other, invoke it.

use aws_sdk_eventbridge::types::{RuleState, Tag, Target as RuleTarget};
use serde::Deserialize;

use super::{
    Applying, CREATED_BY, CREATED_BY_TAG, EVENTBRIDGE_STATEMENT, FUNCTION_TAG, Found, Target,
    Trigger, TriggerStep, code_of, created_for, is_not_found, is_unsupported_locally, mismatch,
    permission_step, skipped,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

/// The id of the rule's target: the alias.
const TARGET_ID: &str = "lamplight";

/// `kind = "eventbridge"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Eventbridge {
    /// `rate(1 day)`, `rate(15 minutes)`, or `cron(0 2 * * ? *)` (UTC).
    pub schedule: String,
}

/// `rate(<n> <unit>)`: a positive whole number and minute(s), hour(s) or day(s), singular for 1
/// as EventBridge insists.
fn valid_rate(inner: &str) -> bool {
    let Some((n, unit)) = inner.trim().split_once(' ') else {
        return false;
    };
    let Ok(n) = n.parse::<u32>() else {
        return false;
    };
    let singular = ["minute", "hour", "day"].contains(&unit);
    let plural = ["minutes", "hours", "days"].contains(&unit);
    n > 0 && ((n == 1 && singular) || (n > 1 && plural))
}

/// `cron(<minutes> <hours> <day-of-month> <month> <day-of-week> <year>)`: six fields, one of
/// day-of-month and day-of-week a `?`, as EventBridge insists.
fn valid_cron(inner: &str) -> bool {
    let fields: Vec<&str> = inner.split_whitespace().collect();
    fields.len() == 6
        && (fields[2] == "?") != (fields[4] == "?")
        && fields.iter().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || ",-*?/LW#".contains(c))
        })
}

impl Eventbridge {
    /// Checks what serde cannot; the message names the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        let s = self.schedule.trim();
        let ok = match (s.strip_prefix("rate("), s.strip_prefix("cron(")) {
            (Some(rest), _) => rest.strip_suffix(')').is_some_and(valid_rate),
            (_, Some(rest)) => rest.strip_suffix(')').is_some_and(valid_cron),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`schedule = \"{}\"`: expected `rate(<n> <unit>)` (minute, hour or day; plural when n > 1), like rate(1 day) or rate(15 minutes), or `cron(<min> <hour> <day-of-month> <month> <day-of-week> <year>)` in UTC with `?` in one of the day fields, like cron(0 2 * * ? *)",
                self.schedule
            ))
        }
    }
}

/// The rule deploy makes for `function`: `<function>-schedule`, the name cut to fit
/// EventBridge's 64 characters.
pub fn rule_name(function: &str) -> String {
    let keep: String = function.chars().take(64 - "-schedule".len()).collect();
    format!("{keep}-schedule")
}

/// The rule's steps: create or update it, the permission, the target.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    eb: &Eventbridge,
    function_exists: bool,
    found: &mut Found,
) -> Result<Vec<TriggerStep>, DeployError> {
    let name = rule_name(&s.name);
    let schedule = eb.schedule.trim().to_owned();
    let mut steps = Vec::new();
    let rule = match aws.events.describe_rule().name(&name).send().await {
        Ok(r) => Some(r),
        Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
            return Ok(vec![skipped("eventbridge")]);
        }
        Err(e) if is_not_found(code_of(&e).as_deref()) => None,
        Err(e) => return Err(DeployError::from_sdk("events:DescribeRule", e)),
    };
    let rule_arn = match &rule {
        None => {
            steps.push(TriggerStep::PutRule {
                name: name.clone(),
                schedule,
                create: true,
            });
            None
        }
        Some(r) => {
            let arn = r.arn().unwrap_or_default().to_owned();
            // A rule of that name that deploy did not make is someone else's: never take it.
            let tags = aws
                .events
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("events:ListTagsForResource", e))?;
            if !created_for(tags.tags().iter().map(|t| (t.key(), t.value())), &s.name) {
                return Err(DeployError::InvalidTrigger {
                    function: s.name.clone(),
                    message: format!(
                        "an EventBridge rule {name} exists and deploy did not create it for {}: rename or delete it",
                        s.name
                    ),
                });
            }
            if r.schedule_expression() == Some(schedule.as_str())
                && r.state() == Some(&RuleState::Enabled)
            {
                steps.push(TriggerStep::Unchanged("EventBridge rule".into()));
            } else {
                steps.push(TriggerStep::PutRule {
                    name: name.clone(),
                    schedule,
                    create: false,
                });
            }
            Some(arn)
        }
    };
    found.rule_arn.clone_from(&rule_arn);
    if let Some(step) = permission_step(
        aws,
        s,
        function_exists,
        EVENTBRIDGE_STATEMENT,
        "events.amazonaws.com",
        rule_arn.as_deref(),
    )
    .await?
    {
        steps.push(step);
    }
    let alias = format!(":function:{}:{}", s.name, s.alias);
    let targeted = match (&rule, function_exists) {
        (Some(_), true) => aws
            .events
            .list_targets_by_rule()
            .rule(&name)
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("events:ListTargetsByRule", e))?
            .targets()
            .iter()
            .any(|t| t.id() == TARGET_ID && t.arn().ends_with(&alias)),
        _ => false,
    };
    if targeted {
        steps.push(TriggerStep::Unchanged("EventBridge target".into()));
    } else {
        steps.push(TriggerStep::PutRuleTarget(name));
    }
    Ok(steps)
}

impl Applying<'_> {
    pub(super) fn rule_arn(&self) -> Result<String, DeployError> {
        self.found
            .rule_arn
            .clone()
            .ok_or_else(|| mismatch("eventbridge"))
    }

    /// Carries out an EventBridge step.
    pub(super) async fn eventbridge_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        if !matches!(self.target.trigger, Some(Trigger::Eventbridge(_))) {
            return Err(mismatch("eventbridge"));
        }
        match step {
            TriggerStep::PutRule { name, schedule, .. } => {
                let tags = [
                    (CREATED_BY_TAG, CREATED_BY),
                    (FUNCTION_TAG, self.target.name.as_str()),
                ]
                .into_iter()
                .map(|(k, v)| {
                    Tag::builder()
                        .key(k)
                        .value(v)
                        .build()
                        .map_err(|e| DeployError::Aws {
                            operation: "events:PutRule".into(),
                            message: e.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
                // PutRule creates the rule, or changes the existing one in place.
                let put = retrying("events:PutRule", progress, || {
                    aws.events
                        .put_rule()
                        .name(name)
                        .schedule_expression(schedule)
                        .state(RuleState::Enabled)
                        .description(format!(
                            "invokes {} (created by lamplight)",
                            self.target.name
                        ))
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await?;
                self.found.rule_arn = put.rule_arn().map(str::to_owned);
            }
            TriggerStep::PutRuleTarget(name) => {
                let target = RuleTarget::builder()
                    .id(TARGET_ID)
                    .arn(self.alias_arn())
                    .build()
                    .map_err(|e| DeployError::Aws {
                        operation: "events:PutTargets".into(),
                        message: e.to_string(),
                    })?;
                let put = retrying("events:PutTargets", progress, || {
                    aws.events
                        .put_targets()
                        .rule(name)
                        .targets(target.clone())
                        .send()
                })
                .await?;
                // PutTargets reports a failed target in its answer, not as an error.
                if let Some(failed) = put.failed_entries().first() {
                    return Err(DeployError::Aws {
                        operation: "events:PutTargets".into(),
                        message: format!(
                            "{}: {}",
                            failed.error_code().unwrap_or_default(),
                            failed.error_message().unwrap_or_default()
                        ),
                    });
                }
            }
            _ => return Err(mismatch("eventbridge")),
        }
        Ok(())
    }
}
