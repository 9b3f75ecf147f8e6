//! Property tests of event reading: random JSON, and random mutations of the corpus events,
//! never panic; each gives either a request the router answers or a clean `NotAnHttpEvent` /
//! `InvalidHttpEvent` error. Cases: `PROPTEST_CASES`, 128 by default.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::any as any_method;
use lamplight::Invocation;
use lamplight_http::HttpEvent;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    Config {
        cases,
        // Failures print their minimal case; no regression files in the source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

/// Keys that steer event reading, mixed with arbitrary ones.
const KEYS: &[&str] = &[
    "httpMethod",
    "path",
    "resource",
    "rawPath",
    "rawQueryString",
    "version",
    "requestContext",
    "http",
    "method",
    "elb",
    "stage",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "cookies",
    "body",
    "isBase64Encoded",
    "host",
    "Host",
    "x-forwarded-proto",
    "Records",
    "detail-type",
    "eventType",
    "domainName",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(
            &[
                "",
                "GET",
                "post",
                "/",
                "/orders/7",
                "orders",
                "2.0",
                "1.0",
                "true",
                "prod",
                "$default",
                "https",
                "a b",
                "%%",
                "/wAQ",
                "@",
                "?",
                "#",
                "//x",
                "\u{0}",
            ][..]
        )
        .prop_map(str::to_owned),
        "\\PC{0,12}",
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn corpus() -> Vec<Value> {
    let dir = format!("{}/tests/events", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = ["", "/corpus"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(format!("{dir}{sub}")).expect("events dir"))
        .map(|entry| entry.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 16, "the corpus is in place: {files:?}");
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json"))
        .collect()
}

/// Every path (object keys and array indexes) in `value`, the root included.
fn paths(value: &Value, prefix: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(PathStep::Key(k.clone()));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(PathStep::Index(i));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at<'a>(value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        PathStep::Key(k) => v.get_mut(k.as_str()),
        PathStep::Index(i) => v.get_mut(*i),
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Remove,
    Replace(Value),
    Empty,
    Null,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        json().prop_map(Mutation::Replace),
        Just(Mutation::Empty),
        Just(Mutation::Null),
    ]
}

fn mutate(event: &mut Value, choice: usize, mutation: &Mutation) {
    let mut all = Vec::new();
    paths(event, &mut Vec::new(), &mut all);
    let path = &all[choice % all.len()];
    let replacement = match mutation {
        Mutation::Remove => {
            if let Some((last, parent)) = path.split_last()
                && let Some(parent) = at(event, parent)
            {
                match (parent, last) {
                    (Value::Object(map), PathStep::Key(k)) => {
                        map.remove(k);
                    }
                    (Value::Array(items), PathStep::Index(i)) if *i < items.len() => {
                        items.remove(*i);
                    }
                    _ => {}
                }
            }
            return;
        }
        Mutation::Replace(v) => v.clone(),
        Mutation::Empty => Value::String(String::new()),
        Mutation::Null => Value::Null,
    };
    if let Some(slot) = at(event, path) {
        *slot = replacement;
    }
}

fn echo_app() -> Router {
    Router::new().fallback(any_method(|body: axum::body::Bytes| async move {
        format!("{} bytes", body.len())
    }))
}

/// The event answered as `run` answers it: a proxy response with a status (`true`), or an
/// error document of one of the two event error types (`false`); never a panic.
fn check_answer(rt: &tokio::runtime::Runtime, event: &Value) -> Result<bool, TestCaseError> {
    let bytes = serde_json::to_vec(event).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let inv = Invocation::builder()
        .remaining(Duration::from_secs(10))
        .build();
    match rt.block_on(lamplight_http::respond(echo_app(), &bytes, inv)) {
        Ok(response) => {
            let response: Value = serde_json::from_slice(&response)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let status = response["statusCode"].as_u64().unwrap_or_default();
            prop_assert!((100..=599).contains(&status), "{response}");
            Ok(true)
        }
        Err(doc) => {
            let text = doc.to_string();
            prop_assert!(
                text.starts_with("NotAnHttpEvent: expected ")
                    || text.starts_with("InvalidHttpEvent: the "),
                "{text}"
            );
            Ok(false)
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

#[test]
fn random_json_gives_a_request_or_a_clean_error() {
    TestRunner::new(config())
        .run(&json(), |event| {
            match HttpEvent::parse(event) {
                Ok(parsed) => {
                    let request = parsed.into_request();
                    prop_assert!(request.uri().path().starts_with('/'), "{:?}", request.uri());
                }
                Err(e) => {
                    prop_assert!(
                        ["NotAnHttpEvent", "InvalidHttpEvent"].contains(&e.error_type()),
                        "{e}"
                    );
                    prop_assert!(!e.to_string().is_empty());
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn random_objects_with_http_fields_are_answered_or_refused_cleanly() {
    let rt = runtime();
    let object = proptest::collection::vec((key(), json()), 0..8)
        .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>()));
    TestRunner::new(config())
        .run(&object, |event| check_answer(&rt, &event).map(drop))
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn mutated_corpus_events_are_answered_or_refused_cleanly() {
    let rt = runtime();
    let corpus = corpus();
    let count = corpus.len();
    let strategy = (
        0..count,
        proptest::collection::vec((any::<usize>(), mutation()), 1..4),
    );
    let (runs, answered) = (AtomicUsize::new(0), AtomicUsize::new(0));
    TestRunner::new(config())
        .run(&strategy, |(index, mutations)| {
            let mut event = corpus[index].clone();
            for (choice, m) in &mutations {
                mutate(&mut event, *choice, m);
            }
            runs.fetch_add(1, Ordering::Relaxed);
            if check_answer(&rt, &event)? {
                answered.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    // Most mutations leave an event the lenient reading still answers: the property is not
    // met by refusing everything.
    let (runs, answered) = (runs.into_inner(), answered.into_inner());
    assert!(
        answered * 3 >= runs,
        "only {answered} of {runs} mutated events were answered"
    );
}
