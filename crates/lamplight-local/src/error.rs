//! Errors of the Lambda API, in the shape the AWS SDKs parse.
//!
//! A status, an `x-amzn-ErrorType` header, and `{"Type", "message"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answer of the Lambda API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error_type}: {message}")]
pub struct ApiError {
    /// The HTTP status the API answers with.
    pub status: u16,
    /// The exception name (`ResourceNotFoundException`, ...).
    pub error_type: &'static str,
    /// What went wrong.
    pub message: String,
    /// Lambda's `Reason` field (throttling errors carry one; the SDKs parse it).
    pub reason: Option<&'static str>,
}

impl ApiError {
    fn new(status: u16, error_type: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error_type,
            message: message.into(),
            reason: None,
        }
    }

    /// 403 AccessDeniedException: the request came from somewhere the service does not serve
    /// (a foreign `Host` or `Origin`).
    pub fn forbidden(message: String) -> Self {
        Self::new(403, "AccessDeniedException", message)
    }

    /// 415 UnsupportedMediaTypeException.
    pub fn unsupported_media_type(message: String) -> Self {
        Self::new(415, "UnsupportedMediaTypeException", message)
    }

    /// 429 TooManyRequestsException with Lambda's `Reason`.
    pub fn throttled(message: String, reason: &'static str) -> Self {
        Self {
            reason: Some(reason),
            ..Self::new(429, "TooManyRequestsException", message)
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

    /// An answer axum or the router made itself (a path or query it could not read, a method
    /// a route does not have), put in the API's shape.
    pub(crate) fn from_rejection(status: u16, message: String) -> Self {
        let error_type = match status {
            404 | 405 => "UnknownOperationException",
            413 => "RequestTooLargeException",
            415 => "UnsupportedMediaTypeException",
            500.. => "ServiceException",
            _ => "InvalidRequestContentException",
        };
        Self::new(status, error_type, message)
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
        let mut body = serde_json::json!({"Type": kind, "message": self.message});
        if let Some(reason) = self.reason {
            body["Reason"] = reason.into();
        }
        (
            status,
            [("x-amzn-ErrorType", self.error_type)],
            axum::Json(body),
        )
            .into_response()
    }
}
