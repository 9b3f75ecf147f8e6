//! `kind = "rest-api"`: an API Gateway REST API, tagged, whose root and `{proxy+}` resources
//! send every method (`ANY`) to the alias through a Lambda proxy integration, deployed to one
//! stage; and the permission letting that API, and no other, invoke the alias.

use std::collections::HashMap;

use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, IntegrationType};
use serde::Deserialize;

use super::{
    Applying, Found, REST_API_STATEMENT, Target, Trigger, TriggerStep, code_of, created_for_map,
    is_not_found, is_unsupported_locally, mismatch, skipped, statements, tags,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

/// `kind = "rest-api"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestApi {
    /// The stage the API is deployed to, the first segment of its URL's path.
    #[serde(default = "default_stage")]
    pub stage: String,
}

impl Default for RestApi {
    fn default() -> Self {
        Self {
            stage: default_stage(),
        }
    }
}

fn default_stage() -> String {
    "prod".to_owned()
}

/// The resource under the root that matches every other path.
pub const PROXY_PATH: &str = "{proxy+}";

impl RestApi {
    /// Checks what serde cannot; the message names the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        let ok = !self.stage.is_empty()
            && self.stage.len() <= 128
            && self
                .stage
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`stage = \"{}\"`: a stage name is 1 to 128 letters, digits, `-` or `_` (e.g. \"prod\")",
                self.stage
            ))
        }
    }
}

/// The URL of `stage` of the API `id`.
pub fn invoke_url(id: &str, region: &str, stage: &str) -> String {
    format!("https://{id}.execute-api.{region}.amazonaws.com/{stage}/")
}

/// The Lambda proxy integration's URI for `alias_arn`.
fn integration_uri(region: &str, alias_arn: &str) -> String {
    format!("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{alias_arn}/invocations")
}

/// The REST API deploy created for `function`, found by its tags.
async fn find_api(
    aws: &Aws,
    function: &str,
) -> Result<
    Option<String>,
    aws_sdk_apigateway::error::SdkError<
        aws_sdk_apigateway::operation::get_rest_apis::GetRestApisError,
    >,
