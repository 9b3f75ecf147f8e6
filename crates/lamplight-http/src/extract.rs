//! Extractors that answer 422 with the invalid field's location, where axum's answer 400 or
//! 422 with only a sentence: JSON bodies, query strings and path parameters.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{FieldError, HttpError};

fn location(prefix: &str, path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." {
        prefix.to_owned()
    } else {
        format!("{prefix}.{path}")
    }
}

/// A JSON body (or a JSON response). Invalid JSON is 400; JSON of the wrong shape is 422 naming
/// the field (`body.items[0].qty`); another content type is 415.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !json {
            return Err(HttpError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            // A route's own, lower `DefaultBodyLimit` is met here rather than in the middleware.
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                HttpError::new(e.status(), "payload_too_large", e.body_text())
            } else {
                HttpError::bad_request(e.body_text())
            }
        })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Ok(value) => Ok(Json(value)),
            Err(e) if e.inner().is_syntax() || e.inner().is_eof() => Err(HttpError::bad_request(
                format!("the body is not valid JSON: {}", e.inner()),
            )),
            Err(e) => Err(HttpError::unprocessable(vec![FieldError {
                field: location("body", e.path()),
                problem: e.inner().to_string(),
            }])),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// A query string; a missing or invalid parameter is 422 naming it (`query.limit`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|e| {
                let problem = e.inner().to_string();
                // A missing field is reported at the top level: name it from the message.
                let field = match problem
                    .strip_prefix("missing field `")
                    .and_then(|r| r.split('`').next())
                {
                    Some(name) => format!("query.{name}"),
                    None => location("query", e.path()),
                };
                HttpError::unprocessable(vec![FieldError { field, problem }])
            })
    }
}

/// Path parameters; one that does not parse is 422 naming it (`path.id`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let problem = e.body_text();
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => {
                        format!("path.{key}")
                    }
                    // A single parameter's error carries no key: take the route's only one.
                    _ => match axum::extract::RawPathParams::from_request_parts(parts, state).await
                    {
                        Ok(params) if params.iter().count() == 1 => params
                            .iter()
                            .next()
                            .map_or_else(|| "path".to_owned(), |(k, _)| format!("path.{k}")),
                        _ => "path".to_owned(),
                    },
                };
                Err(HttpError::unprocessable(vec![FieldError {
                    field,
                    problem,
                }]))
            }
            Err(other) => Err(HttpError::internal(other.body_text())),
        }
    }
}
