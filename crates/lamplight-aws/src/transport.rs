//! A Lambda function called as an HTTP service, with no API Gateway in between.
//!
//! [`LambdaTransport`] is a `tower::Service<http::Request<B>>`: it turns the request into the
//! API Gateway proxy event the function's HTTP layer expects (HTTP API payload 2.0 by default,
//! REST API 1.0 on request), invokes the function through the Lambda API (signed with SigV4
//! by the SDK: IAM is the authentication), and turns the proxy response back into an
//! `http::Response`: status, headers, multi-value headers, cookies, base64 bodies.
//! The conversion both ways is [`lamplight_proxy`]'s, shared with the local service's HTTP front.
//!
//! The function is the URI's host (`http+lambda://orders/items/7`, any scheme works), or the
//! one given to [`LambdaTransport::function`]. The transport is cheap to clone and every clone
//! shares the SDK client's connection pool, so one can serve many requests at once.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use lamplight_aws::{Aws, transport::LambdaTransport};
//!
//! let orders = LambdaTransport::new(Aws::shared().await.lambda());
//! let response = orders
//!     .send(http::Request::get("http+lambda://orders/items/7").body(String::new())?)
//!     .await?;
//! assert_eq!(response.status(), 200);
//! # Ok(()) }
//! ```
//!
//! A function error (`X-Amz-Function-Error`) is a [`TransportError::Function`] with the
//! function's `errorType` and `errorMessage`, not the bare 502 API Gateway would answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt as _, Full};
use lamplight_proxy::{Shape, Source};
use serde::Deserialize;
use serde_json::Value;

use crate::lambda::{InvokeError, invoke};

/// The event shape the function receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PayloadFormat {
    /// API Gateway HTTP API, payload format 2.0 (also what Function URLs send).
    #[default]
    HttpApi,
    /// API Gateway REST API proxy integration, payload format 1.0.
    RestApi,
}

/// Why a request got no HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Neither the URI nor the transport names a function.
    #[error(
        "no function to call for `{uri}`: put the function in the host \
         (`http+lambda://<function>/path`) or set one with `LambdaTransport::function`"
    )]
    NoFunction {
        /// The request URI.
        uri: String,
    },
    /// The request body could not be read.
    #[error("reading the request body for {function} failed")]
    Body {
        /// The function.
        function: String,
        /// The body's error.
        #[source]
        source: lamplight::BoxError,
    },
    /// The Lambda API refused the call or could not be reached.
    #[error(transparent)]
    Invoke(InvokeError),
    /// The function ran and failed.
    #[error("{function} failed with {error_type}: {error_message}")]
    Function {
        /// The function.
        function: String,
        /// The error document's `errorType`.
        error_type: String,
        /// The error document's `errorMessage`.
        error_message: String,
    },
    /// The function answered with something that is not a proxy response.
    #[error("{function} did not answer with an API Gateway proxy response: {reason}")]
    BadResponse {
        /// The function.
        function: String,
        /// What was wrong.
        reason: String,
    },
}

/// The service; see the [module](self) docs.
#[derive(Debug, Clone)]
pub struct LambdaTransport {
    client: aws_sdk_lambda::Client,
    function: Option<String>,
    qualifier: Option<String>,
    format: PayloadFormat,
}

impl LambdaTransport {
    /// Calls the function named by each request's host.
    pub fn new(client: aws_sdk_lambda::Client) -> Self {
        Self {
            client,
            function: None,
            qualifier: None,
            format: PayloadFormat::default(),
        }
    }

    /// Calls `function` (name, partial or full ARN) whatever the request's host.
    pub fn function(mut self, function: impl Into<String>) -> Self {
        self.function = Some(function.into());
        self
    }

    /// Calls this version or alias of the function.
    pub fn qualifier(mut self, qualifier: impl Into<String>) -> Self {
        self.qualifier = Some(qualifier.into());
        self
    }

    /// Sends events in `format`.
    pub fn format(mut self, format: PayloadFormat) -> Self {
        self.format = format;
        self
    }

