//! Many invocations of one function at once (the seed signed and sent 100 with threads): at
//! most `concurrency` in flight, responses in input order, stop at the first failure or run
//! them all and name every failure.

use std::future::Future;

use bytes::Bytes;
use lamplight::BoxError;
use lamplight::concurrent::{AggregateError, fan_out, fan_out_settled};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The most invocations one event may ask for.
pub const MAX_COUNT: usize = 1000;

/// The event.
#[derive(Debug, Clone, Deserialize)]
pub struct FanOut {
    /// The function to invoke (name or ARN, with an optional `:qualifier`).
    pub function: String,
    /// How many invocations (default 100).
    #[serde(default = "hundred")]
    pub count: usize,
    /// The most in flight at once (default: all of them).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Sent to every invocation as `{"index": i, "input": payload}`.
    #[serde(default)]
    pub payload: Value,
    /// Run every invocation even when some fail, and name every failure.
    #[serde(default)]
    pub collect_all: bool,
}

fn hundred() -> usize {
    100
}

/// The response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The function invoked.
    pub function: String,
    /// How many invocations ran.
    pub invoked: usize,
    /// Their responses, in input order.
    pub responses: Vec<Value>,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum FanOutError {
    /// More invocations than [`MAX_COUNT`].
    #[error("count {0} is over the limit of {MAX_COUNT} invocations per event")]
    TooMany(usize),
    /// The first failure (fail fast).
    #[error("an invocation of {function} failed: {source}")]
    Invocation {
        /// The function.
        function: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// Every failure (`collect_all`).
    #[error(transparent)]
    Failed(#[from] AggregateError),
}

/// Invokes a function: the Lambda API in the function, a fake in tests.
pub trait Invoker: Sync {
    /// Invokes `function` with `payload`; a function error is an `Err`.
    fn invoke(
        &self,
        function: &str,
        payload: Bytes,
    ) -> impl Future<Output = Result<Bytes, BoxError>> + Send;
}

/// The payload of invocation `index`.
pub fn payload(index: usize, input: &Value) -> Bytes {
    Bytes::from(json!({"index": index, "input": input}).to_string())
}

/// Runs the fan-out `input` asks for.
#[tracing::instrument(skip_all, fields(function = %input.function, count = input.count))]
pub async fn run(input: &FanOut, invoker: &impl Invoker) -> Result<Summary, FanOutError> {
    if input.count > MAX_COUNT {
        return Err(FanOutError::TooMany(input.count));
    }
    let limit = input.concurrency.unwrap_or(input.count).max(1);
    let payloads = (0..input.count).map(|i| payload(i, &input.payload));
    let call = |payload: Bytes| async move {
        let answer = invoker.invoke(&input.function, payload).await?;
        serde_json::from_slice::<Value>(&answer).map_err(BoxError::from)
    };
    let responses = if input.collect_all {
        fan_out_settled(payloads, limit, call).await.into_result()?
    } else {
        fan_out(payloads, limit, call)
            .await
            .map_err(|source| FanOutError::Invocation {
                function: input.function.clone(),
                source,
            })?
    };
    Ok(Summary {
        function: input.function.clone(),
        invoked: responses.len(),
        responses,
    })
}

/// The function the fan-out calls in the examples: `{"index": n}` answers `n²`.
pub fn square(event: &Value) -> Result<Value, BoxError> {
    let n = event
        .get("index")
        .and_then(Value::as_u64)
        .ok_or("the event needs a numeric `index`")?;
    if event["input"]["fail_on"].as_u64() == Some(n) {
        return Err(format!("told to fail on {n}").into());
    }
    Ok(json!({"index": n, "square": n * n}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Answers with `square`, slower for low indexes so answers arrive out of order.
    struct Local {
        calls: AtomicUsize,
    }

    impl Invoker for Local {
        async fn invoke(&self, _function: &str, payload: Bytes) -> Result<Bytes, BoxError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let event: Value = serde_json::from_slice(&payload)?;
            let delay = 20u64.saturating_sub(event["index"].as_u64().unwrap_or(0));
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            Ok(Bytes::from(square(&event)?.to_string()))
        }
    }

    fn local() -> Local {
        Local {
            calls: AtomicUsize::new(0),
        }
    }

    fn event(value: Value) -> FanOut {
        serde_json::from_value(value).expect("event")
    }

    #[tokio::test]
    async fn responses_come_back_in_input_order() {
        let summary = run(&event(json!({"function": "square", "count": 30})), &local())
            .await
            .expect("fan-out");
        assert_eq!(summary.invoked, 30);
        for (i, r) in summary.responses.iter().enumerate() {
            assert_eq!(r["square"], json!(i * i));
        }
    }

    #[tokio::test]
    async fn collect_all_names_every_failure() {
        let invoker = local();
        let error = run(
            &event(
                json!({"function": "square", "count": 10, "collect_all": true,
                          "payload": {"fail_on": 4}}),
            ),
            &invoker,
        )
        .await
        .expect_err("one fails");
        assert_eq!(invoker.calls.load(Ordering::SeqCst), 10, "all ran");
        assert!(error.to_string().contains("told to fail on 4"), "{error}");
    }

    #[tokio::test]
    async fn too_many_is_refused_before_any_call() {
        let invoker = local();
        let error = run(&event(json!({"function": "f", "count": 5000})), &invoker)
            .await
            .expect_err("too many");
        assert_eq!(
            error.to_string(),
            "count 5000 is over the limit of 1000 invocations per event"
        );
        assert_eq!(invoker.calls.load(Ordering::SeqCst), 0);
    }
}
