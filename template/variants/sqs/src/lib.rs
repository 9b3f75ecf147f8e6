//! {{project-name}}: a Lambda function on lamplight.
//!
//! - [`worker`]: the business logic, plain Rust with no Lambda in it, unit-tested beside it;
//! - [`handler`]: the Lambda side: state built once per execution environment, events in,
//!   worker calls, responses out. `tests/handler.rs` snapshots its response to every sample
//!   event in `events/`.

pub mod handler;
pub mod worker;
