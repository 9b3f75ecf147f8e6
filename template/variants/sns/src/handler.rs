//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.

use lamplight::concurrent::AggregateError;
use lamplight::{BoxError, Invocation};
use lamplight_batch::aws_lambda_events::event::sns::SnsEvent;
use serde::Deserialize;
use serde::Serialize;

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

/// How many notifications were handled.
#[derive(Debug, Serialize)]
pub struct Handled {
    /// Orders shipped.
    pub shipped: usize,
}

/// Ships the order of every notification; one failure fails the delivery, naming each.
pub async fn handle(
    state: &State,
    event: SnsEvent,
    _inv: Invocation,
) -> Result<Handled, AggregateError> {
    let shipped = lamplight_batch::sns(event, CONCURRENCY, |record| async move {
        ship(state, &record.sns.message)
    })
    .await?;
    Ok(Handled { shipped })
}
