//! Property tests of the wire formats: parsers never panic on arbitrary input, valid values
//! round-trip, and the shrinker fits any document into its budget without losing its ids.
//! Cases default to 128; `PROPTEST_CASES` overrides.

use lamplight_xray::daemon::{self, MAX_DOCUMENT};
use lamplight_xray::document::{parse, parse_value};
use lamplight_xray::shrink::{ShrinkError, encoded_len, shrink};
use lamplight_xray::{Sampling, SegmentId, TraceHeader, TraceId};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(128);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

fn trace_id() -> impl Strategy<Value = TraceId> {
    (any::<u32>(), "[0-9a-f]{24}")
        .prop_map(|(t, r)| format!("1-{t:08x}-{r}").parse().expect("valid shape"))
}

fn segment_id() -> impl Strategy<Value = SegmentId> {
    any::<u64>().prop_map(SegmentId::from)
}

fn header() -> impl Strategy<Value = TraceHeader> {
    (
        trace_id(),
        proptest::option::of(segment_id()),
        prop_oneof![
            Just(Sampling::Sampled),
            Just(Sampling::NotSampled),
            Just(Sampling::Undecided)
        ],
        proptest::collection::vec(("[A-Z][a-z]{1,8}", "[a-z0-9:]{1,12}"), 0..3),
    )
        .prop_map(|(root, parent, sampling, extra)| TraceHeader {
            root,
            parent,
            sampling,
            extra: extra
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "Root" | "Parent" | "Sampled"))
                .collect(),
        })
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        // Long strings and strings that JSON escapes (each control character takes 6 bytes).
        ("[a-z]{1,4}", 0usize..3000).prop_map(|(s, n)| Value::from(s.repeat(n))),
        (0usize..500).prop_map(|n| Value::from("\u{1}\"é".repeat(n))),
    ];
    leaf.prop_recursive(3, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..40).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid segment document with random extra fields and a few nested subsegments.
fn document() -> impl Strategy<Value = Value> {
    (
        trace_id(),
        segment_id(),
        proptest::collection::btree_map("[a-z_]{1,10}", json_value(), 0..5),
        proptest::collection::vec(
            (
                segment_id(),
                proptest::collection::btree_map("[a-z_]{1,10}", json_value(), 0..3),
            ),
            0..4,
        ),
    )
        .prop_map(|(trace, id, extra, children)| {
            let mut doc = json!({"name": "fn", "id": id, "trace_id": trace,
                                 "start_time": 1.0, "end_time": 2.0});
            let object = doc.as_object_mut().expect("object");
            for (k, v) in extra {
                object.entry(k).or_insert(v);
            }
            let subsegments: Vec<Value> = children
                .into_iter()
                .map(|(id, extra)| {
                    let mut child =
                        json!({"name": "child", "id": id, "start_time": 1.1, "end_time": 1.2});
                    let object = child.as_object_mut().expect("object");
                    for (k, v) in extra {
                        object.entry(k).or_insert(v);
                    }
                    child
                })
                .collect();
            object.insert("subsegments".into(), Value::Array(subsegments));
            doc
        })
}

fn ids(doc: &Value) -> Vec<(String, Option<String>)> {
    parse_value(doc)
        .expect("valid document")
        .into_iter()
        .map(|s| (s.id.to_string(), s.parent_id.map(|p| p.to_string())))
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn trace_headers_never_panic_and_round_trip(text in "\\PC{0,80}", header in header()) {
        let _ = text.parse::<TraceHeader>();
        let shown = header.to_string();
        prop_assert_eq!(shown.parse::<TraceHeader>().expect("own output parses"), header);
    }

    #[test]
    fn ids_never_panic_and_round_trip(text in "\\PC{0,40}", trace in trace_id(), id in segment_id()) {
        let _ = text.parse::<TraceId>();
        let _ = text.parse::<SegmentId>();
        prop_assert_eq!(trace.to_string().parse::<TraceId>().expect("parses"), trace.clone());
        prop_assert_eq!(id.to_string().parse::<SegmentId>().expect("parses"), id);
        prop_assert_eq!(trace.epoch_secs(), u32::from_str_radix(&trace.as_str()[2..10], 16).expect("hex"));
    }

    #[test]
    fn datagrams_and_documents_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), value in json_value()) {
        let _ = daemon::decode(&bytes);
        let _ = parse(&bytes);
        let _ = parse_value(&value);
        let _ = parse(&serde_json::to_vec(&value).expect("json"));
    }

    #[test]
    fn valid_documents_round_trip_through_datagrams(doc in document()) {
        let bytes = serde_json::to_vec(&doc).expect("json");
        let datagram = daemon::encode(&bytes);
        let inside = daemon::decode(&datagram).expect("own datagram decodes");
        prop_assert_eq!(inside, &bytes[..]);
        let segments = parse(inside).expect("valid");
        prop_assert_eq!(segments.len(), 1 + doc["subsegments"].as_array().map_or(0, Vec::len));
        prop_assert_eq!(segments[0].id.to_string(), doc["id"].as_str().expect("id"));
    }

    #[test]
    fn any_document_shrinks_to_its_budget_keeping_its_ids(doc in document(), budget in 200usize..20_000) {
        let before = ids(&doc);
        let mut shrunk = doc.clone();
        match shrink(&mut shrunk, budget) {
            Ok(result) => {
                prop_assert!(encoded_len(&shrunk) <= budget, "{} > {budget}", encoded_len(&shrunk));
                prop_assert_eq!(result.bytes, encoded_len(&shrunk));
                if !result.truncated {
                    prop_assert_eq!(&shrunk, &doc);
                }
            }
            Err(ShrinkError::TooBig { needed, .. }) => {
                // Only when the skeleton alone (ids, names, times) does not fit.
                prop_assert!(needed + 96 > budget);
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
        // Valid JSON with the same segments, whatever happened.
        let text = serde_json::to_vec(&shrunk).expect("json");
        let reparsed: Value = serde_json::from_slice(&text).expect("valid JSON");
        prop_assert_eq!(ids(&reparsed), before);
    }

    #[test]
    fn fitted_datagrams_are_within_the_udp_limit(doc in document(), blob in 60_000usize..200_000) {
        let mut doc = doc;
        doc["cause"] = json!({"exceptions": [{"message": "x".repeat(blob)}]});
        let before = ids(&doc);
        let (datagram, shrunk) = daemon::encode_fitting(&mut doc).expect("fits");
        prop_assert!(datagram.len() <= daemon::MAX_UDP_PAYLOAD);
        prop_assert!(shrunk.bytes <= MAX_DOCUMENT);
        let inside: Value = serde_json::from_slice(daemon::decode(&datagram).expect("decodes")).expect("json");
        prop_assert_eq!(ids(&inside), before);
    }
}
