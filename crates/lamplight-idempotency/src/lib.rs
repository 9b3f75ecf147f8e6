//! Idempotent handlers and workers: a function runs once per key of its event, and a repeat of
//! the event gets the first run's result back, from DynamoDB, without running it again. A port
//! of the idempotency utility of Powertools for AWS Lambda (Python).
//!
//! ```no_run
//! use lamplight_idempotency::Idempotency;
//! use serde_json::{Value, json};
//!
//! # async fn example(event: Value) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let aws = lamplight_aws::Aws::shared().await;
//! let idem = Idempotency::builder("idempotency-table")
//!     .key_pointer("/order_id")
//!     .validate_pointer("/amount")
//!     .build(aws);
//! let receipt: Value = idem
//!     .run(&event, || async { Ok::<_, std::io::Error>(json!({"charged": true})) })
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! | item | what |
//! |---|---|
//! | [`Idempotency::run`] / [`Idempotency::run_in`] | any async function, keyed on a part of the event ([`Selector`]); `run_in` holds the key until the [`Invocation`]'s deadline |
//! | [`Idempotency::run_keyed`] | the same with the key given directly (a batch record's id, a typed field) |
//! | [`Idempotency::handler`] | a whole lamplight handler, for [`lamplight::run`] |
//! | [`IdempotencyError`] | in progress elsewhere, payload mismatch, no key, DynamoDB failures, or the function's own error |
//!
//! **The record.** Each key is one item of a DynamoDB table whose partition key is `id`
//! (string): `<prefix>#<sha256 of the key's canonical JSON>`, the prefix being the function's
//! name (`AWS_LAMBDA_FUNCTION_NAME`) unless [`IdempotencyBuilder::prefix`] sets one. Enable
//! the table's TTL on `expiration` so that DynamoDB deletes old records.
//!
//! | attribute ([`Attributes`]) | default | holds |
//! |---|---|---|
//! | `id` | `id` | the record id |
//! | `status` | `status` | `INPROGRESS` or `COMPLETED` |
//! | `expiration` | `expiration` | epoch seconds after which the record counts as gone (the TTL attribute) |
//! | `in_progress_expiration` | `in_progress_expiration` | epoch milliseconds after which an `INPROGRESS` claim lapses |
//! | `data` | `data` | the result, as JSON |
//! | `validation` | `validation` | sha256 of the validated part of the event |
//!
//! **The flow.** A call first claims the key with a conditional `PutItem` of an `INPROGRESS`
//! record (it succeeds when there is no record, when it expired, or when it is an
//! `INPROGRESS` claim whose time ran out: a crashed invocation's). Then the function runs:
//! its result is stored as `COMPLETED` and kept for [`IdempotencyBuilder::expires_after`]
//! (1 hour by default); its error deletes the record (so that a retry runs it again) and is
//! returned unchanged in [`IdempotencyError::Function`]. When the claim fails, the existing
//! record decides: `COMPLETED` returns its stored result without running the function,
//! `INPROGRESS` returns [`IdempotencyError::AlreadyInProgress`]. A claim lasts as long as the
//! invocation may run ([`Idempotency::run_in`]) or [`IdempotencyBuilder::in_progress_default`]
//! (15 minutes, Lambda's longest timeout) for [`Idempotency::run`].
//!
//! **Payload validation** ([`IdempotencyBuilder::validate_pointer`], ...) stores a hash of a
//! part of the event with the record; the same key with a different payload is refused with
//! [`IdempotencyError::PayloadMismatch`] (which names the key, never the payload).
//!
//! **Local cache.** Completed records are also kept in memory (a bounded LRU per execution
//! environment, [`IdempotencyBuilder::local_cache`]) until they expire, so that repeats in the
//! same environment read nothing from DynamoDB.
//!
//! | variable | meaning |
//! |---|---|
//! | `AWS_LAMBDA_FUNCTION_NAME` | the default prefix of record ids (`lamplight` outside Lambda) |
//!
//! **In batches**, each record is its own call, keyed on the record:
//!
//! ```no_run
//! use lamplight_batch::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
//! use lamplight_idempotency::Idempotency;
//!
//! async fn handle(idem: &Idempotency, event: SqsEvent) -> SqsBatchResponse {
//!     lamplight_batch::sqs(event, 8, |message| async move {
//!         let body: serde_json::Value = serde_json::from_str(message.body.as_deref().unwrap_or("{}"))?;
//!         // A duplicate delivery returns the stored result; one still running elsewhere
//!         // fails alone (AlreadyInProgress) and SQS redelivers it later.
//!         let _: String = idem.run(&body, || async { Ok::<_, std::io::Error>("sent".to_owned()) }).await?;
//!         Ok::<_, lamplight::BoxError>(())
//!     })
//!     .await
//! }
//! ```
//!
//! The DynamoDB client comes from [`lamplight_aws::Aws`] with [`SdkTracing`], so every call is
//! an X-Ray subsegment.

