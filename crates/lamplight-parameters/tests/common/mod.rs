//! What the parameters' test binaries share: SDK clients for a test server, and storing an
//! SSM parameter.
// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use aws_sdk_ssm::types::ParameterType;
use lamplight_aws::Aws;
use lamplight_parameters::Ssm;
use lamplight_test::moto::{ACCESS_KEY, REGION};

/// lamplight's clients for a test server at `endpoint` (moto, or the AppConfig stand-in),
/// with moto's test credentials.
pub fn aws(endpoint: &str) -> Aws {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(
                aws_credential_types::Credentials::new(ACCESS_KEY, ACCESS_KEY, None, None, "moto"),
            ),
        )
        .build();
    Aws::from_config(config)
}

/// Stores (or overwrites) an SSM parameter.
pub async fn put(ssm: &Ssm, name: &str, value: &str, kind: ParameterType) {
    ssm.client()
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {name}: {e:?}"));
}
