//! The AWS clients a deploy uses, from the standard chain (profile, environment, SSO, instance
//! role) with `--region`, `--profile` and `--endpoint-url` on top; and retries for the errors a
//! deploy meets in passing.

use std::future::Future;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_types::region::Region;

use crate::error::DeployError;

/// Where to connect: what the standard chain is told on top of its own sources. The default
/// leaves everything to the chain.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// `--region` (else `AWS_REGION`, the profile, ...).
    pub region: Option<String>,
    /// `--profile` (else `AWS_PROFILE`).
    pub profile: Option<String>,
    /// `--endpoint-url`: another Lambda API (the local service, moto).
    pub endpoint_url: Option<String>,
}

/// One client per service a deploy and its follow-up commands call, sharing one configuration
/// whose region and credentials were checked.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // the fields are the SDK's clients, named after their services
pub struct Aws {
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub xray: aws_sdk_xray::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub apigw: aws_sdk_apigatewayv2::Client,
    /// API Gateway's first API: REST APIs.
    pub rest: aws_sdk_apigateway::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub s3: aws_sdk_s3::Client,
    pub events: aws_sdk_eventbridge::Client,
    /// The region in use.
    pub region: String,
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, ...
pub fn valid_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    matches!(parts.as_slice(), [a, .., last] if a.len() == 2 && a.chars().all(|c| c.is_ascii_lowercase()) && last.chars().all(|c| c.is_ascii_digit()))
        && parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl Aws {
    /// Loads the configuration and builds every client; refuses early without a region or
    /// credentials.
    pub async fn connect(connection: &Connection) -> Result<Self, DeployError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &connection.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &connection.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &connection.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        Self::from_config_of(&config, connection.profile.as_deref()).await
    }

    /// Clients of an already loaded configuration (tests, custom credential chains).
    pub async fn from_config(config: &aws_types::SdkConfig) -> Result<Self, DeployError> {
        Self::from_config_of(config, None).await
    }

    /// [`Aws::from_config`], naming `profile` (else `AWS_PROFILE`) in advice about credentials.
    async fn from_config_of(
        config: &aws_types::SdkConfig,
        profile: Option<&str>,
    ) -> Result<Self, DeployError> {
        let region = config
            .region()
            .map(|r| r.to_string())
            .ok_or(DeployError::NoRegion)?;
        if !valid_region(&region) {
            return Err(DeployError::UnknownRegion(region));
        }
        let Some(provider) = config.credentials_provider() else {
            return Err(DeployError::NoCredentials);
        };
        use aws_credential_types::provider::ProvideCredentials as _;
        if let Err(error) = provider.provide_credentials().await {
            return Err(DeployError::from_credentials(
                &error,
                &crate::error::profile_in_use(profile),
            ));
        }
        Ok(Self {
            lambda: aws_sdk_lambda::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            xray: aws_sdk_xray::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            apigw: aws_sdk_apigatewayv2::Client::new(config),
            rest: aws_sdk_apigateway::Client::new(config),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
            s3: aws_sdk_s3::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
            region,
        })
    }
}

/// How often a call is tried before its error is returned.
pub const ATTEMPTS: u32 = 8;

/// Whether an error is worth another try: another update in progress, throttling, or a new
/// role IAM has not propagated yet.
fn retryable(code: &str, message: &str) -> bool {
    matches!(
        code,
        "ResourceConflictException"
            | "TooManyRequestsException"
            | "ThrottlingException"
            | "Throttling"
            | "RequestLimitExceeded"
    ) || (code == "InvalidParameterValueException" && message.contains("cannot be assumed"))
}

/// Calls `f` until it succeeds, its error is not worth another try (only a conflicting update,
/// throttling or a role not yet visible is), or [`ATTEMPTS`] are used; waits 200 ms, 400 ms, ...
/// (at most 5 s) in between. `on_retry` hears of each retry.
pub async fn retrying<T, E, R, Fut>(
    operation: &str,
    on_retry: &mut dyn FnMut(&str),
    mut f: impl FnMut() -> Fut,
) -> Result<T, DeployError>
where
    Fut: Future<Output = Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=ATTEMPTS {
        match f().await {
            Ok(value) => return Ok(value),
            Err(error) => {
                let (code, message) = error
                    .as_service_error()
                    .map(|e| {
                        (
                            e.code().unwrap_or_default().to_owned(),
                            e.message().unwrap_or_default().to_owned(),
                        )
                    })
                    .unwrap_or_default();
                if attempt < ATTEMPTS && retryable(&code, &message) {
                    on_retry(&format!(
                        "{operation}: {code}, retrying in {} ms",
                        delay.as_millis()
                    ));
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    continue;
                }
                return Err(DeployError::from_sdk(operation, error));
            }
        }
    }
    Err(DeployError::Aws {
        operation: operation.to_owned(),
        message: format!("still failing after {ATTEMPTS} attempts"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_recognised_by_shape() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-4",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in ["", "us-east", "useast1", "US-EAST-1", "moon-1", "us-east-x"] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn conflicts_throttles_and_unpropagated_roles_are_retried() {
        assert!(retryable("ResourceConflictException", ""));
        assert!(retryable("TooManyRequestsException", ""));
        assert!(retryable(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda."
        ));
        assert!(!retryable(
            "InvalidParameterValueException",
            "Unzipped size must be smaller"
        ));
        assert!(!retryable("ResourceNotFoundException", ""));
    }
}
