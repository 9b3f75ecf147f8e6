//! The Lambda error document: what a failed invocation returns to its caller.
//!
//! Every error a handler returns reaches Lambda as
//! `{"errorType": "...", "errorMessage": "...", "stackTrace": [...]}`:
//!
//! - `errorType` is the short name of the handler's error type (`GreetError`, `io::Error`), not
//!   `&alloc::boxed::Box<dyn Error>`; return a [`FunctionError`] to choose it yourself;
//! - `errorMessage` is the error and its `source()` chain, joined with `: `;
//! - `stackTrace` is set for panics (their location, plus the backtrace when `RUST_BACKTRACE`
//!   is set) and when a [`FunctionError`] carries one.
//!
//! All three are scrubbed of secrets ([`lamplight_telemetry::redact::scrub`]: URL credentials,
//! `password=…` pairs, bearer tokens, this process's own secret values) when the document is
//! built and again when it is serialized, so a struct literal cannot slip one through. A panic
//! whose message carries a secret is printed scrubbed too (instead of by the previous hook).

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::RefCell;
use std::fmt;
use std::panic::PanicHookInfo;
use std::sync::Once;

use lamplight_telemetry::redact::scrub;
use serde::{Deserialize, Serialize, Serializer};

/// A boxed error, what every handler error converts into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error document Lambda returns to the caller of a failed invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionError {
    /// A short, stable name for the kind of failure.
    #[serde(serialize_with = "scrubbed")]
    pub error_type: String,
    /// What went wrong, with its causes.
    #[serde(serialize_with = "scrubbed")]
    pub error_message: String,
    /// Where it went wrong, outermost frame first.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "scrubbed_frames"
    )]
    pub stack_trace: Option<Vec<String>>,
}

fn scrubbed<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&scrub(text))
}

fn scrubbed_frames<S: Serializer>(
    frames: &Option<Vec<String>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq as _;
    match frames {
        None => serializer.serialize_none(),
        Some(frames) => {
            let mut seq = serializer.serialize_seq(Some(frames.len()))?;
            for frame in frames {
                seq.serialize_element(&*scrub(frame))?;
            }
            seq.end()
        }
    }
}

/// `text` scrubbed, reusing it when there was nothing to remove.
fn clean(text: String) -> String {
    match scrub(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(scrubbed) => scrubbed,
    }
}

impl FunctionError {
    /// An error of the given type and message.
    /// Both are scrubbed of secrets.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self {
            error_type: clean(error_type.into()),
            error_message: clean(error_message.into()),
            stack_trace: None,
        }
    }

    /// Attaches stack frames (scrubbed of secrets).
    pub fn with_stack_trace(mut self, frames: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.stack_trace = Some(frames.into_iter().map(|f| clean(f.into())).collect());
        self
    }

    /// The same document with every field scrubbed (for one built as a struct literal).
    fn scrubbed(self) -> Self {
        Self {
            error_type: clean(self.error_type),
            error_message: clean(self.error_message),
            stack_trace: self
                .stack_trace
                .map(|frames| frames.into_iter().map(clean).collect()),
        }
    }

    /// The document for `error`, whose static type is `E`.
    ///
    /// A [`FunctionError`] passes through (scrubbed). For type-erased errors (`Box<dyn Error>`,
    /// `anyhow::Error`, strings) the type is `Error`.
    pub fn from_handler_error<E>(error: E) -> Self
    where
        E: Into<BoxError> + 'static,
    {
        let type_name = std::any::type_name::<E>();
        let boxed: BoxError = error.into();
        match boxed.downcast::<FunctionError>() {
            Ok(doc) => doc.scrubbed(),
            Err(boxed) => Self::new(short_type_name(type_name), chain(boxed.as_ref())),
        }
    }

    /// The document for a panic payload, with the location and backtrace the panic hook saw.
    pub(crate) fn from_panic(payload: &(dyn Any + Send)) -> Self {
        Self::from_panic_in(payload, "the handler")
    }

    /// The same for a panic in `what` (`decoding the event as ...`), so the message names the
    /// step that panicked.
    pub(crate) fn from_panic_in(payload: &(dyn Any + Send), what: &str) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".to_owned());
        let report = LAST_PANIC.with(|p| p.borrow_mut().take());
        let mut doc = Self::new("Panic", format!("{what} panicked: {message}"));
        if let Some(report) = report {
            let mut frames = Vec::new();
            if let Some(location) = report.location {
                doc.error_message = format!("{what} panicked at {location}: {message}");
                frames.push(location);
            }
            frames.extend(report.backtrace);
            if !frames.is_empty() {
                doc.stack_trace = Some(frames);
            }
        }
        doc.scrubbed()
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

impl std::error::Error for FunctionError {}

/// `error` and its causes, joined with `: `, skipping causes the message already includes.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// `my_fn::worker::GreetError` -> `GreetError`; `std::io::error::Error` -> `io::Error`;
/// type-erased wrappers -> `Error`.
pub fn short_type_name(full: &str) -> String {
    let erased = [
        "alloc::boxed::Box<dyn ",
        "anyhow::Error",
        "eyre::Report",
        "alloc::string::String",
        "&str",
    ];
    if erased.iter().any(|e| full.starts_with(e)) {
        return "Error".to_owned();
    }
    let base = full
        .split('<')
        .next()
        .unwrap_or(full)
        .trim_start_matches('&');
    let mut segments = base.rsplit("::");
    let last = segments.next().unwrap_or(base);
    if last != "Error" {
        return last.to_owned();
    }
    // `Error` alone says little: name the module it comes from.
    match segments.find(|s| *s != "error") {
        Some(module) => format!("{module}::Error"),
        None => last.to_owned(),
    }
}

