//! [`IdempotencyError`]: what can stop an idempotent call, and the function's own error.

use std::convert::Infallible;
use std::time::SystemTime;

use lamplight::{BoxError, FunctionError};

/// Why an idempotent call did not return the function's result.
///
/// `E` is the wrapped function's error, returned unchanged in [`IdempotencyError::Function`].
/// Returned from a lamplight handler as is, every variant has the `errorType`
/// `IdempotencyError`; [`IdempotencyError::into_function_error`] (which
/// [`Idempotency::handler`](crate::Idempotency::handler) applies) gives each its own, and the
/// function's error its own type name.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError<E> {
    /// Another invocation holds the key and has not finished (nor run out of time).
    #[error(
        "another invocation with the same idempotency key ({key}) is running; retry later (its claim lapses at {} if it never finishes)",
        humantime::format_rfc3339_millis(*.until)
    )]
    AlreadyInProgress {
        /// The record id (`<prefix>#<hash>`).
        key: String,
        /// When the running invocation's claim lapses.
        until: SystemTime,
    },
    /// The key was first used with a different payload (its validation hash differs).
    #[error(
        "the event for idempotency key {key} differs from the one first processed with this key (the payload validation hash does not match): retry with the original payload, or use a new key for a new request"
    )]
    PayloadMismatch {
        /// The record id (`<prefix>#<hash>`).
        key: String,
    },
    /// The event holds no key where the selector looks.
    #[error(
        "no idempotency key in the event: {selector} selects nothing (or null); send it in the event, fix the selector, or configure raise_on_no_key(false) to run such events without idempotency"
    )]
    KeyNotFound {
        /// The selector, as configured (`JSON pointer "/order_id"`).
        selector: String,
    },
    /// A DynamoDB call failed.
    #[error(
        "idempotency table {table}: {action} record {key} failed; check that the table exists with partition key `id` (string) and that the function may call it"
    )]
    Persistence {
        /// The table.
        table: String,
        /// The record id.
        key: String,
        /// What was being done (`claiming`, `storing the result of`, ...).
        action: &'static str,
        /// The SDK's error.
        #[source]
        source: Box<aws_sdk_dynamodb::Error>,
    },
    /// The event, the result or a stored result is not JSON this crate can (de)serialize.
    #[error("idempotency record {key}: {what} failed")]
    Serialization {
        /// The record id (empty when the event itself could not be serialized).
        key: String,
        /// What was being (de)serialized.
        what: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
    /// A record in the table lacks what this crate writes (another writer, or other attribute
    /// names).
    #[error(
        "idempotency record {key} in table {table} is not one this crate wrote: {reason}; check the configured attribute names"
    )]
    InvalidRecord {
        /// The table.
        table: String,
        /// The record id.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The wrapped function failed; its record was deleted so that a retry runs it again.
    #[error("{0}")]
    Function(E),
}

impl<E> IdempotencyError<E> {
    /// The `errorType` of this error's document (the names Powertools for Python uses), or
    /// `None` for [`IdempotencyError::Function`], which keeps the function's own.
    pub fn error_type(&self) -> Option<&'static str> {
        Some(match self {
            Self::AlreadyInProgress { .. } => "IdempotencyAlreadyInProgressError",
            Self::PayloadMismatch { .. } => "IdempotencyValidationError",
            Self::KeyNotFound { .. } => "IdempotencyKeyError",
            Self::Persistence { .. } => "IdempotencyPersistenceLayerError",
            Self::Serialization { .. } => "IdempotencySerializationError",
            Self::InvalidRecord { .. } => "IdempotencyInconsistentStateError",
            Self::Function(_) => return None,
        })
    }

    /// The function's error, if that is what this is.
    pub fn into_function(self) -> Option<E> {
        match self {
            Self::Function(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: Into<BoxError> + 'static> IdempotencyError<E> {
    /// The error document a handler returns: the function's own error as lamplight would
    /// describe it, or one of the `errorType`s of [`IdempotencyError::error_type`].
    pub fn into_function_error(self) -> FunctionError {
        match self.split() {
            Err(e) => FunctionError::from_handler_error(e),
            Ok(other) => FunctionError::new(
                other.error_type().unwrap_or("IdempotencyError"),
                lamplight::error::chain(&other),
            ),
        }
    }
}

impl<E> IdempotencyError<E> {
    /// Changes the function's error type (the other variants are kept).
    pub fn map_function<F>(self, f: impl FnOnce(E) -> F) -> IdempotencyError<F> {
        match self.retype(|e| Ok::<_, Infallible>(f(e))) {
            Ok(error) => error,
            Err(never) => match never {},
        }
    }

    /// The function's error, or this error without one.
    fn split(self) -> Result<IdempotencyError<Infallible>, E> {
        self.retype(Err)
    }

    /// The one variant-by-variant conversion the others are made of: the function's error
    /// goes through `f`, which may give it a new type or stop the conversion.
    fn retype<F, R>(self, f: impl FnOnce(E) -> Result<F, R>) -> Result<IdempotencyError<F>, R> {
        Ok(match self {
            Self::Function(e) => IdempotencyError::Function(f(e)?),
            Self::AlreadyInProgress { key, until } => {
                IdempotencyError::AlreadyInProgress { key, until }
            }
            Self::PayloadMismatch { key } => IdempotencyError::PayloadMismatch { key },
            Self::KeyNotFound { selector } => IdempotencyError::KeyNotFound { selector },
            Self::Persistence {
                table,
                key,
                action,
                source,
            } => IdempotencyError::Persistence {
                table,
                key,
                action,
                source,
            },
            Self::Serialization { key, what, source } => {
                IdempotencyError::Serialization { key, what, source }
            }
            Self::InvalidRecord { table, key, reason } => {
                IdempotencyError::InvalidRecord { table, key, reason }
            }
        })
    }
}

impl IdempotencyError<Infallible> {
    /// The same error, for a function with any error type.
    pub fn widen<F>(self) -> IdempotencyError<F> {
        match self.retype(|never| -> Result<F, Infallible> { match never {} }) {
            Ok(error) => error,
            Err(never) => match never {},
        }
    }
}
