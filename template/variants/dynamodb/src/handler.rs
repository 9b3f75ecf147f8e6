//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.

use lamplight::{BoxError, Invocation};
use lamplight_batch::aws_lambda_events::event::dynamodb::Event;
use lamplight_batch::aws_lambda_events::event::streams::DynamoDbEventResponse;
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

fn ship(state: &State, order: &OrderMessage) -> Result<(), BoxError> {
    let shipment = worker::ship(order, state.config.max_quantity)?;
    tracing::info!(order_id = %shipment.order_id, parcels = shipment.parcels, "shipped");
    Ok(())
}

/// Ships every new order in the stream; Lambda retries from the first failed record.
pub async fn handle(
    state: &State,
    event: Event,
    _inv: Invocation,
) -> Result<DynamoDbEventResponse, std::convert::Infallible> {
    Ok(
        lamplight_batch::dynamodb(event, CONCURRENCY, |record| async move {
            // The new image, in DynamoDB's attribute maps ({"orderId": {"S": "o-1"},
            // "quantity": {"N": "2"}}), read straight into an order.
            let order: OrderMessage = lamplight_batch::new_image(&record)?;
            ship(state, &order)
        })
        .await,
    )
}
