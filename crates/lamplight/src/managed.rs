//! Lambda Managed Instances: one execution environment serving several invocations at once.
//!
//! Lambda sets `AWS_LAMBDA_MAX_CONCURRENCY` to N there and expects the runtime to keep up to N
//! `GET /next` polls outstanding. lamplight does so with N poll loops over the one shared worker
//! (see [`crate::runtime`]), each serving its events one after another:
//!
//! - [`run`](crate::run) keeps its bounds (no `Send` asked of the handler): its N loops take
//!   turns on the task that called it, so invocations overlap while they wait (I/O: SDK calls,
//!   HTTP, timers) but their CPU work runs one at a time. Nothing an existing handler relies on
//!   changes, except that invocations now overlap.
//! - [`run_concurrent`] asks the handler, its future, the event and the response to be
//!   `Send` (and the handler `Sync`: every loop shares it): its N loops are tokio tasks, so
//!   invocations also run on every worker thread at once.
//!
//! What belongs to one invocation stays with it, never in process-wide state set per event:
//! the trace context comes from each event's `Lambda-Runtime-Trace-Id` header and becomes the
//! parent of that invocation's span (`_X_AMZN_TRACE_ID` is neither read nor set in this mode:
//! one variable cannot hold N invocations' traces, aws-lambda-rust-runtime#1065); log lines
//! carry the request and trace ids of the span they are logged in; EMF metrics are kept per
//! invocation ([`lamplight_telemetry::metrics::scope`]) and each line carries its invocation's
//! `requestId` and `traceId` properties; and each invocation sends only its own trace's spans
//! after its response, so none waits on the export of another's.

use std::future::Future;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::BoxError;
use crate::invocation::Invocation;
use crate::runtime::{RuntimeApiFailure, RuntimeError, concurrency};

/// Serves invocations with `handler`, as many at once as `AWS_LAMBDA_MAX_CONCURRENCY` says,
/// each on its own tokio task (one at a time when the variable is not set or is 1, exactly as
/// [`run`](crate::run)).
///
/// Everything [`run`](crate::run) does per invocation holds here (error documents, panics
/// answered, telemetry); what differs is in the [module documentation](self). State shared
/// between invocations must be `Sync`: build it with [`init`](crate::init), which gives a
/// `&'static` reference, and guard what changes (a `Mutex`, atomics, a concurrent map).
///
/// ```no_run
/// use lamplight::Invocation;
///
/// async fn handler(name: String, inv: Invocation) -> Result<String, std::io::Error> {
///     Ok(format!("hello {name} from {}", inv.request_id()))
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), lamplight::RuntimeError> {
///     lamplight::run_concurrent(handler).await
/// }
/// ```
pub async fn run_concurrent<F, Fut, Ev, R, E>(handler: F) -> Result<(), RuntimeError>
where
    F: Fn(Ev, Invocation) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    Ev: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    E: Into<BoxError> + Send + 'static,
{
    let (api, worker) = crate::runtime::start(handler).await?;
    let n = concurrency(&worker.env);
    let stopped = if n == 1 {
        crate::runtime::serve(&api, &worker).await
    } else {
        tracing::debug!("serving {n} invocations at once, one task each");
        let api = Arc::new(api);
        let worker = Arc::new(worker);
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (api, worker) = (api.clone(), worker.clone());
            loops.spawn(async move {
                loop {
                    match api.next().await {
                        Ok(event) => worker.invoke_one_of_many(&api, event).await,
                        Err(e) => return e,
                    }
                }
            });
        }
        let first = loops.join_next().await;
        loops.abort_all();
        match first {
            Some(Ok(failure)) => failure,
            // Each invocation catches its own panics: a loop that ended otherwise was
            // cancelled or panicked outside any invocation.
            Some(Err(e)) => RuntimeApiFailure::LoopEnded {
                reason: e.to_string(),
            },
            None => RuntimeApiFailure::LoopEnded {
                reason: "no poll loop was started".into(),
            },
        }
    };
    Err(crate::runtime::stopped_by(stopped).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Env, vars};

    fn env_with(value: Option<&str>) -> Result<Env, crate::env::EnvError> {
        let mut v = vec![
            (vars::AWS_LAMBDA_FUNCTION_NAME, "f"),
            (vars::AWS_LAMBDA_FUNCTION_VERSION, "$LATEST"),
            (vars::AWS_LAMBDA_FUNCTION_MEMORY_SIZE, "128"),
        ];
        if let Some(value) = value {
            v.push((vars::AWS_LAMBDA_MAX_CONCURRENCY, value));
        }
        Env::from_vars(v)
    }

    #[test]
    fn the_concurrency_is_the_variable_or_one() {
        assert_eq!(concurrency(&env_with(None).expect("valid")), 1);
        assert_eq!(concurrency(&env_with(Some("")).expect("valid")), 1);
        assert_eq!(concurrency(&env_with(Some("1")).expect("valid")), 1);
        assert_eq!(concurrency(&env_with(Some("64")).expect("valid")), 64);
        assert_eq!(concurrency(&env_with(Some(" 8 ")).expect("valid")), 8);
    }

    #[test]
    fn a_concurrency_that_is_not_a_whole_number_above_zero_is_refused_by_name() {
        for (value, says) in [
            ("0", "`0` invocations at once: it must be at least 1"),
            ("many", "`many` is not a whole number"),
            ("-2", "`-2` is not a whole number"),
            ("2.5", "`2.5` is not a whole number"),
            ("99999999999", "`99999999999` is not a whole number"),
        ] {
            let err = env_with(Some(value)).expect_err(value).to_string();
            assert!(err.contains(vars::AWS_LAMBDA_MAX_CONCURRENCY), "{err}");
            assert!(err.contains(says), "{value}: {err}");
        }
    }
}
