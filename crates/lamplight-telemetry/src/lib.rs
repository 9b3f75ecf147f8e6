//! Telemetry for lamplight functions: what a function says (logs), what it did (X-Ray traces)
//! and how much (EMF metrics), set up by `lamplight::run` with no collector layer.
//!
//! | module | holds |
//! |---|---|
//! | [`logs`] | the log subscriber: Lambda-shaped JSON or plain text, request and trace ids on every line |
//! | [`redact`] | secret detection for names of variables, fields and headers |

pub mod logs;
pub mod redact;
