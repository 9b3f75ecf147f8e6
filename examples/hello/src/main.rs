//! The hello-world function: the handler is three lines over the worker.

mod worker;

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    // Once per execution environment: configuration read and checked before the first event.
    let config =
        lamplight::init(|| async { lamplight::config::from_env::<worker::Config>() }).await?;
    lamplight::run(move |request, inv| async move { worker::greet(config, request, &inv) }).await
}
