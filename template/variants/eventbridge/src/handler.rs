//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lamplight::Invocation;
use serde::Deserialize;

use crate::worker::{self, Report};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `JOB_NAME`: what the schedule runs.
    pub job_name: String,
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

/// Runs the job for the schedule that fired.
pub async fn handle(
    state: &State,
    event: EventBridgeEvent,
    _inv: Invocation,
) -> Result<Report, std::convert::Infallible> {
    let scheduled_at = event.time.map(|t| t.to_rfc3339()).unwrap_or_default();
    Ok(worker::run_job(&state.config.job_name, &scheduled_at))
}
