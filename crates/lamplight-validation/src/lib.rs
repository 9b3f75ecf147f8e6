//! Check Lambda events and responses against a JSON Schema (the Powertools "validation"
//! utility), with [`jsonschema`] doing the checking.
//!
//! ```
//! use lamplight_validation::{Schema, validate_event};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Debug, Deserialize)]
//! struct Order { id: String, qty: u32 }
//!
//! let schema = Schema::new(json!({
//!     "type": "object",
//!     "required": ["id", "qty"],
//!     "properties": { "id": { "type": "string" }, "qty": { "type": "integer", "minimum": 1 } }
//! }))?;
//!
//! let order: Order = validate_event(&schema, json!({ "id": "o-1", "qty": 2 }))?;
//! assert_eq!(order.qty, 2);
//!
//! let err = validate_event::<Order>(&schema, json!({ "id": 7, "qty": 0 })).unwrap_err();
//! assert_eq!(err.violations().len(), 2);
//! assert_eq!(err.violations()[0].instance_path, "/id");
//! assert_eq!(err.violations()[0].keyword, "type");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | item | what it does |
//! |---|---|
//! | [`Schema`] | a compiled schema: [`Schema::new`] from a `serde_json::Value`, `str::parse`/[`FromStr`] from text; a bad schema is a [`SchemaError`] |
//! | [`Schema::validate`] | checks a value, every violation in one [`ValidationError`] |
//! | [`validate_event`] | checks an event, then deserializes it (a deserialize failure is a [`ValidationError`] naming the path) |
//! | [`validate_response`] | checks what a handler is about to return |
//! | [`ValidationError`] | every [`Violation`]: instance path (JSON pointer), failed keyword, message |
//! | `From<ValidationError> for` [`lamplight::FunctionError`] | the error document `{"errorType": "ValidationError", ...}` |
//! | `http` feature: `IntoResponse` for [`ValidationError`] and the `Valid` extractor | 422 with lamplight-http's body (`{"code": "validation_error", "message", "fields"}`) |
//!
//! | feature | default | adds |
//! |---|---|---|
//! | `http` | no | axum `IntoResponse` for [`ValidationError`], the `Valid<T>` extractor and its `BodySchema` trait (needs lamplight-http) |
//!
//! No environment variables are read.
//!
//! **Error documents.** A handler passed to [`lamplight::run`] that returns
//! `Result<_, ValidationError>` fails with `errorType` `ValidationError` (lamplight names the
//! document after the handler's error type). A handler with its own error type keeps the same
//! `errorType` by converting to a [`lamplight::FunctionError`] (`From` is implemented, so `?`
//! works in a handler returning `Result<_, FunctionError>`); a `Box<dyn Error>` would be named
//! `Error`.
//!
//! ```no_run
//! use std::sync::LazyLock;
//! use lamplight::Invocation;
//! use lamplight_validation::{Schema, ValidationError, validate_event};
//!
//! #[derive(serde::Deserialize)]
//! struct Order { id: String }
//!
//! // Compiled once per execution environment.
//! static ORDER: LazyLock<Schema> = LazyLock::new(|| {
//!     Schema::new(serde_json::json!({ "required": ["id"] })).expect("the order schema is valid")
//! });
//!
//! // An invalid event fails with {"errorType": "ValidationError", "errorMessage": "the event
//! // is invalid at /: \"id\" is a required property (required)"}
//! async fn handler(event: serde_json::Value, _inv: Invocation) -> Result<String, ValidationError> {
//!     let order: Order = validate_event(&ORDER, event)?;
//!     Ok(order.id)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lamplight::RuntimeError> {
//!     lamplight::run(handler).await
//! }
//! ```
//!
//! **Values stay out of messages.** Events carry personal data and secrets, and the messages end
//! up in error documents and logs, so a violation's message says `value` where the offending
//! value would be (`value is not of type "string"`); the schema's own words (enum members,
//! `const`, property names) are kept.
//!
//! **No remote schemas.** jsonschema's HTTP and file `$ref` resolution are disabled: a schema
//! that refers to another document is a [`SchemaError`] at [`Schema::new`], never a network call
//! during an invocation. Bundle referenced schemas under `$defs`.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

#[cfg(feature = "http")]
mod http;
#[cfg(feature = "http")]
pub use http::{BodySchema, Valid};

