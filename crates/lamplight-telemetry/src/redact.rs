//! Secrets stay out of logs, traces and error documents: names that look secret have their
//! values replaced ([`looks_secret`], [`value`]), and free text is scrubbed of secrets it
//! carries ([`scrub`]).
//!
//! # What [`scrub`] removes
//!
//! 1. **URL credentials**: `scheme://user:pass@host` → `scheme://[redacted]@host` (any scheme:
//!    `postgres://`, `redis://`, `https://`).
//! 2. **Secret-named pairs**: the value after `key=`, `key: `, `"key": "…"` or `key="…"` when
//!    `key` looks secret by [`looks_secret`] (`password=hunter2`, `"apiKey": "…"`,
//!    `Authorization: Bearer …`; a value introduced by an auth scheme word such as `Bearer`
//!    is removed with its scheme). An unquoted value runs to the next space, `,`, `;`, `&`,
//!    or closing bracket. A bare `key=` is left alone (an S3 object key, far more often).
//! 3. **Bearer and Basic credentials** anywhere: `Bearer <token>` → `Bearer [redacted]` (tokens
//!    of 8 or more token characters, so prose like "bearer of bad news" stays).
//! 4. **AWS secret access keys next to their key id**: a 40-character run of base64 characters
//!    within 100 bytes after an `AKIA…`/`ASIA…` access key id. The key id itself is kept (AWS
//!    treats it as an identifier, and it tells which credentials were used); a lone 40-character
//!    run elsewhere is not touched, as commit hashes and digests look the same.
//! 5. **This process's own secrets, verbatim**: the values of its environment variables whose
//!    names look secret (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `DB_PASSWORD`, …), read
//!    once. Values shorter than 8 bytes are skipped: `true` or `5432` would be cut out of
//!    every line they happen to appear in.
//!
//! Each match is replaced by [`REDACTED`]; scrubbing is idempotent.
//!
//! # Cost
//!
//! The scanner is hand-written rather than built on `regex` (which this crate does not
//! otherwise pull in, and whose compiled sets cost more at cold start than these few rules are
//! worth): one pass over the bytes that stops only at `:`, `=`, `@`, `B`/`b` and `A`, and a
//! substring search per process secret. A line with nothing to remove is returned borrowed,
//! without allocating.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::OnceLock;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Words that make a name secret wherever they appear in it, even glued to others
/// (`MYSECRET`, `GITHUB_TOKEN`, `PGPASSWORD`).
const SECRET_SUBSTRINGS: &[&str] = &[
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "TOKEN",
    "CREDENTIAL",
    "AUTHORIZATION",
    "COOKIE",
    "PRIVATE",
    "SIGNATURE",
    "APIKEY",
];

/// Words that make a name secret only as whole words (`DB_PASS` but not `BYPASS`, `*_PWD`,
/// `SENTRY_DSN`, `BASIC_AUTH` but not `AUTHOR`).
const SECRET_WORDS: &[&str] = &["PASS", "PWD", "DSN", "AUTH", "KEY", "SALT"];

/// Adjacent word pairs that name a secret (`DATABASE_URL`, `connectionString`).
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("DATABASE", "URL"),
    ("DB", "URL"),
    ("CONNECTION", "STRING"),
    ("CONN", "STR"),
];

