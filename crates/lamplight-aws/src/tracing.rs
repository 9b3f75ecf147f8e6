//! Every SDK call as an X-Ray subsegment: an interceptor opens a client span when the call
//! starts (under whatever span is current, so under the handler or your `#[instrument]` span)
//! and closes it when the call ends, with the attributes the X-Ray exporter turns into an
//! `aws` subsegment: service, operation, region, request id, HTTP status, and for S3 the bucket
//! and key; a failed call is a fault with its cause.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::region::Region;

/// The interceptor; lamplight's clients carry it, and `.interceptor(SdkTracing)` adds it to any
/// other SDK client's configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct SdkTracing;

#[derive(Debug, Clone)]
struct CallSpan {
    span: tracing::Span,
    service: String,
}

impl Storable for CallSpan {
    type Storer = StoreReplace<Self>;
}

impl Intercept for SdkTracing {
    fn name(&self) -> &'static str {
        "lamplight.SdkTracing"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The operation's name is in the bag only once its configuration is applied: the
        // span is named in `read_before_transmit`.
        let region = cfg
            .load::<Region>()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let span = tracing::info_span!(
            "aws",
            otel.name = tracing::field::Empty,
            otel.kind = "client",
            rpc.system = "aws-api",
            rpc.service = tracing::field::Empty,
            rpc.method = tracing::field::Empty,
            aws.service = tracing::field::Empty,
            aws.operation = tracing::field::Empty,
            aws.region = %region,
            aws.request_id = tracing::field::Empty,
            aws.s3.bucket = tracing::field::Empty,
            aws.s3.key = tracing::field::Empty,
            http.request.method = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
        );
        cfg.interceptor_state().store_put(CallSpan {
            span,
            service: String::new(),
        });
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(mut call) = cfg.load::<CallSpan>().cloned() else {
            return Ok(());
        };
        if call.service.is_empty()
            && let Some(metadata) = cfg.load::<Metadata>()
        {
            let (service, operation) = (metadata.service().to_owned(), metadata.name().to_owned());
            call.span.record("otel.name", service.as_str());
            call.span.record("rpc.service", service.as_str());
            call.span.record("aws.service", service.as_str());
            call.span.record("rpc.method", operation.as_str());
            call.span.record("aws.operation", operation.as_str());
            call.service = service;
            cfg.interceptor_state().store_put(call.clone());
        }
        let request = context.request();
        call.span.record("http.request.method", request.method());
        if call.service == "S3"
            && let Some((bucket, key)) = s3_location(request.uri())
        {
            call.span.record("aws.s3.bucket", bucket.as_str());
            if let Some(key) = key {
                call.span.record("aws.s3.key", key.as_str());
            }
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<CallSpan>().cloned() else {
            return Ok(());
        };
        if let Some(response) = context.response() {
            call.span.record(
                "http.response.status_code",
                i64::from(response.status().as_u16()),
            );
            let headers = response.headers();
            if let Some(id) = headers
                .get("x-amzn-requestid")
                .or_else(|| headers.get("x-amz-request-id"))
                .or_else(|| headers.get("x-amzn-request-id"))
            {
                call.span.record("aws.request_id", id);
            }
        }
        if let Some(Err(error)) = context.output_or_error() {
            let message = DisplayErrorContext(error).to_string();
            lamplight_telemetry::record_failure(
                &call.span,
                &format!("{}Error", call.service),
                &message,
            );
        }
        // Dropping the last handle ends the subsegment.
        cfg.interceptor_state().unset::<CallSpan>();
        Ok(())
    }
}

