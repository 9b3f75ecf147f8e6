//! The idempotency flow against a real DynamoDB API (moto): claims, replays, races, failures,
//! crashes, expiry and batches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use lamplight::Invocation;
use lamplight_aws::Aws;
use lamplight_batch::aws_lambda_events::event::sqs::SqsEvent;
use lamplight_idempotency::{Idempotency, IdempotencyError, Selector, dynamodb_client};
use lamplight_test::moto::{ACCESS_KEY, Moto, REGION};
use serde_json::{Value, json};

/// One moto for the tests that run at the same time (each uses its own table); it stops when
/// the last of them ends.
fn moto() -> Arc<Moto> {
    static SHARED: Mutex<Weak<Moto>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(moto) = shared.upgrade() {
        return moto;
    }
    let moto = Arc::new(Moto::start().expect("test setup"));
    *shared = Arc::downgrade(&moto);
    moto
}

struct Setup {
    _moto: Arc<Moto>,
    aws: Aws,
    client: Client,
    table: String,
}

impl Setup {
    async fn new(table: &str) -> Setup {
        let moto = tokio::task::block_in_place(moto);
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(moto.endpoint())
            .region(aws_sdk_dynamodb::config::Region::new(REGION))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                ACCESS_KEY, ACCESS_KEY, None, None, "moto",
            ))
            .load()
            .await;
        let aws = Aws::from_config(config);
        let client = dynamodb_client(&aws);
        client
            .create_table()
            .table_name(table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .expect("test setup"),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .expect("test setup"),
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("test setup");
        Setup {
            _moto: moto,
            aws,
            client,
            table: table.to_owned(),
        }
    }

    /// Keyed on `/order_id`, prefix `test`, no local cache unless asked.
    fn idem(&self) -> lamplight_idempotency::IdempotencyBuilder {
        Idempotency::builder(&self.table)
            .prefix("test")
            .key_pointer("/order_id")
            .local_cache(0)
    }

    async fn item(&self, id: &str) -> Option<HashMap<String, AttributeValue>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .expect("test setup")
            .item
    }

    async fn put(&self, item: HashMap<String, AttributeValue>) {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .expect("test setup");
    }

    async fn delete(&self, id: &str) {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.to_owned()))
            .send()
            .await
            .expect("test setup");
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("test setup")
        .as_secs()
}

fn s(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item[name].as_s().expect("test setup").clone()
}

fn n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name]
        .as_n()
        .expect("test setup")
        .parse()
        .expect("test setup")
}

