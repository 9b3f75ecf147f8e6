//! Secrets stay out of logs: names that look secret have their values replaced.

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

const SECRET_WORDS: &[&str] = &[
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "TOKEN",
    "CREDENTIAL",
    "AUTHORIZATION",
    "COOKIE",
    "PRIVATE",
    "SIGNATURE",
    "APIKEY",
    "API_KEY",
    "ACCESS_KEY",
];

/// Whether a variable, field or header name looks like it holds a secret
/// (`DB_PASSWORD`, `api-key`, `Authorization`, `STRIPE_SECRET`, `SIGNING_KEY`, ...).
///
/// ```
/// use lamplight_telemetry::redact::looks_secret;
/// assert!(looks_secret("AWS_SECRET_ACCESS_KEY"));
/// assert!(looks_secret("authorization"));
/// assert!(looks_secret("signing_key"));
/// assert!(!looks_secret("TABLE_NAME"));
/// assert!(!looks_secret("MAX_KEYS"));
/// ```
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    SECRET_WORDS.iter().any(|w| upper.contains(w))
        || upper == "KEY"
        || upper.ends_with("_KEY")
        || upper.contains("_KEY_")
}

/// `value`, or [`REDACTED`] when `name` looks secret.
pub fn value<'a>(name: &str, value: &'a str) -> &'a str {
    if looks_secret(name) { REDACTED } else { value }
}
