//! The HTTPS connector lamplight's outgoing clients share (feature `https`), re-exported from
//! [`http_client`](crate::http_client). Its own module so that the OTLP exporter can use it
//! without the traces depending on the client tracing that depends on them.

/// A connector for HTTP and HTTPS (feature `https`).
pub type HttpsConnector =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// The connector lamplight's outgoing clients share (the web client, the OTLP exporter):
/// HTTP/1 over the TLS stack lamplight-aws gives the AWS SDK (rustls over ring, the system's
/// roots), so no second one is compiled in. Without readable system roots only plain HTTP works; the
/// first HTTPS call says so.
pub fn https_connector(connect_timeout: Option<std::time::Duration>) -> HttpsConnector {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(connect_timeout);
    // ring as the process's default provider unless one is set already: a build that also
    // links aws-lc (the SDK's default, enabled elsewhere in a workspace) has two providers,
    // and rustls then picks neither on its own.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = match hyper_rustls::HttpsConnectorBuilder::new().with_native_roots() {
        Ok(b) => b,
        Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    };
    builder.https_or_http().enable_http1().wrap_connector(http)
}
