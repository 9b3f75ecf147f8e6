//! Many S3 objects at once: at most `limit` requests in flight, every object attempted, every
//! failure reported with its `s3://` location.

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