mod error;
mod key;

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use lamplight::{BoxError, FunctionError, Invocation};
use lamplight_aws::{Aws, SdkTracing};
use lru::LruCache;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use aws_sdk_dynamodb;
pub use error::IdempotencyError;
pub use key::{Selector, canonical, hash};

/// How long a completed record answers repeats, unless configured.
pub const DEFAULT_EXPIRES_AFTER: Duration = Duration::from_secs(3600);
/// How long a claim lasts when no [`Invocation`] says (Lambda's longest timeout).
pub const DEFAULT_IN_PROGRESS: Duration = Duration::from_secs(900);
/// How many completed records the local cache keeps, unless configured.
pub const DEFAULT_CACHE_CAPACITY: usize = 256;
/// The status of a claimed key.
pub const STATUS_IN_PROGRESS: &str = "INPROGRESS";
/// The status of a key whose function has returned.
pub const STATUS_COMPLETED: &str = "COMPLETED";

/// A DynamoDB client whose calls are traced ([`SdkTracing`]).
pub fn dynamodb_client(aws: &Aws) -> Client {
    let config = aws_sdk_dynamodb::config::Builder::from(aws.sdk_config())
        .interceptor(SdkTracing)
        .build();
    Client::from_conf(config)
}

/// The names of the record's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// The partition key (string).
    pub id: String,
    /// `INPROGRESS` or `COMPLETED`.
    pub status: String,
    /// Epoch seconds: the table's TTL attribute.
    pub expiration: String,
    /// Epoch milliseconds at which an `INPROGRESS` claim lapses.
    pub in_progress_expiration: String,
    /// The stored result (JSON).
    pub data: String,
    /// The payload validation hash.
    pub validation: String,
}

impl Default for Attributes {
    fn default() -> Self {
        Self {
            id: "id".into(),
            status: "status".into(),
            expiration: "expiration".into(),
            in_progress_expiration: "in_progress_expiration".into(),
            data: "data".into(),
            validation: "validation".into(),
        }
    }
}

/// Settings of an [`Idempotency`]; from [`Idempotency::builder`].
#[derive(Debug, Clone)]
pub struct IdempotencyBuilder {
    table: String,
    prefix: Option<String>,
    key: Selector,
    validation: Option<Selector>,
    expires_after: Duration,
    in_progress: Duration,
    raise_on_no_key: bool,
    cache_capacity: usize,
    attributes: Attributes,
}

impl IdempotencyBuilder {
    /// The prefix of record ids (default: `AWS_LAMBDA_FUNCTION_NAME`, else `lamplight`). Give
    /// each idempotent function sharing a table and a function its own.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// The key is the value at this JSON Pointer (`/order_id`); default: the whole event.
    pub fn key_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.key = Selector::pointer(pointer);
        self
    }

    /// The key is what `f` picks out of the event (`None`: the event has none).
    pub fn key_with(mut self, f: impl Fn(&Value) -> Option<Value> + Send + Sync + 'static) -> Self {
        self.key = Selector::with(f);
        self
    }

    /// The key is this part of the event.
    pub fn key(mut self, selector: Selector) -> Self {
        self.key = selector;
        self
    }

    /// Validates the value at this JSON Pointer: a repeat of a key must carry the same.
    pub fn validate_pointer(mut self, pointer: impl Into<String>) -> Self {
        self.validation = Some(Selector::pointer(pointer));
        self
    }

    /// Validates this part of the event ([`Selector::Whole`]: all of it).
    pub fn validate(mut self, selector: Selector) -> Self {
        self.validation = Some(selector);
        self
    }

    /// How long a completed record answers repeats (default 1 hour).
    pub fn expires_after(mut self, ttl: Duration) -> Self {
        self.expires_after = ttl;
        self
    }

    /// How long a claim lasts for [`Idempotency::run`] and [`Idempotency::run_keyed`], which
    /// have no invocation deadline (default 15 minutes): a crashed call's key is free again
    /// after it.
    pub fn in_progress_default(mut self, claim: Duration) -> Self {
        self.in_progress = claim;
        self
    }

    /// With `false`, an event without a key runs the function without idempotency (and a
    /// warning) instead of failing with [`IdempotencyError::KeyNotFound`].
    pub fn raise_on_no_key(mut self, raise: bool) -> Self {
        self.raise_on_no_key = raise;
        self
    }

    /// How many completed records to keep in memory (0: none; default 256).
    pub fn local_cache(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Other attribute names.
    pub fn attributes(mut self, attributes: Attributes) -> Self {
        self.attributes = attributes;
        self
    }

    /// Builds it with a traced client from `aws` ([`dynamodb_client`]).
    pub fn build(self, aws: &Aws) -> Idempotency {
        self.build_with(dynamodb_client(aws))
    }

    /// Builds it with this client.
    pub fn build_with(self, client: Client) -> Idempotency {
        let prefix = self.prefix.unwrap_or_else(|| {
            std::env::var(lamplight::env::vars::AWS_LAMBDA_FUNCTION_NAME)
                .ok()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "lamplight".to_owned())
        });
        let cache = NonZeroUsize::new(self.cache_capacity).map(|n| Mutex::new(LruCache::new(n)));
        Idempotency {
            inner: Arc::new(Inner {
                client,
                table: self.table,
                prefix,
                key: self.key,
                validation: self.validation,
                expires_after: self.expires_after,
                in_progress: self.in_progress,
                raise_on_no_key: self.raise_on_no_key,
                attributes: self.attributes,
                cache,
            }),
        }
    }
}

