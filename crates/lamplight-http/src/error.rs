//! [`HttpError`]: an error answer with a JSON body for the client and a detail kept for the log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where: `body.items[0].qty`, `query.limit`, `path.id`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

/// What the access log learns about an error answer: its detail, never sent to the client.
#[derive(Debug, Clone)]
pub(crate) struct ErrorDetail(pub String);

/// An error answer: `{"code": ..., "message": ..., "fields": [...]}` with its status. The
/// `detail` (an internal cause, a database error) goes to the access log only.
///
/// ```
/// use lamplight_http::HttpError;
///
/// let err = HttpError::not_found("no order o-7").with_detail("row missing in table orders");
/// assert_eq!(err.status().as_u16(), 404);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct HttpError {
    status: StatusCode,
    code: String,
    message: String,
    fields: Vec<FieldError>,
    detail: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    fields: &'a [FieldError],
}

impl HttpError {
    /// An error with `status`, a machine-readable `code` and a message for the client.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
            detail: None,
        }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422 `validation_error` naming every invalid field.
    pub fn unprocessable(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("{} is invalid: {}", one.field, one.problem),
            many => format!("{} fields are invalid", many.len()),
        };
        Self {
            fields,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_error",
                message,
            )
        }
    }

    /// 500 `internal_error`: the client learns nothing; `detail` goes to the log.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
        .with_detail(detail.to_string())
    }

    /// 504 `timeout`.
    pub fn gateway_timeout(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "timeout",
            "the request took too long and was stopped",
        )
        .with_detail(detail)
    }

    /// Adds a detail for the access log only.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The status the response is sent with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The invalid fields, for 422.
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = Body {
            code: &self.code,
            message: &self.message,
            fields: &self.fields,
        };
        let mut response = (self.status, axum::Json(&body)).into_response();
        let detail = self.detail.unwrap_or(self.message);
        response.extensions_mut().insert(ErrorDetail(detail));
        response
    }
}
