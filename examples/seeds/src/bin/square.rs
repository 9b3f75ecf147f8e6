//! The function [`seeds::fanout`] calls in the examples: `{"index": n}` answers `n²`.

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    lamplight::run(|event: serde_json::Value, _inv| async move { seeds::fanout::square(&event) })
        .await
}
