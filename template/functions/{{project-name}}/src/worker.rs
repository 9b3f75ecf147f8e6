//! The business logic: plain Rust, with no Lambda in it, tested right here.
{%- case event_source %}
{%- when "custom" %}

use serde::{Deserialize, Serialize};
{%- if use_s3 %}

pub use objects::{MemoryObjects, Objects};
{%- endif %}

/// The event.
#[derive(Debug, Deserialize)]
pub struct Request {
    /// Who to greet.
    pub name: String,
}

/// The response.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Greeting {
    /// The greeting.
    pub message: String,
}

/// What can go wrong: the type's name is the `errorType` Lambda returns.
#[derive(Debug, thiserror::Error)]
pub enum GreetError {
    /// The name was empty.
    #[error("a name is required")]
    EmptyName,
    /// The name has characters other than letters and spaces.
    #[error("`{0}` is not a name: use letters and spaces")]
    NotAName(String),
{%- if use_s3 %}
    /// The greeting could not be read.
    #[error("could not read the greeting")]
    Store(#[source] lamplight::BoxError),
{%- endif %}
}

/// Greets `name` with `greeting`.
#[tracing::instrument(skip(greeting))]
pub fn greet(greeting: &str, name: &str) -> Result<Greeting, GreetError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(GreetError::EmptyName);
    }
    if !name.chars().all(|c| c.is_alphabetic() || c == ' ') {
        return Err(GreetError::NotAName(name.to_owned()));
    }
    Ok(Greeting {
        message: format!("{}, {name}!", greeting.trim()),
    })
}
{%- if use_s3 %}

/// Greets `name` with the greeting stored at `s3://bucket/key`.
#[tracing::instrument(skip(objects))]
pub async fn greet_from(
    objects: &impl Objects,
    bucket: &str,
    key: &str,
    name: &str,
) -> Result<Greeting, GreetError> {
    let greeting = objects.get(bucket, key).await.map_err(GreetError::Store)?;
    greet(&String::from_utf8_lossy(&greeting), name)
}
{%- endif %}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_name_and_refuses_what_is_not_a_name() {
        assert_eq!(
            greet("Hello", " Ada ").expect("greets").message,
            "Hello, Ada!"
        );
        assert!(matches!(greet("Hello", ""), Err(GreetError::EmptyName)));
        assert!(matches!(greet("Hello", "R2D2"), Err(GreetError::NotAName(n)) if n == "R2D2"));
    }
{%- if use_s3 %}

    #[tokio::test]
    async fn the_greeting_comes_from_the_store() {
        let objects = MemoryObjects::default().with("b", "k", "Hi");
        assert_eq!(
            greet_from(&objects, "b", "k", "Ada")
                .await
                .expect("greets")
                .message,
            "Hi, Ada!"
        );
        assert!(matches!(
            greet_from(&objects, "b", "nope", "Ada").await,
            Err(GreetError::Store(_))
        ));
    }
{%- endif %}
}
{%- when "http-api" or "rest-api" or "alb" or "function-url" %}

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
{%- when "sqs" or "sns" or "dynamodb" %}

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
{%- when "s3" %}

use serde::Serialize;

pub use objects::{MemoryObjects, Objects};

/// What the function learns about an object.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// The object key.
    pub key: String,
    /// Its size.
    pub bytes: usize,
    /// Its lines.
    pub lines: usize,
}

/// Why an object cannot be summarized.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SummaryError {
    /// Too long to process here.
    #[error("{key} has more than {max} lines")]
    TooLong {
        /// The object key.
        key: String,
        /// The limit.
        max: usize,
    },
}

/// Counts the bytes and lines of an object.
#[tracing::instrument(skip(body), fields(bytes = body.len()))]
pub fn summarize(key: &str, body: &[u8], max_lines: usize) -> Result<Summary, SummaryError> {
    let lines = body
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    if lines > max_lines {
        return Err(SummaryError::TooLong {
            key: key.to_owned(),
            max: max_lines,
        });
    }
    Ok(Summary {
        key: key.to_owned(),
        bytes: body.len(),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_counted_and_long_ones_refused() {
        assert_eq!(
            summarize("k", b"a\nb\n", 10).expect("ok"),
            Summary {
                key: "k".into(),
                bytes: 4,
                lines: 2
            }
        );
        assert!(summarize("k", b"a\nb\nc", 2).is_err());
    }
}
{%- when "eventbridge" %}

use serde::Serialize;

/// What a scheduled run produced.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Report {
    /// The job.
    pub job: String,
    /// When the schedule fired.
    pub scheduled_at: String,
    /// What was done.
    pub message: String,
}

/// Runs the scheduled job.
#[tracing::instrument]
pub fn run_job(job: &str, scheduled_at: &str) -> Report {
    Report {
        job: job.to_owned(),
        scheduled_at: scheduled_at.to_owned(),
        message: format!("{job} ran for the schedule of {scheduled_at}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_reports_its_schedule() {
        assert_eq!(
            run_job("nightly", "2026-01-01T00:00:00Z").scheduled_at,
            "2026-01-01T00:00:00Z"
        );
    }
}
{%- endcase %}
{%- if use_s3 or event_source == "s3" %}

mod objects {
    //! Where objects come from: S3 in Lambda, memory in tests.

    use std::collections::HashMap;
    use std::future::Future;

    /// A read-only object store.
    pub trait Objects: Send + Sync {
        /// The bytes of `s3://bucket/key`.
        fn get(
            &self,
            bucket: &str,
            key: &str,
        ) -> impl Future<Output = Result<Vec<u8>, lamplight::BoxError>> + Send;
    }

    /// Objects kept in memory, for tests and local runs.
    #[derive(Debug, Default, Clone)]
    pub struct MemoryObjects(HashMap<(String, String), Vec<u8>>);

    impl MemoryObjects {
        /// Adds an object.
        pub fn with(mut self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) -> Self {
            self.0
                .insert((bucket.to_owned(), key.to_owned()), body.into());
            self
        }
    }

    impl Objects for MemoryObjects {
        async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, lamplight::BoxError> {
            self.0
                .get(&(bucket.to_owned(), key.to_owned()))
                .cloned()
                .ok_or_else(|| format!("NoSuchKey: s3://{bucket}/{key}").into())
        }
    }
}
{%- endif %}