/// Whether a variable, field or header name looks like it holds a secret.
///
/// The name is split into words at `_`, `-`, `.`, spaces and camelCase humps (`signingKey`,
/// `APIKey`), then matched against secret words: `SECRET`, `PASSWORD`, `TOKEN`, `CREDENTIAL`,
/// `AUTHORIZATION`, `COOKIE`, `PRIVATE`, `SIGNATURE`, `APIKEY` anywhere; `PASS`, `PWD`, `DSN`,
/// `AUTH`, `KEY`, `SALT` as whole words; `DATABASE_URL`, `DB_URL`, `CONNECTION_STRING` as pairs.
///
/// ```
/// use lamplight_telemetry::redact::looks_secret;
/// assert!(looks_secret("AWS_SECRET_ACCESS_KEY"));
/// assert!(looks_secret("authorization"));
/// assert!(looks_secret("signing_key"));
/// assert!(looks_secret("signingKey"));
/// assert!(looks_secret("DB_PASS"));
/// assert!(looks_secret("DATABASE_URL"));
/// assert!(looks_secret("SENTRY_DSN"));
/// assert!(!looks_secret("TABLE_NAME"));
/// assert!(!looks_secret("MAX_KEYS"));
/// assert!(!looks_secret("BYPASS_CACHE"));
/// ```
pub fn looks_secret(name: &str) -> bool {
    // Called for every field of every log line and every `:`/`=` a scrubbed text holds:
    // no allocation.
    let bytes = name.as_bytes();
    if SECRET_SUBSTRINGS.iter().any(|w| {
        bytes
            .windows(w.len())
            .any(|window| window.eq_ignore_ascii_case(w.as_bytes()))
    }) {
        return true;
    }
    let mut previous: Option<&str> = None;
    let mut index = 0;
    let mut secret = false;
    let mut last_is_key = false;
    for_each_word(name, |word| {
        let is = |w: &str| word.eq_ignore_ascii_case(w);
        last_is_key = is("KEY");
        // `KEY` counts at the end or inside (`SIGNING_KEY`, `A_KEY_ID`), not first
        // (`KEY_COUNT`), as before words were split.
        if (SECRET_WORDS.iter().any(|w| is(w)) && !is("KEY")) || (is("KEY") && index > 0) {
            secret = true;
        }
        if let Some(prev) = previous
            && SECRET_PAIRS
                .iter()
                .any(|(a, b)| prev.eq_ignore_ascii_case(a) && is(b))
        {
            secret = true;
        }
        previous = Some(word);
        index += 1;
    });
    secret || (index == 1 && last_is_key)
}

/// Calls `f` with each word of an identifier: split at non-alphanumeric characters and at
/// camelCase humps (`apiKey` → `api`, `Key`; `APIKey` → `API`, `Key`; `S3Key` → `S3`, `Key`).
fn for_each_word<'a>(name: &'a str, mut f: impl FnMut(&'a str)) {
    let bytes = name.as_bytes();
    let mut start = None;
    for i in 0..=bytes.len() {
        let c = bytes.get(i).copied();
        let alnum = c.is_some_and(|c| c.is_ascii_alphanumeric() || c >= 0x80);
        let Some(s) = start else {
            if alnum {
                start = Some(i);
            }
            continue;
        };
        let hump = alnum
            && i > s
            && c.is_some_and(|c| c.is_ascii_uppercase())
            && (bytes[i - 1].is_ascii_lowercase()
                || (bytes[i - 1].is_ascii_uppercase()
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_lowercase)));
        if !alnum || hump {
            // Non-ASCII bytes are kept inside words, so these are char boundaries.
            if let Some(word) = name.get(s..i) {
                f(word);
            }
            start = alnum.then_some(i);
        }
    }
}

/// `value`, or [`REDACTED`] when `name` looks secret.
pub fn value<'a>(name: &str, value: &'a str) -> &'a str {
    if looks_secret(name) { REDACTED } else { value }
}

/// Values shorter than this are not scrubbed verbatim (see the [module](self) docs, rule 5).
pub const MIN_SECRET_LEN: usize = 8;

