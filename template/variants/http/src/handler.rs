//! The Lambda side: state built once per execution environment, and the handler that turns an
//! event into a worker call.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use lamplight_http::{HttpError, Json, Path};
use serde::Deserialize;

use crate::worker::{self, NewOrder, Order, OrderError};

/// The function's settings, from its environment variables.
#[derive(Debug, Deserialize)]
pub struct Config {
    /// `MAX_QUANTITY`: the most of one item per order.
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

/// The API: `GET /orders/{id}`, `POST /orders`.
pub fn router(state: &'static State) -> Router {
    Router::new()
        .route("/orders", post(place))
        .route("/orders/{id}", get(find))
        .with_state(state)
}

async fn find(Path(id): Path<u32>) -> Result<Json<Order>, HttpError> {
    Ok(Json(worker::find(id)?))
}

async fn place(
    axum::extract::State(state): axum::extract::State<&'static State>,
    Json(order): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), HttpError> {
    let order = worker::place(order, state.config.max_quantity)?;
    Ok((StatusCode::CREATED, Json(order)))
}

impl From<OrderError> for HttpError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::NotFound(_) => HttpError::not_found(error.to_string()),
            OrderError::UnknownItem(_) | OrderError::TooMany { .. } => {
                HttpError::new(StatusCode::CONFLICT, "order_refused", error.to_string())
            }
        }
    }
}
