//! `kind = "alb"`: an Application Load Balancer target group of type `lambda`, tagged, with the
//! alias as its one target and the permission letting that target group, and no other, invoke
//! it. The listener rule that sends requests to the group is the user's: deploy says so.

use aws_sdk_elasticloadbalancingv2::types::{Tag, TargetDescription, TargetTypeEnum};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{
    ALB_STATEMENT, Applying, CREATED_BY, CREATED_BY_TAG, FUNCTION_TAG, Found, Target, Trigger,
    TriggerStep, code_of, created_for, is_unsupported_locally, mismatch, permission_step, skipped,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

/// `kind = "alb"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alb {
    /// Send repeated query parameters and headers as lists (`multiValueHeaders`,
    /// `multiValueQueryStringParameters`); lamplight-http reads either form.
    #[serde(default)]
    pub multi_value_headers: bool,
}

/// The target group attribute behind [`Alb::multi_value_headers`].
pub const MULTI_VALUE_ATTRIBUTE: &str = "lambda.multi_value_headers.enabled";

/// The target group of `function`: its name where ELB allows it (32 letters, digits or `-`, not
/// starting or ending with `-`), else its first 23 characters and a hash of the whole name, so
/// two long names never share a group.
pub fn target_group_name(function: &str) -> String {
    let cleaned: String = function
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let fits = cleaned.len() <= 32
        && cleaned == function
        && !cleaned.starts_with('-')
        && !cleaned.ends_with('-')
        && !cleaned.starts_with("internal-");
    if fits {
        return cleaned;
    }
    let digest = Sha256::digest(function.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut head = cleaned[..cleaned.len().min(23)]
        .trim_matches('-')
        .to_owned();
    // ELB reserves `internal-` for its own names.
    if head.is_empty() || head.starts_with("internal") {
        head = format!("fn-{}", &head[..head.len().min(19)])
            .trim_end_matches('-')
            .to_owned();
    }
    format!("{head}-{hash}")
}

/// The target group's ARN and whether deploy created it for `function`; `None` when there is
/// none of that name.
async fn find_group(
    aws: &Aws,
    name: &str,
    function: &str,
) -> Result<Option<(String, bool)>, FindError> {
    let groups = match aws.elb.describe_target_groups().names(name).send().await {
        Ok(g) => g,
        Err(e) if code_of(&e).as_deref() == Some("TargetGroupNotFound") => return Ok(None),
        Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => return Err(FindError::Local),
        Err(e) => {
            return Err(FindError::Failed(DeployError::from_sdk(
                "elasticloadbalancing:DescribeTargetGroups",
                e,
            )));
        }
    };
    let Some(arn) = groups
        .target_groups()
        .iter()
        .find_map(|g| g.target_group_arn())
    else {
        return Ok(None);
    };
    let tags = aws
        .elb
        .describe_tags()
        .resource_arns(arn)
        .send()
        .await
        .map_err(|e| {
            FindError::Failed(DeployError::from_sdk(
                "elasticloadbalancing:DescribeTags",
                e,
            ))
        })?;
    let ours = created_for(
        tags.tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .filter_map(|t| Some((t.key()?, t.value()?))),
        function,
    );
    Ok(Some((arn.to_owned(), ours)))
}

pub(crate) enum FindError {
    Local,
    Failed(DeployError),
}

/// The target group deploy created for `function`, if any (for delete).
pub(crate) async fn created_group(
    aws: &Aws,
    function: &str,
) -> Result<Option<String>, DeployError> {
    match find_group(aws, &target_group_name(function), function).await {
        Ok(Some((arn, true))) => Ok(Some(arn)),
        Ok(_) | Err(FindError::Local) => Ok(None),
        Err(FindError::Failed(e)) => Err(e),
    }
}

/// The group's steps: create it, or update its attribute; the permission; the alias as target.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    alb: &Alb,
    function_exists: bool,
    found: &mut Found,
) -> Result<Vec<TriggerStep>, DeployError> {
    let name = target_group_name(&s.name);
    let mut steps = Vec::new();
    let existing = match find_group(aws, &name, &s.name).await {
        Ok(g) => g,
        Err(FindError::Local) => return Ok(vec![skipped("alb")]),
        Err(FindError::Failed(e)) => return Err(e),
    };
    let alias_suffix = format!(":function:{}:{}", s.name, s.alias);
    match &existing {
        None => steps.push(TriggerStep::CreateTargetGroup { name: name.clone() }),
        Some((_, false)) => {
            return Err(DeployError::InvalidTrigger {
                function: s.name.clone(),
                message: format!(
                    "a target group {name} exists and deploy did not create it for {}: rename or delete it",
                    s.name
                ),
            });
        }
        Some((arn, true)) => {
            found.target_group_arn = Some(arn.clone());
            let attributes = aws
                .elb
                .describe_target_group_attributes()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(|e| {
                    DeployError::from_sdk("elasticloadbalancing:DescribeTargetGroupAttributes", e)
                })?;
            let multi = attributes
                .attributes()
                .iter()
                .find(|a| a.key() == Some(MULTI_VALUE_ATTRIBUTE))
                .and_then(|a| a.value())
                == Some("true");
            if multi != alb.multi_value_headers {
                steps.push(TriggerStep::SetTargetGroupMultiValue(
                    alb.multi_value_headers,
                ));
            }
            let health = aws
                .elb
                .describe_target_health()
                .target_group_arn(arn)
                .send()
                .await
                .map_err(|e| {
                    DeployError::from_sdk("elasticloadbalancing:DescribeTargetHealth", e)
                })?;
            let targets: Vec<String> = health
                .target_health_descriptions()
                .iter()
                .filter_map(|d| d.target().and_then(|t| t.id()).map(str::to_owned))
                .collect();
            let stale: Vec<String> = targets
                .iter()
                .filter(|t| !t.ends_with(&alias_suffix))
                .cloned()
                .collect();
            if !targets.iter().any(|t| t.ends_with(&alias_suffix)) || !stale.is_empty() {
                steps.push(TriggerStep::RegisterTarget { deregister: stale });
            }
        }
    }
    // The permission comes before the target: ELB checks it when the target is registered.
    let source = existing.as_ref().map(|(arn, _)| arn.as_str());
    if let Some(allow) = permission_step(
        aws,
        s,
        function_exists,
        ALB_STATEMENT,
        "elasticloadbalancing.amazonaws.com",
        source,
    )
    .await?
    {
        let at = steps
            .iter()
            .position(|st| matches!(st, TriggerStep::RegisterTarget { .. }))
            .unwrap_or(steps.len());
        steps.insert(at, allow);
    }
    if existing.is_none() {
        steps.push(TriggerStep::RegisterTarget {
            deregister: Vec::new(),
        });
    }
    if steps.is_empty() {
        steps.push(TriggerStep::Unchanged("target group".into()));
    }
    Ok(steps)
}

