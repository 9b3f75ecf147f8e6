//! Create or update a function idempotently: role, code (skipped when the deployed CodeSha256
//! matches), configuration, waiting for Lambda to settle, a published version and an alias.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use aws_sdk_lambda::client::Waiters as _;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionConfiguration, Runtime, TracingConfig, TracingMode,
};

use crate::aws::{Aws, retrying};
use crate::error::DeployError;
use crate::package::Package;
use crate::settings::DeploySettings;
use crate::trigger::{self, TriggerStep};

/// The managed policy every function role gets: logs.
pub const BASIC_EXECUTION: &str =
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
/// The managed policy a traced function's role gets: X-Ray segments (cargo-lambda forgets it).
pub const XRAY_WRITE: &str = "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess";

const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

pub use crate::role::{MAX_ROLE_NAME, decode_trust_policy, role_name};

fn one_or_many(value: Option<&serde_json::Value>) -> Vec<&serde_json::Value> {
    match value {
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(item) => vec![item],
        None => Vec::new(),
    }
}

/// Whether a trust policy (JSON, or URL-encoded JSON) lets Lambda assume the role: a statement
/// that allows `sts:AssumeRole` to the service principal `lambda.amazonaws.com`.
pub fn trusts_lambda(document: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(&decode_trust_policy(document))
    else {
        return false;
    };
    one_or_many(policy.get("Statement")).into_iter().any(|st| {
        let allows = st.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
        let assumes = one_or_many(st.get("Action")).into_iter().any(|a| {
            a.as_str().is_some_and(|a| {
                let a = a.to_ascii_lowercase();
                a == "sts:assumerole" || a == "sts:*" || a == "*"
            })
        });
        let lambda = one_or_many(st.get("Principal").and_then(|p| p.get("Service")))
            .into_iter()
            .any(|s| s.as_str() == Some("lambda.amazonaws.com"));
        allows && assumes && lambda
    })
}

/// One thing a deploy does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Use a role that exists.
    UseRole(String),
    /// Create a role with these managed policies.
    CreateRole {
        /// `<function>-lamplight`, shortened and hashed when too long ([`role_name`]).
        name: String,
        /// Managed policy ARNs attached after creation.
        policies: Vec<String>,
    },
    /// Attach policies missing from an existing lamplight role.
    AttachPolicies {
        /// The role lamplight made earlier.
        name: String,
        /// Managed policy ARNs it lacks.
        policies: Vec<String>,
    },
    /// Create the function.
    CreateFunction,
    /// Upload new code.
    UpdateCode {
        /// The deployed zip's base64 SHA-256.
        from: String,
        /// The new zip's.
        to: String,
    },
    /// The deployed code is this code.
    SkipCode(String),
    /// Change these configuration fields.
    UpdateConfiguration(Vec<String>),
    /// Publish a version.
    PublishVersion,
    /// Point the alias at the new version (create it if missing).
    MoveAlias(String),
    /// Keep the logs this many days.
    SetRetention(i32),
    /// Create, update or keep what invokes the function (`trigger` in the metadata).
    Trigger(TriggerStep),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UseRole(arn) => write!(f, "use role {arn}"),
            Self::CreateRole { name, policies } => {
                write!(f, "create role {name} with {}", policies.join(", "))
            }
            Self::AttachPolicies { name, policies } => {
                write!(f, "attach {} to role {name}", policies.join(", "))
            }
            Self::CreateFunction => f.write_str("create the function"),
            Self::UpdateCode { from, to } => write!(f, "upload code {to} (deployed: {from})"),
            Self::SkipCode(sha) => write!(f, "keep the deployed code {sha} (unchanged)"),
            Self::UpdateConfiguration(fields) => {
                write!(f, "update configuration: {}", fields.join(", "))
            }
            Self::PublishVersion => f.write_str("publish a version"),
            Self::MoveAlias(alias) => write!(f, "point alias `{alias}` at it"),
            Self::SetRetention(days) => write!(f, "keep logs {days} days"),
            Self::Trigger(step) => step.fmt(f),
        }
    }
}

