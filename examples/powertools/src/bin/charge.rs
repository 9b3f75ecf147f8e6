//! The thin handler: the state is built once per execution environment, each event goes to
//! [`powertools::Charger::handle`].

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    let charger = lamplight::init(powertools::Charger::from_env).await?;
    lamplight::run(move |event, invocation| charger.handle(event, invocation)).await
}
