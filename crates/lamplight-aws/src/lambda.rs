//! Many Lambda invocations at once (the seed invoked 100): signed with SigV4 by the SDK, at most
//! `limit` in flight, results in input order; stop at the first failure or collect them all.

use bytes::Bytes;
use lamplight::concurrent::{Settled, fan_out, fan_out_settled};

/// Why one invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The Lambda API refused or could not be reached.
    #[error("invoking {function} failed")]
    Api {
        /// The function.
        function: String,
        /// The SDK error.
        #[source]
        source: Box<aws_sdk_lambda::Error>,
    },
    /// The function ran and returned an error document.
    #[error("{function} returned {kind} error: {document}")]
    Function {
        /// The function.
        function: String,
        /// `X-Amz-Function-Error` (`Unhandled`).
        kind: String,
        /// The error document.
        document: String,
    },
}

/// Invokes `function` once, synchronously; a function error is an [`InvokeError::Function`].
pub async fn invoke(
    client: &aws_sdk_lambda::Client,
    function: &str,
    payload: Bytes,
) -> Result<Bytes, InvokeError> {
    let out = client
        .invoke()
        .function_name(function)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .map_err(|e| InvokeError::Api {
            function: function.to_owned(),
            source: Box::new(e.into()),
        })?;
    let body = out
        .payload
        .map(|p| Bytes::from(p.into_inner()))
        .unwrap_or_default();
    match out.function_error {
        None => Ok(body),
        Some(kind) => Err(InvokeError::Function {
            function: function.to_owned(),
            kind,
            document: String::from_utf8_lossy(&body).into_owned(),
        }),
    }
}

/// Invokes `function` with every payload, `limit` at a time; responses in input order; the
/// first failure stops the rest.
pub async fn invoke_all<I>(
    client: &aws_sdk_lambda::Client,
    function: &str,
    payloads: I,
    limit: usize,
) -> Result<Vec<Bytes>, InvokeError>
where
    I: IntoIterator<Item = Bytes>,
{
    fan_out(payloads, limit, |payload| invoke(client, function, payload)).await
}

/// Like [`invoke_all`], but every invocation runs and every failure is collected.
pub async fn invoke_all_settled<I>(
    client: &aws_sdk_lambda::Client,
    function: &str,
    payloads: I,
    limit: usize,
) -> Settled<Bytes>
where
    I: IntoIterator<Item = Bytes>,
{
    fan_out_settled(payloads, limit, |payload| invoke(client, function, payload)).await
}