/// A compiled JSON Schema; cheap to clone (shared), so build it once per execution environment.
///
/// ```
/// use lamplight_validation::Schema;
///
/// let schema: Schema = r#"{ "type": "string", "maxLength": 3 }"#.parse()?;
/// assert!(schema.validate(&serde_json::json!("abc")).is_ok());
/// assert!(schema.validate(&serde_json::json!("abcd")).is_err());
///
/// let bad = Schema::new(serde_json::json!({ "type": "strnig" })).unwrap_err();
/// assert!(bad.to_string().contains("strnig"), "{bad}");
/// # Ok::<(), lamplight_validation::SchemaError>(())
/// ```
#[derive(Clone)]
pub struct Schema {
    validator: Arc<jsonschema::Validator>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema").finish_non_exhaustive()
    }
}

/// A schema that cannot be used: not JSON, not a valid JSON Schema, or one that refers to a
/// document that is not bundled in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The schema text is not JSON.
    #[error("the JSON Schema is not valid JSON: {0}; check the schema file or string")]
    NotJson(String),
    /// The schema is JSON but not a valid schema.
    #[error(
        "the JSON Schema is invalid at {location}: {message}; fix the schema (remote `$ref`s are not fetched: bundle them under `$defs`)"
    )]
    Invalid {
        /// Where in the schema (JSON pointer), `/` for the root.
        location: String,
        /// What is wrong there.
        message: String,
    },
}

impl Schema {
    /// Compiles `schema` (its `$schema` chooses the draft; 2020-12 when absent).
    ///
    /// # Errors
    ///
    /// [`SchemaError::Invalid`] when `schema` is not a valid JSON Schema or refers to another
    /// document.
    pub fn new(schema: Value) -> Result<Self, SchemaError> {
        let validator = jsonschema::validator_for(&schema).map_err(|e| {
            let location = match e.schema_path().as_str() {
                "" => "/".to_owned(),
                path => path.to_owned(),
            };
            SchemaError::Invalid {
                location,
                message: e.to_string(),
            }
        })?;
        Ok(Self {
            validator: Arc::new(validator),
        })
    }

    /// Checks `instance`; every violation is reported, not only the first.
    ///
    /// # Errors
    ///
    /// A [`ValidationError`] listing every [`Violation`].
    pub fn validate(&self, instance: &Value) -> Result<(), ValidationError> {
        self.check(instance, Subject::Value)
    }

    /// Whether `instance` satisfies the schema (faster than [`Schema::validate`]: it stops at
    /// the first violation and builds no messages).
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    fn check(&self, instance: &Value, subject: Subject) -> Result<(), ValidationError> {
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        let violations = self
            .validator
            .iter_errors(instance)
            .map(|e| Violation {
                instance_path: e.instance_path().as_str().to_owned(),
                keyword: e.kind().keyword().to_owned(),
                message: e.masked().to_string(),
            })
            .collect();
        Err(ValidationError::new(subject, violations))
    }
}

impl FromStr for Schema {
    type Err = SchemaError;

    /// Parses and compiles a schema written as JSON text.
    fn from_str(text: &str) -> Result<Self, SchemaError> {
        let value = serde_json::from_str(text).map_err(|e| SchemaError::NotJson(e.to_string()))?;
        Self::new(value)
    }
}

/// Checks `event` against `schema`, then deserializes it as `T`.
///
/// # Errors
///
/// A [`ValidationError`] with every schema violation, or, when the event satisfies the schema
/// but is not a `T`, one violation with keyword `deserialize` at the path serde stopped at.
pub fn validate_event<T: DeserializeOwned>(
    schema: &Schema,
    event: Value,
) -> Result<T, ValidationError> {
    schema.check(&event, Subject::Event)?;
    deserialize(event, Subject::Event)
}

/// Checks what a handler is about to return against `schema`, and hands it back.
///
/// ```
/// use lamplight_validation::{Schema, validate_response};
/// use serde_json::json;
///
/// let schema = Schema::new(json!({ "type": "object", "required": ["statusCode"] }))?;
/// let ok = validate_response(&schema, json!({ "statusCode": 200 }))?;
/// let err = validate_response(&schema, json!({ "body": "" })).unwrap_err();
/// assert!(err.to_string().starts_with("the response is invalid"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// A [`ValidationError`] with every violation, or one with keyword `serialize` when `response`
/// cannot be serialized to JSON.
pub fn validate_response<T: Serialize>(schema: &Schema, response: T) -> Result<T, ValidationError> {
    let value = serde_json::to_value(&response).map_err(|e| {
        ValidationError::new(
            Subject::Response,
            vec![Violation {
                instance_path: String::new(),
                keyword: "serialize".to_owned(),
                message: e.to_string(),
            }],
        )
    })?;
    schema.check(&value, Subject::Response)?;
    Ok(response)
}