/// `text` without the secrets it carries: see the [module](self) docs for the rules, including
/// the values of this process's secret-looking environment variables. Borrowed when nothing
/// matched.
///
/// ```
/// use lamplight_telemetry::redact::scrub;
/// assert_eq!(
///     scrub("connect postgres://app:hunter2@db:5432/app failed"),
///     "connect postgres://[redacted]@db:5432/app failed"
/// );
/// assert_eq!(scrub("retry with password=hunter2 later"), "retry with password=[redacted] later");
/// assert_eq!(scrub(r#"{"apiKey": "k-123"}"#), r#"{"apiKey": "[redacted]"}"#);
/// assert_eq!(scrub("Authorization: Bearer eyJhbGciOi.x.y"), "Authorization: [redacted]");
/// assert!(matches!(scrub("nothing to see"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn scrub(text: &str) -> Cow<'_, str> {
    process_scrubber().scrub(text)
}

/// The scrubber [`scrub`] uses, built once from this process's environment.
pub fn process_scrubber() -> &'static Scrubber {
    static SCRUBBER: OnceLock<Scrubber> = OnceLock::new();
    SCRUBBER.get_or_init(|| {
        Scrubber::new(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .filter(|(k, _)| looks_secret(k))
                .map(|(_, v)| v),
        )
    })
}

/// Scrubs text by the [module](self) rules, with a fixed list of known secret values.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values themselves.
        f.debug_struct("Scrubber")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Scrubber {
    /// A scrubber that also removes each of `secrets` verbatim (values shorter than
    /// [`MIN_SECRET_LEN`], or that are part of [`REDACTED`] itself, are skipped).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| s.len() >= MIN_SECRET_LEN && !REDACTED.contains(s.as_str()))
            .collect();
        // Longest first, so a secret that contains another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` without the secrets it carries. Borrowed when nothing matched.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut ranges = Vec::new();
        self.find(text, &mut ranges);
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = replace(text, ranges);
        // A removal can make a new match (a 40-character run now bounded by `]`): settle, so
        // scrubbing scrubbed text changes nothing. Bounded: real text settles in one or two.
        for _ in 0..4 {
            match self.scrub_once(&out) {
                Some(next) => out = next,
                None => break,
            }
        }
        Cow::Owned(out)
    }

    fn scrub_once(&self, text: &str) -> Option<String> {
        let mut ranges = Vec::new();
        self.find(text, &mut ranges);
        (!ranges.is_empty()).then(|| replace(text, ranges))
    }

    fn find(&self, text: &str, ranges: &mut Vec<Range<usize>>) {
        scan(text, ranges);
        let bytes = text.as_bytes();
        for secret in &self.secrets {
            // A first-byte scan, not `str::find`: its searcher is built anew on each call,
            // which costs more than the search itself on a log line.
            let needle = secret.as_bytes();
            let mut i = 0;
            while i + needle.len() <= bytes.len() {
                if bytes[i] == needle[0] && bytes[i..].starts_with(needle) {
                    ranges.push(i..i + needle.len());
                    i += needle.len();
                } else {
                    i += 1;
                }
            }
        }
    }
}

/// `text` with every range replaced by [`REDACTED`] (overlapping ranges merged).
fn replace(text: &str, mut ranges: Vec<Range<usize>>) -> String {
    ranges.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    let mut pending: Option<Range<usize>> = None;
    for r in ranges {
        match &mut pending {
            Some(p) if r.start <= p.end => p.end = p.end.max(r.end),
            _ => {
                if let Some(p) = pending.take() {
                    out.push_str(&text[at..p.start]);
                    out.push_str(REDACTED);
                    at = p.end;
                }
                pending = Some(r);
            }
        }
    }
    if let Some(p) = pending {
        out.push_str(&text[at..p.start]);
        out.push_str(REDACTED);
        at = p.end;
    }
    out.push_str(&text[at..]);
    out
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Characters of a bearer token, an API key or a base64 secret.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Where an unquoted value ends.
fn is_value_end(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b',' | b';' | b'&' | b'}' | b')' | b']' | b'"' | b'\'')
}

/// Auth schemes whose credentials follow them after a space.
const SCHEMES: &[&str] = &["bearer", "basic", "digest", "token"];

