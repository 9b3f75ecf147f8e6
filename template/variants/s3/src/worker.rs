//! The business logic: plain Rust, with no Lambda in it, tested right here.

use serde::Serialize;

pub use objects::{MemoryObjects, Objects};

/// What the function learns about an object.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// The object key.
    pub key: String,
    /// Its size.
    pub bytes: usize,
    /// Its lines.
    pub lines: usize,
}

/// Why an object cannot be summarized.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SummaryError {
    /// Too long to process here.
    #[error("{key} has more than {max} lines")]
    TooLong {
        /// The object key.
        key: String,
        /// The limit.
        max: usize,
    },
}

/// Counts the bytes and lines of an object.
#[tracing::instrument(skip(body), fields(bytes = body.len()))]
pub fn summarize(key: &str, body: &[u8], max_lines: usize) -> Result<Summary, SummaryError> {
    let lines = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    if lines > max_lines {
        return Err(SummaryError::TooLong {
            key: key.to_owned(),
            max: max_lines,
        });
    }
    Ok(Summary {
        key: key.to_owned(),
        bytes: body.len(),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_counted_and_long_ones_refused() {
        assert_eq!(
            summarize("k", b"a\nb\n", 10).expect("ok"),
            Summary {
                key: "k".into(),
                bytes: 4,
                lines: 2
            }
        );
        assert!(summarize("k", b"a\nb\nc", 2).is_err());
    }
}

mod objects {
    //! Where objects come from: S3 in Lambda, memory in tests.

    use std::collections::HashMap;
    use std::future::Future;

    /// A read-only object store.
    pub trait Objects: Send + Sync {
        /// The bytes of `s3://bucket/key`.
        fn get(
            &self,
            bucket: &str,
            key: &str,
        ) -> impl Future<Output = Result<Vec<u8>, lamplight::BoxError>> + Send;
    }

    /// Objects kept in memory, for tests and local runs.
    #[derive(Debug, Default, Clone)]
    pub struct MemoryObjects(HashMap<(String, String), Vec<u8>>);

    impl MemoryObjects {
        /// Adds an object.
        pub fn with(mut self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> Self {
            self.0
                .insert((bucket.to_owned(), key.to_owned()), body.into());
            self
        }
    }

    impl Objects for MemoryObjects {
        async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, lamplight::BoxError> {
            self.0
                .get(&(bucket.to_owned(), key.to_owned()))
                .cloned()
                .ok_or_else(|| format!("NoSuchKey: s3://{bucket}/{key}").into())
        }
    }
}
