//! SSM Parameter Store and Secrets Manager against a real moto server: real signing, real
//! serialisation, real error codes.

mod common;

use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use aws_smithy_types::Blob;
use common::{aws, put};
use lamplight_parameters::{ParameterError, Secrets, Ssm};
use lamplight_test::moto::Moto;

#[tokio::test]
async fn ssm_get_decrypted_and_by_path() {
    let moto = Moto::start().expect("moto runs");
    let ssm = Ssm::new(&aws(&moto.endpoint()));
    put(
        &ssm,
        "/app/url",
        "https://example.com",
        ParameterType::String,
    )
    .await;
    put(&ssm, "/app/key", "k3y-plain", ParameterType::SecureString).await;
    put(&ssm, "/app/db/host", "db.internal", ParameterType::String).await;
    // More than one page (GetParametersByPath answers at most 10 per page).
    for i in 0..12 {
        put(
            &ssm,
            &format!("/app/db/replica/{i:02}"),
            &format!("r{i}"),
            ParameterType::String,
        )
        .await;
    }

    let url = ssm.parameter("/app/url").get().await.expect("url");
    assert_eq!(url.expose(), "https://example.com");
    assert_eq!(format!("{url} {url:?}"), "[redacted] [redacted]");

    let encrypted = ssm.parameter("/app/key").get().await.expect("key");
    assert_ne!(encrypted.expose(), "k3y-plain", "without WithDecryption");
    let key = ssm
        .parameter("/app/key")
        .decrypted()
        .get()
        .await
        .expect("key");
    assert_eq!(key.expose(), "k3y-plain");

    let all = ssm
        .path("/app")
        .decrypted()
        .get()
        .await
        .expect("path")
        .into_exposed();
    assert_eq!(all.len(), 15, "{:?}", all.keys().collect::<Vec<_>>());
    assert_eq!(all["key"], "k3y-plain");
    assert_eq!(all["db/host"], "db.internal");
    assert_eq!(all["db/replica/11"], "r11");

    let shallow = ssm
        .path("/app/")
        .shallow()
        .get()
        .await
        .expect("path")
        .into_exposed();
    let names: Vec<&str> = shallow.keys().map(String::as_str).collect();
    assert_eq!(names, ["key", "url"]);

    let none = ssm.path("/nothing/here").get().await.expect("empty path");
    assert!(none.expose().is_empty());
}

#[derive(Debug, serde::Deserialize, PartialEq)]
struct Db {
    host: String,
    port: u16,
}

