//! The business logic: plain Rust, with no Lambda in it, tested right here.

use serde::{Deserialize, Serialize};

/// An order, as the message or record carries it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderMessage {
    /// Its id.
    pub order_id: String,
    /// What.
    pub item: String,
    /// How many.
    pub quantity: u32,
}

/// What shipping an order produced.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Shipment {
    /// The order.
    pub order_id: String,
    /// Parcels needed (at most 5 items per parcel).
    pub parcels: u32,
}

/// Why an order cannot ship.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShipError {
    /// More than allowed.
    #[error("order {order_id}: at most {max} items, not {asked}")]
    TooMany {
        /// The order.
        order_id: String,
        /// The limit.
        max: u32,
        /// What was asked.
        asked: u32,
    },
}

/// Plans the shipment of one order.
#[tracing::instrument(skip(order), fields(order_id = %order.order_id))]
pub fn ship(order: &OrderMessage, max_quantity: u32) -> Result<Shipment, ShipError> {
    if order.quantity > max_quantity {
        return Err(ShipError::TooMany {
            order_id: order.order_id.clone(),
            max: max_quantity,
            asked: order.quantity,
        });
    }
    Ok(Shipment {
        order_id: order.order_id.clone(),
        parcels: order.quantity.div_ceil(5),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_ship_in_parcels_of_five_up_to_the_limit() {
        let order = |quantity| OrderMessage {
            order_id: "o-1".into(),
            item: "tea".into(),
            quantity,
        };
        assert_eq!(ship(&order(7), 10).expect("ships").parcels, 2);
        assert!(ship(&order(11), 10).is_err());
    }
}
