//! `kind = "http-api"`: an API Gateway HTTP API (payload 2.0), tagged, with its routes, one
//! integration with the alias, a `$default` stage and the permission to invoke the alias.

use aws_sdk_apigatewayv2::types::ProtocolType;
use serde::Deserialize;

use super::{
    Applying, Found, HTTP_API_STATEMENT, Target, Trigger, TriggerStep, code_of, created_for_map,
    is_unsupported_locally, mismatch, skipped, statement_ids, tags,
};
use crate::aws::{Aws, retrying};
use crate::error::DeployError;

/// `kind = "http-api"`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpApi {
    /// Route keys such as `GET /orders/{id}`; `$default` sends every request to the function.
    #[serde(default = "default_routes")]
    pub routes: Vec<String>,
}

fn default_routes() -> Vec<String> {
    vec!["$default".to_owned()]
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

impl HttpApi {
    /// Checks what serde cannot; the message names the key.
    pub(super) fn validate(&self) -> Result<(), String> {
        if self.routes.is_empty() {
            return Err(
                "`routes = []`: list at least one route, or leave `routes` out for `$default`"
                    .into(),
            );
        }
        for route in &self.routes {
            let ok = route == "$default"
                || route.split_once(' ').is_some_and(|(method, path)| {
                    METHODS.contains(&method) && path.starts_with('/')
                });
            if !ok {
                return Err(format!(
                    "route `{route}`: expected `$default` or `METHOD /path` like `GET /orders/{{id}}` (methods: {})",
                    METHODS.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// The API's steps: create it (or change its routes) and let it invoke the alias.
pub(super) async fn plan(
    aws: &Aws,
    s: &Target,
    api: &HttpApi,
    function_exists: bool,
    found: &mut Found,
) -> Result<Vec<TriggerStep>, DeployError> {
    let mut steps = Vec::new();
    let existing = match find_api(aws, &s.name).await {
        Ok(a) => a,
        Err(e) if is_unsupported_locally(code_of(&e).as_deref()) => {
            return Ok(vec![skipped("http-api")]);
        }
        Err(e) => return Err(DeployError::from_sdk("apigateway:GetApis", e)),
    };
    match existing {
        None => steps.push(TriggerStep::CreateHttpApi(s.name.clone())),
        Some((id, endpoint)) => {
            let routes = aws
                .apigw
                .get_routes()
                .api_id(&id)
                .send()
                .await
                .map_err(|e| DeployError::from_sdk("apigateway:GetRoutes", e))?;
            let current: Vec<String> = routes
                .items()
                .iter()
                .filter_map(|r| r.route_key().map(str::to_owned))
                .collect();
            let add: Vec<String> = api
                .routes
                .iter()
                .filter(|r| !current.contains(r))
                .cloned()
                .collect();
            let remove: Vec<String> = current
                .iter()
                .filter(|r| !api.routes.contains(r))
                .cloned()
                .collect();
            if add.is_empty() && remove.is_empty() {
                steps.push(TriggerStep::Unchanged("HTTP API".into()));
            } else {
                steps.push(TriggerStep::UpdateHttpApiRoutes {
                    api_id: id.clone(),
                    add,
                    remove,
                });
            }
            found.api_id = Some(id);
            found.api_endpoint = Some(endpoint);
        }
    }
    let statements = if function_exists {
        statement_ids(aws, s).await?
    } else {
        Vec::new()
    };
    if !statements.iter().any(|id| id == HTTP_API_STATEMENT) {
        steps.push(TriggerStep::AllowHttpApi);
    }
    Ok(steps)
}

/// The HTTP API deploy created for `function` (found by its tags): id and endpoint.
async fn find_api(
    aws: &Aws,
    function: &str,
) -> Result<
    Option<(String, String)>,
    aws_sdk_apigatewayv2::error::SdkError<aws_sdk_apigatewayv2::operation::get_apis::GetApisError>,
> {
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .apigw
            .get_apis()
            .set_next_token(token.take())
            .send()
            .await?;
        for api in page.items() {
            if created_for_map(api.tags(), function) {
                return Ok(Some((
                    api.api_id().unwrap_or_default().to_owned(),
                    api.api_endpoint().unwrap_or_default().to_owned(),
                )));
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(None),
        }
    }
}

impl Applying<'_> {
    /// Carries out an HTTP API step.
    pub(super) async fn http_api_step(
        &mut self,
        step: &TriggerStep,
        progress: &mut dyn FnMut(&str),
        half_done: &mut Option<String>,
    ) -> Result<(), DeployError> {
        let aws = self.aws;
        let s = self.target;
        match step {
            TriggerStep::CreateHttpApi(name) => {
                let routes = match &s.trigger {
                    Some(Trigger::HttpApi(api)) => api.routes.clone(),
                    _ => return Err(mismatch("http-api")),
                };
                let api = aws
                    .apigw
                    .create_api()
                    .name(name)
                    .protocol_type(ProtocolType::Http)
                    .set_tags(Some(tags(&s.name).into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| DeployError::from_sdk("apigateway:CreateApi", e))?;
                let id = api.api_id().unwrap_or_default().to_owned();
                let endpoint = api.api_endpoint().unwrap_or_default().to_owned();
                self.found.api_id = Some(id.clone());
                self.found.api_endpoint = Some(endpoint);
                if let Err(e) = self.wire_api(&id, &routes).await {
                    *half_done = Some(format!(
                        "created HTTP API {id} (wiring it failed: deploy again, or `cargo xtask delete` to start over)"
                    ));
                    return Err(e);
                }
            }
            TriggerStep::UpdateHttpApiRoutes {
                api_id,
                add,
                remove,
            } => {
                let routes = aws
                    .apigw
                    .get_routes()
                    .api_id(api_id)
                    .send()
                    .await
                    .map_err(|e| DeployError::from_sdk("apigateway:GetRoutes", e))?;
                for route in routes.items() {
                    if route
                        .route_key()
                        .is_some_and(|k| remove.iter().any(|r| r == k))
                    {
                        aws.apigw
                            .delete_route()
                            .api_id(api_id)
                            .route_id(route.route_id().unwrap_or_default())
                            .send()
                            .await
                            .map_err(|e| DeployError::from_sdk("apigateway:DeleteRoute", e))?;
                    }
                }
                let target = routes
                    .items()
                    .iter()
                    .find_map(|r| r.target().map(str::to_owned));
                let target = match target {
                    Some(t) => t,
                    None => format!("integrations/{}", self.integrate(api_id).await?),
                };
                for key in add {
                    self.route(api_id, key, &target).await?;
                }
            }
            TriggerStep::AllowHttpApi => {
                let id = self
                    .found
                    .api_id
                    .clone()
                    .ok_or_else(|| mismatch("http-api"))?;
                let source = format!(
                    "arn:aws:execute-api:{}:{}:{id}/*",
                    aws.region,
                    self.account()
                );
                retrying("lambda:AddPermission", progress, || {
                    aws.lambda
                        .add_permission()
                        .function_name(&s.name)
                        .qualifier(&s.alias)
                        .statement_id(HTTP_API_STATEMENT)
                        .action("lambda:InvokeFunction")
                        .principal("apigateway.amazonaws.com")
                        .source_arn(&source)
                        .send()
                })
                .await?;
            }
            _ => return Err(mismatch("http-api")),
        }
        Ok(())
    }

    async fn integrate(&self, api_id: &str) -> Result<String, DeployError> {
        let integration = self
            .aws
            .apigw
            .create_integration()
            .api_id(api_id)
            .integration_type(aws_sdk_apigatewayv2::types::IntegrationType::AwsProxy)
            .integration_uri(self.alias_arn())
            .payload_format_version("2.0")
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("apigateway:CreateIntegration", e))?;
        Ok(integration.integration_id().unwrap_or_default().to_owned())
    }

    async fn route(&self, api_id: &str, key: &str, target: &str) -> Result<(), DeployError> {
        self.aws
            .apigw
            .create_route()
            .api_id(api_id)
            .route_key(key)
            .target(target)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| DeployError::from_sdk("apigateway:CreateRoute", e))
    }

    async fn wire_api(&self, api_id: &str, routes: &[String]) -> Result<(), DeployError> {
        let target = format!("integrations/{}", self.integrate(api_id).await?);
        for key in routes {
            self.route(api_id, key, &target).await?;
        }
        self.aws
            .apigw
            .create_stage()
            .api_id(api_id)
            .stage_name("$default")
            .auto_deploy(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| DeployError::from_sdk("apigateway:CreateStage", e))
    }
}
