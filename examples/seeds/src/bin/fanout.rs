//! Handler of [`seeds::fanout`]: invocations through the Lambda client of the execution
//! environment (signed by the SDK, pooled connections).

use bytes::Bytes;
use lamplight::BoxError;
use lamplight_aws::aws_sdk_lambda;
use seeds::fanout::{self, Invoker};

struct Lambda(aws_sdk_lambda::Client);

impl Invoker for Lambda {
    async fn invoke(&self, function: &str, payload: Bytes) -> Result<Bytes, BoxError> {
        Ok(lamplight_aws::lambda::invoke(&self.0, function, payload).await?)
    }
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    let lambda = lamplight::init(|| async {
        Ok::<_, BoxError>(Lambda(lamplight_aws::Aws::shared().await.lambda()))
    })
    .await?;
    lamplight::run(move |input, _inv| async move { fanout::run(&input, lambda).await }).await
}
