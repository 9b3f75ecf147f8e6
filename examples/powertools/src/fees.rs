//! The fee percentage: an SSM parameter ([`lamplight_parameters::Ssm`]), cached for a TTL.

use std::time::Duration;

use lamplight_aws::Aws;
use lamplight_parameters::{ParameterError, Ssm};

/// The fee percentage, from an SSM parameter holding a number (`2.5`).
#[derive(Debug)]
pub struct Fees {
    ssm: Ssm,
    name: String,
}

impl Fees {
    /// Reads parameter `name` with a traced client from `aws`, reusing it for `ttl`.
    pub fn new(aws: &Aws, name: &str, ttl: Duration) -> Fees {
        Fees {
            ssm: Ssm::new(aws).with_ttl(ttl),
            name: name.to_owned(),
        }
    }

    /// The percentage: cached, or read from SSM when the cached one is older than the TTL.
    pub async fn percent(&self) -> Result<f64, ParameterError> {
        Ok(self
            .ssm
            .parameter(&self.name)
            .get_json::<f64>()
            .await?
            .into_exposed())
    }
}