/// What a deploy will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The function's name.
    pub function: String,
    /// Where it is deployed.
    pub region: String,
    /// Bytes of the zip to ship.
    pub code_size: usize,
    /// Base64 SHA-256 of the zip, as Lambda reports `CodeSha256`.
    pub code_sha256: String,
    /// What [`apply`] does, in order; the whole result of a dry run.
    pub steps: Vec<Step>,
    /// The function as deployed now, if it exists.
    existing: Option<Existing>,
    role: RoleState,
    found: trigger::Found,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Existing {
    sha: String,
    alias_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RoleState {
    Given(String),
    Exists(String),
    Create(String),
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "deploy {} to {} ({} bytes, CodeSha256 {}):",
            self.function, self.region, self.code_size, self.code_sha256
        )?;
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "  {}. {step}", i + 1)?;
        }
        Ok(())
    }
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// The unqualified function ARN.
    pub arn: String,
    /// The version the alias points at now.
    pub version: String,
    /// The alias moved to it (`live` unless set).
    pub alias: String,
    /// Bytes of the zip.
    pub code_size: usize,
    /// False when the deployed code already had this SHA-256 and the upload was skipped.
    pub code_uploaded: bool,
    /// The plan's steps, all carried out.
    pub done: Vec<Step>,
    /// Console links: function, logs, traces.
    pub links: Vec<(String, String)>,
    /// What to call the function at: the Function URL or the API's invoke URL.
    pub urls: Vec<(String, String)>,
}

fn config_differences(
    current: &FunctionConfiguration,
    s: &DeploySettings,
    role: &str,
) -> Vec<String> {
    let mut changed = Vec::new();
    if current.memory_size() != Some(s.memory) {
        changed.push(format!(
            "memory {} -> {}",
            current.memory_size().unwrap_or_default(),
            s.memory
        ));
    }
    if current.timeout() != Some(s.timeout) {
        changed.push(format!(
            "timeout {} -> {}",
            current.timeout().unwrap_or_default(),
            s.timeout
        ));
    }
    if current.runtime().map(|r| r.as_str()) != Some(s.runtime.as_str()) {
        changed.push(format!("runtime -> {}", s.runtime));
    }
    if current.handler() != Some("bootstrap") {
        changed.push("handler -> bootstrap".into());
    }
    let env: BTreeMap<String, String> = current
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    if env != s.env {
        changed.push("environment".into());
    }
    let tracing = current.tracing_config().and_then(|t| t.mode()) == Some(&TracingMode::Active);
    if tracing != s.tracing {
        changed.push(format!(
            "tracing -> {}",
            if s.tracing { "Active" } else { "PassThrough" }
        ));
    }
    if current.description().unwrap_or_default() != s.description {
        changed.push("description".into());
    }
    if current.role() != Some(role) {
        changed.push("role".into());
    }
    changed
}

fn policies(s: &DeploySettings) -> Vec<String> {
    let mut p = vec![BASIC_EXECUTION.to_owned()];
    if s.tracing {
        p.push(XRAY_WRITE.to_owned());
    }
    p
}

fn not_found<E: aws_sdk_lambda::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("ResourceNotFoundException" | "NoSuchEntity" | "NoSuchEntityException")
    )
}

