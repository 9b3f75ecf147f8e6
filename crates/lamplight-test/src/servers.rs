//! Real servers on loopback for tests of functions that call out (feature `servers`):
//! [`s3`] serves a directory as S3 (s3s-fs), [`http`] answers with the status a path asks for
//! and records the trace headers it gets.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;

/// The access key and secret [`s3`] accepts.
pub const S3_KEY: &str = "local";

/// Serves `service` on a fresh loopback port until the test's runtime ends.
async fn serve<S, B>(service: S) -> SocketAddr
where
    S: hyper::service::Service<
            hyper::Request<hyper::body::Incoming>,
            Response = hyper::Response<B>,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port for the test server");
    let addr = listener.local_addr().expect("the test server's address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    addr
}

/// An S3 server serving the directory `root` (one bucket per subdirectory), accepting
/// requests signed with [`S3_KEY`] as access key and secret. Point a function at it with
/// `AWS_ENDPOINT_URL=http://<addr>`.
///
/// # Panics
/// When `root` is not a directory or no port is free: the test cannot run.
pub async fn s3(root: &Path) -> SocketAddr {
    serve(s3_service(root)).await
}

/// [`s3`] with `latency` added before every answer: S3 as a function far from it sees it (a
/// GetObject waits 10-30 ms on the network), for measuring what overlapping those waits buys.
///
/// # Panics
/// As [`s3`].
pub async fn s3_with_latency(root: &Path, latency: std::time::Duration) -> SocketAddr {
    let service = s3_service(root);
    serve(hyper::service::service_fn(
        move |req: hyper::Request<hyper::body::Incoming>| {
            let service = service.clone();
            async move {
                tokio::time::sleep(latency).await;
                hyper::service::Service::call(&service, req).await
            }
        },
    ))
    .await
}

fn s3_service(root: &Path) -> s3s::service::S3Service {
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs serves the directory");
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single(S3_KEY, S3_KEY));
    builder.build()
}

/// What [`http`] received.
#[derive(Debug, Clone, Default)]
pub struct Received {
    trace_headers: Arc<Mutex<Vec<String>>>,
}

impl Received {
    /// The `X-Amzn-Trace-Id` headers of the requests so far, oldest first.
    pub fn trace_headers(&self) -> Vec<String> {
        self.trace_headers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// An HTTP server answering `/status/<code>` with that status and a small JSON body (any other
/// path: 404), recording every `X-Amzn-Trace-Id` it receives.
pub async fn http() -> (SocketAddr, Received) {
    let received = Received::default();
    let recorded = received.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
        let recorded = recorded.clone();
        async move {
            if let Some(h) = req
                .headers()
                .get("x-amzn-trace-id")
                .and_then(|h| h.to_str().ok())
            {
                recorded
                    .trace_headers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(h.to_owned());
            }
            let status = req
                .uri()
                .path()
                .strip_prefix("/status/")
                .and_then(|c| c.parse().ok())
                .and_then(|c| hyper::StatusCode::from_u16(c).ok())
                .unwrap_or(hyper::StatusCode::NOT_FOUND);
            let mut response = hyper::Response::new(Full::new(Bytes::from(format!(
                "{{\"status\":{}}}",
                status.as_u16()
            ))));
            *response.status_mut() = status;
            Ok::<_, Infallible>(response)
        }
    });
    (serve(service).await, received)
}

/// One request a [`recorder`] received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request path.
    pub path: String,
    /// The `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The whole body.
    pub body: Bytes,
}

/// The requests a [`recorder`] received so far.
#[derive(Debug, Clone, Default)]
pub struct Recordings {
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Recordings {
    /// Every request so far, oldest first.
    pub fn all(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// An HTTP server that answers every request `200 {}` and keeps it (an OTLP collector, a
/// webhook receiver).
pub async fn recorder() -> (SocketAddr, Recordings) {
    use http_body_util::BodyExt as _;
    let recordings = Recordings::default();
    let kept = recordings.clone();
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let kept = kept.clone();
        async move {
            let path = req.uri().path().to_owned();
            let content_type = req
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = req.into_body().collect().await?.to_bytes();
            kept.requests
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Recorded {
                    path,
                    content_type,
                    body,
                });
            Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from_static(b"{}"))))
        }
    });
    (serve(service).await, recordings)
}
