//! The business logic: plain Rust, with no Lambda in it, tested right here.

use serde::{Deserialize, Serialize};

/// An order as a client sends it.
#[derive(Debug, Deserialize)]
pub struct NewOrder {
    /// What.
    pub item: String,
    /// How many.
    pub quantity: u32,
}

/// An order.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Order {
    /// Its id.
    pub id: u32,
    /// What.
    pub item: String,
    /// How many.
    pub quantity: u32,
}

/// What can go wrong with an order.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrderError {
    /// No such order.
    #[error("no order {0}")]
    NotFound(u32),
    /// Not on the menu.
    #[error("`{0}` is not on the menu")]
    UnknownItem(String),
    /// More than allowed.
    #[error("at most {max} of an item per order, not {asked}")]
    TooMany {
        /// The limit.
        max: u32,
        /// What was asked.
        asked: u32,
    },
}

const MENU: &[&str] = &["tea", "coffee", "cake"];

/// The order with `id` (a fixed catalogue keeps the example self-contained: put your store
/// behind a trait, as the S3 variant of this template does).
#[tracing::instrument]
pub fn find(id: u32) -> Result<Order, OrderError> {
    match id {
        7 => Ok(Order {
            id,
            item: "tea".into(),
            quantity: 2,
        }),
        _ => Err(OrderError::NotFound(id)),
    }
}

/// Checks and places an order.
#[tracing::instrument(skip(order), fields(item = %order.item))]
pub fn place(order: NewOrder, max_quantity: u32) -> Result<Order, OrderError> {
    if !MENU.contains(&order.item.as_str()) {
        return Err(OrderError::UnknownItem(order.item));
    }
    if order.quantity > max_quantity {
        return Err(OrderError::TooMany {
            max: max_quantity,
            asked: order.quantity,
        });
    }
    Ok(Order {
        id: 8,
        item: order.item,
        quantity: order.quantity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_checked_before_they_are_placed() {
        let tea = |quantity| NewOrder {
            item: "tea".into(),
            quantity,
        };
        assert_eq!(place(tea(2), 10).expect("placed").quantity, 2);
        assert_eq!(
            place(tea(11), 10),
            Err(OrderError::TooMany { max: 10, asked: 11 })
        );
        let beer = NewOrder {
            item: "beer".into(),
            quantity: 1,
        };
        assert_eq!(place(beer, 10), Err(OrderError::UnknownItem("beer".into())));
        assert_eq!(find(1), Err(OrderError::NotFound(1)));
    }
}
