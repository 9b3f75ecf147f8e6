//! `kind = "function-url"`: a Function URL on the alias, `AWS_IAM` unless asked otherwise; a
//! public one also gets the two permissions Lambda asks of public URLs.

use aws_sdk_lambda::types::{Cors as LambdaCors, FunctionUrlAuthType};
use serde::Deserialize;

use super::{
    Applying, PUBLIC_URL_INVOKE_STATEMENT, PUBLIC_URL_STATEMENT, Target, Trigger, TriggerStep,
    code_of, is_not_found, is_unsupported_locally, mismatch, skipped, statement_ids,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

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

impl FunctionUrl {
    /// Checks what serde cannot; the message names the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        if let Some(age) = self.cors.as_ref().and_then(|c| c.max_age)
            && !(0..=86_400).contains(&age)
        {
            return Err(format!(
                "`cors.max_age = {age}`: expected 0 to 86400 (seconds)"
            ));
        }
        Ok(())
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

/// The Function URL's steps: create or update it, and add or remove the public permissions.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    url: &FunctionUrl,
    function_exists: bool,
) -> Result<Vec<TriggerStep>, DeployError> {
    let mut steps = Vec::new();
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
                return Ok(vec![skipped("function-url")]);
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
    Ok(steps)
}

impl Applying<'_> {
    fn url_settings(&self) -> Option<&FunctionUrl> {
        match &self.target.trigger {
            Some(Trigger::FunctionUrl(url)) => Some(url),
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

    /// Carries out a Function URL step.
    pub(super) async fn function_url_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
        half_done: &mut Option<String>,
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let s = self.target;
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
            _ => return Err(mismatch("function-url")),
        }
        Ok(())
    }
}
