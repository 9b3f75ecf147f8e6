//! lamplight: AWS Lambda functions in Rust with a thin handler over a pure, testable worker.
//!
//! A function's `main` is three lines:
//!
//! ```no_run
//! # use lamplight::Invocation;
//! # async fn handler(event: serde_json::Value, _inv: Invocation) -> Result<serde_json::Value, std::io::Error> { Ok(event) }
//! #[tokio::main]
//! async fn main() -> Result<(), lamplight::RuntimeError> {
//!     lamplight::run(handler).await
//! }
//! ```
//!
//! | module | holds |
//! |---|---|
//! | [`runtime`] | [`run`] (serve invocations) and [`init`] (state built once per execution environment) |
//! | [`runtime::streaming`] | [`run_streaming`]: handlers that answer with a stream of bytes, sent as it is produced |
//! | [`invocation`] | [`Invocation`]: request id, deadline, parsed ARN and trace header, caller context |
//! | [`env`] | reserved variable names ([`env::vars`]) and [`Env`], their typed view |
//! | [`config`] | the function's own settings from env vars, all problems reported at once |
//! | [`error`] | [`FunctionError`], the `errorType`/`errorMessage`/`stackTrace` document |
//! | [`shutdown`] | graceful shutdown: SIGTERM flushes telemetry, [`on_shutdown`] hooks |
//! | [`managed`] | [`run_concurrent`]; how [`run`] serves many invocations at once (`AWS_LAMBDA_MAX_CONCURRENCY`) |
//! | [`concurrent`] | [`concurrent::all_settled`], [`concurrent::fan_out`], [`concurrent::Collector`] |
//!
//! **The handler/worker split.** Keep `main.rs` a thin handler: it receives the event and the
//! [`Invocation`] and calls a *worker*, plain async Rust that takes typed input, the invocation
//! (or just the parts it needs) and injected clients. The worker is unit-tested with
//! [`Invocation::builder`], with no Lambda around it.

pub mod concurrent;
pub mod config;
pub mod env;
pub mod error;
pub mod invocation;
pub mod managed;
pub mod runtime;
pub mod shutdown;

pub use env::Env;
pub use error::{BoxError, FunctionError};
pub use invocation::{FunctionArn, Invocation};
pub use lamplight_xray::TraceHeader;
pub use managed::run_concurrent;
pub use runtime::streaming::{
    IntoStreamResponse, StreamResponse, respond_streaming, run_streaming,
};
pub use runtime::{RuntimeError, init, respond, run};
pub use shutdown::on_shutdown;
