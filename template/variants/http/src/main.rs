//! The Lambda entry point: a few lines over the handler.

use {{crate_name}}::handler;

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    let state = lamplight::init(handler::State::load).await?;
    lamplight_http::run(handler::router(state)).await
}