struct PanicReport {
    location: Option<String>,
    backtrace: Vec<String>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<PanicReport>> = const { RefCell::new(None) };
}

/// Installs a panic hook (once) that records each panic's location and backtrace for the
/// error document, then runs the previous hook so the panic is still printed to the logs.
pub(crate) fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            let message = info.payload_as_str().unwrap_or("Box<dyn Any>");
            let backtrace = Backtrace::capture();
            let frames = if backtrace.status() == BacktraceStatus::Captured {
                backtrace
                    .to_string()
                    .lines()
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect()
            } else {
                Vec::new()
            };
            LAST_PANIC.with(|p| {
                *p.borrow_mut() = Some(PanicReport {
                    location: info.location().map(|l| l.to_string()),
                    backtrace: frames.clone(),
                })
            });
            // The previous hook (the default one prints to stderr) would show the secret:
            // print the panic the same way, scrubbed.
            if let std::borrow::Cow::Owned(scrubbed) = scrub(message) {
                let thread = std::thread::current();
                let location = info.location().map(|l| l.to_string()).unwrap_or_default();
                let mut text = format!(
                    "\nthread '{}' panicked at {location}:\n{scrubbed}\n",
                    thread.name().unwrap_or("<unnamed>")
                );
                for frame in &frames {
                    text.push_str(&scrub(frame));
                    text.push('\n');
                }
                use std::io::Write as _;
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
                return;
            }
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum GreetError {
        #[error("no name given")]
        NoName,
        #[error("could not load the greeting")]
        Load(#[source] std::io::Error),
    }

    #[test]
    fn user_errors_are_named_by_their_type_with_the_chain_in_the_message() {
        let doc = FunctionError::from_handler_error(GreetError::Load(std::io::Error::other(
            "disk on fire",
        )));
        assert_eq!(doc.error_type, "GreetError");
        assert_eq!(
            doc.error_message,
            "could not load the greeting: disk on fire"
        );
        assert_eq!(doc.stack_trace, None);
        let json = serde_json::to_value(FunctionError::from_handler_error(GreetError::NoName))
            .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"errorType": "GreetError", "errorMessage": "no name given"})
        );
    }

    #[test]
    fn type_erased_errors_are_plain_error_and_function_errors_pass_through() {
        let boxed: BoxError = "boom".into();
        assert_eq!(FunctionError::from_handler_error(boxed).error_type, "Error");
        assert_eq!(
            FunctionError::from_handler_error(String::from("x")).error_type,
            "Error"
        );
        let custom = FunctionError::new("Validation", "bad input").with_stack_trace(["a.rs:1"]);
        assert_eq!(FunctionError::from_handler_error(custom.clone()), custom);
        let json = serde_json::to_value(&custom).expect("json");
        assert_eq!(json["stackTrace"], serde_json::json!(["a.rs:1"]));
    }

    #[test]
    fn error_documents_never_carry_secrets() {
        #[derive(Debug, thiserror::Error)]
        #[error("connect to postgres://app:hunter2@db:5432/app")]
        struct DbError(#[source] std::io::Error);
        let doc = FunctionError::from_handler_error(DbError(std::io::Error::other(
            "auth failed for password=hunter2",
        )));
        assert_eq!(
            doc.error_message,
            "connect to postgres://[redacted]@db:5432/app: auth failed for password=[redacted]"
        );
        let built = FunctionError::new("Http", "sent Authorization: Bearer abcdefgh12345")
            .with_stack_trace(["at token=hunter2"]);
        assert_eq!(built.error_message, "sent Authorization: [redacted]");
        assert_eq!(
            built.stack_trace,
            Some(vec!["at token=[redacted]".to_owned()])
        );
        // A literal skips the constructors; serializing still scrubs.
        let literal = FunctionError {
            error_type: "E".into(),
            error_message: "api_key=hunter2".into(),
            stack_trace: Some(vec!["redis://:hunter2@cache".into()]),
        };
        let json = serde_json::to_string(&literal).expect("json");
        assert!(!json.contains("hunter2"), "{json}");
        let passed = FunctionError::from_handler_error(literal);
        assert_eq!(passed.error_message, "api_key=[redacted]");
    }

    #[test]
    fn panic_text_is_scrubbed() {
        install_panic_hook();
        let payload = std::panic::catch_unwind(|| {
            panic!("could not reach https://ada:hunter2@api.example/v1");
        })
        .expect_err("panicked");
        let doc = FunctionError::from_panic(payload.as_ref());
        assert_eq!(doc.error_type, "Panic");
        assert!(
            doc.error_message
                .ends_with("could not reach https://[redacted]@api.example/v1"),
            "{}",
            doc.error_message
        );
        assert!(
            !serde_json::to_string(&doc)
                .expect("json")
                .contains("hunter2")
        );
    }

    #[test]
    fn short_names_keep_the_module_of_a_bare_error() {
        assert_eq!(short_type_name("my_fn::worker::GreetError"), "GreetError");
        assert_eq!(short_type_name("std::io::error::Error"), "io::Error");
        assert_eq!(
            short_type_name("serde_json::error::Error"),
            "serde_json::Error"
        );
        assert_eq!(
            short_type_name("my::Wrapper<alloc::string::String>"),
            "Wrapper"
        );
        assert_eq!(
            short_type_name(
                "alloc::boxed::Box<dyn core::error::Error + core::marker::Send + core::marker::Sync>"
            ),
            "Error"
        );
    }
}
