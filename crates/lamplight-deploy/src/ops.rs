//! Everyday calls on deployed functions: invoke, get, list, delete.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use base64::Engine as _;

use crate::aws::Aws;
use crate::error::DeployError;

/// What an invocation returned.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// HTTP status of the Invoke call.
    pub status: i32,
    /// The response, or the error document.
    pub payload: Vec<u8>,
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    /// The decoded log tail.
    pub logs: String,
    /// The version that ran.
    pub executed_version: Option<String>,
}

/// Invokes `name` (optionally `qualifier`) synchronously with the log tail.
pub async fn invoke(
    aws: &Aws,
    name: &str,
    qualifier: Option<&str>,
    payload: Vec<u8>,
) -> Result<Invoked, DeployError> {
    let out = aws
        .lambda
        .invoke()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_owned))
        .invocation_type(InvocationType::RequestResponse)
        .log_type(LogType::Tail)
        .payload(Blob::new(payload))
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("lambda:Invoke", e))?;
    let logs = out
        .log_result()
        .and_then(|l| base64::engine::general_purpose::STANDARD.decode(l).ok())
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .unwrap_or_default();
    Ok(Invoked {
        status: out.status_code(),
        function_error: out.function_error().map(str::to_owned),
        executed_version: out.executed_version().map(str::to_owned),
        payload: out.payload.map(|p| p.into_inner()).unwrap_or_default(),
        logs,
    })
}

/// A deployed function's configuration as Lambda reports it; a field Lambda leaves out is empty
/// (or 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSummary {
    /// The function's name.
    pub name: String,
    /// `provided.al2023`, or another runtime when it was not deployed by lamplight.
    pub runtime: String,
    /// `arm64` or `x86_64`.
    pub architecture: String,
    /// MB.
    pub memory: i32,
    /// Seconds.
    pub timeout: i32,
    /// Bytes of the deployed zip.
    pub code_size: i64,
    /// Base64 SHA-256 of the deployed zip, comparable to [`crate::package::Package::sha256_base64`].
    pub code_sha256: String,
    /// ISO 8601, as Lambda writes it.
    pub last_modified: String,
    /// X-Ray: `Active` or `PassThrough`.
    pub tracing: String,
    /// The unqualified function ARN.
    pub arn: String,
}

fn summary(c: &aws_sdk_lambda::types::FunctionConfiguration) -> FunctionSummary {
    FunctionSummary {
        name: c.function_name().unwrap_or_default().to_owned(),
        runtime: c
            .runtime()
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
        architecture: c
            .architectures()
            .first()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default(),
        memory: c.memory_size().unwrap_or_default(),
        timeout: c.timeout().unwrap_or_default(),
        code_size: c.code_size(),
        code_sha256: c.code_sha256().unwrap_or_default().to_owned(),
        last_modified: c.last_modified().unwrap_or_default().to_owned(),
        tracing: c
            .tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str().to_owned())
            .unwrap_or_default(),
        arn: c.function_arn().unwrap_or_default().to_owned(),
    }
}

/// The function `name`.
pub async fn get(aws: &Aws, name: &str) -> Result<FunctionSummary, DeployError> {
    let out = aws
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("lambda:GetFunction", e))?;
    out.configuration()
        .map(summary)
        .ok_or_else(|| DeployError::Aws {
            operation: "lambda:GetFunction".into(),
            message: "no configuration in the answer".into(),
        })
}

/// Every function of the account in the region (all pages).
pub async fn list(aws: &Aws) -> Result<Vec<FunctionSummary>, DeployError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = aws
            .lambda
            .list_functions()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("lambda:ListFunctions", e))?;
        out.extend(page.functions().iter().map(summary));
        match page.next_marker() {
            Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Deletes `name` (its role, if lamplight created it, stays: other functions may share it).
pub async fn delete(aws: &Aws, name: &str) -> Result<(), DeployError> {
    aws.lambda
        .delete_function()
        .function_name(name)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| DeployError::from_sdk("lambda:DeleteFunction", e))
}
