//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.

use aws_lambda_events::event::s3::S3Event;
use lamplight::Invocation;
use lamplight::concurrent::{AggregateError, all_settled_bounded};
use serde::Deserialize;

use crate::worker::{self, Objects, Summary};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `MAX_LINES`: the longest object summarized.
    pub max_lines: usize,
}

/// What lives as long as the execution environment: settings and the S3 client.
pub struct State<O = S3Objects> {
    /// Settings.
    pub config: Config,
    /// The object store.
    pub objects: O,
}

impl State {
    /// Reads the configuration (every missing variable reported at once) and builds the client.
    pub async fn load() -> Result<Self, lamplight::BoxError> {
        let config = lamplight::config::from_env::<Config>()?;
        let objects = S3Objects(lamplight_aws::Aws::shared().await.s3());
        Ok(Self { config, objects })
    }
}

/// Summarizes every object of the event, 8 at a time; one error names every failure.
pub async fn handle<O: Objects>(
    state: &State<O>,
    event: S3Event,
    _inv: Invocation,
) -> Result<Vec<Summary>, AggregateError> {
    let tasks = event.records.into_iter().map(|record| {
        let bucket = record.s3.bucket.name.unwrap_or_default();
        let encoded = record.s3.object.key.unwrap_or_default();
        // Keys in S3 events are URL-encoded, with `+` for spaces; one that does not decode
        // fails its object, named as the event sent it.
        let key = lamplight_aws::s3::object_key(&encoded);
        let label = format!("s3://{bucket}/{}", key.as_deref().unwrap_or(&encoded));
        (label, async move {
            let key = key?;
            let body = state.objects.get(&bucket, &key).await?;
            Ok::<_, lamplight::BoxError>(worker::summarize(&key, &body, state.config.max_lines)?)
        })
    });
    all_settled_bounded(tasks, 8).await.into_result()
}

/// Objects read through lamplight's traced S3 client.
pub struct S3Objects(lamplight_aws::aws_sdk_s3::Client);

impl Objects for S3Objects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, lamplight::BoxError> {
        let object = self.0.get_object().bucket(bucket).key(key).send().await?;
        Ok(object.body.collect().await?.into_bytes().to_vec())
    }
}
