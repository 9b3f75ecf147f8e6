//! Many S3 objects at once: at most `limit` requests in flight, every object attempted, every
//! failure reported with its `s3://` location; and [`object_key`], the key of an S3 event
//! notification as the object is named.

use bytes::Bytes;
use lamplight::concurrent::{Settled, all_settled_bounded};

/// Fetches every key of `bucket`; the values come back in the order of `keys`.
pub async fn get_objects<I>(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    keys: I,
    limit: usize,
) -> Settled<Bytes>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let tasks = keys.into_iter().map(|key| {
        let key = key.as_ref().to_owned();
        let label = format!("s3://{bucket}/{key}");
        (label, async move {
            let object = client.get_object().bucket(bucket).key(&key).send().await?;
            let body = object.body.collect().await?;
            Ok::<_, lamplight::BoxError>(body.into_bytes())
        })
    });
    all_settled_bounded(tasks, limit).await
}

/// Stores every `(key, body)` in `bucket`.
pub async fn put_objects<I, K>(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    objects: I,
    limit: usize,
) -> Settled<()>
where
    I: IntoIterator<Item = (K, Bytes)>,
    K: AsRef<str>,
{
    let tasks = objects.into_iter().map(|(key, body)| {
        let key = key.as_ref().to_owned();
        let label = format!("s3://{bucket}/{key}");
        (label, async move {
            client
                .put_object()
                .bucket(bucket)
                .key(&key)
                .body(body.into())
                .send()
                .await?;
            Ok::<_, lamplight::BoxError>(())
        })
    });
    all_settled_bounded(tasks, limit).await
}

/// Why an S3 event's object key cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A `%` not followed by two hexadecimal digits.
    #[error("S3 key `{key}`: `%` at byte {position} is not followed by two hex digits")]
    BadEscape {
        /// The key as the event carried it.
        key: String,
        /// Where the `%` is, in bytes.
        position: usize,
    },
    /// The decoded bytes are not UTF-8, which S3 keys always are.
    #[error("S3 key `{key}` does not decode to UTF-8 text")]
    NotUtf8 {
        /// The key as the event carried it.
        key: String,
    },
}

/// The object key of an S3 event notification, decoded: S3 sends keys form-URL-encoded
/// (`+` for a space, `%XX` for other bytes), so `2026/sales+report.csv` names the object
/// `2026/sales report.csv`, which is what `GetObject` wants.
///
/// ```
/// use lamplight_aws::s3::object_key;
///
/// assert_eq!(
///     object_key("2026/sales+report+%C3%A9t%C3%A9%2B1.csv").as_deref(),
///     Ok("2026/sales report \u{e9}t\u{e9}+1.csv")
/// );
/// assert!(object_key("100%").is_err());
/// ```
pub fn object_key(encoded: &str) -> Result<String, KeyError> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |at: usize| {
                    bytes
                        .get(at)
                        .and_then(|b| char::from(*b).to_digit(16))
                        .ok_or_else(|| KeyError::BadEscape {
                            key: encoded.to_owned(),
                            position: i,
                        })
                };
                let (high, low) = (digit(i + 1)?, digit(i + 2)?);
                // Two hex digits are at most 0xff: the cast cannot truncate.
                out.push((high * 16 + low) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| KeyError::NotUtf8 {
        key: encoded.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// How S3 writes keys into event notifications (Java's `URLEncoder`).
    fn encode(key: &str) -> String {
        key.bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'*' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    #[test]
    fn plus_is_a_space_and_escapes_are_bytes() {
        assert_eq!(
            object_key("2026/sales+report.csv").as_deref(),
            Ok("2026/sales report.csv")
        );
        assert_eq!(object_key("a%2Bb%2fc").as_deref(), Ok("a+b/c"));
        assert_eq!(object_key("caf%C3%A9").as_deref(), Ok("caf\u{e9}"));
        assert_eq!(object_key("").as_deref(), Ok(""));
        // Already-decoded text other than `+` and `%` passes through.
        assert_eq!(
            object_key("r\u{e9}sum\u{e9}/x").as_deref(),
            Ok("r\u{e9}sum\u{e9}/x")
        );
    }

    #[test]
    fn broken_escapes_and_bytes_that_are_not_text_are_refused() {
        for (key, position) in [("100%", 3), ("%2", 0), ("a%zz", 1), ("%%41", 0)] {
            assert_eq!(
                object_key(key),
                Err(KeyError::BadEscape {
                    key: key.to_owned(),
                    position
                }),
                "{key}"
            );
        }
        let error = object_key("bad%FFbyte").expect_err("not UTF-8");
        assert_eq!(
            error.to_string(),
            "S3 key `bad%FFbyte` does not decode to UTF-8 text"
        );
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(128),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn encoded_keys_decode_to_themselves(key in "\\PC{0,40}") {
            prop_assert_eq!(object_key(&encode(&key)), Ok(key));
        }

        #[test]
        fn any_text_decodes_or_is_refused_without_panicking(text in "[%+0-9a-fA-Fz\\PC]{0,24}") {
            match object_key(&text) {
                Ok(key) => prop_assert!(key.len() <= text.len()),
                Err(KeyError::BadEscape { position, .. }) => {
                    prop_assert_eq!(text.as_bytes()[position], b'%')
                }
                Err(KeyError::NotUtf8 { .. }) => prop_assert!(text.contains('%')),
            }
        }
    }
}
