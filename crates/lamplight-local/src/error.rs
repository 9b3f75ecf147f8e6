//! Errors of the Lambda API, in the shape the AWS SDKs parse: a status, an `x-amzn-ErrorType`
//! header, and `{"Type", "message"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answer of the Lambda API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// The exception name (`ResourceNotFoundException`, ...).
    pub error_type: &'static str,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    fn new(status: u16, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
        }
    }

    /// 404 ResourceNotFoundException.
    pub fn not_found(message: String) -> Self {
        Self::new(404, "ResourceNotFoundException", message)
    }

    /// 409 ResourceConflictException.
    pub fn conflict(message: String) -> Self {
        Self::new(409, "ResourceConflictException", message)
    }

    /// 413 RequestTooLargeException.
    pub fn too_large(message: String) -> Self {
        Self::new(413, "RequestTooLargeException", message)
    }

    /// 400 InvalidRequestContentException.
    pub fn invalid_content(message: String) -> Self {
        Self::new(400, "InvalidRequestContentException", message)
    }

    /// 400 InvalidParameterValueException.
    pub fn invalid_parameter(message: String) -> Self {
        Self::new(400, "InvalidParameterValueException", message)
    }

    /// 400 ValidationException for a function name.
    pub fn validation_name(name: &str) -> Self {
        Self::new(
            400,
            "ValidationException",
            format!(
                "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: \
                 (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
            ),
        )
    }

    /// 500 ServiceException: the local service itself failed.
    pub fn service(message: impl Into<String>) -> Self {
        Self::new(500, "ServiceException", message)
    }

    /// 404 for an operation this service does not implement.
    pub fn unknown_operation(method: &str, path: &str) -> Self {
        Self::new(
            404,
            "UnknownOperationException",
            format!("lamplight-local does not implement {method} {path}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let kind = if self.status >= 500 {
            "Service"
        } else {
            "User"
        };
        (
            status,
            [("x-amzn-ErrorType", self.error_type)],
            axum::Json(serde_json::json!({"Type": kind, "message": self.message})),
        )
            .into_response()
    }
}
