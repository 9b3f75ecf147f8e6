//! The IAM role lamplight creates for a function: its name (stable, within IAM's limits) and
//! the trust policy that lets Lambda assume it. Deploy creates it, triggers add inline policies to
//! it, delete removes it: all three read the rules from here.

use sha2::{Digest as _, Sha256};

pub(crate) const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// IAM's longest role name.
pub const MAX_ROLE_NAME: usize = 64;

const ROLE_SUFFIX: &str = "-lamplight";
/// Hex digits of the name's SHA-256 kept in a shortened role name: 48 bits, so distinct long
/// names sharing a prefix collide about once in 2^24 pairs.
const ROLE_HASH_DIGITS: usize = 12;

fn iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

/// The role lamplight creates for `function`: `{function}-lamplight` while that fits IAM's 64
/// characters, else the name cut short, `.`, a hash of the whole name and `-lamplight`. The `.`
/// cannot occur in a Lambda function name, so a shortened name never equals another function's
/// plain one; the hash keeps it the same on every deploy, so the role is found again.
pub fn role_name(function: &str) -> String {
    let plain = format!("{function}{ROLE_SUFFIX}");
    if plain.len() <= MAX_ROLE_NAME && plain.chars().all(iam_name_char) {
        return plain;
    }
    let hash: String = Sha256::digest(function.as_bytes())
        .iter()
        .take(ROLE_HASH_DIGITS / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    let keep = MAX_ROLE_NAME - ROLE_SUFFIX.len() - 1 - ROLE_HASH_DIGITS;
    let prefix: String = function
        .chars()
        .filter(|c| iam_name_char(*c))
        .take(keep)
        .collect();
    format!("{prefix}.{hash}{ROLE_SUFFIX}")
}

/// Percent-decodes `text` (IAM returns policy documents URL-encoded); `None` when an escape is
/// malformed or the bytes are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A role's trust policy as readable JSON: decoded when URL-encoded (as IAM returns it), else
/// as given.
pub fn decode_trust_policy(document: &str) -> String {
    if serde_json::from_str::<serde_json::Value>(document).is_ok() {
        return document.to_owned();
    }
    percent_decode(document).unwrap_or_else(|| document.to_owned())
}

fn one_or_many(value: Option<&serde_json::Value>) -> Vec<&serde_json::Value> {
    match value {
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(item) => vec![item],
        None => Vec::new(),
    }
}

/// Whether a trust policy (JSON, or URL-encoded JSON) lets Lambda assume the role: a statement
/// that allows `sts:AssumeRole` to the service principal `lambda.amazonaws.com`.
pub fn trusts_lambda(document: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(&decode_trust_policy(document))
    else {
        return false;
    };
    one_or_many(policy.get("Statement")).into_iter().any(|st| {
        let allows = st.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
        let assumes = one_or_many(st.get("Action")).into_iter().any(|a| {
            a.as_str().is_some_and(|a| {
                let a = a.to_ascii_lowercase();
                a == "sts:assumerole" || a == "sts:*" || a == "*"
            })
        });
        let lambda = one_or_many(st.get("Principal").and_then(|p| p.get("Service")))
            .into_iter()
            .any(|s| s.as_str() == Some("lambda.amazonaws.com"));
        allows && assumes && lambda
    })
}
