//! What parameter fetches leave in the log: `aws` spans, never a value. In its own test
//! binary with a process-wide subscriber: with a thread-scoped one, tests running beside it in
//! the same process can leave tracing's callsite cache without interest in the spans, and the
//! capture misses them.

mod common;

use aws_sdk_ssm::types::ParameterType;
use common::{aws, put};
use lamplight_parameters::{Secrets, Ssm};
use lamplight_test::moto::Moto;

/// What a fmt subscriber wrote, shared with the test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn fetches_are_aws_spans_and_values_never_reach_the_log() {
    let moto = Moto::start().expect("moto runs");
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let ssm = Ssm::new(&aws(&moto.endpoint()));
    put(
        &ssm,
        "/app/token",
        "t0p-s3cret-t0ken",
        ParameterType::SecureString,
    )
    .await;
    let token = ssm
        .parameter("/app/token")
        .decrypted()
        .get()
        .await
        .expect("token");
    tracing::info!(?token, %token, "got the token");
    let secrets = Secrets::new(&aws(&moto.endpoint()));
    secrets
        .client()
        .create_secret()
        .name("app/pw")
        .secret_string("pa55-w0rd-value")
        .send()
        .await
        .expect("create");
    let pw = secrets.secret("app/pw").get().await.expect("pw");
    assert_eq!(pw.expose(), "pa55-w0rd-value");

    let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    assert!(log.contains("aws.operation=\"GetParameter\""), "{log}");
    assert!(log.contains("aws.operation=\"GetSecretValue\""), "{log}");
    assert!(log.contains("parameter=/app/token"), "{log}");
    assert!(log.contains("token=[redacted]"), "{log}");
    assert!(!log.contains("t0p-s3cret"), "{log}");
    assert!(!log.contains("pa55-w0rd"), "{log}");
}
