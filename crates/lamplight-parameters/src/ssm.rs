//! SSM Parameter Store.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lamplight_aws::{Aws, SdkTracing};
use tokio::sync::OnceCell;

use crate::error::Failure;
use crate::store::{Entry, Raw, Store, default_ttl};
use crate::{ParameterError, Source, region_of, request_methods};

/// SSM Parameter Store, with a cache.
///
/// ```no_run
/// # async fn f() -> Result<(), lamplight_parameters::ParameterError> {
/// use std::time::Duration;
/// use lamplight_parameters::Ssm;
///
/// let ssm = Ssm::shared().await;
/// let url = ssm.parameter("/orders/url").ttl(Duration::from_secs(60)).get().await?;
/// let key = ssm.parameter("/orders/key").decrypted().force_refresh().get().await?;
/// # let _ = (url, key); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Ssm {
    client: aws_sdk_ssm::Client,
    region: String,
    ttl: Duration,
    store: Arc<Store>,
}

static SHARED: OnceCell<Ssm> = OnceCell::const_new();

impl Ssm {
    /// The execution environment's provider: its client from [`Aws::shared`], its cache
    /// shared by every invocation.
    pub async fn shared() -> &'static Ssm {
        SHARED
            .get_or_init(|| async { Ssm::new(Aws::shared().await) })
            .await
    }

    /// A provider with its own cache, its client traced with [`SdkTracing`], and the default
    /// TTL ([`default_ttl`](crate::default_ttl)).
    pub fn new(aws: &Aws) -> Ssm {
        let config = aws_sdk_ssm::config::Builder::from(aws.sdk_config())
            .interceptor(SdkTracing)
            .build();
        Ssm {
            client: aws_sdk_ssm::Client::from_conf(config),
            region: region_of(aws),
            ttl: default_ttl(),
            store: Arc::default(),
        }
    }

    /// The same provider (and cache) with another default TTL.
    pub fn with_ttl(mut self, ttl: Duration) -> Ssm {
        self.ttl = ttl;
        self
    }

    /// The TTL calls use unless they set their own.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The SSM client, for calls this crate does not make.
    pub fn client(&self) -> &aws_sdk_ssm::Client {
        &self.client
    }

    /// One parameter (`GetParameter`).
    pub fn parameter(&self, name: impl Into<String>) -> SsmParameter<'_> {
        SsmParameter {
            ssm: self,
            name: name.into(),
            decrypt: false,
            ttl: self.ttl,
            force: false,
        }
    }

    /// Every parameter under `path` (`GetParametersByPath`, all pages), keyed by name
    /// relative to the path (`/orders/db/host` under `/orders/` is `db/host`).
    pub fn path(&self, path: impl Into<String>) -> SsmPath<'_> {
        SsmPath {
            ssm: self,
            path: path.into(),
            decrypt: false,
            recursive: true,
            ttl: self.ttl,
            force: false,
        }
    }

    fn failure<'a>(&'a self, name: &'a str, action: &'static str) -> Failure<'a> {
        Failure {
            source: Source::Ssm,
            name,
            region: &self.region,
            action,
            hint: "aws ssm put-parameter --name <name> --value <value> --type String",
        }
    }
}

/// A request for one SSM parameter; see [`Ssm::parameter`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `get`, `get_json`, `get_bytes` or `get_base64` is awaited"]
pub struct SsmParameter<'a> {
    ssm: &'a Ssm,
    name: String,
    decrypt: bool,
    ttl: Duration,
    force: bool,
}

