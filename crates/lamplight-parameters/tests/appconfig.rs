//! AppConfig against a stand-in for the appconfigdata API.
//!
//! moto 5.2.5 does not implement appconfigdata (and its appconfig lacks CreateEnvironment and
//! StartDeployment), so this serves the two operations over real HTTP, with the wire format the
//! SDK reads (restJson1: `POST /configurationsessions`, `GET /configuration?configuration_token=`,
//! the body as payload, the next token in `Next-Poll-Configuration-Token`), and AppConfig's
//! rules: tokens are single use, and an unchanged configuration is an empty body.

mod common;

use common::aws;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lamplight_parameters::{AppConfig, ParameterError};

#[derive(Default)]
struct Fake {
    version: u32,
    body: Vec<u8>,
    sessions: u32,
    polls: u32,
    empty_answers: u32,
    next_token: u32,
    /// Live tokens, and the configuration version their session last received.
    tokens: HashMap<String, u32>,
}

type Shared = Arc<Mutex<Fake>>;

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [("x-amzn-errortype", kind)],
        Json(serde_json::json!({ "Message": message })),
    )
        .into_response()
}

async fn start_session(
    State(fake): State<Shared>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    if body["ConfigurationProfileIdentifier"] == "missing" {
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "no such profile",
        );
    }
    if body["ConfigurationProfileIdentifier"] == "denied" {
        return error(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            "not authorized to perform appconfig:StartConfigurationSession",
        );
    }
    let mut fake = fake.lock().expect("lock");
    fake.sessions += 1;
    fake.next_token += 1;
    let token = format!("token-{}", fake.next_token);
    fake.tokens.insert(token.clone(), 0);
    (
        StatusCode::CREATED,
        Json(serde_json::json!({ "InitialConfigurationToken": token })),
    )
        .into_response()
}

async fn latest(
    State(fake): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut fake = fake.lock().expect("lock");
    let token = query
        .get("configuration_token")
        .cloned()
        .unwrap_or_default();
    let Some(seen) = fake.tokens.remove(&token) else {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequestException",
            "token expired or used",
        );
    };
    fake.polls += 1;
    fake.next_token += 1;
    let next = format!("token-{}", fake.next_token);
    let version = fake.version;
    fake.tokens.insert(next.clone(), version);
    let body = if seen == version {
        fake.empty_answers += 1;
        Vec::new()
    } else {
        fake.body.clone()
    };
    (
        StatusCode::OK,
        [
            ("Next-Poll-Configuration-Token", next.as_str()),
            ("Next-Poll-Interval-In-Seconds", "60"),
            ("Content-Type", "application/json"),
        ],
        body,
    )
        .into_response()
}

async fn serve(fake: Shared) -> String {
    let app = axum::Router::new()
        .route("/configurationsessions", post(start_session))
        .route("/configuration", get(latest))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn deploy(fake: &Shared, body: &str) {
    let mut fake = fake.lock().expect("lock");
    fake.version += 1;
    fake.body = body.as_bytes().to_vec();
}

#[derive(Debug, serde::Deserialize)]
struct Flags {
    checkout: u32,
}

#[tokio::test]
async fn one_session_poll_tokens_and_unchanged_answers_keep_the_value() {
    let fake = Shared::default();
    deploy(&fake, r#"{"checkout": 1}"#);
    let endpoint = serve(fake.clone()).await;
    let appconfig = AppConfig::new(&aws(&endpoint)).with_ttl(Duration::from_secs(1));
    let checkout = |force: bool| {
        let request = appconfig.configuration("shop", "prod", "flags");
        let request = if force {
            request.force_refresh()
        } else {
            request
        };
        async move {
            request
                .get_json::<Flags>()
                .await
                .expect("flags")
                .into_exposed()
                .checkout
        }
    };

    assert_eq!(checkout(false).await, 1);
    deploy(&fake, r#"{"checkout": 2}"#);
    // Cached within the TTL.
    assert_eq!(checkout(false).await, 1);
    assert_eq!(fake.lock().expect("lock").polls, 1);
    // Forced: polled with the token the first answer gave (a used token would be refused).
    assert_eq!(checkout(true).await, 2);
    // Nothing changed: AppConfig answers empty and the cached value is kept.
    assert_eq!(checkout(true).await, 2);
    {
        let fake = fake.lock().expect("lock");
        assert_eq!((fake.sessions, fake.polls, fake.empty_answers), (1, 3, 1));
    }
    // After the TTL the next poll sees a new deployment.
    deploy(&fake, r#"{"checkout": 3}"#);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(checkout(false).await, 3);

    // A token that expired (24 h) is replaced by a new session.
    fake.lock().expect("lock").tokens.clear();
    assert_eq!(checkout(true).await, 3);
    assert_eq!(fake.lock().expect("lock").sessions, 2);

    // The same configuration is one cache entry whatever the transform.
    let text = appconfig
        .configuration("shop", "prod", "flags")
        .get()
        .await
        .expect("text");
    assert_eq!(text.expose(), r#"{"checkout": 3}"#);
    assert_eq!(fake.lock().expect("lock").sessions, 2);
}

#[tokio::test]
async fn denied_access_names_the_action_to_allow() {
    let endpoint = serve(Shared::default()).await;
    let appconfig = AppConfig::new(&aws(&endpoint));
    let err = appconfig
        .configuration("shop", "prod", "denied")
        .get()
        .await
        .expect_err("denied");
    assert!(
        matches!(err, ParameterError::AccessDenied { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "access to AppConfig configuration `shop/prod/denied` was denied: allow \
         `appconfig:StartConfigurationSession` on it in the function's role (and `kms:Decrypt` \
         on its key when it is encrypted with a customer key): not authorized to perform \
         appconfig:StartConfigurationSession"
    );
}

#[tokio::test]
async fn a_missing_configuration_is_named() {
    let fake = Shared::default();
    let endpoint = serve(fake.clone()).await;
    let appconfig = AppConfig::new(&aws(&endpoint));
    let err = appconfig
        .configuration("shop", "prod", "missing")
        .get()
        .await
        .expect_err("no such profile");
    assert!(matches!(err, ParameterError::NotFound { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "AppConfig configuration `shop/prod/missing` does not exist in region us-east-1"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn concurrent_cold_requests_make_one_fetch() {
    let fake = Shared::default();
    deploy(&fake, r#"{"checkout": 7}"#);
    let endpoint = serve(fake.clone()).await;
    let appconfig = AppConfig::new(&aws(&endpoint));
    let ask = || {
        appconfig
            .configuration("shop", "prod", "flags")
            .get_json::<Flags>()
    };
    let (a, b, c) = tokio::join!(ask(), ask(), ask());
    for flags in [a, b, c] {
        assert_eq!(flags.expect("flags").expose().checkout, 7);
    }
    let fake = fake.lock().expect("lock");
    assert_eq!((fake.sessions, fake.polls), (1, 1));
}