    /// Sends one request (`&self`: no `poll_ready` needed, the transport is always ready).
    pub async fn send<B>(
        &self,
        request: Request<B>,
    ) -> Result<Response<Full<Bytes>>, TransportError>
    where
        B: Body,
        B::Error: Into<lamplight::BoxError>,
    {
        let function = self.function_for(&request)?;
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| TransportError::Body {
                function: function.clone(),
                source: e.into(),
            })?
            .to_bytes();
        let event = proxy_event(&parts, &body, self.format);
        let payload = Bytes::from(serde_json::to_vec(&event).unwrap_or_default());
        let target = match &self.qualifier {
            Some(q) => format!("{function}:{q}"),
            None => function.clone(),
        };
        let answer = match invoke(&self.client, &target, payload).await {
            Ok(answer) => answer,
            Err(InvokeError::Function { document, .. }) => {
                return Err(function_error(function, &document));
            }
            Err(e) => return Err(TransportError::Invoke(e)),
        };
        proxy_response(&answer, self.format)
            .map_err(|reason| TransportError::BadResponse { function, reason })
    }

    fn function_for<B>(&self, request: &Request<B>) -> Result<String, TransportError> {
        if let Some(f) = &self.function {
            return Ok(f.clone());
        }
        request
            .uri()
            .host()
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| TransportError::NoFunction {
                uri: request.uri().to_string(),
            })
    }
}

impl<B> tower_service::Service<Request<B>> for LambdaTransport
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<lamplight::BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, TransportError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), TransportError>> {
        // The SDK client queues and pools connections itself.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.send(request).await })
    }
}

fn function_error(function: String, document: &str) -> TransportError {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Document {
        #[serde(default)]
        error_type: String,
        #[serde(default)]
        error_message: String,
    }
    let parsed: Option<Document> = serde_json::from_str(document).ok();
    match parsed {
        Some(d) if !d.error_type.is_empty() || !d.error_message.is_empty() => {
            TransportError::Function {
                function,
                error_type: d.error_type,
                error_message: d.error_message,
            }
        }
        _ => TransportError::Function {
            function,
            error_type: "Unhandled".to_owned(),
            error_message: document.to_owned(),
        },
    }
}

/// The event for `format`, from [`lamplight_proxy`].
fn proxy_event(parts: &http::request::Parts, body: &[u8], format: PayloadFormat) -> Value {
    let shape = match format {
        PayloadFormat::HttpApi => Shape::HttpApi,
        PayloadFormat::RestApi => Shape::RestApi,
    };
    let source = Source {
        account: "anonymous".to_owned(),
        ..Source::new(parts.uri.host().unwrap_or("lambda"))
    };
    lamplight_proxy::event(shape, parts, body, &source)
}

#[cfg(test)]
fn http_api_event(parts: &http::request::Parts, body: &[u8]) -> Value {
    proxy_event(parts, body, PayloadFormat::HttpApi)
}

#[cfg(test)]
fn rest_api_event(parts: &http::request::Parts, body: &[u8]) -> Value {
    proxy_event(parts, body, PayloadFormat::RestApi)
}

#[cfg(test)]
use lamplight_proxy::query_pairs;

