//! Outgoing HTTP calls as X-Ray `remote` subsegments.
//!
//! [`HttpTracingLayer`] wraps any `tower::Service<http::Request<B>>` (a hyper-util client, a
//! tower-based client stack, lamplight-aws's Lambda transport): every request becomes a client
//! span named for the host, with the method, full URL and response status the X-Ray exporter
//! turns into the subsegment's `http` block. It also carries the trace on: the request leaves
//! with an `X-Amzn-Trace-Id` naming this subsegment as the parent, so a downstream service that
//! traces joins the same trace.
//!
//! A 4xx answer marks the subsegment `error` (429: `throttle`), a 5xx `fault`; a request that
//! gets no answer is a fault with the error as its cause.
//!
//! ```
//! use lamplight_telemetry::http_client::HttpTracingLayer;
//! use tower_layer::Layer as _;
//!
//! # fn wrap<S>(client: S) {
//! let traced = HttpTracingLayer::new().layer(client);
//! # }
//! ```

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

#[cfg(feature = "https")]
pub use crate::https::{HttpsConnector, https_connector};

/// The header that carries an X-Ray trace from service to service.
pub const TRACE_HEADER: &str = "x-amzn-trace-id";

/// Wraps a client service in [`HttpTracing`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpTracingLayer {
    propagate: bool,
}

impl HttpTracingLayer {
    /// Spans for every request, the trace header added to each.
    pub fn new() -> Self {
        Self { propagate: true }
    }

    /// Spans only: requests leave without an `X-Amzn-Trace-Id` (for services that refuse
    /// unknown headers, or that must not learn the trace).
    pub fn without_propagation() -> Self {
        Self { propagate: false }
    }
}

impl<S> Layer<S> for HttpTracingLayer {
    type Service = HttpTracing<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpTracing {
            inner,
            propagate: self.propagate,
        }
    }
}

/// A client service whose requests are traced; see the [module](self) docs.
#[derive(Debug, Clone)]
pub struct HttpTracing<S> {
    inner: S,
    propagate: bool,
}

impl<S, B, RB> Service<Request<B>> for HttpTracing<S>
where
    S: Service<Request<B>, Response = Response<RB>>,
    S::Future: Send + 'static,
    S::Error: Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let span = request_span(&request);
        if self.propagate {
            crate::xray::inject(&span, request.headers_mut());
        }
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(async move {
            let result = future.await;
            match &result {
                Ok(response) => record_status(&span, response.status()),
                Err(e) => crate::record_failure(&span, "HttpTransportError", &e.to_string()),
            }
            result
        })
    }
}

fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let uri = request.uri();
    let host = uri.host().unwrap_or("http");
    let url = traced_url(uri);
    tracing::info_span!(
        "http",
        otel.name = host,
        otel.kind = "client",
        http.request.method = request.method().as_str(),
        url.full = url,
        server.address = host,
        http.response.status_code = tracing::field::Empty,
    )
}

/// The URL a subsegment shows: the query string can hold tokens and signatures, so only the
/// path is kept; `user:password@` becomes `[redacted]@`; the rest is scrubbed like any text
/// (a path can carry `token=` too).
fn traced_url(uri: &http::Uri) -> String {
    let url = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => {
            let host = match authority.as_str().rsplit_once('@') {
                Some((_, host)) => format!("{}@{host}", crate::redact::REDACTED),
                None => authority.as_str().to_owned(),
            };
            format!("{scheme}://{host}{}", uri.path())
        }
        _ => uri.path().to_owned(),
    };
    match crate::redact::scrub(&url) {
        std::borrow::Cow::Borrowed(_) => url,
        std::borrow::Cow::Owned(clean) => clean,
    }
}

fn record_status(span: &tracing::Span, status: http::StatusCode) {
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_client_error() || status.is_server_error() {
        let reason = status.canonical_reason().unwrap_or("");
        crate::record_failure(
            span,
            "HttpStatus",
            &format!("answered {} {reason}", status.as_u16()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    #[derive(Clone)]
    struct Answer(u16);

    impl Service<Request<()>> for Answer {
        type Response = Response<()>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<()>, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _request: Request<()>) -> Self::Future {
            let mut response = Response::new(());
            *response.status_mut() = http::StatusCode::from_u16(self.0).expect("status");
            std::future::ready(Ok(response))
        }
    }

    #[tokio::test]
    async fn answers_pass_through_unchanged() {
        let mut traced = HttpTracingLayer::new().layer(Answer(503));
        let request = Request::get("http://example.test/a?token=1")
            .body(())
            .expect("request");
        let response = traced.call(request).await.expect("answer");
        assert_eq!(response.status(), 503);
    }

    #[test]
    fn traced_urls_keep_no_credentials_and_no_query() {
        let url = |u: &str| traced_url(&u.parse().expect("uri"));
        assert_eq!(
            url("https://ada:hunter2@api.example.com:8443/v1/x?token=abc"),
            "https://[redacted]@api.example.com:8443/v1/x"
        );
        assert_eq!(url("http://example.test/a?b=c"), "http://example.test/a");
        assert_eq!(
            url("http://example.test/reset/password=p4ss"),
            "http://example.test/reset/password=[redacted]"
        );
        assert_eq!(url("/relative/path"), "/relative/path");
    }

    #[test]
    fn no_trace_header_without_a_tracer() {
        let mut headers = http::HeaderMap::new();
        crate::xray::inject(&tracing::info_span!("x"), &mut headers);
        assert!(headers.get(TRACE_HEADER).is_none());
    }
}
