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

use std::any::Any;
use std::backtrace::{Backtrace, BacktraceStatus};
use std::cell::RefCell;
use std::fmt;
use std::panic::PanicHookInfo;
use std::sync::Once;

use serde::{Deserialize, Serialize};

/// A boxed error, what every handler error converts into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The error document Lambda returns to the caller of a failed invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionError {
    /// A short, stable name for the kind of failure.
    pub error_type: String,
    /// What went wrong, with its causes.
    pub error_message: String,
    /// Where it went wrong, outermost frame first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_trace: Option<Vec<String>>,
}

impl FunctionError {
    /// An error of the given type and message.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: error_message.into(),
            stack_trace: None,
        }
    }

    /// Attaches stack frames.
    pub fn with_stack_trace(mut self, frames: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.stack_trace = Some(frames.into_iter().map(Into::into).collect());
        self
    }

    /// The document for `error`, whose static type is `E`.
    ///
    /// A [`FunctionError`] passes through unchanged. For type-erased errors (`Box<dyn Error>`,
    /// `anyhow::Error`, strings) the type is `Error`.
    pub fn from_handler_error<E>(error: E) -> Self
    where
        E: Into<BoxError> + 'static,
    {
        let type_name = std::any::type_name::<E>();
        let boxed: BoxError = error.into();
        match boxed.downcast::<FunctionError>() {
            Ok(doc) => *doc,
            Err(boxed) => Self::new(short_type_name(type_name), chain(boxed.as_ref())),
        }
    }

    /// The document for a panic payload, with the location and backtrace the panic hook saw.
    pub(crate) fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "Box<dyn Any>".to_owned());
        let report = LAST_PANIC.with(|p| p.borrow_mut().take());
        let mut doc = Self::new("Panic", format!("the handler panicked: {message}"));
        if let Some(report) = report {
            let mut frames = Vec::new();
            if let Some(location) = report.location {
                doc.error_message = format!("the handler panicked at {location}: {message}");
                frames.push(location);
            }
            frames.extend(report.backtrace);
            if !frames.is_empty() {
                doc.stack_trace = Some(frames);
            }
        }
        doc
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
                    backtrace: frames,
                })
            });
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