/// Looks at what is deployed and decides what to do; changes nothing.
pub async fn plan(aws: &Aws, s: &DeploySettings, package: &Package) -> Result<Plan, DeployError> {
    let mut steps = Vec::new();
    let role = match &s.role {
        Some(arn) => {
            steps.push(Step::UseRole(arn.clone()));
            RoleState::Given(arn.clone())
        }
        None => {
            let name = role_name(&s.name);
            match aws.iam.get_role().role_name(&name).send().await {
                Ok(found) => {
                    let arn = found.role().map(|r| r.arn().to_owned()).unwrap_or_default();
                    // A role of this name that Lambda may not assume is someone else's: it is
                    // refused, not rewritten.
                    let document = found
                        .role()
                        .and_then(|r| r.assume_role_policy_document())
                        .unwrap_or_default();
                    if !trusts_lambda(document) {
                        return Err(DeployError::UntrustedRole {
                            role: name,
                            trust_policy: if document.is_empty() {
                                "(none)".to_owned()
                            } else {
                                decode_trust_policy(document)
                            },
                        });
                    }
                    let attached: Vec<String> = aws
                        .iam
                        .list_attached_role_policies()
                        .role_name(&name)
                        .send()
                        .await
                        .map_err(|e| DeployError::from_sdk("iam:ListAttachedRolePolicies", e))?
                        .attached_policies()
                        .iter()
                        .filter_map(|p| p.policy_arn().map(str::to_owned))
                        .collect();
                    let missing: Vec<String> = policies(s)
                        .into_iter()
                        .filter(|p| !attached.contains(p))
                        .collect();
                    if missing.is_empty() {
                        steps.push(Step::UseRole(arn.clone()));
                    } else {
                        steps.push(Step::AttachPolicies {
                            name: name.clone(),
                            policies: missing,
                        });
                    }
                    RoleState::Exists(arn)
                }
                Err(e) if e.as_service_error().is_some_and(not_found) => {
                    steps.push(Step::CreateRole {
                        name: name.clone(),
                        policies: policies(s),
                    });
                    RoleState::Create(name)
                }
                Err(e) => return Err(DeployError::from_sdk("iam:GetRole", e)),
            }
        }
    };
    let existing = match aws
        .lambda
        .get_function()
        .function_name(&s.name)
        .send()
        .await
    {
        Ok(found) => Some(found),
        Err(e) if e.as_service_error().is_some_and(not_found) => None,
        Err(e) => return Err(DeployError::from_sdk("lambda:GetFunction", e)),
    };
    let existing = match existing.as_ref().and_then(|f| f.configuration()) {
        None => {
            steps.push(Step::CreateFunction);
            steps.push(Step::PublishVersion);
            steps.push(Step::MoveAlias(s.alias.clone()));
            None
        }
        Some(current) => {
            let sha = current.code_sha256().unwrap_or_default().to_owned();
            let arch_changed =
                current.architectures().first() != Some(&Architecture::from(s.arch.lambda_name()));
            let code_changed = sha != package.sha256_base64 || arch_changed;
            if code_changed {
                steps.push(Step::UpdateCode {
                    from: sha.clone(),
                    to: package.sha256_base64.clone(),
                });
            } else {
                steps.push(Step::SkipCode(sha.clone()));
            }
            let role_arn = match &role {
                RoleState::Given(arn) | RoleState::Exists(arn) => arn.clone(),
                RoleState::Create(_) => String::new(),
            };
            let config = config_differences(current, s, &role_arn);
            let config_changed = !config.is_empty();
            if config_changed {
                steps.push(Step::UpdateConfiguration(config));
            }
            let alias_version = match aws
                .lambda
                .get_alias()
                .function_name(&s.name)
                .name(&s.alias)
                .send()
                .await
            {
                Ok(a) => a.function_version().map(str::to_owned),
                Err(e) if e.as_service_error().is_some_and(not_found) => None,
                Err(e) => return Err(DeployError::from_sdk("lambda:GetAlias", e)),
            };
            if code_changed || config_changed || alias_version.is_none() {
                steps.push(Step::PublishVersion);
                steps.push(Step::MoveAlias(s.alias.clone()));
            }
            Some(Existing { sha, alias_version })
        }
    };
    if let Some(days) = s.log_retention_days {
        steps.push(Step::SetRetention(days));
    }
    let (trigger_steps, found) =
        trigger::plan(aws, &s.trigger_target(), existing.is_some()).await?;
    steps.extend(trigger_steps.into_iter().map(Step::Trigger));
    Ok(Plan {
        function: s.name.clone(),
        region: aws.region.clone(),
        code_size: package.size(),
        code_sha256: package.sha256_base64.clone(),
        steps,
        existing,
        role,
        found,
    })
}

