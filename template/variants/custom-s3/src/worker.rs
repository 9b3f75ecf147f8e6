//! The business logic: plain Rust, with no Lambda in it, tested right here.

use serde::{Deserialize, Serialize};

pub use objects::{MemoryObjects, Objects};

/// The event.
#[derive(Debug, Deserialize)]
pub struct Request {
    /// Who to greet.
    pub name: String,
}

/// The response.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Greeting {
    /// The greeting.
    pub message: String,
}

/// What can go wrong: the type's name is the `errorType` Lambda returns.
#[derive(Debug, thiserror::Error)]
pub enum GreetError {
    /// The name was empty.
    #[error("a name is required")]
    EmptyName,
    /// The name has characters other than letters and spaces.
    #[error("`{0}` is not a name: use letters and spaces")]
    NotAName(String),
    /// The greeting could not be read.
    #[error("could not read the greeting")]
    Store(#[source] lamplight::BoxError),
}

/// Greets `name` with `greeting`.
#[tracing::instrument(skip(greeting))]
pub fn greet(greeting: &str, name: &str) -> Result<Greeting, GreetError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(GreetError::EmptyName);
    }
    if !name.chars().all(|c| c.is_alphabetic() || c == ' ') {
        return Err(GreetError::NotAName(name.to_owned()));
    }
    Ok(Greeting {
        message: format!("{}, {name}!", greeting.trim()),
    })
}

/// Greets `name` with the greeting stored at `s3://bucket/key`.
#[tracing::instrument(skip(objects))]
pub async fn greet_from(
    objects: &impl Objects,
    bucket: &str,
    key: &str,
    name: &str,
) -> Result<Greeting, GreetError> {
    let greeting = objects.get(bucket, key).await.map_err(GreetError::Store)?;
    greet(&String::from_utf8_lossy(&greeting), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_name_and_refuses_what_is_not_a_name() {
        assert_eq!(
            greet("Hello", " Ada ").expect("greets").message,
            "Hello, Ada!"
        );
        assert!(matches!(greet("Hello", ""), Err(GreetError::EmptyName)));
        assert!(matches!(greet("Hello", "R2D2"), Err(GreetError::NotAName(n)) if n == "R2D2"));
    }

    #[tokio::test]
    async fn the_greeting_comes_from_the_store() {
        let objects = MemoryObjects::default().with("b", "k", "Hi");
        assert_eq!(
            greet_from(&objects, "b", "k", "Ada")
                .await
                .expect("greets")
                .message,
            "Hi, Ada!"
        );
        assert!(matches!(
            greet_from(&objects, "b", "nope", "Ada").await,
            Err(GreetError::Store(_))
        ));
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