impl SsmParameter<'_> {
    const SOURCE: Source = Source::Ssm;

    /// Decrypts a `SecureString` (`WithDecryption`); without it, its ciphertext is returned.
    pub fn decrypted(mut self) -> Self {
        self.decrypt = true;
        self
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    async fn raw(&self) -> Result<Arc<Raw>, ParameterError> {
        let key = format!("{}\0{}", self.name, self.decrypt);
        self.ssm
            .store
            .get(key, self.ttl, self.force, |_| async {
                let out = self
                    .ssm
                    .client
                    .get_parameter()
                    .name(&self.name)
                    .with_decryption(self.decrypt)
                    .send()
                    .await
                    .map_err(|e| self.ssm.failure(&self.name, "ssm:GetParameter").classify(e))?;
                let value = out.parameter.and_then(|p| p.value).unwrap_or_default();
                tracing::debug!(parameter = %self.name, "fetched an SSM parameter");
                Ok(Entry::new(Raw::Text(value)))
            })
            .await
    }
}

request_methods!(SsmParameter);

/// A request for the SSM parameters under a path; see [`Ssm::path`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `get` or `get_json` is awaited"]
pub struct SsmPath<'a> {
    ssm: &'a Ssm,
    path: String,
    decrypt: bool,
    recursive: bool,
    ttl: Duration,
    force: bool,
}

impl SsmPath<'_> {
    /// Decrypts `SecureString`s (`WithDecryption`).
    pub fn decrypted(mut self) -> Self {
        self.decrypt = true;
        self
    }

    /// Only the parameters directly under the path, not those further down (default: all).
    pub fn shallow(mut self) -> Self {
        self.recursive = false;
        self
    }

    /// Reuses a cached answer younger than `ttl` (instead of the provider's TTL).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Fetches now, whatever the cache holds.
    pub fn force_refresh(mut self) -> Self {
        self.force = true;
        self
    }

    /// Every parameter's text, by name relative to the path; empty when there are none.
    ///
    /// # Errors
    ///
    /// A [`ParameterError`]: access denied or another AWS failure.
    pub async fn get(self) -> Result<crate::Redacted<BTreeMap<String, String>>, ParameterError> {
        match &*self.raw().await? {
            Raw::Map(map) => Ok(crate::Redacted::new(map.clone())),
            Raw::Text(_) | Raw::Binary(_) => Ok(crate::Redacted::new(BTreeMap::new())),
        }
    }

    /// Every parameter decoded from JSON as `T`, by name relative to the path.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get), or [`ParameterError::Json`] naming the first parameter that is
    /// not a `T`.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        self,
    ) -> Result<crate::Redacted<BTreeMap<String, T>>, ParameterError> {
        let prefix = self.prefix();
        let all = self.get().await?.into_exposed();
        let mut out = BTreeMap::new();
        for (name, text) in all {
            let full = format!("{prefix}{name}");
            let value = crate::json(Source::Ssm, &full, &Raw::Text(text))?;
            out.insert(name, value);
        }
        Ok(crate::Redacted::new(out))
    }

    fn prefix(&self) -> String {
        if self.path.ends_with('/') {
            self.path.clone()
        } else {
            format!("{}/", self.path)
        }
    }

    async fn raw(&self) -> Result<Arc<Raw>, ParameterError> {
        let key = format!("{}\0{}\0{}\0path", self.path, self.decrypt, self.recursive);
        self.ssm
            .store
            .get(key, self.ttl, self.force, |_| async {
                let prefix = self.prefix();
                let mut pages = self
                    .ssm
                    .client
                    .get_parameters_by_path()
                    .path(&self.path)
                    .recursive(self.recursive)
                    .with_decryption(self.decrypt)
                    .into_paginator()
                    .send();
                let mut map = BTreeMap::new();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| {
                        self.ssm
                            .failure(&self.path, "ssm:GetParametersByPath")
                            .classify(e)
                    })?;
                    for parameter in page.parameters.unwrap_or_default() {
                        let (Some(name), Some(value)) = (parameter.name, parameter.value) else {
                            continue;
                        };
                        let relative = name.strip_prefix(&prefix).unwrap_or(&name).to_owned();
                        map.insert(relative, value);
                    }
                }
                tracing::debug!(path = %self.path, count = map.len(), "fetched SSM parameters by path");
                Ok(Entry::new(Raw::Map(map)))
            })
            .await
    }
}