impl Applying<'_> {
    pub(super) fn target_group_arn(&self) -> Result<String, DeployError> {
        self.found
            .target_group_arn
            .clone()
            .ok_or_else(|| mismatch("alb"))
    }

    /// Carries out a target group step.
    pub(super) async fn alb_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
        half_done: &mut Option<String>,
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let s = self.target;
        let alb = match &s.trigger {
            Some(Trigger::Alb(alb)) => alb.clone(),
            _ => return Err(mismatch("alb")),
        };
        match step {
            TriggerStep::CreateTargetGroup { name } => {
                let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
                let created = retrying("elasticloadbalancing:CreateTargetGroup", progress, || {
                    aws.elb
                        .create_target_group()
                        .name(name)
                        .target_type(TargetTypeEnum::Lambda)
                        .tags(tag(CREATED_BY_TAG, CREATED_BY))
                        .tags(tag(FUNCTION_TAG, &s.name))
                        .send()
                })
                .await?;
                let arn = created
                    .target_groups()
                    .iter()
                    .find_map(|g| g.target_group_arn())
                    .unwrap_or_default()
                    .to_owned();
                self.found.target_group_arn = Some(arn.clone());
                if alb.multi_value_headers
                    && let Err(e) = self.set_multi_value(true).await
                {
                    *half_done = Some(format!(
                        "created target group {arn} (setting multi-value headers failed: deploy again)"
                    ));
                    return Err(e);
                }
                Ok(())
            }
            TriggerStep::SetTargetGroupMultiValue(on) => self.set_multi_value(*on).await,
            TriggerStep::RegisterTarget { deregister } => {
                let arn = self.target_group_arn()?;
                for old in deregister {
                    aws.elb
                        .deregister_targets()
                        .target_group_arn(&arn)
                        .targets(TargetDescription::builder().id(old).build())
                        .send()
                        .await
                        .map_err(|e| {
                            DeployError::from_sdk("elasticloadbalancing:DeregisterTargets", e)
                        })?;
                }
                let alias = self.alias_arn();
                // The permission just added may take a moment to be seen by ELB.
                retrying("elasticloadbalancing:RegisterTargets", progress, || {
                    aws.elb
                        .register_targets()
                        .target_group_arn(&arn)
                        .targets(TargetDescription::builder().id(&alias).build())
                        .send()
                })
                .await
                .map(|_| ())
            }
            _ => Err(mismatch("alb")),
        }
    }

    async fn set_multi_value(&self, on: bool) -> Result<(), DeployError> {
        let arn = self.target_group_arn()?;
        self.aws
            .elb
            .modify_target_group_attributes()
            .target_group_arn(arn)
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key(MULTI_VALUE_ATTRIBUTE)
                    .value(on.to_string())
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                DeployError::from_sdk("elasticloadbalancing:ModifyTargetGroupAttributes", e)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_group_names_fit_elb_rules_and_stay_distinct() {
        assert_eq!(target_group_name("orders"), "orders");
        let long_a = target_group_name(&format!("{}-a", "x".repeat(40)));
        let long_b = target_group_name(&format!("{}-b", "x".repeat(40)));
        assert_ne!(long_a, long_b);
        for name in [
            long_a.as_str(),
            &target_group_name("my_function"),
            &target_group_name("internal-orders"),
            &target_group_name("-"),
            &target_group_name(&"a-".repeat(32)),
        ] {
            assert!(name.len() <= 32, "{name}");
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
            assert!(!name.starts_with("internal-"), "{name}");
            assert!(
                name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
                "{name}"
            );
        }
        // Underscores are not allowed: the name changes, and a hash keeps `a_b` apart from `a-b`.
        assert_ne!(target_group_name("a_b"), target_group_name("a-b"));
    }
}
