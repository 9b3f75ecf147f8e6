//! The role lamplight creates for a function: its name, and reading policy documents IAM
//! returns URL-encoded. Apart from `deploy` so the triggers, which put inline policies on that
//! role, need not reach into `deploy` (which plans the triggers).

use sha2::{Digest as _, Sha256};

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
