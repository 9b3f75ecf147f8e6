//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.

use lamplight::Invocation;
use serde::Deserialize;

use crate::worker::Objects;
use crate::worker::{self, GreetError, Greeting, Request};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `GREETING_BUCKET`: where the greeting is stored.
    pub greeting_bucket: String,
    /// `GREETING_KEY`: its key.
    pub greeting_key: String,
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

/// Greets the caller with the stored greeting.
pub async fn handle<O: Objects>(
    state: &State<O>,
    request: Request,
    inv: Invocation,
) -> Result<Greeting, GreetError> {
    tracing::info!(
        remaining_ms = inv.remaining_time().as_millis() as u64,
        "greeting {}",
        request.name
    );
    let config = &state.config;
    worker::greet_from(
        &state.objects,
        &config.greeting_bucket,
        &config.greeting_key,
        &request.name,
    )
    .await
}

/// Objects read through lamplight's traced S3 client.
pub struct S3Objects(lamplight_aws::aws_sdk_s3::Client);

impl Objects for S3Objects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, lamplight::BoxError> {
        let object = self.0.get_object().bucket(bucket).key(key).send().await?;
        Ok(object.body.collect().await?.into_bytes().to_vec())
    }
}
