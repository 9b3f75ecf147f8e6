//! The twin of `otlp.rs` without the `otlp` feature: an exporter that cannot be made, so the
//! variant holding it never exists.

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::SpanData;

#[derive(Debug)]
pub(super) enum Exporter {}

impl Exporter {
    /// Says why OTLP was asked for and is not there.
    pub fn new() -> Option<Self> {
        eprintln!(
            "lamplight: traces are off: an OTLP endpoint is set (or LAMPLIGHT_TRACES=otlp) but this \
             function was built without OTLP: enable the `otlp` feature of lamplight"
        );
        None
    }

    pub fn set_resource(&mut self, _resource: &Resource) {
        match *self {}
    }

    pub async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
        match *self {}
    }
}