/// A worker that counts its runs and answers with the run's number.
async fn counted(count: &AtomicUsize) -> Result<Value, std::io::Error> {
    let run = count.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(json!({"run": run}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_call_runs_and_stores_then_a_repeat_replays_without_running() {
    let setup = Setup::new("first-call").await;
    let idem = setup.idem().build(&setup.aws);
    let count = AtomicUsize::new(0);
    let event = json!({"order_id": "o-1", "amount": 12.5});

    let first: Value = idem
        .run(&event, || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(first, json!({"run": 1}));

    let id = idem.record_id(&json!("o-1"));
    assert!(
        id.starts_with("test#") && id.len() == "test#".len() + 64,
        "{id}"
    );
    let item = setup.item(&id).await.expect("the record is stored");
    assert_eq!(s(&item, "status"), "COMPLETED");
    assert_eq!(
        serde_json::from_str::<Value>(&s(&item, "data")).expect("test setup"),
        first
    );
    let expiration = n(&item, "expiration");
    assert!(
        (now_secs() + 3590..=now_secs() + 3600).contains(&expiration),
        "expiration {expiration} is not an hour away"
    );

    // Another field order and other fields: the same key.
    let repeat: Value = idem
        .run(&json!({"amount": 99, "order_id": "o-1"}), || {
            counted(&count)
        })
        .await
        .expect("test setup");
    assert_eq!(repeat, first);
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "the repeat ran the function"
    );

    let other: Value = idem
        .run(&json!({"order_id": "o-2"}), || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(other, json!({"run": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_cache_answers_repeats_without_reading_the_table() {
    let setup = Setup::new("local-cache").await;
    let cached = setup.idem().local_cache(8).build(&setup.aws);
    let count = AtomicUsize::new(0);
    let event = json!({"order_id": "o-1"});
    let first: Value = cached
        .run(&event, || counted(&count))
        .await
        .expect("test setup");

    // With the record gone from the table, only the cache can answer.
    setup.delete(&cached.record_id(&json!("o-1"))).await;
    let repeat: Value = cached
        .run(&event, || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(repeat, first);
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // Another execution environment (no cache) finds no record and runs.
    let uncached = setup.idem().build(&setup.aws);
    let fresh: Value = uncached
        .run(&event, || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(fresh, json!({"run": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_run_once_and_the_other_is_told_to_retry() {
    let setup = Setup::new("concurrent").await;
    let idem = setup.idem().build(&setup.aws);
    let count = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let event = json!({"order_id": "o-1"});

    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let (idem, count, release, event) =
                (idem.clone(), count.clone(), release.clone(), event.clone());
            tokio::spawn(async move {
                idem.run(&event, || async move {
                    let run = count.fetch_add(1, Ordering::SeqCst) + 1;
                    let _permit = release.acquire().await;
                    Ok::<_, std::io::Error>(json!({"run": run}))
                })
                .await
            })
        })
        .collect();
    // The loser returns at once; the winner waits for the release.
    let mut tasks: Vec<_> = tasks.into_iter().map(Some).collect();
    let refused = loop {
        if let Some(i) = tasks
            .iter()
            .position(|t| t.as_ref().is_some_and(|t| t.is_finished()))
        {
            break tasks[i]
                .take()
                .expect("test setup")
                .await
                .expect("test setup");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let error = refused.expect_err("it fails");
    assert!(
        matches!(error, IdempotencyError::AlreadyInProgress { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("another invocation with the same idempotency key")
            && message.contains("retry later"),
        "{message}"
    );
    assert_eq!(
        error.into_function_error().error_type,
        "IdempotencyAlreadyInProgressError"
    );

    release.add_permits(1);
    let winner = tasks.into_iter().flatten().next().expect("test setup");
    let done = winner.await.expect("test setup").expect("test setup");
    assert_eq!(done, json!({"run": 1}));
    assert_eq!(count.load(Ordering::SeqCst), 1, "both duplicates ran");

    let later: Value = idem
        .run(&event, || async {
            Ok::<_, std::io::Error>(json!("ran again"))
        })
        .await
        .expect("test setup");
    assert_eq!(later, done);
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_sent_with_another_payload_is_refused_naming_the_key_only() {
    let setup = Setup::new("mismatch").await;
    let idem = setup.idem().validate_pointer("/amount").build(&setup.aws);
    let count = AtomicUsize::new(0);
    let _: Value = idem
        .run(&json!({"order_id": "o-1", "amount": 12.5}), || {
            counted(&count)
        })
        .await
        .expect("test setup");
    let item = setup
        .item(&idem.record_id(&json!("o-1")))
        .await
        .expect("test setup");
    assert_eq!(
        s(&item, "validation"),
        lamplight_idempotency::hash(&json!(12.5))
    );

    let error = idem
        .run(&json!({"order_id": "o-1", "amount": 777.25}), || {
            counted(&count)
        })
        .await
        .expect_err("it fails");
    let IdempotencyError::PayloadMismatch { key } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(key, &idem.record_id(&json!("o-1")));
    let message = error.to_string();
    assert!(message.contains(key.as_str()), "{message}");
    assert!(!message.contains("777"), "the payload leaked: {message}");
    assert_eq!(count.load(Ordering::SeqCst), 1);

    // Other fields are not validated.
    let same: Value = idem
        .run(
            &json!({"order_id": "o-1", "amount": 12.5, "note": "x"}),
            || counted(&count),
        )
        .await
        .expect("test setup");
    assert_eq!(same, json!({"run": 1}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_function_leaves_no_record_and_a_retry_runs() {
    let setup = Setup::new("failure").await;
    let idem = setup.idem().build(&setup.aws);
    let count = AtomicUsize::new(0);
    let event = json!({"order_id": "o-1"});

    let error = idem
        .run(&event, || async {
            count.fetch_add(1, Ordering::SeqCst);
            Err::<Value, _>(std::io::Error::other("card declined"))
        })
        .await
        .expect_err("it fails");
    let IdempotencyError::Function(inner) = error else {
        panic!("{error:?}")
    };
    assert_eq!(inner.to_string(), "card declined");
    assert!(
        setup.item(&idem.record_id(&json!("o-1"))).await.is_none(),
        "the failed call's claim was left behind"
    );
    assert_eq!(
        IdempotencyError::Function(inner)
            .into_function_error()
            .error_type,
        "io::Error"
    );

    let retried: Value = idem
        .run(&event, || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(retried, json!({"run": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_claim_is_taken_over_once_it_lapses_and_not_before() {
    let setup = Setup::new("crash").await;
    let idem = setup.idem().build(&setup.aws);
    let count = AtomicUsize::new(0);
    let event = json!({"order_id": "o-1"});
    let invocation = Invocation::builder()
        .remaining(Duration::from_millis(1500))
        .build();

    // The invocation dies mid-way: its future is dropped with the claim in place.
    let crashed = tokio::time::timeout(
        Duration::from_millis(200),
        idem.run_in(&event, &invocation, || async {
            count.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<Result<Value, std::io::Error>>().await
        }),
    )
    .await;
    assert!(crashed.is_err(), "the crashed call returned");
    let item = setup
        .item(&idem.record_id(&json!("o-1")))
        .await
        .expect("test setup");
    assert_eq!(s(&item, "status"), "INPROGRESS");
    let deadline_ms = invocation
        .deadline()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("test setup")
        .as_millis() as u64;
    assert_eq!(n(&item, "in_progress_expiration"), deadline_ms);

    let early = idem
        .run(&event, || counted(&count))
        .await
        .expect_err("it fails");
    assert!(
        matches!(early, IdempotencyError::AlreadyInProgress { .. }),
        "{early:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);

    tokio::time::sleep(invocation.remaining_time() + Duration::from_millis(100)).await;
    let taken_over: Value = idem
        .run(&event, || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(taken_over, json!({"run": 2}));
    let item = setup
        .item(&idem.record_id(&json!("o-1")))
        .await
        .expect("test setup");
    assert_eq!(s(&item, "status"), "COMPLETED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inserted_stale_claim_is_taken_over_but_a_live_one_is_not() {
    let setup = Setup::new("stale-claim").await;
    let idem = setup.idem().build(&setup.aws);
    let count = AtomicUsize::new(0);
    let now_ms = now_secs() * 1000;
    let claim = |key: &str, until_ms: u64| {
        HashMap::from([
            (
                "id".to_owned(),
                AttributeValue::S(idem.record_id(&json!(key))),
            ),
            ("status".to_owned(), AttributeValue::S("INPROGRESS".into())),
            (
                "expiration".to_owned(),
                AttributeValue::N((now_secs() + 3600).to_string()),
            ),
            (
                "in_progress_expiration".to_owned(),
                AttributeValue::N(until_ms.to_string()),
            ),
        ])
    };
    setup.put(claim("live", now_ms + 600_000)).await;
    setup.put(claim("stale", now_ms - 1000)).await;

    let live = idem
        .run(&json!({"order_id": "live"}), || counted(&count))
        .await
        .expect_err("it fails");
    assert!(
        matches!(live, IdempotencyError::AlreadyInProgress { .. }),
        "{live:?}"
    );
    let stale: Value = idem
        .run(&json!({"order_id": "stale"}), || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(stale, json!({"run": 1}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_record_past_its_expiration_runs_again() {
    let setup = Setup::new("expiry").await;
    // A cache too, to see that it forgets expired results as well.
    let idem = setup
        .idem()
        .local_cache(8)
        .expires_after(Duration::from_secs(1))
        .build(&setup.aws);
    let count = AtomicUsize::new(0);
    let event = json!({"order_id": "o-1"});
    let first: Value = idem
        .run(&event, || counted(&count))
        .await
        .expect("test setup");
    let again: Value = idem
        .run(&event, || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(again, first);

    // Expirations are whole seconds: two of them pass.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired: Value = idem
        .run(&event, || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(expired, json!({"run": 2}));

    // A record older than its expiration, as DynamoDB's TTL may leave it for a while.
    let id = idem.record_id(&json!("old"));
    setup
        .put(HashMap::from([
            ("id".to_owned(), AttributeValue::S(id.clone())),
            ("status".to_owned(), AttributeValue::S("COMPLETED".into())),
            (
                "expiration".to_owned(),
                AttributeValue::N((now_secs() - 10).to_string()),
            ),
            ("data".to_owned(), AttributeValue::S("\"stale\"".into())),
        ]))
        .await;
    let old: Value = idem
        .run(&json!({"order_id": "old"}), || counted(&count))
        .await
        .expect("test setup");
    assert_eq!(old, json!({"run": 3}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_without_a_key_fails_or_runs_unrecorded_as_configured() {
    let setup = Setup::new("no-key").await;
    let count = AtomicUsize::new(0);
    let strict = setup.idem().build(&setup.aws);
    let error = strict
        .run(&json!({"amount": 1}), || counted(&count))
        .await
        .expect_err("it fails");
    assert!(
        matches!(error, IdempotencyError::KeyNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("\"/order_id\""), "{error}");
    assert_eq!(count.load(Ordering::SeqCst), 0);

    let lenient = setup.idem().raise_on_no_key(false).build(&setup.aws);
    for run in 1..=2 {
        let answer: Value = lenient
            .run(&json!({"order_id": null}), || counted(&count))
            .await
            .expect("test setup");
        assert_eq!(answer, json!({"run": run}));
    }
    let scan = setup
        .client
        .scan()
        .table_name(&setup.table)
        .send()
        .await
        .expect("test setup");
    assert_eq!(scan.count(), 0, "an unkeyed call left a record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_a_duplicated_record_executes_it_once() {
    let setup = Setup::new("batch").await;
    let idem = setup
        .idem()
        .key(Selector::with(|body| body.get("order_id").cloned()))
        .build(&setup.aws);
    let event = |ids: &[(&str, &str)]| -> SqsEvent {
        let records: Vec<Value> = ids
            .iter()
            .map(|(message, order)| {
                json!({"messageId": message, "body": json!({"order_id": order}).to_string()})
            })
            .collect();
        serde_json::from_value(json!({"Records": records})).expect("test setup")
    };
    let count = Arc::new(AtomicUsize::new(0));
    let orders_run = Arc::new(Mutex::new(Vec::new()));
    let process = |limit: usize, event: SqsEvent| {
        let (idem, count, orders_run) = (idem.clone(), count.clone(), orders_run.clone());
        lamplight_batch::sqs(event, limit, move |message| {
            let (idem, count, orders_run) = (idem.clone(), count.clone(), orders_run.clone());
            async move {
                let body: Value = serde_json::from_str(message.body.as_deref().unwrap_or(""))
                    .map_err(|e| Box::new(e) as lamplight::BoxError)?;
                let _: Value = idem
                    .run(&body, || async {
                        count.fetch_add(1, Ordering::SeqCst);
                        orders_run
                            .lock()
                            .expect("test setup")
                            .push(body["order_id"].clone());
                        Ok::<_, std::io::Error>(json!("done"))
                    })
                    .await?;
                Ok::<_, lamplight::BoxError>(())
            }
        })
    };

    // One at a time: the duplicate finds the first one's result.
    let response = process(1, event(&[("m-1", "a"), ("m-2", "b"), ("m-3", "a")])).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    assert_eq!(count.load(Ordering::SeqCst), 2);
    assert_eq!(
        *orders_run.lock().expect("test setup"),
        [json!("a"), json!("b")]
    );

    // All at once: a duplicate that finds its twin still running fails alone (SQS redelivers
    // it later), and never runs twice.
    let response = process(4, event(&[("m-4", "c"), ("m-5", "c"), ("m-6", "d")])).await;
    assert_eq!(count.load(Ordering::SeqCst), 4);
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert!(
        failed.is_empty() || failed == ["m-4"] || failed == ["m-5"],
        "{failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapped_handler_replays_its_answer_and_keeps_its_error_types() {
    let setup = Setup::new("handler").await;
    let count = Arc::new(AtomicUsize::new(0));
    let handler = {
        let count = count.clone();
        setup
            .idem()
            .build(&setup.aws)
            .handler(move |event: Value, invocation: Invocation| {
                let count = count.clone();
                async move {
                    if event["amount"].as_f64().unwrap_or(0.0) <= 0.0 {
                        return Err(std::io::Error::other("no amount"));
                    }
                    let run = count.fetch_add(1, Ordering::SeqCst) + 1;
                    Ok(json!({"run": run, "request": invocation.request_id()}))
                }
            })
    };
    let invocation = Invocation::builder().build();
    let first = handler(json!({"order_id": "o-1", "amount": 5}), invocation.clone())
        .await
        .expect("test setup");
    let repeat = handler(json!({"order_id": "o-1", "amount": 5}), invocation.clone())
        .await
        .expect("test setup");
    assert_eq!(first, repeat);
    assert_eq!(count.load(Ordering::SeqCst), 1);

    let failed = handler(json!({"order_id": "o-2", "amount": 0}), invocation.clone())
        .await
        .expect_err("it fails");
    assert_eq!(failed.error_type, "io::Error");
    assert_eq!(failed.error_message, "no amount");
    let no_key = handler(json!({"amount": 5}), invocation)
        .await
        .expect_err("it fails");
    assert_eq!(no_key.error_type, "IdempotencyKeyError");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_claim_outlives_a_shorter_result_expiry() {
    let setup = Setup::new("long-claim").await;
    let idem = setup
        .idem()
        .expires_after(Duration::from_secs(1))
        .in_progress_default(Duration::from_secs(60))
        .build(&setup.aws);
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let running = {
        let (idem, release) = (idem.clone(), release.clone());
        tokio::spawn(async move {
            idem.run(&json!({"order_id": "o-1"}), || async move {
                let _permit = release.acquire().await;
                Ok::<_, std::io::Error>(json!("first"))
            })
            .await
        })
    };
    let id = idem.record_id(&json!("o-1"));
    while setup.item(&id).await.is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Past the result expiry, within the claim.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let duplicate = idem
        .run(&json!({"order_id": "o-1"}), || async {
            Ok::<_, std::io::Error>(json!("second"))
        })
        .await
        .expect_err("it fails");
    assert!(
        matches!(duplicate, IdempotencyError::AlreadyInProgress { .. }),
        "{duplicate:?}"
    );
    release.add_permits(1);
    assert_eq!(
        running.await.expect("joined").expect("it runs"),
        json!("first")
    );
}
