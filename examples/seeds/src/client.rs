//! A function calling another function as an HTTP service (the seed's httpx transport for
//! `http+lambda://function/path`): requests go out as API Gateway events through the Lambda
//! API, answers come back as HTTP responses, several at once, in input order.

use std::future::Future;

use bytes::Bytes;
use http::{Method, Request, Response};
use lamplight::BoxError;
use lamplight::concurrent::fan_out;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One request to make.
#[derive(Debug, Clone, Deserialize)]
pub struct Call {
    /// `GET` unless given.
    #[serde(default)]
    pub method: Option<String>,
    /// The path with its query string, `/items?limit=5`.
    pub path: String,
    /// A JSON body.
    #[serde(default)]
    pub body: Option<Value>,
}

/// The event.
#[derive(Debug, Clone, Deserialize)]
pub struct Calls {
    /// The function serving HTTP.
    pub function: String,
    /// The requests, made side by side (at most 8 at once) unless `in_order` is set.
    pub requests: Vec<Call>,
    /// One after the other: for requests that depend on each other (create, then read).
    #[serde(default)]
    pub in_order: bool,
}

/// One answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// `GET /items/1`.
    pub request: String,
    /// The status.
    pub status: u16,
    /// The JSON body, or the text of a body that is not JSON.
    pub body: Value,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A request in the event does not make an HTTP request.
    #[error("request {index} (`{method} {path}`) is not valid: {reason}")]
    BadRequest {
        /// Its position.
        index: usize,
        /// Its method.
        method: String,
        /// Its path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The transport failed (the function could not be called, or failed).
    #[error("calling {function} failed: {source}")]
    Transport {
        /// The function.
        function: String,
        /// Why.
        #[source]
        source: BoxError,
    },
}

/// Sends HTTP requests: the Lambda transport in the function, a fake in tests.
pub trait Http: Sync {
    /// Sends one request.
    fn send(
        &self,
        request: Request<String>,
    ) -> impl Future<Output = Result<Response<Bytes>, BoxError>> + Send;
}

fn build(function: &str, index: usize, call: &Call) -> Result<Request<String>, ClientError> {
    let method = call.method.as_deref().unwrap_or("GET").to_ascii_uppercase();
    let bad = |reason: String| ClientError::BadRequest {
        index,
        method: method.clone(),
        path: call.path.clone(),
        reason,
    };
    if !call.path.starts_with('/') {
        return Err(bad("the path must start with `/`".into()));
    }
    let parsed = Method::from_bytes(method.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let mut builder = Request::builder()
        .method(parsed)
        .uri(format!("http+lambda://{function}{}", call.path));
    let body = match &call.body {
        Some(v) => {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            v.to_string()
        }
        None => String::new(),
    };
    builder.body(body).map_err(|e| bad(e.to_string()))
}

/// Makes every request of `calls`.
#[tracing::instrument(skip_all, fields(function = %calls.function, requests = calls.requests.len()))]
pub async fn run(calls: &Calls, http: &impl Http) -> Result<Vec<Answer>, ClientError> {
    let requests = calls
        .requests
        .iter()
        .enumerate()
        .map(|(i, c)| build(&calls.function, i, c))
        .collect::<Result<Vec<_>, _>>()?;
    let limit = if calls.in_order { 1 } else { 8 };
    fan_out(requests, limit, |request| async move {
        let label = format!("{} {}", request.method(), request.uri().path());
        let response = http.send(request).await?;
        let body = serde_json::from_slice(response.body()).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(response.body()).into_owned())
        });
        Ok::<_, BoxError>(Answer {
            request: label,
            status: response.status().as_u16(),
            body,
        })
    })
    .await
    .map_err(|source| ClientError::Transport {
        function: calls.function.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Echo;

    impl Http for Echo {
        async fn send(&self, request: Request<String>) -> Result<Response<Bytes>, BoxError> {
            if request.uri().path() == "/down" {
                return Err("connection refused".into());
            }
            let body = json!({"uri": request.uri().to_string(), "body": request.body()});
            Ok(Response::new(Bytes::from(body.to_string())))
        }
    }

    fn calls(requests: Value) -> Calls {
        serde_json::from_value(json!({"function": "api", "requests": requests})).expect("calls")
    }

    #[tokio::test]
    async fn requests_go_to_the_function_and_answers_keep_their_order() {
        let answers = run(
            &calls(json!([{"path": "/a?x=1"}, {"method": "post", "path": "/b", "body": {"n": 1}}])),
            &Echo,
        )
        .await
        .expect("answers");
        assert_eq!(answers[0].request, "GET /a");
        assert_eq!(answers[0].body["uri"], "http+lambda://api/a?x=1");
        assert_eq!(answers[1].request, "POST /b");
        assert_eq!(answers[1].body["body"], "{\"n\":1}");
    }

    #[tokio::test]
    async fn bad_requests_are_refused_before_any_call() {
        let error = run(&calls(json!([{"path": "no-slash"}])), &Echo)
            .await
            .expect_err("bad path");
        assert_eq!(
            error.to_string(),
            "request 0 (`GET no-slash`) is not valid: the path must start with `/`"
        );
    }

    #[tokio::test]
    async fn transport_failures_name_the_function() {
        let error = run(&calls(json!([{"path": "/down"}])), &Echo)
            .await
            .expect_err("down");
        assert_eq!(error.to_string(), "calling api failed: connection refused");
    }
}
