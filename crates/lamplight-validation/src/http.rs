//! The `http` feature: [`ValidationError`] as a 422 answer with lamplight-http's error body, and
//! [`Valid`], an extractor that checks a JSON body against its schema before deserializing it.

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use lamplight_http::{FieldError, HttpError};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{Schema, Subject, ValidationError, deserialize};

/// A JSON pointer (`/items/0/qty`) in lamplight-http's field notation (`body.items[0].qty`),
/// so schema violations and lamplight-http's own 422s name fields the same way.
fn field(pointer: &str) -> String {
    let mut out = String::from("body");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(&segment);
            out.push(']');
        } else {
            out.push('.');
            out.push_str(&segment);
        }
    }
    out
}

impl From<ValidationError> for HttpError {
    /// 422 `validation_error` with one field per violation; a response that breaks its schema
    /// is the function's bug, so it is a 500 whose detail (the violations) goes to the log only.
    fn from(error: ValidationError) -> Self {
        if error.is_response() {
            return HttpError::internal(error);
        }
        HttpError::unprocessable(
            error
                .violations
                .into_iter()
                .map(|v| FieldError {
                    field: field(&v.instance_path),
                    problem: format!("{} ({})", v.message, v.keyword),
                })
                .collect(),
        )
    }
}

impl IntoResponse for ValidationError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

/// Where [`Valid<T>`] finds the schema for `T`: a static, or the router's state `S`.
///
/// ```
/// use std::sync::LazyLock;
/// use lamplight_validation::{BodySchema, Schema};
///
/// #[derive(serde::Deserialize)]
/// struct Order { id: String }
///
/// // A static, compiled once per execution environment.
/// static ORDER: LazyLock<Schema> = LazyLock::new(|| {
///     Schema::new(serde_json::json!({ "required": ["id"] })).expect("the order schema is valid")
/// });
///
/// impl<S> BodySchema<S> for Order {
///     fn body_schema(_state: &S) -> Schema {
///         ORDER.clone()
///     }
/// }
///
/// // Or from the state.
/// #[derive(Clone)]
/// struct AppState { refund: Schema }
///
/// #[derive(serde::Deserialize)]
/// struct Refund { order: String }
///
/// impl BodySchema<AppState> for Refund {
///     fn body_schema(state: &AppState) -> Schema {
///         state.refund.clone()
///     }
/// }
/// ```
pub trait BodySchema<S> {
    /// The schema a request body must satisfy before it is deserialized as `Self`.
    fn body_schema(state: &S) -> Schema;
}

/// A JSON body checked against `T`'s [`BodySchema`], then deserialized as `T`.
///
/// Like [`lamplight_http::Json`]: another content type is 415, malformed JSON 400, a body over
/// the limit 413. A body that breaks the schema is 422 with every violation in `fields`
/// (`body.items[0].qty`), as is one that satisfies the schema but not `T`.
///
/// ```
/// use axum::{Router, routing::post};
/// use lamplight_validation::{BodySchema, Schema, Valid};
///
/// #[derive(Clone)]
/// struct AppState { order: Schema }
///
/// #[derive(serde::Deserialize)]
/// struct Order { id: String }
///
/// impl BodySchema<AppState> for Order {
///     fn body_schema(state: &AppState) -> Schema {
///         state.order.clone()
///     }
/// }
///
/// async fn create(Valid(order): Valid<Order>) -> String {
///     order.id
/// }
///
/// let state = AppState { order: Schema::new(serde_json::json!({ "required": ["id"] }))? };
/// let app: Router = Router::new().route("/orders", post(create)).with_state(state);
/// # Ok::<(), lamplight_validation::SchemaError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Valid<T>(pub T);

impl<T, S> FromRequest<S> for Valid<T>
where
    T: DeserializeOwned + BodySchema<S>,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // lamplight-http's extractor answers content type, size and syntax problems exactly
        // as the function's other routes do.
        let lamplight_http::Json(body) =
            lamplight_http::Json::<Value>::from_request(req, state).await?;
        let schema = T::body_schema(state);
        schema.check(&body, Subject::Body)?;
        Ok(Valid(deserialize(body, Subject::Body)?))
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn pointers_become_lamplight_http_fields() {
        assert_eq!(field(""), "body");
        assert_eq!(field("/items/0/qty"), "body.items[0].qty");
        assert_eq!(field("/a~1b~0c"), "body.a/b~c");
    }
}
