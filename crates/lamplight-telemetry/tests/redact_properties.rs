//! Property tests of `redact::scrub`: it never panics on any text, scrubbing twice changes
//! nothing more, and a secret planted in any of the shapes it knows never survives.
//! Cases default to 128; `PROPTEST_CASES` overrides.

use lamplight_telemetry::redact::{REDACTED, Scrubber, looks_secret};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(128),
        ..ProptestConfig::default()
    }
}

/// Text made of the pieces the scanner stops at, mixed with anything.
fn texty() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "\\PC{0,12}",
            Just("password".to_owned()),
            Just("apiKey".to_owned()),
            Just("=".to_owned()),
            Just(": ".to_owned()),
            Just("\"".to_owned()),
            Just("://".to_owned()),
            Just("@".to_owned()),
            Just("Bearer ".to_owned()),
            Just("AKIAIOSFODNN7EXAMPLE ".to_owned()),
            Just(REDACTED.to_owned()),
            "[A-Za-z0-9/+]{40}",
            Just("env-secret-value".to_owned()),
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

fn secret_value() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{8,30}"
}

fn secret_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("password"),
        Just("DB_PASS"),
        Just("apiKey"),
        Just("client_secret"),
        Just("Authorization"),
        Just("x-api-key"),
        Just("SIGNING_KEY"),
        Just("token"),
        Just("DATABASE_URL"),
    ]
    .prop_map(str::to_owned)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scrub_never_panics_and_is_idempotent(text in texty(), any in "\\PC{0,200}") {
        let s = Scrubber::new(["env-secret-value".to_owned()]);
        for input in [text.as_str(), any.as_str()] {
            let once = s.scrub(input).into_owned();
            let twice = s.scrub(&once).into_owned();
            prop_assert_eq!(&twice, &once, "input: {:?}", input);
            prop_assert!(!once.contains("env-secret-value"));
        }
    }

    #[test]
    fn a_planted_secret_never_survives(
        before in "\\PC{0,30}",
        after in "\\PC{0,30}",
        key in secret_key(),
        secret in secret_value(),
        shape in 0usize..7,
    ) {
        prop_assume!(looks_secret(&key));
        let planted = match shape {
            0 => format!("{key}={secret}"),
            1 => format!("{key}: {secret}"),
            2 => format!("\"{key}\": \"{secret}\""),
            3 => format!("{key}='{secret}'"),
            4 => format!("postgres://app:{secret}@db:5432/app"),
            5 => format!("Authorization: Bearer {secret}"),
            _ => format!("value {secret} seen"),
        };
        let text = format!("{before} {planted} {after}");
        // Shape 6 is the process's own secret, known verbatim.
        let s = Scrubber::new([secret.clone()]);
        let clean = s.scrub(&text);
        prop_assert!(!clean.contains(&secret), "{:?} -> {:?}", text, clean);
        prop_assert!(clean.contains(REDACTED));
    }
}
