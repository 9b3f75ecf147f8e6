//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.

use lamplight::{BoxError, Invocation};
use lamplight_batch::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::Deserialize;

use crate::worker::{self, OrderMessage};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `MAX_QUANTITY`: the most items one order may ship.
    pub max_quantity: u32,
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

/// Records processed at once.
const CONCURRENCY: usize = 10;

fn ship(state: &State, json: &str) -> Result<(), BoxError> {
    let order: OrderMessage = serde_json::from_str(json)?;
    let shipment = worker::ship(&order, state.config.max_quantity)?;
    tracing::info!(order_id = %shipment.order_id, parcels = shipment.parcels, "shipped");
    Ok(())
}

/// Ships every order of the batch; failed messages go back to the queue, and only they.
pub async fn handle(
    state: &State,
    event: SqsEvent,
    _inv: Invocation,
) -> Result<SqsBatchResponse, std::convert::Infallible> {
    Ok(
        lamplight_batch::sqs(event, CONCURRENCY, |message| async move {
            ship(state, message.body.as_deref().unwrap_or_default())
        })
        .await,
    )
}
