//! The Python Lambda projects lamplight answers, ported to Rust on lamplight. Each module is a
//! pure worker, tested without Lambda; each binary in `src/bin` is its thin handler.
//!
//! | seed (Python) | worker | binary |
//! |---|---|---|
//! | asyncio: HTTP and S3 work side by side, one aggregated error at the end | [`scripts`] | `scripts` |
//! | 100 concurrent signed Lambda invocations | [`fanout`] | `fanout` (calls `square`) |
//! | a FastAPI-like router for API Gateway: validation, errors, request ids, timeouts | [`api`] | `api` |
//! | an httpx transport calling a Lambda in API Gateway format | [`client`] | `client` (calls `api`) |
//!
//! `tests/local.rs` runs every binary under the local Lambda service; `cargo xtask local`
//! serves them all (`cargo xtask local --bootstrap target/debug/api --name api`).

pub mod api;
pub mod client;
pub mod fanout;
pub mod scripts;
