//! The fee percentage: an SSM parameter, read on first use and reused for a TTL.

use std::time::{Duration, Instant};

use lamplight_aws::{Aws, SdkTracing};
use tokio::sync::Mutex;

/// The fee percentage could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FeeError {
    /// SSM did not answer with the parameter.
    #[error(
        "reading the fee parameter {name} from SSM failed; check that it exists and that the function may call ssm:GetParameter"
    )]
    Read {
        /// The parameter.
        name: String,
        /// The SDK's error.
        #[source]
        source: Box<aws_sdk_ssm::Error>,
    },
    /// The parameter is not a percentage.
    #[error("the fee parameter {name} is not a number (a percentage such as `2.5` is expected)")]
    NotANumber {
        /// The parameter.
        name: String,
    },
}

/// The fee percentage, cached.
#[derive(Debug)]
pub struct Fees {
    client: aws_sdk_ssm::Client,
    name: String,
    ttl: Duration,
    cached: Mutex<Option<(Instant, f64)>>,
}

impl Fees {
    /// Reads parameter `name` with a traced client from `aws`, reusing it for `ttl`.
    pub fn new(aws: &Aws, name: &str, ttl: Duration) -> Fees {
        let config = aws_sdk_ssm::config::Builder::from(aws.sdk_config())
            .interceptor(SdkTracing)
            .build();
        Fees {
            client: aws_sdk_ssm::Client::from_conf(config),
            name: name.to_owned(),
            ttl,
            cached: Mutex::new(None),
        }
    }

    /// The percentage: cached, or read from SSM when the cached one is older than the TTL.
    pub async fn percent(&self) -> Result<f64, FeeError> {
        // Held across the read so that concurrent invocations read SSM once.
        let mut cached = self.cached.lock().await;
        if let Some((read_at, percent)) = *cached
            && read_at.elapsed() < self.ttl
        {
            return Ok(percent);
        }
        let answer = self
            .client
            .get_parameter()
            .name(&self.name)
            .send()
            .await
            .map_err(|e| FeeError::Read {
                name: self.name.clone(),
                source: Box::new(e.into()),
            })?;
        let percent = answer
            .parameter()
            .and_then(|p| p.value())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|p| p.is_finite())
            .ok_or_else(|| FeeError::NotANumber {
                name: self.name.clone(),
            })?;
        *cached = Some((Instant::now(), percent));
        Ok(percent)
    }
}