/// Carries out `plan`; `progress` hears of each step (and of retries). A failure part way says
/// what was already done.
pub async fn apply(
    aws: &Aws,
    s: &DeploySettings,
    package: &Package,
    plan: Plan,
    progress: &mut dyn FnMut(&str),
) -> Result<Deployed, DeployError> {
    let mut done: Vec<Step> = Vec::new();
    let mut half_done: Option<String> = None;
    let result = apply_steps(aws, s, package, &plan, progress, &mut done, &mut half_done).await;
    match result {
        Ok(mut deployed) => {
            deployed.done = done;
            Ok(deployed)
        }
        Err(cause) if done.is_empty() && half_done.is_none() => Err(cause),
        Err(cause) => Err(DeployError::Partial {
            cause: Box::new(cause),
            done: done
                .iter()
                .map(ToString::to_string)
                .chain(half_done)
                .map(|line| format!("  - {line}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }),
    }
}

async fn apply_steps(
    aws: &Aws,
    s: &DeploySettings,
    package: &Package,
    plan: &Plan,
    progress: &mut dyn FnMut(&str),
    done: &mut Vec<Step>,
    // What a step that failed part way had already changed, for the failure report: the user
    // has to clean it up or retry.
    half_done: &mut Option<String>,
) -> Result<Deployed, DeployError> {
    let lambda = &aws.lambda;
    let mut role_arn = match &plan.role {
        RoleState::Given(arn) | RoleState::Exists(arn) => arn.clone(),
        RoleState::Create(_) => String::new(),
    };
    let mut version = plan
        .existing
        .as_ref()
        .and_then(|e| e.alias_version.clone())
        .unwrap_or_default();
    let mut code_uploaded = false;
    let arch = Architecture::from(s.arch.lambda_name());
    let tracing = TracingConfig::builder()
        .mode(if s.tracing {
            TracingMode::Active
        } else {
            TracingMode::PassThrough
        })
        .build();
    let environment = Environment::builder()
        .set_variables(Some(s.env.clone().into_iter().collect()))
        .build();
    // Made at the first trigger step, once the function (and so its ARN) exists.
    let target = s.trigger_target();
    let mut triggers: Option<trigger::Applying<'_>> = None;
    for step in &plan.steps {
        progress(&step.to_string());
        match step {
            Step::UseRole(_) => {}
            Step::CreateRole { name, policies } => {
                let created = retrying("iam:CreateRole", progress, || {
                    aws.iam
                        .create_role()
                        .role_name(name)
                        .assume_role_policy_document(TRUST_POLICY)
                        .description(format!(
                            "Execution role of the Lambda function {}, created by lamplight",
                            s.name
                        ))
                        .send()
                })
                .await?;
                role_arn = created
                    .role()
                    .map(|r| r.arn().to_owned())
                    .unwrap_or_default();
                let mut attached = Vec::new();
                for policy in policies {
                    let result = retrying("iam:AttachRolePolicy", progress, || {
                        aws.iam
                            .attach_role_policy()
                            .role_name(name)
                            .policy_arn(policy)
                            .send()
                    })
                    .await;
                    if let Err(e) = result {
                        *half_done = Some(format!(
                            "created role {name} ({}attaching {policy} failed)",
                            attached_so_far(&attached)
                        ));
                        return Err(e);
                    }
                    attached.push(policy.as_str());
                }
            }
            Step::AttachPolicies { name, policies } => {
                let mut attached = Vec::new();
                for policy in policies {
                    let result = retrying("iam:AttachRolePolicy", progress, || {
                        aws.iam
                            .attach_role_policy()
                            .role_name(name)
                            .policy_arn(policy)
                            .send()
                    })
                    .await;
                    if let Err(e) = result {
                        if !attached.is_empty() {
                            *half_done = Some(format!(
                                "attached {} to role {name} (attaching {policy} failed)",
                                attached.join(", ")
                            ));
                        }
                        return Err(e);
                    }
                    attached.push(policy.as_str());
                }
            }
            Step::CreateFunction => {
                // A new role takes seconds to reach Lambda: `retrying` waits for it.
                retrying("lambda:CreateFunction", progress, || {
                    lambda
                        .create_function()
                        .function_name(&s.name)
                        .runtime(Runtime::from(s.runtime.as_str()))
                        .handler("bootstrap")
                        .role(&role_arn)
                        .code(
                            aws_sdk_lambda::types::FunctionCode::builder()
                                .zip_file(Blob::new(package.bytes.clone()))
                                .build(),
                        )
                        .memory_size(s.memory)
                        .timeout(s.timeout)
                        .architectures(arch.clone())
                        .environment(environment.clone())
                        .tracing_config(tracing.clone())
                        .description(&s.description)
                        .set_tags(Some(s.tags.clone().into_iter().collect()))
                        .send()
                })
                .await?;
                code_uploaded = true;
                if let Err(e) = wait_active(aws, &s.name).await {
                    *half_done = Some(format!(
                        "created the function {} (it did not become Active: check it in the console, or delete it and deploy again)",
                        s.name
                    ));
                    return Err(e);
                }
            }
            Step::UpdateCode { .. } => {
                retrying("lambda:UpdateFunctionCode", progress, || {
                    lambda
                        .update_function_code()
                        .function_name(&s.name)
                        .zip_file(Blob::new(package.bytes.clone()))
                        .architectures(arch.clone())
                        .send()
                })
                .await?;
                code_uploaded = true;
                if let Err(e) = wait_updated(aws, &s.name).await {
                    *half_done = Some(format!(
                        "uploaded code {} (the update did not finish: deploy again)",
                        package.sha256_base64
                    ));
                    return Err(e);
                }
            }
            Step::SkipCode(_) => {}
            Step::UpdateConfiguration(_) => {
                retrying("lambda:UpdateFunctionConfiguration", progress, || {
                    lambda
                        .update_function_configuration()
                        .function_name(&s.name)
                        .runtime(Runtime::from(s.runtime.as_str()))
                        .handler("bootstrap")
                        .role(&role_arn)
                        .memory_size(s.memory)
                        .timeout(s.timeout)
                        .environment(environment.clone())
                        .tracing_config(tracing.clone())
                        .description(&s.description)
                        .send()
                })
                .await?;
                if let Err(e) = wait_updated(aws, &s.name).await {
                    *half_done = Some(
                        "updated the configuration (the update did not finish: deploy again)"
                            .to_owned(),
                    );
                    return Err(e);
                }
            }
            Step::PublishVersion => {
                let published = retrying("lambda:PublishVersion", progress, || {
                    lambda.publish_version().function_name(&s.name).send()
                })
                .await?;
                version = published.version().unwrap_or_default().to_owned();
            }
            Step::MoveAlias(alias) => {
                let exists = plan
                    .existing
                    .as_ref()
                    .is_some_and(|e| e.alias_version.is_some());
                if exists {
                    retrying("lambda:UpdateAlias", progress, || {
                        lambda
                            .update_alias()
                            .function_name(&s.name)
                            .name(alias)
                            .function_version(&version)
                            .send()
                    })
                    .await?;
                } else {
                    retrying("lambda:CreateAlias", progress, || {
                        lambda
                            .create_alias()
                            .function_name(&s.name)
                            .name(alias)
                            .function_version(&version)
                            .send()
                    })
                    .await?;
                }
            }
            Step::Trigger(trigger_step) => {
                let applying = match &mut triggers {
                    Some(a) => a,
                    None => triggers.insert(trigger::Applying {
                        aws,
                        target: &target,
                        function_arn: function_arn(aws, &s.name).await?,
                        found: plan.found.clone(),
                        urls: Vec::new(),
                    }),
                };
                applying.step(trigger_step, progress, half_done).await?;
            }
            Step::SetRetention(days) => {
                let group = format!("/aws/lambda/{}", s.name);
                if let Err(e) = aws
                    .logs
                    .create_log_group()
                    .log_group_name(&group)
                    .send()
                    .await
                    && !e
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_already_exists_exception())
                {
                    return Err(DeployError::from_sdk("logs:CreateLogGroup", e));
                }
                let result = retrying("logs:PutRetentionPolicy", progress, || {
                    aws.logs
                        .put_retention_policy()
                        .log_group_name(&group)
                        .retention_in_days(*days)
                        .send()
                })
                .await;
                if let Err(e) = result {
                    *half_done = Some(format!(
                        "log group {group} exists (setting its retention failed)"
                    ));
                    return Err(e);
                }
            }
        }
        done.push(step.clone());
    }
    let arn = function_arn(aws, &s.name).await?;
    let urls = match &mut triggers {
        Some(applying) => {
            applying.finish().await?;
            std::mem::take(&mut applying.urls)
        }
        None => Vec::new(),
    };
    Ok(Deployed {
        urls,
        links: console_links(&aws.region, &s.name),
        arn,
        version,
        alias: s.alias.clone(),
        code_size: package.size(),
        code_uploaded,
        done: Vec::new(),
    })
}

async fn function_arn(aws: &Aws, name: &str) -> Result<String, DeployError> {
    Ok(aws
        .lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("lambda:GetFunctionConfiguration", e))?
        .function_arn()
        .unwrap_or_default()
        .to_owned())
}

fn attached_so_far(attached: &[&str]) -> String {
    if attached.is_empty() {
        "no policy attached: ".to_owned()
    } else {
        format!("attached {}; ", attached.join(", "))
    }
}

const WAIT: Duration = Duration::from_secs(300);

async fn wait_active(aws: &Aws, name: &str) -> Result<(), DeployError> {
    let waited = aws
        .lambda
        .wait_until_function_active_v2()
        .function_name(name)
        .wait(WAIT)
        .await;
    waited
        .map(|_| ())
        .map_err(|e| waiting("for the function to become Active", e))
}

async fn wait_updated(aws: &Aws, name: &str) -> Result<(), DeployError> {
    let waited = aws
        .lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(WAIT)
        .await;
    waited
        .map(|_| ())
        .map_err(|e| waiting("for the update to finish", e))
}

fn waiting(what: &str, error: impl std::error::Error + 'static) -> DeployError {
    DeployError::Aws {
        operation: format!("waiting {what}"),
        message: aws_smithy_types::error::display::DisplayErrorContext(error).to_string(),
    }
}

/// Console pages of the function, its logs and its traces.
pub fn console_links(region: &str, name: &str) -> Vec<(String, String)> {
    let base = format!("https://{region}.console.aws.amazon.com");
    vec![
        (
            "function".into(),
            format!("{base}/lambda/home?region={region}#/functions/{name}"),
        ),
        (
            "logs".into(),
            format!(
                "{base}/cloudwatch/home?region={region}#logsV2:log-groups/log-group/$252Faws$252Flambda$252F{name}"
            ),
        ),
        (
            "traces".into(),
            format!("{base}/cloudwatch/home?region={region}#xray:traces/query"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_fit_iam_for_every_lambda_name_length() {
        assert_eq!(role_name("greeter"), "greeter-lamplight");
        let longest_plain = "a".repeat(54);
        assert_eq!(
            role_name(&longest_plain),
            format!("{longest_plain}-lamplight")
        );
        for len in [55, 60, 64] {
            let name = "f".repeat(len);
            let role = role_name(&name);
            assert!(role.len() <= MAX_ROLE_NAME, "{role} ({} chars)", role.len());
            assert!(role.starts_with(&"f".repeat(41)) && role.ends_with("-lamplight"));
            assert_eq!(role, role_name(&name), "stable across deploys");
        }
        let a = format!("{}-a", "x".repeat(60));
        let b = format!("{}-b", "x".repeat(60));
        assert_ne!(
            role_name(&a),
            role_name(&b),
            "a shared prefix is not enough"
        );
    }

    #[test]
    fn trust_policies_are_read_url_encoded_with_one_or_many_services() {
        assert!(trusts_lambda(TRUST_POLICY));
        let encoded: String = TRUST_POLICY
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        assert!(trusts_lambda(&encoded));
        assert_eq!(decode_trust_policy(&encoded), TRUST_POLICY);
        let many = r#"{"Statement":{"Effect":"Allow","Principal":{"Service":["edgelambda.amazonaws.com","lambda.amazonaws.com"]},"Action":["sts:AssumeRole","sts:TagSession"]}}"#;
        assert!(trusts_lambda(many));
        for refused in [
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            r#"{"Statement":[{"Effect":"Deny","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"sts:AssumeRole"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:TagSession"}]}"#,
            "",
            "%7B%ZZ",
            "not json",
        ] {
            assert!(!trusts_lambda(refused), "{refused}");
        }
    }
}
