//! The Lambda entry point: a few lines over the handler.

use {{crate_name}}::handler;

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    // Once per execution environment: configuration and clients, checked before any event.
    let state = lamplight::init(handler::State::load).await?;
    lamplight::run(move |event, inv| handler::handle(state, event, inv)).await
}
