//! A function on bare `lambda_runtime`, to show the local service runs any runtime.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({"plain": event.payload, "requestId": event.context.request_id}))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