> {
    let mut position: Option<String> = None;
    loop {
        let page = aws
            .rest
            .get_rest_apis()
            .limit(500)
            .set_position(position.take())
            .send()
            .await?;
        if let Some(api) = page
            .items()
            .iter()
            .find(|a| created_for_map(a.tags(), function))
        {
            return Ok(api.id().map(str::to_owned));
        }
        match page.position() {
            Some(p) if !p.is_empty() => position = Some(p.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// The resources of the API: (path, id, whether its `ANY` method has an integration calling
/// something that ends in `alias_suffix`).
async fn wiring(
    aws: &Aws,
    api_id: &str,
    alias_suffix: &str,
) -> Result<Vec<(String, String, bool)>, DeployError> {
    let resources = aws
        .rest
        .get_resources()
        .rest_api_id(api_id)
        .limit(500)
        .embed("methods")
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("apigateway:GetResources", e))?;
    let mut out = Vec::new();
    for r in resources.items() {
        let id = r.id().unwrap_or_default().to_owned();
        let path = r.path().unwrap_or_default().to_owned();
        let has_any = r.resource_methods().is_some_and(|m| m.contains_key("ANY"));
        let wired = if has_any {
            match aws
                .rest
                .get_integration()
                .rest_api_id(api_id)
                .resource_id(&id)
                .http_method("ANY")
                .send()
                .await
            {
                Ok(i) => {
                    i.r#type() == Some(&IntegrationType::AwsProxy)
                        && i.uri().is_some_and(|u| u.ends_with(alias_suffix))
                }
                Err(e) if is_not_found(code_of(&e).as_deref()) => false,
                Err(e) => return Err(DeployError::from_sdk("apigateway:GetIntegration", e)),
            }
        } else {
            false
        };
        out.push((path, id, wired));
    }
    Ok(out)
}

/// The API's steps: create it, or rewire it and deploy the stage where either differs; then the
/// permission.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    api: &RestApi,
    function_exists: bool,
    found: &mut Found,
) -> Result<Vec<TriggerStep>, DeployError> {
    let mut steps = Vec::new();
    let existing = match find_api(aws, &s.name).await {
        Ok(a) => a,
        Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
            return Ok(vec![skipped("rest-api")]);
        }
        Err(e) => return Err(DeployError::from_sdk("apigateway:GetRestApis", e)),
    };
    match &existing {
        None => steps.push(TriggerStep::CreateRestApi {
            name: s.name.clone(),
            stage: api.stage.clone(),
        }),
        Some(id) => {
            let alias_suffix = format!(":function:{}:{}/invocations", s.name, s.alias);
            let resources = wiring(aws, id, &alias_suffix).await?;
            let wired = |path: &str| resources.iter().any(|(p, _, w)| p == path && *w);
            let rewire = !(wired("/") && wired(&format!("/{PROXY_PATH}")));
            let stages = aws
                .rest
                .get_stages()
                .rest_api_id(id)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("apigateway:GetStages", e))?;
            let names: Vec<String> = stages
                .item()
                .iter()
                .filter_map(|st| st.stage_name().map(str::to_owned))
                .collect();
            let remove: Vec<String> = names.iter().filter(|n| **n != api.stage).cloned().collect();
            if rewire || !names.contains(&api.stage) || !remove.is_empty() {
                steps.push(TriggerStep::DeployRestApi {
                    api_id: id.clone(),
                    rewire,
                    stage: api.stage.clone(),
                    remove_stages: remove,
                });
            } else {
                steps.push(TriggerStep::Unchanged("REST API".into()));
            }
            found.api_id = Some(id.clone());
        }
    }
    // The permission names the API: a new API, or a statement for another one, needs it anew.
    let current = if function_exists {
        statements(aws, s)
            .await?
            .into_iter()
            .find(|st| st.get("Sid").and_then(|v| v.as_str()) == Some(REST_API_STATEMENT))
    } else {
        None
    };
    let same = match (&current, &existing) {
        (Some(st), Some(id)) => st["Condition"]["ArnLike"]["AWS:SourceArn"]
            .as_str()
            .is_some_and(|src| src.ends_with(&format!(":{id}/*"))),
        _ => false,
    };
    if !same {
        steps.push(TriggerStep::AllowInvoke {
            sid: REST_API_STATEMENT.to_owned(),
            principal: "apigateway.amazonaws.com".to_owned(),
            replace: current.is_some(),
        });
    }
    Ok(steps)
}

