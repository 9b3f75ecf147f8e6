//! The interface an execution environment sees its deployment through.
//!
//! An environment needs its deployment's configuration and the pool it returns to, and the
//! pool holds its environments: without this trait the two modules would import each other.
//! It is not a pass-through: the pool's side of an environment's lifecycle (register, next
//! work, requeue, gone) is implemented only in `Deployment`'s impl of it.

use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config::FunctionConfig;
use crate::context::ServiceContext;
use crate::invocation::Pending;
use crate::logs::LogSink;

/// A deployment as its environments see it. `Environment` is the pool's member type, left
/// open here so this module sits below both the pool and the environment.
pub(crate) trait EnvironmentHost: Send + Sync + 'static {
    type Environment;

    fn config(&self) -> &FunctionConfig;
    fn arn(&self) -> &str;
    /// `$LATEST` or a published version number.
    fn version(&self) -> &str;
    /// `LAMBDA_TASK_ROOT`, when the code has a directory.
    fn task_root(&self) -> Option<&Path>;
    fn logs(&self) -> &LogSink;
    fn context(&self) -> &ServiceContext;

    /// Counts a started environment in the pool, before its process can exit and leave.
    fn register(&self, env: Arc<Self::Environment>);
    /// The next queued invocation for `env`, or `None` after parking `env` as idle.
    fn next_for(&self, env: &Arc<Self::Environment>) -> Option<Pending>;
    /// Retired deployments take no new work: their idle environments stop.
    fn is_retired(&self) -> bool;
    /// An environment answered its invocation and will poll again soon.
    fn returning(&self);
    /// An environment that was returning polled again, or left.
    fn returned(&self);
    /// Puts back an invocation an environment accepted but never started.
    fn requeue(self: Arc<Self>, pending: Pending) -> BoxFuture<'static, ()>;
    /// Frees the place of a gone environment and starts a replacement for queued work.
    fn environment_gone(self: Arc<Self>, env_id: u64) -> BoxFuture<'static, ()>;
}
