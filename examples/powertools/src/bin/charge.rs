//! The thin handler: the state is built once per execution environment, each event goes to
//! [`powertools::Charger::handle`].

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    let charger = lamplight::init(powertools::Charger::from_env).await?;
    // Boxed: the handler's future (schema check, DynamoDB and SSM calls) nested in the
    // runtime's own would push the layout of `main`'s future past rustc's query depth limit.
    lamplight::run(move |event, invocation| Box::pin(charger.handle(event, invocation))).await
}
