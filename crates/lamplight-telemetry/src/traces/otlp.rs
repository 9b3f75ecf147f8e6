//! The OTLP/HTTP export (the `otlp` feature). `otlp_off.rs` is its twin without the feature.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioExecutor;
use opentelemetry_otlp::WithHttpConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};

use crate::https::{HttpsConnector, https_connector};

#[derive(Debug)]
pub(super) struct Exporter(opentelemetry_otlp::SpanExporter);

impl Exporter {
    /// The exporter the standard `OTEL_EXPORTER_OTLP_*` variables describe, or `None` (said on
    /// stderr) when it cannot be set up.
    pub fn new() -> Option<Self> {
        let built = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(Client::new())
            .build();
        match built {
            Ok(e) => Some(Self(e)),
            Err(e) => {
                eprintln!("lamplight: traces are off: the OTLP exporter could not be set up: {e}");
                None
            }
        }
    }

    pub fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }

    pub async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.export(batch).await
    }
}

/// The OTLP exporter's HTTP client: hyper over lamplight's shared connector, instead of a
/// second TLS stack through reqwest.
#[derive(Debug, Clone)]
struct Client {
    inner: hyper_util::client::legacy::Client<HttpsConnector, Full<Bytes>>,
}

impl Client {
    fn new() -> Self {
        Self {
            inner: hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                .build(https_connector(None)),
        }
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Client {
    async fn send_bytes(
        &self,
        request: Request<Bytes>,
    ) -> Result<Response<Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let response = self
            .inner
            .request(Request::from_parts(parts, Full::new(body)))
            .await?;
        let (parts, body) = response.into_parts();
        Ok(Response::from_parts(
            parts,
            body.collect().await?.to_bytes(),
        ))
    }
}