impl Applying<'_> {
    /// Carries out a REST API step.
    pub(super) async fn rest_api_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
        half_done: &mut Option<String>,
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let s = self.target;
        match step {
            TriggerStep::CreateRestApi { name, stage } => {
                let tags: HashMap<String, String> = tags(&s.name).into_iter().collect();
                let api = retrying("apigateway:CreateRestApi", progress, || {
                    aws.rest
                        .create_rest_api()
                        .name(name)
                        .description(format!("lamplight: every request to {}", s.name))
                        .endpoint_configuration(
                            EndpointConfiguration::builder()
                                .types(EndpointType::Regional)
                                .build(),
                        )
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await?;
                let id = api.id().unwrap_or_default().to_owned();
                self.found.api_id = Some(id.clone());
                if let Err(e) = self.wire_rest_api(&id, stage, &[]).await {
                    *half_done = Some(format!(
                        "created REST API {id} (wiring it failed: deploy again, or `cargo xtask delete` to start over)"
                    ));
                    return Err(e);
                }
                Ok(())
            }
            TriggerStep::DeployRestApi {
                api_id,
                rewire,
                stage,
                remove_stages,
            } => {
                if *rewire {
                    self.wire_rest_api(api_id, stage, remove_stages).await
                } else {
                    self.deploy_stage(api_id, stage, remove_stages).await
                }
            }
            _ => Err(mismatch("rest-api")),
        }
    }

    /// `ANY` on the root and on `{proxy+}` (created when missing), both a Lambda proxy
    /// integration with the alias; then a deployment to `stage`.
    async fn wire_rest_api(
        &self,
        api_id: &str,
        stage: &str,
        remove_stages: &[String],
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let resources = aws
            .rest
            .get_resources()
            .rest_api_id(api_id)
            .limit(500)
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("apigateway:GetResources", e))?;
        let id_of = |path: &str| {
            resources
                .items()
                .iter()
                .find(|r| r.path() == Some(path))
                .and_then(|r| r.id().map(str::to_owned))
        };
        let root = id_of("/").ok_or_else(|| DeployError::Aws {
            operation: "apigateway:GetResources".into(),
            message: format!("REST API {api_id} has no root resource `/`"),
        })?;
        let proxy = match id_of(&format!("/{PROXY_PATH}")) {
            Some(id) => id,
            None => aws
                .rest
                .create_resource()
                .rest_api_id(api_id)
                .parent_id(&root)
                .path_part(PROXY_PATH)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("apigateway:CreateResource", e))?
                .id()
                .unwrap_or_default()
                .to_owned(),
        };
        let uri = integration_uri(&aws.region, &self.alias_arn());
        for resource in [&root, &proxy] {
            // A method that exists is replaced: PutMethod refuses to overwrite one.
            match aws
                .rest
                .delete_method()
                .rest_api_id(api_id)
                .resource_id(resource)
                .http_method("ANY")
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(code_of(&e).as_deref()) => {}
                Err(e) => return Err(DeployError::from_sdk("apigateway:DeleteMethod", e)),
            }
            aws.rest
                .put_method()
                .rest_api_id(api_id)
                .resource_id(resource)
                .http_method("ANY")
                .authorization_type("NONE")
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("apigateway:PutMethod", e))?;
            aws.rest
                .put_integration()
                .rest_api_id(api_id)
                .resource_id(resource)
                .http_method("ANY")
                .r#type(IntegrationType::AwsProxy)
                // Lambda is always invoked with POST, whatever the client's method.
                .integration_http_method("POST")
                .uri(&uri)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("apigateway:PutIntegration", e))?;
        }
        self.deploy_stage(api_id, stage, remove_stages).await
    }

    /// A deployment of the API as it is now to `stage`; the stages deploy made before under
    /// another name are removed.
    async fn deploy_stage(
        &self,
        api_id: &str,
        stage: &str,
        remove_stages: &[String],
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        aws.rest
            .create_deployment()
            .rest_api_id(api_id)
            .stage_name(stage)
            .description("cargo xtask deploy")
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("apigateway:CreateDeployment", e))?;
        for old in remove_stages {
            match aws
                .rest
                .delete_stage()
                .rest_api_id(api_id)
                .stage_name(old)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if is_not_found(code_of(&e).as_deref()) => {}
                Err(e) => return Err(DeployError::from_sdk("apigateway:DeleteStage", e)),
            }
        }
        Ok(())
    }

    /// The URL of the stage, once the API's id is known.
    pub(super) fn rest_api_url(&self) -> Option<String> {
        let stage = match &self.target.trigger {
            Some(Trigger::RestApi(api)) => &api.stage,
            _ => return None,
        };
        let id = self.found.api_id.as_deref()?;
        Some(invoke_url(id, &self.aws.region, stage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_and_urls() {
        assert!(RestApi::default().validate().is_ok());
        for bad in ["", "a b", "prod/v1", &"x".repeat(129)] {
            let err = RestApi {
                stage: bad.to_owned(),
            }
            .validate()
            .expect_err(bad);
            assert!(err.contains("`stage = "), "{err}");
        }
        assert_eq!(
            invoke_url("a1b2c3", "eu-west-1", "prod"),
            "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/prod/"
        );
        assert_eq!(
            integration_uri(
                "us-east-1",
                "arn:aws:lambda:us-east-1:123456789012:function:orders:live"
            ),
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:orders:live/invocations"
        );
    }
}
