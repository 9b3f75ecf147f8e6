//! AWS SDK clients for lamplight functions.
//!
//! [`Aws::shared`] loads one SDK configuration per execution environment (region and
//! credentials from the standard chain, endpoint overrides from `AWS_ENDPOINT_URL*`, timeouts
//! and retries from the environment) and hands out clients that trace every call as an X-Ray
//! `aws` subsegment ([`SdkTracing`]).
//!
//! | feature | module | what |
//! |---|---|---|
//! | `s3` (default) | [`s3`] | the S3 client; many objects fetched or stored at once, every failure named; S3 event keys decoded ([`s3::object_key`]) |
//! | `lambda` (default) | [`lambda`] | the Lambda client; many invocations at once, results in input order |
//! | `web` (default) | [`web`] | outgoing HTTP(S) calls, pooled, traced as `remote` subsegments |
//! | `lambda` (default) | [`transport`] | a function called as an HTTP service: a `tower::Service` over Invoke |
//! | `aws-lc` | [`https_client`] | TLS through aws-lc, the SDK's default, instead of ring (FIPS, post-quantum key exchange; ~650 KB more zip) |
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LAMPLIGHT_AWS_MAX_ATTEMPTS` | 3 | attempts per call, retries included |
//! | `LAMPLIGHT_AWS_CONNECT_TIMEOUT_MS` | 3100 | connection timeout |
//! | `LAMPLIGHT_AWS_READ_TIMEOUT_MS` | none | time to the first byte of the response |
//! | `LAMPLIGHT_AWS_OPERATION_TIMEOUT_MS` | none | a whole call, retries included |
//! | `AWS_S3_FORCE_PATH_STYLE` | `true` when an endpoint URL is set | path-style S3 URLs |

pub mod tracing;

#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "lambda")]
pub mod transport;
#[cfg(feature = "web")]
pub mod web;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use tokio::sync::OnceCell;

pub use crate::tracing::SdkTracing;
#[cfg(feature = "lambda")]
pub use aws_sdk_lambda;
#[cfg(feature = "s3")]
pub use aws_sdk_s3;

/// The SDK configuration of this execution environment.
#[derive(Debug, Clone)]
pub struct Aws {
    config: SdkConfig,
}

static SHARED: OnceCell<Aws> = OnceCell::const_new();

/// The SDK's HTTPS client: hyper and rustls over ring, the system's root certificates.
///
/// Not the SDK's default client, which links aws-lc: ring does the same TLS (1.2 and 1.3,
/// the cipher suites AWS endpoints offer) in about 650 KB less of a function's zip. The
/// `aws-lc` feature switches back (FIPS, post-quantum key exchange).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls;
    #[cfg(feature = "aws-lc")]
    let mode = tls::rustls_provider::CryptoMode::AwsLc;
    #[cfg(not(feature = "aws-lc"))]
    let mode = tls::rustls_provider::CryptoMode::Ring;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(mode))
        .build_https()
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Aws {
    /// The configuration loaded on first use and reused by every later invocation (creating
    /// clients per invocation would redo credential resolution and TLS handshakes).
    pub async fn shared() -> &'static Aws {
        SHARED.get_or_init(Self::load).await
    }

    /// Loads a configuration from the environment.
    pub async fn load() -> Aws {
        let mut timeouts = TimeoutConfig::builder().connect_timeout(Duration::from_millis(
            env_u64("LAMPLIGHT_AWS_CONNECT_TIMEOUT_MS").unwrap_or(3100),
        ));
        if let Some(ms) = env_u64("LAMPLIGHT_AWS_READ_TIMEOUT_MS") {
            timeouts = timeouts.read_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = env_u64("LAMPLIGHT_AWS_OPERATION_TIMEOUT_MS") {
            timeouts = timeouts.operation_timeout(Duration::from_millis(ms));
        }
        let attempts = env_u64("LAMPLIGHT_AWS_MAX_ATTEMPTS").map_or(3, |n| n.clamp(1, 10) as u32);
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .timeout_config(timeouts.build())
            .retry_config(RetryConfig::standard().with_max_attempts(attempts))
            .load()
            .await;
        Aws { config }
    }

    /// Wraps a configuration built elsewhere (tests, custom credential providers). When it
    /// has no HTTP client, lamplight's ([`https_client`]) is added: without the `aws-lc`
    /// feature the SDK has no default one to fall back on.
    pub fn from_config(config: SdkConfig) -> Aws {
        let config = if config.http_client().is_some() {
            config
        } else {
            config.into_builder().http_client(https_client()).build()
        };
        Aws { config }
    }

    /// The SDK configuration.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    /// An S3 client that traces its calls.
    #[cfg(feature = "s3")]
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let path_style = std::env::var("AWS_S3_FORCE_PATH_STYLE")
            .map(|v| v.eq_ignore_ascii_case("true") || v == "1")
            .unwrap_or(self.config.endpoint_url().is_some());
        let config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(path_style)
            .interceptor(SdkTracing)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// A Lambda client that traces its calls.
    #[cfg(feature = "lambda")]
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        let config = aws_sdk_lambda::config::Builder::from(&self.config)
            .interceptor(SdkTracing)
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }
}