/// The bytes at which a rule of [`scan`] can start.
const TRIGGERS: [bool; 256] = {
    let mut table = [false; 256];
    table[b':' as usize] = true;
    table[b'=' as usize] = true;
    table[b'B' as usize] = true;
    table[b'b' as usize] = true;
    table[b'A' as usize] = true;
    table
};

/// Finds the byte ranges rules 1 to 4 remove. Every range starts and ends on a char boundary:
/// the scanner only stops on ASCII bytes.
fn scan(text: &str, ranges: &mut Vec<Range<usize>>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // Most bytes start no rule: skip to the next that may, by table.
        match bytes[i..].iter().position(|b| TRIGGERS[usize::from(*b)]) {
            Some(skip) => i += skip,
            None => return,
        }
        match bytes[i] {
            b':' if bytes[i..].starts_with(b"://") => {
                if let Some(r) = url_userinfo(bytes, i + 3) {
                    ranges.push(r);
                }
                i += 3;
                continue;
            }
            b'=' | b':' => {
                if let Some(r) = pair_value(text, i) {
                    i = r.end.max(i + 1);
                    ranges.push(r);
                    continue;
                }
            }
            b'B' | b'b' => {
                if let Some(r) = scheme_credentials(bytes, i) {
                    i = r.end;
                    ranges.push(r);
                    continue;
                }
            }
            b'A' if access_key_id_at(bytes, i) => {
                if let Some(r) = paired_secret_key(bytes, i + 20) {
                    i = r.end;
                    ranges.push(r);
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The userinfo of a URL whose authority starts at `from` (just after `://`).
fn url_userinfo(bytes: &[u8], from: usize) -> Option<Range<usize>> {
    let end = bytes[from..]
        .iter()
        .position(|b| matches!(b, b'/' | b'?' | b'#') || is_value_end(*b) || *b == b'<')
        .map_or(bytes.len(), |p| from + p);
    let at = bytes[from..end].iter().rposition(|b| *b == b'@')? + from;
    let userinfo = &bytes[from..at];
    (!userinfo.is_empty() && userinfo != REDACTED.as_bytes()).then_some(from..at)
}

/// The value of a `key=value` / `key: value` / `"key": "value"` pair whose separator is at
/// `sep`, when the key looks secret.
fn pair_value(text: &str, sep: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    // The key: skip a closing quote, then key characters.
    let mut key_end = sep;
    if key_end > 0 && matches!(bytes[key_end - 1], b'"' | b'\'') {
        key_end -= 1;
    }
    let key_start = bytes[..key_end]
        .iter()
        .rposition(|b| !is_key_byte(*b))
        .map_or(0, |p| p + 1);
    if key_start == key_end {
        return None;
    }
    // `https://` is a scheme, not a key.
    if bytes[sep] == b':' && bytes[sep..].starts_with(b"://") {
        return None;
    }
    let key = text.get(key_start..key_end)?;
    // A bare `key` is an S3 object key or a map key far more often than a secret in text.
    if !looks_secret(key) || key.eq_ignore_ascii_case("key") {
        return None;
    }
    // The value: skip spaces (after `:` only: `a = b` is rare, `a: b` common), then a quote.
    let mut start = sep + 1;
    if bytes[sep] == b':' {
        while start < bytes.len() && bytes[start] == b' ' {
            start += 1;
        }
    }
    if text[start..].starts_with(REDACTED) {
        return None;
    }
    let quote = bytes
        .get(start)
        .copied()
        .filter(|b| matches!(b, b'"' | b'\''));
    let range = if let Some(q) = quote {
        let open = start + 1;
        let mut j = open;
        while j < bytes.len() && bytes[j] != q {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        open..j.min(bytes.len())
    } else {
        let mut end = value_end(bytes, start);
        // `Authorization: Bearer abc`: the scheme and its credentials go together.
        let word = text.get(start..end).unwrap_or("");
        if SCHEMES.iter().any(|s| word.eq_ignore_ascii_case(s)) && bytes.get(end) == Some(&b' ') {
            end = value_end(bytes, end + 1);
        }
        start..end
    };
    let value = text.get(range.clone())?;
    (!value.is_empty() && value != REDACTED).then_some(range)
}

fn value_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|b| is_value_end(*b))
        .map_or(bytes.len(), |p| from + p)
}

/// The credentials after `Bearer ` / `Basic ` starting at `at`.
fn scheme_credentials(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    // A word of its own: not the end of `Xbearer`.
    if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
        return None;
    }
    let word_len = [6usize, 5].into_iter().find(|n| {
        bytes
            .get(at..at + n)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"bearer") || w.eq_ignore_ascii_case(b"basic"))
    })?;
    let start = at + word_len + 1;
    if bytes.get(at + word_len) != Some(&b' ') {
        return None;
    }
    let len = bytes[start.min(bytes.len())..]
        .iter()
        .take_while(|b| is_token_byte(**b))
        .count();
    (len >= 8).then_some(start..start + len)
}