/// The proxy response as an HTTP response; `Err` says what was wrong with it.
fn proxy_response(payload: &[u8], format: PayloadFormat) -> Result<Response<Full<Bytes>>, String> {
    let shape = match format {
        PayloadFormat::HttpApi => Shape::HttpApi,
        PayloadFormat::RestApi => Shape::RestApi,
    };
    lamplight_proxy::response(shape, payload)
        .map(|r| r.map(Full::new))
        .map_err(|e| e.0)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use http::{HeaderValue, StatusCode};
    use serde_json::json;

    use super::*;

    fn parts(request: Request<()>) -> http::request::Parts {
        request.into_parts().0
    }

    #[test]
    fn http_api_events_carry_query_cookies_and_joined_headers() {
        let request = Request::post("http+lambda://orders/items?tag=a&tag=b&q=x%20y")
            .header("accept", "text/plain")
            .header("accept", "application/json")
            .header("cookie", "a=1; b=2")
            .body(())
            .expect("request");
        let event = http_api_event(&parts(request), b"{\"n\":1}");
        assert_eq!(event["rawPath"], "/items");
        assert_eq!(event["rawQueryString"], "tag=a&tag=b&q=x%20y");
        assert_eq!(event["queryStringParameters"]["tag"], "a,b");
        assert_eq!(event["queryStringParameters"]["q"], "x y");
        assert_eq!(event["headers"]["accept"], "text/plain,application/json");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(event["requestContext"]["http"]["method"], "POST");
        assert_eq!(event["body"], "{\"n\":1}");
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn binary_bodies_travel_as_base64() {
        let request = Request::put("http+lambda://f/blob")
            .body(())
            .expect("request");
        let event = rest_api_event(&parts(request), &[0xff, 0x00, 0x10]);
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wAQ");
        assert_eq!(event["httpMethod"], "PUT");
        assert_eq!(event["pathParameters"]["proxy"], "blob");
    }

    #[test]
    fn proxy_responses_become_http_responses() {
        let payload = json!({
            "statusCode": 201,
            "headers": {"content-type": "image/png", "x-one": "1"},
            "multiValueHeaders": {"x-many": ["a", "b"]},
            "cookies": ["s=1; Secure", "t=2"],
            "body": "/wAQ",
            "isBase64Encoded": true
        });
        let response = proxy_response(
            &serde_json::to_vec(&payload).expect("json"),
            PayloadFormat::HttpApi,
        )
        .expect("response");
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["content-type"], "image/png");
        let many: Vec<_> = response.headers().get_all("x-many").iter().collect();
        assert_eq!(many, ["a", "b"]);
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["s=1; Secure", "t=2"]);
    }

    #[test]
    fn http_apis_treat_plain_json_as_a_200_body() {
        let response =
            proxy_response(br#"{"hello":"world"}"#, PayloadFormat::HttpApi).expect("response");
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let error = proxy_response(br#"{"hello":"world"}"#, PayloadFormat::RestApi)
            .expect_err("REST APIs need a statusCode");
        assert!(error.contains("statusCode"), "{error}");
    }

    #[test]
    fn malformed_responses_say_what_is_wrong() {
        let error = proxy_response(br#"{"statusCode": 1000}"#, PayloadFormat::HttpApi)
            .expect_err("status out of range");
        assert!(error.contains("1000 is not an HTTP status"), "{error}");
        let error = proxy_response(
            br#"{"statusCode": 200, "body": "%%", "isBase64Encoded": true}"#,
            PayloadFormat::HttpApi,
        )
        .expect_err("bad base64");
        assert!(error.contains("base64"), "{error}");
    }

    #[test]
    fn function_errors_keep_type_and_message() {
        let e = function_error(
            "orders".into(),
            r#"{"errorType":"OrderError","errorMessage":"no stock"}"#,
        );
        assert_eq!(e.to_string(), "orders failed with OrderError: no stock");
    }

    /// Property tests: the mapping never panics, and a request survives the trip through an
    /// event, lamplight-http and a proxy response. Cases: `PROPTEST_CASES`, 128 by default.
    mod properties {
        use std::collections::BTreeMap;
        use std::time::Duration;

        use axum::body::Bytes as AxumBytes;
        use axum::http::{HeaderMap as AxumHeaders, Method as AxumMethod, Uri as AxumUri};
        use proptest::prelude::*;
        use proptest::test_runner::{Config, TestCaseError, TestRunner};

        use super::*;

        fn config() -> Config {
            let cases = std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(128);
            Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            }
        }

        fn fail(e: impl std::fmt::Display) -> TestCaseError {
            TestCaseError::fail(e.to_string())
        }

        #[derive(Debug, Clone)]
        struct Generated {
            method: &'static str,
            path: String,
            query: Vec<(String, String)>,
            headers: Vec<(String, String)>,
            body: Vec<u8>,
        }

        impl Generated {
            fn request(&self) -> Request<()> {
                let mut uri = format!("http+lambda://f{}", self.path);
                if !self.query.is_empty() {
                    let query = form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(&self.query)
                        .finish();
                    uri = format!("{uri}?{query}");
                }
                let mut builder = Request::builder().method(self.method).uri(uri);
                for (name, value) in &self.headers {
                    builder = builder.header(name, value);
                }
                builder.body(()).expect("generated request")
            }
        }

        fn generated() -> impl Strategy<Value = Generated> {
            let segment = prop_oneof![
                "[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,7}",
                Just("%20".to_owned()),
                Just("caf%C3%A9".to_owned()),
            ];
            (
                proptest::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
                proptest::collection::vec(segment, 0..4),
                proptest::collection::vec(("[a-z]{1,5}", "[a-zA-Z0-9 &=+%/]{0,6}"), 0..4),
                proptest::collection::vec(
                    ("x-t-[a-z0-9-]{1,10}", "[!-~]([ -~]{0,20}[!-~])?"),
                    0..5,
                ),
                proptest::collection::vec(any::<u8>(), 0..200),
            )
                .prop_map(|(method, segments, query, headers, body)| Generated {
                    method,
                    path: format!("/{}", segments.join("/")),
                    query,
                    headers,
                    body,
                })
        }

        /// Answers with the request's body as bytes, and its method, path, query and headers in
        /// `x-echo-*` headers.
        async fn echo(
            method: AxumMethod,
            uri: AxumUri,
            headers: AxumHeaders,
            body: AxumBytes,
        ) -> axum::response::Response {
            let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (name, value) in &headers {
                if name.as_str().starts_with("x-t-") {
                    seen.entry(name.as_str().to_owned())
                        .or_default()
                        .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
                }
            }
            let mut response = axum::response::Response::new(axum::body::Body::from(body));
            let out = response.headers_mut();
            let text = |s: String| HeaderValue::from_str(&s).expect("echo header");
            out.insert("content-type", text("application/octet-stream".into()));
            out.insert("x-echo-method", text(method.to_string()));
            out.insert("x-echo-path", text(uri.path().to_owned()));
            out.insert(
                "x-echo-query",
                text(uri.query().unwrap_or_default().to_owned()),
            );
            out.insert(
                "x-echo-headers",
                text(serde_json::to_string(&seen).expect("json")),
            );
            response
        }

        fn decoded(query: &str) -> Vec<(String, String)> {
            let mut pairs = query_pairs(query);
            pairs.sort();
            pairs
        }

        fn round_trip(
            rt: &tokio::runtime::Runtime,
            generated: &Generated,
            format: PayloadFormat,
        ) -> Result<(), TestCaseError> {
            let request = generated.request();
            let (parts, ()) = request.into_parts();
            let event = match format {
                PayloadFormat::HttpApi => http_api_event(&parts, &generated.body),
                PayloadFormat::RestApi => rest_api_event(&parts, &generated.body),
            };
            let app = axum::Router::new().fallback(echo);
            let inv = lamplight::Invocation::builder()
                .remaining(Duration::from_secs(10))
                .build();
            let answer = rt
                .block_on(lamplight_http::answer(app, event, &inv))
                .map_err(fail)?;
            let payload = serde_json::to_vec(&answer).map_err(fail)?;
            let response = proxy_response(&payload, format).map_err(fail)?;
            prop_assert_eq!(response.status(), StatusCode::OK);
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            prop_assert_eq!(header("x-echo-method"), generated.method);
            prop_assert_eq!(header("x-echo-path"), parts.uri.path());
            let sent_query = parts.uri.query().unwrap_or_default();
            prop_assert_eq!(decoded(&header("x-echo-query")), decoded(sent_query));
            if format == PayloadFormat::HttpApi {
                // The raw query string travels as it is.
                prop_assert_eq!(header("x-echo-query"), sent_query);
            }
            let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (name, value) in &generated.headers {
                expected
                    .entry(name.clone())
                    .or_default()
                    .push(value.clone());
            }
            if format == PayloadFormat::HttpApi {
                // HTTP APIs join repeated headers with `,`, as API Gateway does.
                for values in expected.values_mut() {
                    *values = vec![values.join(",")];
                }
            }
            let seen: BTreeMap<String, Vec<String>> =
                serde_json::from_str(&header("x-echo-headers")).map_err(fail)?;
            prop_assert_eq!(seen, expected);
            let body = rt
                .block_on(response.into_body().collect())
                .map_err(fail)?
                .to_bytes();
            prop_assert_eq!(body.as_ref(), generated.body.as_slice());
            Ok(())
        }

        fn runtime() -> tokio::runtime::Runtime {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime")
        }

        #[test]
        fn requests_survive_the_trip_through_lamplight_http_in_both_formats() {
            let rt = runtime();
            TestRunner::new(config())
                .run(&generated(), |generated| {
                    round_trip(&rt, &generated, PayloadFormat::HttpApi)?;
                    round_trip(&rt, &generated, PayloadFormat::RestApi)
                })
                .unwrap_or_else(|e| panic!("{e}"));
        }

        #[test]
        fn any_header_bytes_and_body_make_an_event() {
            let strategy = (
                proptest::collection::vec(
                    (
                        "[a-zA-Z][a-zA-Z0-9-]{0,12}",
                        proptest::collection::vec(any::<u8>(), 0..24),
                    ),
                    0..6,
                ),
                proptest::collection::vec(any::<u8>(), 0..300),
            );
            TestRunner::new(config())
                .run(&strategy, |(headers, body)| {
                    let mut request = Request::post("http+lambda://f/p?a=1&a=2");
                    for (name, value) in &headers {
                        // Only what `http` itself accepts can be in a request at all.
                        if let Ok(value) = HeaderValue::from_bytes(value) {
                            request = request.header(name.as_str(), value);
                        }
                    }
                    let (parts, ()) = request.body(()).map_err(fail)?.into_parts();
                    for event in [http_api_event(&parts, &body), rest_api_event(&parts, &body)] {
                        let text = event["body"].as_str().unwrap_or_default();
                        let sent = if event["isBase64Encoded"] == true {
                            base64::engine::general_purpose::STANDARD
                                .decode(text)
                                .map_err(fail)?
                        } else {
                            text.as_bytes().to_vec()
                        };
                        prop_assert_eq!(sent, body.clone());
                        let headers = event["headers"].as_object().cloned().unwrap_or_default();
                        prop_assert!(headers.keys().all(|k| k == &k.to_ascii_lowercase()));
                    }
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("{e}"));
        }

        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                (0u16..1100).prop_map(Value::from),
                any::<f64>().prop_map(Value::from),
                "\\PC{0,10}".prop_map(Value::String),
                Just(Value::String("/wAQ".into())),
            ];
            leaf.prop_recursive(3, 24, 5, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map("\\PC{0,6}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn proxy_json() -> impl Strategy<Value = Value> {
            let key = proptest::sample::select(vec![
                "statusCode",
                "headers",
                "multiValueHeaders",
                "cookies",
                "body",
                "isBase64Encoded",
                "other",
            ]);
            prop_oneof![
                json(),
                proptest::collection::btree_map(key, json(), 0..7).prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        }

        #[test]
        fn any_payload_gives_a_response_or_says_what_is_wrong() {
            TestRunner::new(config())
                .run(&proxy_json(), |payload| {
                    let bytes = serde_json::to_vec(&payload).map_err(fail)?;
                    for format in [PayloadFormat::HttpApi, PayloadFormat::RestApi] {
                        match proxy_response(&bytes, format) {
                            Ok(response) => {
                                let status = response.status().as_u16();
                                prop_assert!((100..=999).contains(&status));
                            }
                            Err(reason) => prop_assert!(!reason.is_empty()),
                        }
                    }
                    // Bytes that are not JSON at all are an error, never a panic.
                    let mut cut = bytes.clone();
                    cut.truncate(bytes.len() / 2);
                    if let Ok(response) = proxy_response(&cut, PayloadFormat::RestApi) {
                        prop_assert!(response.status().as_u16() >= 100);
                    }
                    Ok(())
                })
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
