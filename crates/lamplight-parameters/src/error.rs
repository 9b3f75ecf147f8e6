//! [`ParameterError`]: what went wrong fetching or decoding a value, never the value itself.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Which store a value comes from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// SSM Parameter Store.
    Ssm,
    /// Secrets Manager.
    SecretsManager,
    /// AppConfig.
    AppConfig,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ssm => "SSM parameter",
            Self::SecretsManager => "secret",
            Self::AppConfig => "AppConfig configuration",
        })
    }
}

/// A value that could not be fetched or decoded. Messages name the parameter and say what to
/// do; they never carry the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParameterError {
    /// The parameter, secret or configuration does not exist.
    #[error(
        "{store} `{name}` does not exist in region {region}: create it ({hint}) or check its name and the function's region"
    )]
    NotFound {
        /// Where it was looked for.
        store: Source,
        /// Its name (path, secret id or `application/environment/profile`).
        name: String,
        /// The region the function asked.
        region: String,
        /// How to create it.
        hint: &'static str,
    },
    /// The function's role may not read it.
    #[error(
        "access to {store} `{name}` was denied: allow `{action}` on it in the function's role (and `kms:Decrypt` on its key when it is encrypted with a customer key): {message}"
    )]
    AccessDenied {
        /// Where it is.
        store: Source,
        /// Its name.
        name: String,
        /// The IAM action the role needs.
        action: &'static str,
        /// What AWS said.
        message: String,
    },
    /// Another AWS failure (throttling, network, KMS).
    #[error("fetching {store} `{name}` failed: {message}")]
    Aws {
        /// Where it is.
        store: Source,
        /// Its name.
        name: String,
        /// What went wrong, with its causes.
        message: String,
    },
    /// The value is not JSON of the requested type.
    #[error(
        "{store} `{name}` is not valid JSON for {type_name}: {problem}; fix the stored value or the type"
    )]
    Json {
        /// Where it is.
        store: Source,
        /// Its name.
        name: String,
        /// The Rust type it was decoded as.
        type_name: &'static str,
        /// serde's complaint, with the path and position but without the value.
        problem: String,
    },
    /// The value is not base64.
    #[error("{store} `{name}` is not valid base64: {problem}")]
    Base64 {
        /// Where it is.
        store: Source,
        /// Its name.
        name: String,
        /// Where decoding stopped.
        problem: String,
    },
    /// The value is bytes that are not UTF-8 text (a binary secret read as a string).
    #[error(
        "{store} `{name}` is binary, not UTF-8 text: read it with `get_bytes` (or store it as a string)"
    )]
    NotText {
        /// Where it is.
        store: Source,
        /// Its name.
        name: String,
    },
}

impl ParameterError {
    /// Whether the value does not exist (as opposed to being unreadable or malformed).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

/// What every SDK failure is turned into: not-found and access-denied recognised by their
/// error codes (they are not modelled the same way across the three services).
pub(crate) struct Failure<'a> {
    pub(crate) source: Source,
    pub(crate) name: &'a str,
    pub(crate) region: &'a str,
    pub(crate) action: &'static str,
    pub(crate) hint: &'static str,
}

impl Failure<'_> {
    pub(crate) fn classify<E, R>(&self, error: SdkError<E, R>) -> ParameterError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let code = error.code().unwrap_or_default().to_owned();
        let message = error.message().unwrap_or_default().to_owned();
        match code.as_str() {
            "ParameterNotFound" | "ResourceNotFoundException" => ParameterError::NotFound {
                store: self.source,
                name: self.name.to_owned(),
                region: self.region.to_owned(),
                hint: self.hint,
            },
            "AccessDeniedException" | "AccessDenied" | "UnauthorizedException" => {
                ParameterError::AccessDenied {
                    store: self.source,
                    name: self.name.to_owned(),
                    action: self.action,
                    message: if message.is_empty() { code } else { message },
                }
            }
            _ => ParameterError::Aws {
                store: self.source,
                name: self.name.to_owned(),
                message: DisplayErrorContext(&error).to_string(),
            },
        }
    }
}

/// serde_json's message without the offending value: serde quotes it in `invalid type:
/// string "..."`, `invalid value: ...` and `unknown variant `...``, and a secret stored with
/// the wrong shape must not reach a log through its error.
pub(crate) fn json_problem(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = error.inner();
    let text = inner.to_string();
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(head, _)| head);
    let cleaned = if let Some(rest) = text
        .strip_prefix("invalid type: ")
        .or_else(|| text.strip_prefix("invalid value: "))
    {
        let kind = rest.split_whitespace().next().unwrap_or("value");
        let kind = kind.trim_end_matches(',');
        let expected = rest
            .split_once(", expected ")
            .map_or("", |(_, expected)| expected);
        let head = if text.starts_with("invalid type") {
            "invalid type"
        } else {
            "invalid value"
        };
        format!("{head}: a {kind}, expected {expected}")
    } else if text.starts_with("unknown variant ") {
        let expected = text
            .split_once(", expected ")
            .map_or("", |(_, expected)| expected);
        format!("unknown variant, expected {expected}")
    } else {
        // Syntax, missing-field and length messages name no value.
        text.to_owned()
    };
    let path = error.path().to_string();
    let at = if path == "." {
        String::new()
    } else {
        format!(" at `{path}`")
    };
    format!(
        "{cleaned}{at} (line {}, column {})",
        inner.line(),
        inner.column()
    )
}

/// base64's message without the offending symbol.
pub(crate) fn base64_problem(error: &base64::DecodeError) -> String {
    match error {
        base64::DecodeError::InvalidByte(offset, _) => {
            format!("an invalid character at offset {offset}")
        }
        base64::DecodeError::InvalidLength(length) => {
            format!("{length} symbols is not a valid base64 length")
        }
        base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("an invalid last symbol at offset {offset}")
        }
        base64::DecodeError::InvalidPadding => "invalid padding".to_owned(),
    }
}