/// Runs functions once per key; cheap to clone (clones share the client and the cache).
#[derive(Clone)]
pub struct Idempotency {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("table", &self.inner.table)
            .field("prefix", &self.inner.prefix)
            .field("key", &self.inner.key)
            .field("validation", &self.inner.validation)
            .finish_non_exhaustive()
    }
}

struct Inner {
    client: Client,
    table: String,
    prefix: String,
    key: Selector,
    validation: Option<Selector>,
    expires_after: Duration,
    in_progress: Duration,
    raise_on_no_key: bool,
    attributes: Attributes,
    cache: Option<Mutex<LruCache<String, Completed>>>,
}

/// A completed record, as cached.
#[derive(Debug, Clone)]
struct Completed {
    expiration: u64,
    validation: Option<String>,
    data: String,
}

/// A record found in the table.
#[derive(Debug)]
enum Existing {
    InProgress {
        until_ms: u64,
        validation: Option<String>,
    },
    Completed(Completed),
}

/// The handler [`Idempotency::handler`] makes.
pub type IdempotentFuture<T> = Pin<Box<dyn Future<Output = Result<T, FunctionError>>>>;

type Failure = IdempotencyError<std::convert::Infallible>;

fn epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

impl Idempotency {
    /// Settings for records in `table` (partition key `id`, string), keyed on the whole event
    /// until told otherwise.
    pub fn builder(table: impl Into<String>) -> IdempotencyBuilder {
        IdempotencyBuilder {
            table: table.into(),
            prefix: None,
            key: Selector::Whole,
            validation: None,
            expires_after: DEFAULT_EXPIRES_AFTER,
            in_progress: DEFAULT_IN_PROGRESS,
            raise_on_no_key: true,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            attributes: Attributes::default(),
        }
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The record id of a key: `<prefix>#<sha256 hex of the key's canonical JSON>`.
    pub fn record_id(&self, key: &Value) -> String {
        format!("{}#{}", self.inner.prefix, hash(key))
    }

    /// Runs `f` unless the key of `event` was already run: then its stored result. A claim
    /// lasts [`IdempotencyBuilder::in_progress_default`].
    pub async fn run<Ev, T, E, F, Fut>(&self, event: &Ev, f: F) -> Result<T, IdempotencyError<E>>
    where
        Ev: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let until = SystemTime::now() + self.inner.in_progress;
        self.run_event(event, until, f).await
    }

