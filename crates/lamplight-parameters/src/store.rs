//! The cache behind every provider: one entry per key, refreshed after its TTL, one fetch at a
//! time per key.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::ParameterError;

/// The environment variable that sets the default TTL, in seconds.
pub const TTL_ENV: &str = "LAMPLIGHT_PARAMETERS_TTL_SECONDS";
/// The TTL when [`TTL_ENV`] is not set.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5);

/// The default TTL: [`TTL_ENV`] when it is a number of seconds (fractions allowed), else
/// [`DEFAULT_TTL`].
pub fn default_ttl() -> Duration {
    ttl_from(std::env::var(TTL_ENV).ok().as_deref())
}

fn ttl_from(setting: Option<&str>) -> Duration {
    let Some(text) = setting else {
        return DEFAULT_TTL;
    };
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        _ => {
            tracing::warn!(
                variable = TTL_ENV,
                value = %text,
                "not a number of seconds; using the default TTL of 5 s"
            );
            DEFAULT_TTL
        }
    }
}

/// A value as fetched, before any transform (transforms run per call, so one cached fetch
/// serves `get`, `get_json` and `get_bytes` alike).
#[derive(Debug)]
pub(crate) enum Raw {
    Text(String),
    Binary(Bytes),
    Map(BTreeMap<String, String>),
}

/// A cached value, and the AppConfig session's next poll token.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) value: Arc<Raw>,
    pub(crate) fetched: Instant,
    pub(crate) token: Option<String>,
}

impl Entry {
    pub(crate) fn new(value: Raw) -> Self {
        Self {
            value: Arc::new(value),
            fetched: Instant::now(),
            token: None,
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

/// One provider's cache.
#[derive(Debug, Default)]
pub(crate) struct Store {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Store {
    /// The value under `key`: the cached one while younger than `ttl` (unless `force`), else
    /// what `fetch` returns given the previous entry. Callers asking for the same key wait for
    /// one fetch instead of each making their own.
    pub(crate) async fn get<F, Fut>(
        &self,
        key: String,
        ttl: Duration,
        force: bool,
        fetch: F,
    ) -> Result<Arc<Raw>, ParameterError>
    where
        F: FnOnce(Option<Entry>) -> Fut,
        Fut: Future<Output = Result<Entry, ParameterError>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.entry(key).or_default().clone()
        };
        let requested = Instant::now();
        let mut entry = slot.lock().await;
        if let Some(cached) = entry.as_ref() {
            // A fetch that finished while this caller waited is fresh even when forced.
            let fresh = cached.fetched.elapsed() < ttl && (!force || cached.fetched >= requested);
            if fresh {
                return Ok(cached.value.clone());
            }
        }
        let fetched = fetch(entry.clone()).await?;
        let value = fetched.value.clone();
        *entry = Some(fetched);
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ttl_setting_is_seconds_with_fractions_and_falls_back_to_5_s() {
        assert_eq!(ttl_from(None), Duration::from_secs(5));
        assert_eq!(ttl_from(Some("60")), Duration::from_secs(60));
        assert_eq!(ttl_from(Some(" 0.5 ")), Duration::from_millis(500));
        assert_eq!(ttl_from(Some("0")), Duration::ZERO);
        assert_eq!(ttl_from(Some("-1")), DEFAULT_TTL);
        assert_eq!(ttl_from(Some("five")), DEFAULT_TTL);
    }
}
