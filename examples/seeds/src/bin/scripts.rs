//! Handler of [`seeds::scripts`]: pages through lamplight-aws's traced web client, objects
//! through the S3 client of the execution environment.

use bytes::Bytes;
use lamplight::BoxError;
use lamplight_aws::aws_sdk_s3;
use lamplight_aws::web::WebClient;
use seeds::scripts::{self, Sources};

struct Live {
    web: &'static WebClient,
    s3: aws_sdk_s3::Client,
}

impl Sources for Live {
    async fn page(&self, url: &str) -> Result<(u16, Bytes), BoxError> {
        let response = self.web.get(url).await?;
        Ok((response.status().as_u16(), response.into_body()))
    }

    async fn object(&self, bucket: &str, key: &str) -> Result<Bytes, BoxError> {
        let object = self.s3.get_object().bucket(bucket).key(key).send().await?;
        Ok(object.body.collect().await?.into_bytes())
    }
}

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    let live = lamplight::init(|| async {
        Ok::<_, BoxError>(Live {
            web: WebClient::shared(),
            s3: lamplight_aws::Aws::shared().await.s3(),
        })
    })
    .await?;
    lamplight::run(move |input, _inv| async move { scripts::run(&input, live).await }).await
}
