//! AppConfig (the appconfigdata API).

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
use bytes::Bytes;
use lamplight_aws::{Aws, SdkTracing};
use tokio::sync::OnceCell;

use crate::error::Failure;
use crate::store::{Entry, Raw, Store, default_ttl};
use crate::{ParameterError, Source, region_of, request_methods};

/// AppConfig, with a cache and one configuration session per configuration.
///
/// The first fetch starts a session (`StartConfigurationSession`); every later one asks
/// `GetLatestConfiguration` with the token the previous answer gave. AppConfig answers with an
/// empty body when the configuration has not changed, and the cached value is kept.
///
/// ```no_run
/// # async fn f() -> Result<(), lamplight_parameters::ParameterError> {
/// use lamplight_parameters::AppConfig;
///
/// #[derive(serde::Deserialize)]
/// struct Flags { new_checkout: bool }
///
/// let flags = AppConfig::shared()
///     .await
///     .configuration("orders", "prod", "flags")
///     .get_json::<Flags>()
///     .await?;
/// # let _ = flags; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AppConfig {
    client: aws_sdk_appconfigdata::Client,
    region: String,
    ttl: Duration,
    store: Arc<Store>,
}

static SHARED: OnceCell<AppConfig> = OnceCell::const_new();

impl AppConfig {
    /// The execution environment's provider: its client from [`Aws::shared`], its cache
    /// (and sessions) shared by every invocation.
    pub async fn shared() -> &'static AppConfig {
        SHARED
            .get_or_init(|| async { AppConfig::new(Aws::shared().await) })
            .await
    }

    /// A provider with its own cache, its client traced with [`SdkTracing`], and the default
    /// TTL ([`default_ttl`](crate::default_ttl)).
    pub fn new(aws: &Aws) -> AppConfig {
        let config = aws_sdk_appconfigdata::config::Builder::from(aws.sdk_config())
            .interceptor(SdkTracing)
            .build();
        AppConfig {
            client: aws_sdk_appconfigdata::Client::from_conf(config),
            region: region_of(aws),
            ttl: default_ttl(),
            store: Arc::default(),
        }
    }

    /// The same provider (and cache) with another default TTL.
    pub fn with_ttl(mut self, ttl: Duration) -> AppConfig {
        self.ttl = ttl;
        self
    }

    /// The TTL calls use unless they set their own.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The appconfigdata client, for calls this crate does not make.
    pub fn client(&self) -> &aws_sdk_appconfigdata::Client {
        &self.client
    }

    /// The configuration deployed to `environment` of `application` from `profile` (names or
    /// ids).
    pub fn configuration(
        &self,
        application: impl Into<String>,
        environment: impl Into<String>,
        profile: impl Into<String>,
    ) -> ConfigurationRequest<'_> {
        ConfigurationRequest {
            appconfig: self,
            application: application.into(),
            environment: environment.into(),
            profile: profile.into(),
            ttl: self.ttl,
            force: false,
        }
    }
}

/// A request for one AppConfig configuration; see [`AppConfig::configuration`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `get`, `get_json`, `get_bytes` or `get_base64` is awaited"]
pub struct ConfigurationRequest<'a> {
    appconfig: &'a AppConfig,
    application: String,
    environment: String,
    profile: String,
    ttl: Duration,
    force: bool,
}

impl ConfigurationRequest<'_> {
    const SOURCE: Source = Source::AppConfig;

    fn name(&self) -> String {
        format!("{}/{}/{}", self.application, self.environment, self.profile)
    }

    fn failure<'b>(&'b self, name: &'b str, action: &'static str) -> Failure<'b> {
        Failure {
            source: Source::AppConfig,
            name,
            region: &self.appconfig.region,
            action,
            hint: "an application, environment and configuration profile, then a deployment",
        }
    }

    async fn start_session(&self, name: &str) -> Result<String, ParameterError> {
        let out = self
            .appconfig
            .client
            .start_configuration_session()
            .application_identifier(&self.application)
            .environment_identifier(&self.environment)
            .configuration_profile_identifier(&self.profile)
            .send()
            .await
            .map_err(|e| {
                self.failure(name, "appconfig:StartConfigurationSession")
                    .classify(e)
            })?;
        Ok(out.initial_configuration_token.unwrap_or_default())
    }

    async fn raw(&self) -> Result<Arc<Raw>, ParameterError> {
        let name = self.name();
        let key = format!(
            "{}\0{}\0{}",
            self.application, self.environment, self.profile
        );
        self.appconfig
            .store
            .get(key, self.ttl, self.force, |previous| async {
                let (token, kept) = match previous {
                    Some(Entry {
                        token: Some(token),
                        value,
                        ..
                    }) => (token, Some(value)),
                    _ => (self.start_session(&name).await?, None),
                };
                let latest = |token: String| {
                    self.appconfig
                        .client
                        .get_latest_configuration()
                        .configuration_token(token)
                        .send()
                };
                let out = match latest(token).await {
                    Ok(out) => out,
                    // A poll token lasts 24 hours and is single use: start over once.
                    Err(e) if kept.is_some() && e.code() == Some("BadRequestException") => {
                        latest(self.start_session(&name).await?)
                            .await
                            .map_err(|e| {
                                self.failure(&name, "appconfig:GetLatestConfiguration")
                                    .classify(e)
                            })?
                    }
                    Err(e) => {
                        return Err(self
                            .failure(&name, "appconfig:GetLatestConfiguration")
                            .classify(e));
                    }
                };
                let body = out
                    .configuration
                    .map(|blob| Bytes::from(blob.into_inner()))
                    .unwrap_or_default();
                let unchanged = body.is_empty();
                tracing::debug!(configuration = %name, unchanged, "polled AppConfig");
                let value = match kept {
                    Some(value) if unchanged => value,
                    _ => Arc::new(Raw::Binary(body)),
                };
                Ok(Entry {
                    value,
                    fetched: std::time::Instant::now(),
                    token: out.next_poll_configuration_token,
                })
            })
            .await
    }
}

request_methods!(ConfigurationRequest);
