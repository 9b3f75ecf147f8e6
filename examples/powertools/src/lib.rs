//! Powertools for Rust in one function: a payment charge that runs once per order.
//!
//! The event `{"order_id": "o-1", "amount": 12.5}` is checked against [`event_schema`] (a bad
//! one fails with `{"errorType": "ValidationError", ...}`), then charged once per `order_id`
//! ([`lamplight_idempotency`], records in DynamoDB): the answer
//! `{"charge_id": "<uuid v4>", "order_id": "o-1", "fee": amount * pct / 100}` is stored, and a
//! repeat of the order gets the same answer (the same `charge_id`) without charging again. The
//! fee percentage is an SSM parameter, read only when a charge runs, and cached for
//! `PARAMETERS_TTL_SECONDS`.
//!
//! | module / item | what |
//! |---|---|
//! | [`charge`] | the pure worker: an order and a fee percentage make a [`Charge`] |
//! | [`event_schema`] | the JSON Schema events must match ([`lamplight_validation`]) |
//! | [`Charger`] | the handler's state (built once per execution environment) and [`Charger::handle`] |
//! | [`fees`] | the fee percentage from SSM ([`lamplight_parameters`]), cached |
//! | `src/bin/charge.rs` | the thin handler: `lamplight::run` over [`Charger::handle`] |
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `FEE_PARAMETER` | required | the SSM parameter holding the fee percentage (`2.5`) |
//! | `PARAMETERS_TTL_SECONDS` | 60 | how long a read parameter is reused |
//! | `IDEMPOTENCY_TABLE` | required | the DynamoDB table of idempotency records (partition key `id`, string; TTL attribute `expiration`) |
//!
//! ```
//! use powertools::{Order, charge};
//!
//! let order = Order { order_id: "o-1".into(), amount: 200.0 };
//! let charged = charge(&order, 2.5);
//! assert_eq!(charged.fee, 5.0);
//! assert_eq!(charged.order_id, "o-1");
//! assert_eq!(charged.charge_id.len(), 36);
//! ```

pub mod fees;

use std::time::Duration;

use lamplight::{FunctionError, Invocation};
use lamplight_aws::Aws;
use lamplight_idempotency::{Idempotency, IdempotencyError};
use lamplight_validation::{Schema, SchemaError, validate_event};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use lamplight_parameters::ParameterError;

use crate::fees::Fees;

/// The function's settings, from its environment.
#[derive(Debug, Clone, Deserialize)]
pub struct Config {
    /// `FEE_PARAMETER`: the SSM parameter holding the fee percentage.
    pub fee_parameter: String,
    /// `PARAMETERS_TTL_SECONDS`: how long a parameter is reused (default 60).
    #[serde(default = "default_ttl")]
    pub parameters_ttl_seconds: u64,
    /// `IDEMPOTENCY_TABLE`: the idempotency records' table.
    pub idempotency_table: String,
}

fn default_ttl() -> u64 {
    60
}

/// The event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The order to charge; the idempotency key.
    pub order_id: String,
    /// What the order costs.
    pub amount: f64,
}

/// The answer, stored and replayed for repeats of the order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    /// A new id per charge (a repeat of the order gets the first one's).
    pub charge_id: String,
    /// The order charged.
    pub order_id: String,
    /// `amount * fee percentage / 100`.
    pub fee: f64,
}

/// The worker: charges `order` with a fee of `fee_percent` percent.
pub fn charge(order: &Order, fee_percent: f64) -> Charge {
    Charge {
        charge_id: uuid::Uuid::new_v4().to_string(),
        order_id: order.order_id.clone(),
        fee: order.amount * fee_percent / 100.0,
    }
}

/// The JSON Schema events must match: `order_id` a non-empty string, `amount` a positive
/// number.
pub fn event_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["order_id", "amount"],
        "properties": {
            "order_id": {"type": "string", "minLength": 1},
            "amount": {"type": "number", "exclusiveMinimum": 0}
        }
    })
}

/// What stops the function before its first invocation.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A variable is missing or invalid.
    #[error(transparent)]
    Config(#[from] lamplight::config::ConfigError),
    /// [`event_schema`] does not compile (a bug in this crate).
    #[error("the event schema is invalid: {0}")]
    Schema(#[from] SchemaError),
}

/// The handler's state: built once per execution environment, shared by its invocations.
#[derive(Debug)]
pub struct Charger {
    schema: Schema,
    idempotency: Idempotency,
    fees: Fees,
}

impl Charger {
    /// From the environment ([`Config`]) and the shared AWS configuration.
    pub async fn from_env() -> Result<Charger, InitError> {
        let config = lamplight::config::from_env::<Config>()?;
        Charger::new(&config, Aws::shared().await)
    }

    /// With these settings and AWS configuration.
    pub fn new(config: &Config, aws: &Aws) -> Result<Charger, InitError> {
        let idempotency = Idempotency::builder(&config.idempotency_table)
            .key_pointer("/order_id")
            // The same order with another amount is a client bug, not a retry.
            .validate_pointer("/amount")
            .build(aws);
        let fees = Fees::new(
            aws,
            &config.fee_parameter,
            Duration::from_secs(config.parameters_ttl_seconds),
        );
        Ok(Charger {
            schema: Schema::new(event_schema())?,
            idempotency,
            fees,
        })
    }

    /// Checks the event, then charges the order once: a repeat gets the stored charge.
    pub async fn handle(
        &self,
        event: Value,
        invocation: Invocation,
    ) -> Result<Charge, FunctionError> {
        let order: Order = validate_event(&self.schema, event.clone())?;
        self.idempotency
            .run_in(&event, &invocation, || async {
                let percent = self.fees.percent().await?;
                tracing::info!(order_id = %order.order_id, percent, "charging");
                Ok::<_, ParameterError>(charge(&order, percent))
            })
            .await
            .map_err(IdempotencyError::into_function_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_charge_has_a_new_id_and_the_fee_is_a_percentage_of_the_amount() {
        let order = Order {
            order_id: "o-1".into(),
            amount: 12.5,
        };
        let a = charge(&order, 4.0);
        let b = charge(&order, 4.0);
        assert_ne!(a.charge_id, b.charge_id);
        assert_eq!(a.fee, 0.5);
    }

    #[test]
    fn events_outside_the_schema_are_validation_errors() {
        let schema = Schema::new(event_schema()).expect("the schema compiles");
        let ok: Order =
            validate_event(&schema, json!({"order_id": "o-1", "amount": 12.5})).expect("valid");
        assert_eq!(ok.amount, 12.5);
        for (bad, path) in [
            (json!({"order_id": "o-1", "amount": 0}), "/amount"),
            (json!({"order_id": "o-1", "amount": "12"}), "/amount"),
            (json!({"order_id": "", "amount": 1}), "/order_id"),
            (json!({"amount": 1}), ""),
        ] {
            let error = validate_event::<Order>(&schema, bad.clone()).expect_err("invalid");
            assert_eq!(error.violations()[0].instance_path, path, "{bad}");
            let document = FunctionError::from(error);
            assert_eq!(document.error_type, "ValidationError", "{bad}");
        }
    }
}
