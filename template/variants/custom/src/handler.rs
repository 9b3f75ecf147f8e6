//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.

use lamplight::Invocation;
use serde::Deserialize;

use crate::worker::{self, GreetError, Greeting, Request};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `GREETING`: the word to greet with.
    pub greeting: String,
}

/// What lives as long as the execution environment.
pub struct State {
    /// Settings.
    pub config: Config,
}

impl State {
    /// Reads the configuration; every missing or invalid variable is reported at once.
    pub async fn load() -> Result<Self, lamplight::config::ConfigError> {
        Ok(Self {
            config: lamplight::config::from_env()?,
        })
    }
}

/// Greets the caller.
pub async fn handle(
    state: &State,
    request: Request,
    inv: Invocation,
) -> Result<Greeting, GreetError> {
    tracing::info!(
        remaining_ms = inv.remaining_time().as_millis() as u64,
        "greeting {}",
        request.name
    );
    worker::greet(&state.config.greeting, &request.name)
}
