//! Outgoing HTTP(S) calls of a function: one pooled client per execution environment, over
//! the same TLS stack the AWS SDK already brings (rustls with the system's roots), every call an
//! X-Ray `remote` subsegment that carries the trace on
//! ([`HttpTracingLayer`](lamplight_telemetry::http_client::HttpTracingLayer)).
//!
//! ```no_run
//! # async fn f() -> Result<(), lamplight_aws::web::WebError> {
//! let page = lamplight_aws::web::WebClient::shared().get("https://example.com/").await?;
//! assert!(page.status().is_success());
//! # Ok(()) }
//! ```
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `LAMPLIGHT_HTTP_CONNECT_TIMEOUT_MS` | 3100 | connection timeout |
//! | `LAMPLIGHT_HTTP_TIMEOUT_MS` | 30000 | a whole request, body included |

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lamplight_telemetry::http_client::{
    HttpTracing, HttpTracingLayer, HttpsConnector, https_connector,
};
use tower_layer::Layer as _;
use tower_service::Service as _;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The URL does not parse.
    #[error("`{url}` is not a URL: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting, sending, or reading the answer failed.
    #[error("{method} {url} failed")]
    Request {
        /// The method.
        method: String,
        /// The URL, without its query string.
        url: String,
        /// The cause.
        #[source]
        source: lamplight::BoxError,
    },
    /// No complete answer within the timeout.
    #[error("{method} {url} got no answer within {timeout:?}")]
    Timeout {
        /// The method.
        method: String,
        /// The URL, without its query string.
        url: String,
        /// The timeout.
        timeout: Duration,
    },
}

type Inner = HttpTracing<Client<HttpsConnector, Full<Bytes>>>;

/// The client; cheap to clone, every clone shares the pool.
#[derive(Debug, Clone)]
pub struct WebClient {
    inner: Inner,
    timeout: Duration,
}

static SHARED: OnceLock<WebClient> = OnceLock::new();

fn env_ms(name: &str, default: u64) -> Duration {
    Duration::from_millis(
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default),
    )
}

impl WebClient {
    /// The client of this execution environment, made on first use.
    pub fn shared() -> &'static WebClient {
        SHARED.get_or_init(WebClient::from_env)
    }

    /// A new client (its own pool) with timeouts from the environment.
    pub fn from_env() -> WebClient {
        let https = https_connector(Some(env_ms("LAMPLIGHT_HTTP_CONNECT_TIMEOUT_MS", 3100)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        WebClient {
            inner: HttpTracingLayer::new().layer(client),
            timeout: env_ms("LAMPLIGHT_HTTP_TIMEOUT_MS", 30_000),
        }
    }

    /// The same client with another whole-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<Response<Bytes>, WebError> {
        let request = Request::get(url)
            .body(Full::default())
            .map_err(|e| WebError::Url {
                url: lamplight_telemetry::redact::scrub(url).into_owned(),
                reason: e.to_string(),
            })?;
        self.send(request).await
    }

    /// Sends `request` and reads the whole answer. Any status is an answer: check it.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response<Bytes>, WebError> {
        let method = request.method().to_string();
        let uri = request.uri();
        // Host and port only: the authority may carry `user:password@`, which errors must not.
        let url = format!(
            "{}://{}{}{}",
            uri.scheme_str().unwrap_or("http"),
            uri.host().unwrap_or(""),
            uri.port().map_or_else(String::new, |p| format!(":{p}")),
            uri.path()
        );
        if uri.host().is_none() {
            return Err(WebError::Url {
                url: lamplight_telemetry::redact::scrub(&uri.to_string()).into_owned(),
                reason: "it has no host".to_owned(),
            });
        }
        let mut inner = self.inner.clone();
        let exchange = async move {
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            let response = inner.call(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, lamplight::BoxError>(Response::from_parts(parts, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(source)) => Err(WebError::Request {
                method,
                url,
                source,
            }),
            Err(_) => Err(WebError::Timeout {
                method,
                url,
                timeout: self.timeout,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn errors_never_show_the_password_of_a_url() {
        // Port 1 on loopback refuses the connection: the error names the URL it could not reach.
        let client = WebClient::from_env().with_timeout(Duration::from_secs(5));
        let error = client
            .get("http://ada:hunter2-secret@127.0.0.1:1/orders?id=7")
            .await
            .expect_err("nothing listens on port 1");
        let text = error.to_string();
        assert!(text.contains("127.0.0.1:1/orders"), "{text}");
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(!text.contains("ada:"), "{text}");
    }
}
