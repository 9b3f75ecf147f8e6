//! Ship lamplight functions with the official AWS SDK for Rust: the library behind
//! `cargo xtask build | package | deploy | invoke | get | list | delete | logs | traces`, shared by
//! this repository's xtask and every generated workspace's.
//!
//! A deploy is one call, [`pipeline::ship`]: build, package, connect, plan, apply, with
//! [`pipeline::Event`]s for the caller to show. The modules below are its parts, usable alone.
//!
//! | module | holds |
//! |---|---|
//! | [`pipeline`] | the whole deploy in one call, and `package` (build and zip) on its own |
//! | [`build`] | the `bootstrap` built for Lambda: cargo-zigbuild, else cargo with a cross linker |
//! | [`binary`] | ELF checks of a `bootstrap`: architecture, highest `GLIBC_x.y`, execute bit |
//! | [`package`] | the deterministic zip and its SHA-256 |
//! | [`settings`] | `[package.metadata.lamplight]` (and cargo-lambda's keys) as [`settings::DeploySettings`]; [`settings::validate_name`], the one check of a function name |
//! | [`aws`] | clients from the standard chain with `--endpoint-url`; retries of conflicts and throttles |
//! | [`role`] | the name of the role lamplight creates; IAM's URL-encoded policy documents read back |
//! | [`deploy`] | the plan (`--dry-run`) and its application: role, code, configuration, version, alias |
//! | [`trigger`] | `trigger` in the metadata: a Function URL, an SQS or DynamoDB stream mapping, an SNS subscription, an S3 notification, a schedule, an HTTP API, planned and applied idempotently |
//! | [`ops`] | invoke, get, list, delete (with the triggers, tagged queue or API, and role deploy created) |
//! | [`logs`] | CloudWatch Logs lines, filtered and followed |
//! | [`traces`] | X-Ray traces assembled and rendered |
//! | [`error`] | [`DeployError`]: every failure with what to do about it |

pub mod aws;
pub mod binary;
pub mod build;
pub mod deploy;
pub mod error;
pub mod logs;
pub mod ops;
pub mod package;
pub mod pipeline;
pub mod role;
pub mod settings;
pub mod traces;
pub mod trigger;

pub use error::DeployError;