/// Whether an AWS access key id (`AKIA`/`ASIA` + 16 upper-case letters or digits) starts at
/// `at`, as a word of its own.
fn access_key_id_at(bytes: &[u8], at: usize) -> bool {
    let Some(id) = bytes.get(at..at + 20) else {
        return false;
    };
    (id.starts_with(b"AKIA") || id.starts_with(b"ASIA"))
        && id[4..]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
        && bytes
            .get(at + 20)
            .is_none_or(|b| !b.is_ascii_alphanumeric())
}

/// A secret access key (exactly 40 base64 characters as a word) within 100 bytes after `from`.
fn paired_secret_key(bytes: &[u8], from: usize) -> Option<Range<usize>> {
    let window = &bytes[from..(from + 100).min(bytes.len())];
    let is_b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/');
    let mut i = 0;
    while i < window.len() {
        if is_b64(&window[i]) {
            let len = window[i..].iter().take_while(|b| is_b64(b)).count();
            // The run may go on past the window: measure it in the whole text.
            let full = bytes[from + i..].iter().take_while(|b| is_b64(b)).count();
            if full == 40 {
                return Some(from + i..from + i + 40);
            }
            i += len;
        } else {
            i += 1;
        }
    }
    None
}

/// Scrubs every string in a JSON value, in place; values under secret-looking keys are
/// replaced whole. Returns whether anything changed.
pub fn scrub_json(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(clean) = scrub(s) {
                *s = clean;
                true
            } else {
                false
            }
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, v| scrub_json(v) | c),
        Value::Object(map) => map.iter_mut().fold(false, |changed, (k, v)| {
            if looks_secret(k) && v.is_string() && v.as_str() != Some(REDACTED) {
                *v = Value::from(REDACTED);
                true
            } else {
                scrub_json(v) | changed
            }
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber() -> Scrubber {
        Scrubber::new(["s3cr3t-env-value".to_owned(), "short".to_owned()])
    }

    #[test]
    fn names_are_split_into_words_before_matching() {
        for name in [
            "DB_PASS",
            "MYSQL_PWD",
            "db-pwd",
            "DATABASE_URL",
            "databaseUrl",
            "SENTRY_DSN",
            "signingKey",
            "apiKey",
            "APIKey",
            "clientSecret",
            "CONNECTION_STRING",
            "ConnectionString",
            "x-api-key",
            "Proxy-Authorization",
            "BASIC_AUTH",
            "PGPASSWORD",
            "GITHUB_TOKEN",
            "private_key",
            "password_salt",
        ] {
            assert!(looks_secret(name), "{name} should look secret");
        }
        for name in [
            "TABLE_NAME",
            "MAX_KEYS",
            "BYPASS_CACHE",
            "AUTHOR",
            "KEYSPACE",
            "PASSENGER_COUNT",
            "DATABASE_NAME",
            "url",
            "compass",
        ] {
            assert!(!looks_secret(name), "{name} should not look secret");
        }
    }

    #[test]
    fn each_rule_removes_what_it_should_and_keeps_the_rest() {
        let s = scrubber();
        let cases = [
            (
                "db at mysql://root:pw@10.0.0.1:3306/app down",
                "db at mysql://[redacted]@10.0.0.1:3306/app down",
            ),
            ("https://example.com/a@b", "https://example.com/a@b"),
            ("token=abc&page=2", "token=[redacted]&page=2"),
            ("DB_PASS=p4ss, retrying", "DB_PASS=[redacted], retrying"),
            (
                r#"{"clientSecret":"a\"b","user":"ada"}"#,
                r#"{"clientSecret":"[redacted]","user":"ada"}"#,
            ),
            (
                "Config { api_key: \"k-1\", region: \"eu\" }",
                "Config { api_key: \"[redacted]\", region: \"eu\" }",
            ),
            (
                "authorization: Basic dXNlcjpwYXNz",
                "authorization: [redacted]",
            ),
            (
                "sent Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig to api",
                "sent Bearer [redacted] to api",
            ),
            ("the bearer of bad news", "the bearer of bad news"),
            (
                "creds AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ok",
                "creds AKIAIOSFODNN7EXAMPLE [redacted] ok",
            ),
            (
                "commit 0123456789abcdef0123456789abcdef01234567",
                "commit 0123456789abcdef0123456789abcdef01234567",
            ),
            (
                "leaked s3cr3t-env-value twice: s3cr3t-env-value",
                "leaked [redacted] twice: [redacted]",
            ),
            ("short values stay short", "short values stay short"),
            ("elapsed: 3 ms, key_count=4", "elapsed: 3 ms, key_count=4"),
            ("ünïcödé password=ü€ ok", "ünïcödé password=[redacted] ok"),
        ];
        for (text, expected) in cases {
            assert_eq!(s.scrub(text), expected, "{text}");
            assert_eq!(s.scrub(expected), expected, "idempotent on {expected}");
        }
    }

    #[test]
    fn clean_text_is_borrowed() {
        let s = scrubber();
        let line = "GET /users/42 answered 200 in 3 ms: bucket=my-bucket key=a/b.json";
        assert!(matches!(s.scrub(line), Cow::Borrowed(_)));
    }

    #[test]
    fn json_values_are_scrubbed_in_place() {
        let mut v = serde_json::json!({
            "message": "password=hunter2",
            "password": "hunter2",
            "nested": [{"url": "redis://:pw@cache:6379"}],
            "n": 3,
        });
        assert!(scrub_json(&mut v));
        assert_eq!(
            v,
            serde_json::json!({
                "message": "password=[redacted]",
                "password": "[redacted]",
                "nested": [{"url": "redis://[redacted]@cache:6379"}],
                "n": 3,
            })
        );
        assert!(!scrub_json(&mut v), "nothing left to change");
    }

    /// Not a benchmark harness, but a guard: scrubbing a clean log line must stay in the
    /// sub-microsecond range even unoptimised. Prints the figure for the record.
    #[test]
    fn a_clean_line_costs_little() {
        let s = Scrubber::new([
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
            "IQoJb3JpZ2luX2VjEHYaCXVzLWVhc3QtMSJHMEUCIQ".to_owned(),
        ]);
        let line =
            "processed order 8476a536 for customer 42 in 3.2 ms (cache hit, region eu-west-1)";
        let n = 20_000;
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert!(matches!(
                s.scrub(std::hint::black_box(line)),
                Cow::Borrowed(_)
            ));
        }
        let per_line = started.elapsed() / n;
        eprintln!("scrub: {per_line:?} per clean {}-byte line", line.len());
        assert!(
            per_line < std::time::Duration::from_micros(50),
            "{per_line:?}"
        );
    }
}