fn deserialize<T: DeserializeOwned>(value: Value, subject: Subject) -> Result<T, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        ValidationError::new(
            subject,
            vec![Violation {
                instance_path: pointer(e.path()),
                keyword: "deserialize".to_owned(),
                message: e.inner().to_string(),
            }],
        )
    })
}

/// serde's path (`items[0].qty`) as a JSON pointer (`/items/0/qty`), the form schema
/// violations use, so both kinds of failure read the same.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// What was checked, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Event,
    Response,
    Value,
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    Body,
}

impl Subject {
    fn as_str(self) -> &'static str {
        match self {
            Self::Event => "the event",
            Self::Response => "the response",
            Self::Value => "the value",
            Self::Body => "the request body",
        }
    }
}

/// One way an instance breaks its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// Where in the instance, as a JSON pointer (`/items/0/qty`; empty for the whole document).
    pub instance_path: String,
    /// The schema keyword that failed (`type`, `required`, `minimum`, ...), or `deserialize`
    /// when the value satisfied the schema but not the Rust type.
    pub keyword: String,
    /// What is wrong, without the offending value.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.instance_path.is_empty() {
            "/"
        } else {
            &self.instance_path
        };
        write!(f, "at {at}: {} ({})", self.message, self.keyword)
    }
}

/// An event, response or value that breaks its schema, with every [`Violation`].
///
/// Its `Display` is one line: `the event is invalid (2 violations): at /id: value is not of
/// type "string" (type); at /qty: value is less than the minimum of 1 (minimum)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    subject: Subject,
    violations: Vec<Violation>,
}

impl ValidationError {
    /// The `errorType` of the error document this becomes.
    pub const ERROR_TYPE: &'static str = "ValidationError";

    fn new(subject: Subject, violations: Vec<Violation>) -> Self {
        Self {
            subject,
            violations,
        }
    }