#[tokio::test]
async fn typed_values_and_the_errors_that_name_the_parameter_not_the_value() {
    let moto = Moto::start().expect("moto runs");
    let ssm = Ssm::new(&aws(&moto.endpoint()));
    put(
        &ssm,
        "/app/db",
        r#"{"host": "db", "port": 5432}"#,
        ParameterType::String,
    )
    .await;
    put(
        &ssm,
        "/app/bad-db",
        r#"{"host": "db", "port": "pa55w0rd-xyz"}"#,
        ParameterType::SecureString,
    )
    .await;
    put(&ssm, "/app/blob", "aGVsbG8=", ParameterType::String).await;

    let db = ssm.parameter("/app/db").get_json::<Db>().await.expect("db");
    assert_eq!(
        *db.expose(),
        Db {
            host: "db".into(),
            port: 5432
        }
    );
    let blob = ssm
        .parameter("/app/blob")
        .get_base64()
        .await
        .expect("base64");
    assert_eq!(blob.expose(), b"hello");

    let err = ssm
        .parameter("/app/bad-db")
        .decrypted()
        .get_json::<Db>()
        .await
        .expect_err("port is a string");
    let text = err.to_string();
    assert!(matches!(err, ParameterError::Json { .. }), "{err:?}");
    assert!(!text.contains("pa55w0rd"), "the value leaked: {text}");
    assert!(
        !format!("{err:?}").contains("pa55w0rd"),
        "the value leaked: {err:?}"
    );
    assert!(
        text.starts_with("SSM parameter `/app/bad-db` is not valid JSON for "),
        "{text}"
    );
    assert!(
        text.contains("invalid type: a string, expected u16 at `port`"),
        "{text}"
    );

    let err = ssm
        .parameter("/app/missing")
        .get()
        .await
        .expect_err("missing");
    assert!(err.is_not_found(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "SSM parameter `/app/missing` does not exist in region us-east-1: create it \
         (aws ssm put-parameter --name <name> --value <value> --type String) \
         or check its name and the function's region"
    );
}

#[tokio::test]
async fn cached_values_change_after_the_ttl_or_when_forced() {
    let moto = Moto::start().expect("moto runs");
    let ssm = Ssm::new(&aws(&moto.endpoint())).with_ttl(Duration::from_secs(1));
    let get = || async {
        ssm.parameter("/app/mode")
            .get()
            .await
            .expect("mode")
            .into_exposed()
    };

    put(&ssm, "/app/mode", "v1", ParameterType::String).await;
    assert_eq!(get().await, "v1");
    put(&ssm, "/app/mode", "v2", ParameterType::String).await;
    // Within the TTL the cached value is served.
    assert_eq!(get().await, "v1");
    // force_refresh fetches now, and caches what it fetched.
    let forced = ssm
        .parameter("/app/mode")
        .force_refresh()
        .get()
        .await
        .expect("mode");
    assert_eq!(forced.expose(), "v2");
    put(&ssm, "/app/mode", "v3", ParameterType::String).await;
    assert_eq!(get().await, "v2");
    // A per-call TTL of zero never reuses the cache.
    let fresh = ssm
        .parameter("/app/mode")
        .ttl(Duration::ZERO)
        .get()
        .await
        .expect("mode");
    assert_eq!(fresh.expose(), "v3");
    put(&ssm, "/app/mode", "v4", ParameterType::String).await;
    assert_eq!(get().await, "v3");
    // After the TTL the new value is seen.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get().await, "v4");

    // Concurrent cold requests for one key agree on one value.
    let (a, b) = tokio::join!(
        ssm.parameter("/app/mode").force_refresh().get(),
        ssm.parameter("/app/mode").force_refresh().get()
    );
    assert_eq!(a.expect("a").expose(), b.expect("b").expose());
}

#[tokio::test]
async fn secrets_string_binary_json_and_missing() {
    let moto = Moto::start().expect("moto runs");
    let secrets = Secrets::new(&aws(&moto.endpoint()));
    secrets
        .client()
        .create_secret()
        .name("app/login")
        .secret_string(r#"{"host": "db", "port": 5432}"#)
        .send()
        .await
        .expect("create the string secret");
    secrets
        .client()
        .create_secret()
        .name("app/cert")
        .secret_binary(Blob::new(vec![0xde, 0xad, 0xbe, 0xef]))
        .send()
        .await
        .expect("create the binary secret");

    let login = secrets.secret("app/login").get().await.expect("login");
    assert_eq!(login.expose(), r#"{"host": "db", "port": 5432}"#);
    let db = secrets
        .secret("app/login")
        .get_json::<Db>()
        .await
        .expect("json");
    assert_eq!(db.expose().port, 5432);

    let cert = secrets.secret("app/cert").get_bytes().await.expect("cert");
    assert_eq!(&cert.expose()[..], &[0xde, 0xad, 0xbe, 0xef]);
    let err = secrets.secret("app/cert").get().await.expect_err("binary");
    assert!(matches!(err, ParameterError::NotText { .. }), "{err:?}");

    // A new version is seen when forced.
    secrets
        .client()
        .put_secret_value()
        .secret_id("app/login")
        .secret_string(r#"{"host": "db2", "port": 6543}"#)
        .send()
        .await
        .expect("rotate");
    let db = secrets
        .secret("app/login")
        .force_refresh()
        .get_json::<Db>()
        .await
        .expect("json");
    assert_eq!(db.expose().host, "db2");
    let previous = secrets
        .secret("app/login")
        .version_stage("AWSPREVIOUS")
        .get_json::<Db>()
        .await
        .expect("previous");
    assert_eq!(previous.expose().host, "db");

    let err = secrets.secret("app/none").get().await.expect_err("missing");
    assert!(err.is_not_found(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("secret `app/none` does not exist in region us-east-1: create it (aws secretsmanager create-secret"),
        "{text}"
    );
}
