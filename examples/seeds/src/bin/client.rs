//! Handler of [`seeds::client`]: requests through lamplight-aws's Lambda transport.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt as _;
use lamplight::BoxError;
use lamplight_aws::transport::LambdaTransport;
use seeds::client::{self, Http};

struct Transport(LambdaTransport);

impl Http for Transport {
    async fn send(&self, request: Request<String>) -> Result<Response<Bytes>, BoxError> {
        let response = self.0.send(request).await?;
        let (parts, body) = response.into_parts();
        Ok(Response::from_parts(
            parts,
            body.collect().await?.to_bytes(),
        ))
    }
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    let transport = lamplight::init(|| async {
        Ok::<_, BoxError>(Transport(LambdaTransport::new(
            lamplight_aws::Aws::shared().await.lambda(),
        )))
    })
    .await?;
    lamplight::run(move |calls, _inv| async move { client::run(&calls, transport).await }).await
}
