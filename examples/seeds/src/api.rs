//! An HTTP API for API Gateway (the FastAPI-like router seed): routes, typed path and query
//! parameters and JSON bodies answering 422 with the field at fault, JSON errors whose detail
//! stays in the log, and (from lamplight-http) request ids, access logs and a 504 before
//! Lambda's deadline.
//!
//! The catalogue lives in the execution environment (built once, shared by invocations): a
//! stand-in for the database a real API would call.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use lamplight_http::{FieldError, HttpError, Json, Path, Query};
use serde::{Deserialize, Serialize};

/// An item of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Its id.
    pub id: u64,
    /// Its name, unique.
    pub name: String,
    /// Its price in cents.
    pub price_cents: u32,
}

/// A new item.
#[derive(Debug, Clone, Deserialize)]
pub struct NewItem {
    /// 1 to 64 characters.
    pub name: String,
    /// In cents.
    pub price_cents: u32,
}

/// A page of the listing.
#[derive(Debug, Clone, Deserialize)]
pub struct Listing {
    /// At most this many (1 to 100, default 20).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Items after this id.
    #[serde(default)]
    pub after: Option<u64>,
}

/// The catalogue: pure, tested without HTTP.
#[derive(Debug, Default)]
pub struct Catalogue {
    items: BTreeMap<u64, Item>,
    next: u64,
}

impl Catalogue {
    /// Adds `new`; a name in use or out of bounds is a field error.
    pub fn add(&mut self, new: NewItem) -> Result<Item, FieldError> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 64 {
            return Err(FieldError {
                field: "body.name".into(),
                problem: "must be 1 to 64 characters".into(),
            });
        }
        if self.items.values().any(|i| i.name == name) {
            return Err(FieldError {
                field: "body.name".into(),
                problem: format!("`{name}` is taken"),
            });
        }
        self.next += 1;
        let item = Item {
            id: self.next,
            name: name.to_owned(),
            price_cents: new.price_cents,
        };
        self.items.insert(item.id, item.clone());
        Ok(item)
    }

    /// The item `id`.
    pub fn get(&self, id: u64) -> Option<&Item> {
        self.items.get(&id)
    }

    /// Removes the item `id`; whether it was there.
    pub fn remove(&mut self, id: u64) -> bool {
        self.items.remove(&id).is_some()
    }

    /// A page of items in id order.
    pub fn list(&self, listing: &Listing) -> Result<Vec<Item>, FieldError> {
        let limit = listing.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(FieldError {
                field: "query.limit".into(),
                problem: "must be 1 to 100".into(),
            });
        }
        let after = listing.after.unwrap_or(0);
        Ok(self
            .items
            .range(after + 1..)
            .take(limit as usize)
            .map(|(_, i)| i.clone())
            .collect())
    }
}

type Shared = Arc<Mutex<Catalogue>>;

fn lock(c: &Shared) -> std::sync::MutexGuard<'_, Catalogue> {
    c.lock().unwrap_or_else(|e| e.into_inner())
}

async fn list(
    State(c): State<Shared>,
    Query(listing): Query<Listing>,
) -> Result<Json<Vec<Item>>, HttpError> {
    let items = lock(&c)
        .list(&listing)
        .map_err(|f| HttpError::unprocessable(vec![f]))?;
    Ok(Json(items))
}

async fn create(
    State(c): State<Shared>,
    Json(new): Json<NewItem>,
) -> Result<(StatusCode, Json<Item>), HttpError> {
    let item = lock(&c)
        .add(new)
        .map_err(|f| HttpError::unprocessable(vec![f]))?;
    tracing::info!(id = item.id, "item created");
    Ok((StatusCode::CREATED, Json(item)))
}

async fn read(State(c): State<Shared>, Path(id): Path<u64>) -> Result<Json<Item>, HttpError> {
    lock(&c)
        .get(id)
        .cloned()
        .map(Json)
        .ok_or_else(|| HttpError::not_found(format!("no item {id}")))
}

async fn delete(State(c): State<Shared>, Path(id): Path<u64>) -> Result<StatusCode, HttpError> {
    if lock(&c).remove(id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(HttpError::not_found(format!("no item {id}")))
    }
}

#[derive(Debug, Deserialize)]
struct Slow {
    ms: u64,
}

/// Sleeps: shows the timeout answering 504 before Lambda would kill the function.
async fn slow(Query(slow): Query<Slow>) -> Json<serde_json::Value> {
    tokio::time::sleep(Duration::from_millis(slow.ms)).await;
    Json(serde_json::json!({"slept_ms": slow.ms}))
}

/// The routes, over a fresh catalogue.
pub fn router() -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { Json(serde_json::json!({"ok": true})) }),
        )
        .route("/items", get(list).post(create))
        .route("/items/{id}", get(read).delete(delete))
        .route("/slow", get(slow))
        .with_state(Shared::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(name: &str) -> NewItem {
        NewItem {
            name: name.into(),
            price_cents: 250,
        }
    }

    #[test]
    fn names_are_trimmed_bounded_and_unique() {
        let mut c = Catalogue::default();
        assert_eq!(c.add(new(" lamp ")).expect("added").name, "lamp");
        assert_eq!(
            c.add(new("lamp")).expect_err("taken").problem,
            "`lamp` is taken"
        );
        assert_eq!(c.add(new("  ")).expect_err("empty").field, "body.name");
        assert!(c.add(new(&"x".repeat(65))).is_err());
    }

    #[test]
    fn listing_pages_by_id() {
        let mut c = Catalogue::default();
        for n in ["a", "b", "c", "d"] {
            c.add(new(n)).expect("added");
        }
        let page = |limit, after| {
            c.list(&Listing {
                limit: Some(limit),
                after,
            })
        };
        let names = |items: Vec<Item>| items.into_iter().map(|i| i.name).collect::<Vec<_>>();
        assert_eq!(names(page(2, None).expect("page")), ["a", "b"]);
        assert_eq!(names(page(2, Some(2)).expect("page")), ["c", "d"]);
        assert_eq!(page(0, None).expect_err("limit").field, "query.limit");
    }
}
