//! Secrets Manager.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use lamplight_aws::{Aws, SdkTracing};
use tokio::sync::OnceCell;

use crate::error::Failure;
use crate::store::{Entry, Raw, Store, default_ttl};
use crate::{ParameterError, Source, region_of, request_methods};

/// Secrets Manager, with a cache.
///
/// ```no_run
/// # async fn f() -> Result<(), lamplight_parameters::ParameterError> {
/// use lamplight_parameters::Secrets;
///
/// #[derive(serde::Deserialize)]
/// struct Login { username: String, password: String }
///
/// let secrets = Secrets::shared().await;
/// let login = secrets.secret("orders/db").get_json::<Login>().await?;
/// let cert = secrets.secret("orders/cert").get_bytes().await?; // a binary secret
/// # let _ = (login, cert); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Secrets {
    client: aws_sdk_secretsmanager::Client,
    region: String,
    ttl: Duration,
    store: Arc<Store>,
}

static SHARED: OnceCell<Secrets> = OnceCell::const_new();

impl Secrets {
    /// The execution environment's provider: its client from [`Aws::shared`], its cache
    /// shared by every invocation.
    pub async fn shared() -> &'static Secrets {
        SHARED
            .get_or_init(|| async { Secrets::new(Aws::shared().await) })
            .await
    }

    /// A provider with its own cache, its client traced with [`SdkTracing`], and the default
    /// TTL ([`default_ttl`](crate::default_ttl)).
    pub fn new(aws: &Aws) -> Secrets {
        let config = aws_sdk_secretsmanager::config::Builder::from(aws.sdk_config())
            .interceptor(SdkTracing)
            .build();
        Secrets {
            client: aws_sdk_secretsmanager::Client::from_conf(config),
            region: region_of(aws),
            ttl: default_ttl(),
            store: Arc::default(),
        }
    }

    /// The same provider (and cache) with another default TTL.
    pub fn with_ttl(mut self, ttl: Duration) -> Secrets {
        self.ttl = ttl;
        self
    }

    /// The TTL calls use unless they set their own.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The Secrets Manager client, for calls this crate does not make.
    pub fn client(&self) -> &aws_sdk_secretsmanager::Client {
        &self.client
    }

    /// One secret (`GetSecretValue`), by name or ARN; its `AWSCURRENT` version unless
    /// [`SecretRequest::version_stage`] says otherwise.
    pub fn secret(&self, id: impl Into<String>) -> SecretRequest<'_> {
        SecretRequest {
            secrets: self,
            id: id.into(),
            stage: None,
            ttl: self.ttl,
            force: false,
        }
    }
}

/// A request for one secret; see [`Secrets::secret`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `get`, `get_json`, `get_bytes` or `get_base64` is awaited"]
pub struct SecretRequest<'a> {
    secrets: &'a Secrets,
    id: String,
    stage: Option<String>,
    ttl: Duration,
    force: bool,
}

impl SecretRequest<'_> {
    const SOURCE: Source = Source::SecretsManager;

    /// The version with this staging label (`AWSPREVIOUS`, `AWSPENDING`, your own).
    pub fn version_stage(mut self, stage: impl Into<String>) -> Self {
        self.stage = Some(stage.into());
        self
    }

    fn name(&self) -> String {
        self.id.clone()
    }

    async fn raw(&self) -> Result<Arc<Raw>, ParameterError> {
        let key = format!("{}\0{}", self.id, self.stage.as_deref().unwrap_or(""));
        self.secrets
            .store
            .get(key, self.ttl, self.force, |_| async {
                let out = self
                    .secrets
                    .client
                    .get_secret_value()
                    .secret_id(&self.id)
                    .set_version_stage(self.stage.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        Failure {
                            source: Source::SecretsManager,
                            name: &self.id,
                            region: &self.secrets.region,
                            action: "secretsmanager:GetSecretValue",
                            hint: "aws secretsmanager create-secret --name <name> --secret-string <value>",
                        }
                        .classify(e)
                    })?;
                let raw = match (out.secret_string, out.secret_binary) {
                    (Some(text), _) => Raw::Text(text),
                    (None, Some(blob)) => Raw::Binary(Bytes::from(blob.into_inner())),
                    (None, None) => Raw::Text(String::new()),
                };
                tracing::debug!(secret = %self.id, "fetched a secret");
                Ok(Entry::new(raw))
            })
            .await
    }
}

request_methods!(SecretRequest);
