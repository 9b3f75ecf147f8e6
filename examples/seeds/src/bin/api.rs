//! Handler of [`seeds::api`]: the router served by lamplight-http.

#[tokio::main]
async fn main() -> Result<(), lamplight::RuntimeError> {
    lamplight_http::run(seeds::api::router()).await
}