    /// Every violation, in the order the schema was checked.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Whether this is about a handler's response (a bug in the function) rather than its
    /// input (the caller's mistake).
    pub fn is_response(&self) -> bool {
        self.subject == Subject::Response
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.subject.as_str();
        match self.violations.as_slice() {
            [] => write!(f, "{what} is invalid"),
            [one] => write!(f, "{what} is invalid {one}"),
            many => {
                write!(f, "{what} is invalid ({} violations): ", many.len())?;
                for (i, v) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
        }
    }
}

impl From<ValidationError> for lamplight::FunctionError {
    fn from(error: ValidationError) -> Self {
        lamplight::FunctionError::new(ValidationError::ERROR_TYPE, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    fn order_schema() -> Schema {
        Schema::new(json!({
            "type": "object",
            "required": ["id", "items"],
            "properties": {
                "id": { "type": "string", "pattern": "^o-" },
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["sku", "qty"],
                        "properties": {
                            "sku": { "type": "string" },
                            "qty": { "type": "integer", "minimum": 1 }
                        }
                    }
                }
            }
        }))
        .expect("test setup")
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Order {
        id: String,
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        sku: String,
        qty: u8,
    }

    #[test]
    fn a_valid_event_is_deserialized() {
        let order: Order = validate_event(
            &order_schema(),
            json!({ "id": "o-1", "items": [{ "sku": "a", "qty": 2 }] }),
        )
        .expect("test setup");
        assert_eq!(order.items[0].qty, 2);
    }

    #[test]
    fn every_violation_is_listed_with_pointer_keyword_and_message() {
        let err = validate_event::<Order>(
            &order_schema(),
            json!({ "id": "x-secret-42", "items": [{ "sku": "a", "qty": 0 }, { "qty": "2" }] }),
        )
        .expect_err("should be rejected");
        let got: Vec<(&str, &str)> = err
            .violations()
            .iter()
            .map(|v| (v.instance_path.as_str(), v.keyword.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("/id", "pattern"),
                ("/items/0/qty", "minimum"),
                ("/items/1", "required"),
                ("/items/1/qty", "type"),
            ]
        );
        let text = err.to_string();
        assert!(
            text.starts_with("the event is invalid (4 violations): at /id: "),
            "{text}"
        );
        assert!(text.contains("\"sku\" is a required property"), "{text}");
        // The offending values stay out of the message.
        assert!(!text.contains("x-secret-42"), "{text}");
    }

    #[test]
    fn one_violation_reads_as_one_sentence() {
        let err = validate_event::<Order>(&order_schema(), json!({ "id": "o-1" }))
            .expect_err("should be rejected");
        assert_eq!(
            err.to_string(),
            "the event is invalid at /: \"items\" is a required property (required)"
        );
    }

    #[test]
    fn a_deserialize_failure_names_its_path() {
        // qty 300 satisfies the schema but not u8.
        let err = validate_event::<Order>(
            &order_schema(),
            json!({ "id": "o-1", "items": [{ "sku": "a", "qty": 300 }] }),
        )
        .expect_err("should be rejected");
        assert_eq!(err.violations().len(), 1);
        let v = &err.violations()[0];
        assert_eq!(v.instance_path, "/items/0/qty");
        assert_eq!(v.keyword, "deserialize");
        assert!(v.message.contains("300"), "{}", v.message);
    }

    #[test]
    fn a_bad_schema_is_a_clear_error() {
        let err =
            Schema::new(json!({ "type": "object", "properties": { "n": { "minimum": "one" } } }))
                .expect_err("should be rejected");
        let SchemaError::Invalid { location, message } = &err else {
            panic!("{err:?}")
        };
        assert!(location.contains("minimum"), "{location}");
        assert!(message.contains("one"), "{message}");
        assert!(
            err.to_string()
                .starts_with("the JSON Schema is invalid at ")
        );

        let err = "{ not json"
            .parse::<Schema>()
            .expect_err("should be rejected");
        assert!(matches!(err, SchemaError::NotJson(_)), "{err:?}");
    }

    #[test]
    fn remote_refs_are_refused_not_fetched() {
        let err = Schema::new(json!({ "$ref": "https://example.com/order.json" }))
            .expect_err("should be rejected");
        assert!(matches!(err, SchemaError::Invalid { .. }), "{err:?}");
        // Bundled definitions still work.
        let schema = Schema::new(json!({
            "$defs": { "id": { "type": "string" } },
            "properties": { "id": { "$ref": "#/$defs/id" } }
        }))
        .expect("test setup");
        assert!(schema.validate(&json!({ "id": "a" })).is_ok());
        assert!(schema.validate(&json!({ "id": 1 })).is_err());
    }

    #[test]
    fn responses_are_checked_and_returned() {
        let schema =
            Schema::new(json!({ "type": "object", "required": ["ok"] })).expect("test setup");
        let value = validate_response(&schema, json!({ "ok": true })).expect("test setup");
        assert_eq!(value, json!({ "ok": true }));
        let err = validate_response(&schema, json!({})).expect_err("should be rejected");
        assert!(err.is_response());
        assert!(err.to_string().starts_with("the response is invalid"));
    }

    #[test]
    fn the_error_document_is_named_validation_error() {
        let err =
            validate_event::<Order>(&order_schema(), json!({})).expect_err("should be rejected");
        // What lamplight::run does with a handler returning Result<_, ValidationError>.
        let doc = lamplight::FunctionError::from_handler_error(err.clone());
        assert_eq!(doc.error_type, "ValidationError");
        assert_eq!(doc.error_message, err.to_string());
        // And with a handler returning Result<_, FunctionError>.
        let doc = lamplight::FunctionError::from(err.clone());
        assert_eq!(doc.error_type, "ValidationError");
        let json = serde_json::to_value(&doc).expect("test setup");
        assert_eq!(json["errorType"], "ValidationError");
        assert!(
            json["errorMessage"]
                .as_str()
                .expect("test setup")
                .contains("\"id\" is a required property")
        );
    }

    #[test]
    fn pointer_escapes_like_json_pointer() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct W {
            #[serde(rename = "a/b~c")]
            field: Vec<u8>,
        }
        let schema = Schema::new(json!({})).expect("test setup");
        let err = validate_event::<W>(&schema, json!({ "a/b~c": [1, "x"] }))
            .expect_err("should be rejected");
        assert_eq!(err.violations()[0].instance_path, "/a~1b~0c/1");
    }
}
