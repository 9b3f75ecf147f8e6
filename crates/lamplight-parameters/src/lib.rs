//! Parameters, secrets and configuration for lamplight functions (the Powertools "parameters"
//! utility): SSM Parameter Store, Secrets Manager and AppConfig values, cached per execution
//! environment with a TTL, decoded as text, JSON or bytes, and never printed.
//!
//! ```no_run
//! use lamplight_parameters::{AppConfig, Secrets, Ssm};
//!
//! #[derive(serde::Deserialize)]
//! struct Db { host: String, port: u16 }
//!
//! # async fn handler() -> Result<(), lamplight_parameters::ParameterError> {
//! let ssm = Ssm::shared().await;
//! let table = ssm.parameter("/orders/table").get().await?;
//! let api_key = ssm.parameter("/orders/api-key").decrypted().get().await?;
//! let db = ssm.parameter("/orders/db").get_json::<Db>().await?;
//! let all = ssm.path("/orders/").get().await?; // names relative to the path
//!
//! let password = Secrets::shared().await.secret("orders/db-password").get().await?;
//! let flags = AppConfig::shared()
//!     .await
//!     .configuration("orders", "prod", "flags")
//!     .get_json::<serde_json::Value>()
//!     .await?;
//!
//! // Values print as [redacted]; expose() where they are used.
//! tracing::info!(%api_key, "connecting to {}", db.expose().host);
//! let _ = (table.expose(), password.expose(), all.expose().len(), flags.expose());
//! # Ok(()) }
//! ```
//!
//! | item | what it does |
//! |---|---|
//! | [`Ssm`] | Parameter Store: [`Ssm::parameter`] (`GetParameter`, [`decrypted`](SsmParameter::decrypted) for `SecureString`), [`Ssm::path`] (`GetParametersByPath`, recursive, every page) |
//! | [`Secrets`] | Secrets Manager: [`Secrets::secret`] (`GetSecretValue`, string or binary) |
//! | [`AppConfig`] | AppConfig data: [`AppConfig::configuration`] (`StartConfigurationSession` once, then `GetLatestConfiguration` with the next poll token; an empty answer keeps the cached value) |
//! | every request | `.ttl(d)`, `.force_refresh()`; `.get()` text, `.get_json::<T>()` serde, `.get_bytes()` raw bytes, `.get_base64()` text decoded from base64 |
//! | [`Redacted`] | what every value comes in: `Debug`/`Display` print `[redacted]`, [`Redacted::expose`] reads it |
//! | [`ParameterError`] | not found (with how to create it), access denied (with the IAM action), bad JSON (the serde error without the value), ... |
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LAMPLIGHT_PARAMETERS_TTL_SECONDS` | 5 | how long a fetched value is reused, in seconds (fractions allowed; 0 fetches every time) |
//!
//! **Caching.** `Ssm::shared()`, `Secrets::shared()` and `AppConfig::shared()` live for the
//! execution environment, so their caches serve every invocation it handles; their clients
//! come from [`lamplight_aws::Aws::shared`] with [`lamplight_aws::SdkTracing`], so each fetch
//! is an X-Ray `aws` subsegment. A value is refetched once it is older than its TTL (the
//! provider's, set with `with_ttl`, or the call's, set with `.ttl(d)`), or at once with
//! `.force_refresh()`. Concurrent callers asking for the same key wait for one fetch.
//!
//! **Values stay out of logs.** Values are only ever returned inside [`Redacted`]; they are
//! never recorded in tracing fields, and errors name the parameter, never its value (a JSON
//! error says `invalid type: a string, expected u16 at `port``, not what the string was).

mod appconfig;
mod error;
mod redacted;
mod secrets;
mod ssm;
mod store;

use std::any::type_name;

use base64::Engine as _;
use bytes::Bytes;
use serde::de::DeserializeOwned;

pub use appconfig::{AppConfig, ConfigurationRequest};
pub use error::{ParameterError, Source};
pub use redacted::Redacted;
pub use secrets::{SecretRequest, Secrets};
pub use ssm::{Ssm, SsmParameter, SsmPath};
pub use store::{DEFAULT_TTL, TTL_ENV, default_ttl};

use store::Raw;

fn region_of(aws: &lamplight_aws::Aws) -> String {
    aws.sdk_config()
        .region()
        .map_or_else(|| "(no region set)".to_owned(), ToString::to_string)
}

fn text(store: Source, name: &str, raw: &Raw) -> Result<String, ParameterError> {
    match raw {
        Raw::Text(text) => Ok(text.clone()),
        Raw::Binary(bytes) => {
            String::from_utf8(bytes.to_vec()).map_err(|_| ParameterError::NotText {
                store,
                name: name.to_owned(),
            })
        }
        // A path is only ever read as a map.
        Raw::Map(_) => Err(ParameterError::NotText {
            store,
            name: name.to_owned(),
        }),
    }
}

fn json<T: DeserializeOwned>(store: Source, name: &str, raw: &Raw) -> Result<T, ParameterError> {
    let bytes: &[u8] = match raw {
        Raw::Text(text) => text.as_bytes(),
        Raw::Binary(bytes) => bytes,
        Raw::Map(_) => {
            return Err(ParameterError::NotText {
                store,
                name: name.to_owned(),
            });
        }
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| ParameterError::Json {
        store,
        name: name.to_owned(),
        type_name: type_name::<T>(),
        problem: error::json_problem(&e),
    })
}

fn bytes(raw: &Raw) -> Bytes {
    match raw {
        Raw::Text(text) => Bytes::copy_from_slice(text.as_bytes()),
        Raw::Binary(bytes) => bytes.clone(),
        Raw::Map(_) => Bytes::new(),
    }
}

fn base64(store: Source, name: &str, raw: &Raw) -> Result<Vec<u8>, ParameterError> {
    let text = text(store, name, raw)?;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| ParameterError::Base64 {
            store,
            name: name.to_owned(),
            problem: error::base64_problem(&e),
        })
}

/// The per-call options and the text/JSON/bytes terminals every request type shares.
macro_rules! request_methods {
    ($request:ident) => {
        impl $request<'_> {
            /// Reuses a cached value younger than `ttl` (instead of the provider's TTL).
            pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
                self.ttl = ttl;
                self
            }

            /// Fetches the value now, whatever the cache holds (and caches the result).
            pub fn force_refresh(mut self) -> Self {
                self.force = true;
                self
            }

            /// The value as text.
            ///
            /// # Errors
            ///
            /// A [`ParameterError`]: not found, access denied, or bytes that are not UTF-8.
            pub async fn get(self) -> Result<$crate::Redacted<String>, $crate::ParameterError> {
                let raw = self.raw().await?;
                $crate::text(Self::SOURCE, &self.name(), &raw).map($crate::Redacted::new)
            }

            /// The value decoded from JSON as `T`.
            ///
            /// # Errors
            ///
            /// As [`get`](Self::get), or [`ParameterError::Json`] naming the parameter, the
            /// type and serde's complaint (never the value).
            pub async fn get_json<T: serde::de::DeserializeOwned>(
                self,
            ) -> Result<$crate::Redacted<T>, $crate::ParameterError> {
                let raw = self.raw().await?;
                $crate::json(Self::SOURCE, &self.name(), &raw).map($crate::Redacted::new)
            }

            /// The value's bytes as stored (a binary secret, or the text's UTF-8).
            ///
            /// # Errors
            ///
            /// A [`ParameterError`]: not found or access denied.
            pub async fn get_bytes(
                self,
            ) -> Result<$crate::Redacted<bytes::Bytes>, $crate::ParameterError> {
                let raw = self.raw().await?;
                Ok($crate::Redacted::new($crate::bytes(&raw)))
            }

            /// The value's text decoded from base64 (standard alphabet, padded).
            ///
            /// # Errors
            ///
            /// As [`get`](Self::get), or [`ParameterError::Base64`].
            pub async fn get_base64(
                self,
            ) -> Result<$crate::Redacted<Vec<u8>>, $crate::ParameterError> {
                let raw = self.raw().await?;
                $crate::base64(Self::SOURCE, &self.name(), &raw).map($crate::Redacted::new)
            }
        }
    };
}
pub(crate) use request_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Db {
        host: String,
        port: u16,
    }

    #[test]
    fn json_errors_name_the_parameter_and_path_but_not_the_value() {
        let raw = Raw::Text(r#"{"host": "db", "port": "s3cr3t-v4lue"}"#.to_owned());
        let err = json::<Db>(Source::Ssm, "/app/db", &raw).expect_err("port is a string");
        let text = err.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(
            text.starts_with("SSM parameter `/app/db` is not valid JSON for "),
            "{text}"
        );
        assert!(
            text.contains("invalid type: a string, expected u16 at `port`"),
            "{text}"
        );

        let raw = Raw::Text("hunter2".to_owned());
        let text = json::<Db>(Source::SecretsManager, "db", &raw)
            .expect_err("not JSON")
            .to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("expected value"), "{text}");
    }

    #[test]
    fn base64_errors_do_not_quote_the_value() {
        let raw = Raw::Text("ab$d".to_owned());
        let text = base64(Source::Ssm, "/k", &raw)
            .expect_err("not base64")
            .to_string();
        assert_eq!(
            text,
            "SSM parameter `/k` is not valid base64: an invalid character at offset 2"
        );
    }

    #[test]
    fn binary_that_is_not_utf8_is_not_text() {
        let raw = Raw::Binary(Bytes::from_static(&[0xff, 0x00]));
        let err = text(Source::SecretsManager, "blob", &raw).expect_err("binary");
        assert!(matches!(err, ParameterError::NotText { .. }), "{err}");
    }
}