/// Bucket and key of an S3 request, path-style (`/bucket/key`) or virtual-hosted
/// (`bucket.s3.region.amazonaws.com/key`).
fn s3_location(uri: &str) -> Option<(String, Option<String>)> {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.split(['?', '#']).next().unwrap_or("");
    let host = host.split(':').next().unwrap_or(host);
    let decode = |s: &str| percent_decode(s);
    if let Some(bucket) = host
        .strip_suffix(".amazonaws.com")
        .and_then(|h| h.split_once(".s3"))
        .map(|(b, _)| b)
        && !bucket.is_empty()
    {
        let key = (!path.is_empty()).then(|| decode(path));
        return Some((bucket.to_owned(), key));
    }
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return None;
    }
    Some((decode(bucket), (!key.is_empty()).then(|| decode(key))))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2)))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: Option<&u8>) -> Option<u8> {
    match b? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_locations_come_from_both_url_styles() {
        assert_eq!(
            s3_location("http://127.0.0.1:9000/photos/2024/cat%20one.jpg?x-id=GetObject"),
            Some(("photos".into(), Some("2024/cat one.jpg".into())))
        );
        assert_eq!(
            s3_location("https://photos.s3.eu-west-1.amazonaws.com/a/b.png"),
            Some(("photos".into(), Some("a/b.png".into())))
        );
        assert_eq!(
            s3_location("http://localhost:9000/bucket"),
            Some(("bucket".into(), None))
        );
        assert_eq!(s3_location("http://localhost:9000/"), None);
    }
}

#[cfg(all(test, feature = "s3"))]
mod span_tests {
    use std::sync::{Arc, Mutex};

    use tracing::span::{Attributes, Id, Record};
    use tracing::{Instrument as _, Subscriber};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt as _};
    use tracing_subscriber::registry::LookupSpan;

    /// A closed span: name, ancestor names, fields.
    type ClosedSpan = (String, Vec<String>, Vec<(String, String)>);

    /// Records every span that closes.
    #[derive(Clone, Default)]
    struct Closed(Arc<Mutex<Vec<ClosedSpan>>>);

    struct Fields(Vec<(String, String)>);

    struct Visit<'a>(&'a mut Vec<(String, String)>);

    impl tracing::field::Visit for Visit<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            self.0.push((
                field.name().to_owned(),
                format!("{value:?}").trim_matches('"').to_owned(),
            ));
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Closed {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut fields = Vec::new();
            attrs.record(&mut Visit(&mut fields));
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Fields(fields));
            }
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id)
                && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
            {
                values.record(&mut Visit(&mut fields.0));
            }
        }

        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(&id) {
                let fields = span
                    .extensions()
                    .get::<Fields>()
                    .map(|f| f.0.clone())
                    .unwrap_or_default();
                let ancestors = span.scope().skip(1).map(|p| p.name().to_owned()).collect();
                self.0
                    .lock()
                    .expect("lock")
                    .push((span.name().to_owned(), ancestors, fields));
            }
        }
    }

    #[tokio::test]
    async fn a_failed_s3_call_is_one_closed_client_span_under_the_callers_span() {
        let closed = Closed::default();
        let subscriber = tracing_subscriber::registry().with(closed.clone());
        let _guard = tracing::subscriber::set_default(subscriber);
        let config = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:1")
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new("a", "b", None, None, "test"),
                ),
            )
            .build();
        let s3 = crate::Aws::from_config(config).s3();
        let result = async { s3.get_object().bucket("photos").key("a/b.jpg").send().await }
            .instrument(tracing::info_span!("worker"))
            .await;
        assert!(result.is_err(), "nothing listens on port 1");
        let closed = closed.0.lock().expect("lock").clone();
        let call = closed
            .iter()
            .find(|(name, _, _)| name == "aws")
            .unwrap_or_else(|| panic!("no aws span closed: {closed:?}"));
        // The SDK's own spans (debug level) sit between; the X-Ray layer skips them.
        assert!(call.1.iter().any(|a| a == "worker"), "{closed:?}");
        let field = |k: &str| {
            call.2
                .iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(field("aws.operation"), Some("GetObject"));
        assert_eq!(field("aws.service"), Some("S3"));
        assert_eq!(field("aws.region"), Some("eu-west-1"));
        assert_eq!(field("aws.s3.bucket"), Some("photos"));
        assert_eq!(field("aws.s3.key"), Some("a/b.jpg"));
    }
}