    /// [`Idempotency::run`] for one invocation: the claim lasts until its deadline, so that a
    /// retry after a crash or a timeout runs again.
    pub async fn run_in<Ev, T, E, F, Fut>(
        &self,
        event: &Ev,
        invocation: &Invocation,
        f: F,
    ) -> Result<T, IdempotencyError<E>>
    where
        Ev: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run_event(event, invocation.deadline(), f).await
    }

    /// Runs `f` once per `key` (any JSON-serializable value: a record's id, a typed field),
    /// without payload validation; a claim lasts [`IdempotencyBuilder::in_progress_default`].
    pub async fn run_keyed<K, T, E, F, Fut>(&self, key: &K, f: F) -> Result<T, IdempotencyError<E>>
    where
        K: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = serde_json::to_value(key).map_err(|source| IdempotencyError::Serialization {
            key: String::new(),
            what: "serializing the key as JSON",
            source,
        })?;
        let until = SystemTime::now() + self.inner.in_progress;
        match Some(key).filter(|k| !k.is_null()) {
            Some(key) => self.run_record(self.record_id(&key), None, until, f).await,
            None => self.no_key(f).await,
        }
    }

    /// Makes `handler` idempotent on its event, for [`lamplight::run`]: errors become their
    /// documents ([`IdempotencyError::into_function_error`]), the handler's own keeping their
    /// `errorType`.
    pub fn handler<Ev, T, E, H, Fut>(
        self,
        handler: H,
    ) -> impl Fn(Ev, Invocation) -> IdempotentFuture<T> + 'static
    where
        Ev: Serialize + 'static,
        T: Serialize + DeserializeOwned + 'static,
        E: Into<BoxError> + 'static,
        H: Fn(Ev, Invocation) -> Fut + 'static,
        Fut: Future<Output = Result<T, E>> + 'static,
    {
        let handler = Arc::new(handler);
        move |event: Ev, invocation: Invocation| {
            let idem = self.clone();
            let handler = handler.clone();
            Box::pin(async move {
                let value = serde_json::to_value(&event).map_err(|source| {
                    Failure::Serialization {
                        key: String::new(),
                        what: "serializing the event as JSON",
                        source,
                    }
                    .into_function_error()
                })?;
                let deadline = invocation.clone();
                idem.run_in(&value, &deadline, move || handler(event, invocation))
                    .await
                    .map_err(IdempotencyError::into_function_error)
            })
        }
    }

    async fn run_event<Ev, T, E, F, Fut>(
        &self,
        event: &Ev,
        until: SystemTime,
        f: F,
    ) -> Result<T, IdempotencyError<E>>
    where
        Ev: Serialize + ?Sized,
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let event =
            serde_json::to_value(event).map_err(|source| IdempotencyError::Serialization {
                key: String::new(),
                what: "serializing the event as JSON",
                source,
            })?;
        let Some(key) = self.inner.key.select(&event) else {
            return self.no_key(f).await;
        };
        let validation = self
            .inner
            .validation
            .as_ref()
            .map(|selector| hash(&selector.select(&event).unwrap_or(Value::Null)));
        self.run_record(self.record_id(&key), validation, until, f)
            .await
    }

    async fn no_key<T, E, F, Fut>(&self, f: F) -> Result<T, IdempotencyError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if self.inner.raise_on_no_key {
            return Err(IdempotencyError::KeyNotFound {
                selector: format!("{:?}", self.inner.key),
            });
        }
        tracing::warn!(
            selector = ?self.inner.key,
            "no idempotency key in the event: running without idempotency"
        );
        f().await.map_err(IdempotencyError::Function)
    }

    async fn run_record<T, E, F, Fut>(
        &self,
        id: String,
        validation: Option<String>,
        until: SystemTime,
        f: F,
    ) -> Result<T, IdempotencyError<E>>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(hit) = self.cached(&id) {
            tracing::debug!(key = %id, "idempotent call answered from the local cache");
            return self
                .replay(&id, hit, validation.as_deref())
                .map_err(Failure::widen);
        }
        if let Some(existing) = self
            .claim(&id, validation.as_deref(), until)
            .await
            .map_err(Failure::widen)?
        {
            return match existing {
                Existing::Completed(done) => {
                    let answer = self.replay(&id, done.clone(), validation.as_deref());
                    if answer.is_ok() {
                        self.remember(&id, done);
                    }
                    tracing::info!(key = %id, "idempotent call answered with the stored result");
                    answer.map_err(Failure::widen)
                }
                Existing::InProgress {
                    until_ms,
                    validation: stored,
                } => {
                    if mismatch(stored.as_deref(), validation.as_deref()) {
                        return Err(IdempotencyError::PayloadMismatch { key: id });
                    }
                    Err(IdempotencyError::AlreadyInProgress {
                        key: id,
                        until: UNIX_EPOCH + Duration::from_millis(until_ms),
                    })
                }
            };
        }
        match f().await {
            Err(e) => {
                self.release(&id).await;
                Err(IdempotencyError::Function(e))
            }
            Ok(value) => {
                let data = match serde_json::to_string(&value) {
                    Ok(data) => data,
                    Err(source) => {
                        self.release(&id).await;
                        return Err(IdempotencyError::Serialization {
                            key: id,
                            what: "serializing the result as JSON",
                            source,
                        });
                    }
                };
                let done = self
                    .complete(&id, data, validation)
                    .await
                    .map_err(Failure::widen)?;
                self.remember(&id, done);
                Ok(value)
            }
        }
    }

    /// The stored result, if the payload matches.
    fn replay<T: DeserializeOwned>(
        &self,
        id: &str,
        done: Completed,
        validation: Option<&str>,
    ) -> Result<T, Failure> {
        if mismatch(done.validation.as_deref(), validation) {
            return Err(Failure::PayloadMismatch { key: id.to_owned() });
        }
        serde_json::from_str(&done.data).map_err(|source| Failure::Serialization {
            key: id.to_owned(),
            what: "deserializing the stored result (did the result type change?)",
            source,
        })
    }

    fn cached(&self, id: &str) -> Option<Completed> {
        let cache = self.inner.cache.as_ref()?;
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        let now = epoch(SystemTime::now()).as_secs();
        match cache.get(id) {
            Some(done) if done.expiration >= now => Some(done.clone()),
            Some(_) => {
                cache.pop(id);
                None
            }
            None => None,
        }
    }

    fn remember(&self, id: &str, done: Completed) {
        if let Some(cache) = &self.inner.cache {
            cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(id.to_owned(), done);
        }
    }

    /// Claims the key: `None` when claimed, else the record that holds it.
    async fn claim(
        &self,
        id: &str,
        validation: Option<&str>,
        until: SystemTime,
    ) -> Result<Option<Existing>, Failure> {
        let a = &self.inner.attributes;
        let now = SystemTime::now();
        let now_s = epoch(now).as_secs();
        let now_ms = epoch(now).as_millis() as u64;
        // A claim that lapsed before it started would be taken over at once.
        let until_ms = (epoch(until).as_millis() as u64).max(now_ms + 1);
        // An expired record is free whatever its status: a claim must not expire before it
        // lapses (nor be deleted by the table's TTL while it runs).
        let expiration =
            (now_s + self.inner.expires_after.as_secs().max(1)).max(until_ms / 1000 + 1);
        // The record can vanish between a failed claim and its reading (the holder failed
        // and deleted it): then claim again.
        for _ in 0..3 {
            let mut put = self
                .inner
                .client
                .put_item()
                .table_name(&self.inner.table)
                .item(&a.id, AttributeValue::S(id.to_owned()))
                .item(&a.status, AttributeValue::S(STATUS_IN_PROGRESS.to_owned()))
                .item(&a.expiration, AttributeValue::N(expiration.to_string()))
                .item(
                    &a.in_progress_expiration,
                    AttributeValue::N(until_ms.to_string()),
                )
                .condition_expression(
                    "attribute_not_exists(#id) OR #exp < :now \
                     OR (#status = :inprogress AND #ipe < :now_ms)",
                )
                .expression_attribute_names("#id", &a.id)
                .expression_attribute_names("#exp", &a.expiration)
                .expression_attribute_names("#status", &a.status)
                .expression_attribute_names("#ipe", &a.in_progress_expiration)
                .expression_attribute_values(":now", AttributeValue::N(now_s.to_string()))
                .expression_attribute_values(":now_ms", AttributeValue::N(now_ms.to_string()))
                .expression_attribute_values(
                    ":inprogress",
                    AttributeValue::S(STATUS_IN_PROGRESS.to_owned()),
                )
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            if let Some(hash) = validation {
                put = put.item(&a.validation, AttributeValue::S(hash.to_owned()));
            }
            let item = match put.send().await {
                Ok(_) => return Ok(None),
                Err(SdkError::ServiceError(e))
                    if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) =>
                {
                    match e.into_err() {
                        PutItemError::ConditionalCheckFailedException(failed) => failed.item,
                        _ => None,
                    }
                }
                Err(e) => return Err(self.persistence(id, "claiming", e)),
            };
            let item = match item {
                Some(item) => Some(item),
                // A store that does not return the old item: read it.
                None => {
                    self.inner
                        .client
                        .get_item()
                        .table_name(&self.inner.table)
                        .key(&a.id, AttributeValue::S(id.to_owned()))
                        .consistent_read(true)
                        .send()
                        .await
                        .map_err(|e| self.persistence(id, "reading", e))?
                        .item
                }
            };
            if let Some(item) = item {
                return self.parse(id, &item).map(Some);
            }
        }
        Err(Failure::InvalidRecord {
            table: self.inner.table.clone(),
            key: id.to_owned(),
            reason: "it kept appearing and vanishing while being claimed".into(),
        })
    }

    fn parse(
        &self,
        id: &str,
        item: &std::collections::HashMap<String, AttributeValue>,
    ) -> Result<Existing, Failure> {
        let a = &self.inner.attributes;
        let invalid = |reason: String| Failure::InvalidRecord {
            table: self.inner.table.clone(),
            key: id.to_owned(),
            reason,
        };
        let string = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let number = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<u64>().ok())
        };
        let validation = string(&a.validation);
        match string(&a.status).as_deref() {
            Some(STATUS_COMPLETED) => Ok(Existing::Completed(Completed {
                expiration: number(&a.expiration)
                    .ok_or_else(|| invalid(format!("no numeric `{}` attribute", a.expiration)))?,
                data: string(&a.data)
                    .ok_or_else(|| invalid(format!("no `{}` attribute", a.data)))?,
                validation,
            })),
            Some(STATUS_IN_PROGRESS) => Ok(Existing::InProgress {
                until_ms: number(&a.in_progress_expiration).unwrap_or_default(),
                validation,
            }),
            Some(other) => Err(invalid(format!("unknown status {other:?}"))),
            None => Err(invalid(format!("no string `{}` attribute", a.status))),
        }
    }

    async fn complete(
        &self,
        id: &str,
        data: String,
        validation: Option<String>,
    ) -> Result<Completed, Failure> {
        let a = &self.inner.attributes;
        let expiration =
            epoch(SystemTime::now()).as_secs() + self.inner.expires_after.as_secs().max(1);
        let mut put = self
            .inner
            .client
            .put_item()
            .table_name(&self.inner.table)
            .item(&a.id, AttributeValue::S(id.to_owned()))
            .item(&a.status, AttributeValue::S(STATUS_COMPLETED.to_owned()))
            .item(&a.expiration, AttributeValue::N(expiration.to_string()))
            .item(&a.data, AttributeValue::S(data.clone()));
        if let Some(hash) = &validation {
            put = put.item(&a.validation, AttributeValue::S(hash.clone()));
        }
        put.send()
            .await
            .map_err(|e| self.persistence(id, "storing the result of", e))?;
        Ok(Completed {
            expiration,
            validation,
            data,
        })
    }

    /// Deletes a claim after the function failed, so that a retry runs it. A failure to delete
    /// is logged, not returned: the caller needs the function's error, and the claim lapses
    /// on its own.
    async fn release(&self, id: &str) {
        let a = &self.inner.attributes;
        let deleted = self
            .inner
            .client
            .delete_item()
            .table_name(&self.inner.table)
            .key(&a.id, AttributeValue::S(id.to_owned()))
            // Only our claim: not a result another invocation stored after taking it over.
            .condition_expression("#status = :inprogress")
            .expression_attribute_names("#status", &a.status)
            .expression_attribute_values(
                ":inprogress",
                AttributeValue::S(STATUS_IN_PROGRESS.to_owned()),
            )
            .send()
            .await;
        if let Err(e) = deleted {
            let e = aws_sdk_dynamodb::Error::from(e);
            if !matches!(
                e,
                aws_sdk_dynamodb::Error::ConditionalCheckFailedException(_)
            ) {
                tracing::warn!(
                    key = %id,
                    table = %self.inner.table,
                    error = %lamplight::error::chain(&e),
                    "could not delete the idempotency record of a failed call: retries are refused as in progress until its claim lapses"
                );
            }
        }
    }

    fn persistence<Op>(
        &self,
        id: &str,
        action: &'static str,
        error: SdkError<Op, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> Failure
    where
        aws_sdk_dynamodb::Error: From<SdkError<Op, aws_sdk_dynamodb::config::http::HttpResponse>>,
    {
        Failure::Persistence {
            table: self.inner.table.clone(),
            key: id.to_owned(),
            action,
            source: Box::new(aws_sdk_dynamodb::Error::from(error)),
        }
    }
}

/// Whether a stored validation hash and this call's differ (no hash on either side: no check).
fn mismatch(stored: Option<&str>, ours: Option<&str>) -> bool {
    matches!((stored, ours), (Some(a), Some(b)) if a != b)
}
