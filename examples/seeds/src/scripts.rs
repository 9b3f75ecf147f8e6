//! Web pages and S3 objects fetched at the same time; every fetch runs to its end, and one
//! error at the end names each that failed (the asyncio `gather` + raise-at-the-end seed,
//! without losing the successes or all but the first failure).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use lamplight::BoxError;
use lamplight::concurrent::{AggregateError, all_settled_bounded};
use serde::{Deserialize, Serialize};

/// The event.
#[derive(Debug, Clone, Deserialize)]
pub struct Scripts {
    /// URLs to fetch; an answer of 400 or more is a failure.
    #[serde(default)]
    pub pages: Vec<String>,
    /// The bucket of `keys`.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Object keys to fetch.
    #[serde(default)]
    pub keys: Vec<String>,
    /// The most fetches in flight at once (default 32).
    #[serde(default)]
    pub concurrency: Option<usize>,
}

/// One page fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// Its URL.
    pub url: String,
    /// The status it answered with.
    pub status: u16,
    /// The size of its body.
    pub bytes: usize,
}

/// One object fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Object {
    /// Its key.
    pub key: String,
    /// Its size.
    pub bytes: usize,
}

/// The response: everything fetched, in input order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The pages.
    pub pages: Vec<Page>,
    /// The objects.
    pub objects: Vec<Object>,
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum ScriptsError {
    /// Keys without a bucket.
    #[error("{0} `keys` given but no `bucket`: set `bucket`")]
    NoBucket(usize),
    /// Some fetches failed (every one is named).
    #[error(transparent)]
    Failed(#[from] AggregateError),
}

/// Where pages and objects come from: the web and S3 in the function, fakes in tests.
pub trait Sources: Sync {
    /// `GET url`: the status and the body.
    fn page(&self, url: &str) -> impl Future<Output = Result<(u16, Bytes), BoxError>> + Send;
    /// The object `key` of `bucket`.
    fn object(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Bytes, BoxError>> + Send;
}

enum Fetched {
    Page(Page),
    Object(Object),
}

type Fetch<'a> = Pin<Box<dyn Future<Output = Result<Fetched, BoxError>> + Send + 'a>>;

/// Fetches everything in `input`.
#[tracing::instrument(skip_all, fields(pages = input.pages.len(), keys = input.keys.len()))]
pub async fn run(input: &Scripts, sources: &impl Sources) -> Result<Report, ScriptsError> {
    let bucket = match (&input.bucket, input.keys.len()) {
        (Some(b), _) => b.as_str(),
        (None, 0) => "",
        (None, n) => return Err(ScriptsError::NoBucket(n)),
    };
    let pages = input.pages.iter().map(|url| {
        let fetch: Fetch<'_> = Box::pin(async move {
            let (status, body) = sources.page(url).await?;
            if status >= 400 {
                return Err(format!("answered {status}").into());
            }
            Ok(Fetched::Page(Page {
                url: url.clone(),
                status,
                bytes: body.len(),
            }))
        });
        (format!("GET {url}"), fetch)
    });
    let objects = input.keys.iter().map(|key| {
        let fetch: Fetch<'_> = Box::pin(async move {
            let body = sources.object(bucket, key).await?;
            Ok(Fetched::Object(Object {
                key: key.clone(),
                bytes: body.len(),
            }))
        });
        (format!("s3://{bucket}/{key}"), fetch)
    });
    let limit = input.concurrency.unwrap_or(32).max(1);
    let fetched = all_settled_bounded(pages.chain(objects), limit)
        .await
        .into_result()?;
    let mut report = Report {
        pages: Vec::new(),
        objects: Vec::new(),
    };
    for f in fetched {
        match f {
            Fetched::Page(p) => report.pages.push(p),
            Fetched::Object(o) => report.objects.push(o),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Fake {
        pages: HashMap<&'static str, u16>,
        objects: HashMap<&'static str, usize>,
    }

    impl Sources for Fake {
        async fn page(&self, url: &str) -> Result<(u16, Bytes), BoxError> {
            match self.pages.get(url) {
                Some(status) => Ok((*status, Bytes::from_static(b"<html/>"))),
                None => Err(format!("no route to {url}").into()),
            }
        }

        async fn object(&self, _bucket: &str, key: &str) -> Result<Bytes, BoxError> {
            self.objects
                .get(key)
                .map(|n| Bytes::from(vec![0u8; *n]))
                .ok_or_else(|| "NoSuchKey".into())
        }
    }

    fn fake() -> Fake {
        Fake {
            pages: HashMap::from([("https://a.test/", 200), ("https://b.test/", 503)]),
            objects: HashMap::from([("one", 10), ("two", 20)]),
        }
    }

    fn input(pages: &[&str], keys: &[&str]) -> Scripts {
        Scripts {
            pages: pages.iter().map(|p| (*p).to_owned()).collect(),
            bucket: Some("data".into()),
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            concurrency: None,
        }
    }

    #[tokio::test]
    async fn everything_fetched_comes_back_in_input_order() {
        let report = run(&input(&["https://a.test/"], &["two", "one"]), &fake())
            .await
            .expect("all fetched");
        assert_eq!(report.pages[0].status, 200);
        let sizes: Vec<_> = report.objects.iter().map(|o| o.bytes).collect();
        assert_eq!(sizes, [20, 10]);
    }

    #[tokio::test]
    async fn every_failure_is_named_in_one_error() {
        let error = run(
            &input(
                &["https://a.test/", "https://b.test/", "https://c.test/"],
                &["one", "gone"],
            ),
            &fake(),
        )
        .await
        .expect_err("three fail");
        let message = error.to_string();
        assert!(message.starts_with("3 of 5 tasks failed"), "{message}");
        for expected in [
            "GET https://b.test/: answered 503",
            "GET https://c.test/: no route to https://c.test/",
            "s3://data/gone: NoSuchKey",
        ] {
            assert!(
                message.contains(expected),
                "{expected} missing in {message}"
            );
        }
    }

    #[tokio::test]
    async fn keys_need_a_bucket() {
        let mut no_bucket = input(&[], &["one"]);
        no_bucket.bucket = None;
        let error = run(&no_bucket, &fake()).await.expect_err("no bucket");
        assert_eq!(
            error.to_string(),
            "1 `keys` given but no `bucket`: set `bucket`"
        );
    }
}
