//! Fitting a segment document into a byte budget (the daemon's datagram), so an oversized
//! segment arrives truncated instead of vanishing with its children orphaned.
//!
//! [`shrink`] keeps everything that links a trace together (ids, trace id, parent ids, names,
//! times, kind, fault flags, nested subsegments) and gives up the rest in three steps, each
//! only as far as needed:
//!
//! 1. long strings (cause messages, stack frames, annotations, metadata, URLs) are cut to a
//!    common length, each ending in `…[truncated N bytes]`;
//! 2. long arrays (stack frames, exception lists, metadata lists) keep their first elements;
//! 3. optional fields of the segment and its subsegments are removed, largest first.
//!
//! A shrunk document says so in its metadata: `"metadata": {"lamplight": {"truncated": true,
//! "original_bytes": N}}`.

use serde_json::{Map, Value, json};

/// The metadata namespace of the truncation marker.
pub const MARKER_NAMESPACE: &str = "lamplight";

/// Fields of a segment or subsegment that are never cut: what X-Ray needs to place it in its
/// trace and what the waterfall shows.
const PROTECTED: &[&str] = &[
    "id",
    "trace_id",
    "parent_id",
    "type",
    "name",
    "start_time",
    "end_time",
    "in_progress",
    "namespace",
    "origin",
    "error",
    "fault",
    "throttle",
    "subsegments",
];

/// Room kept for the marker, which is added after the document is cut: the worst case of
/// `,"metadata":{"lamplight":{"truncated":true,"original_bytes":<u64>}}` and then some.
const MARKER_RESERVE: usize = 96;

/// Strings this short are left alone: cutting them would not save what the suffix costs.
const SUFFIX_ROOM: usize = 24;

/// What [`shrink`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shrunk {
    /// The document's size before, in bytes of compact JSON.
    pub original_bytes: usize,
    /// Its size after.
    pub bytes: usize,
    /// Whether anything was cut (`false`: the document already fit and is unchanged).
    pub truncated: bool,
}

/// Why a document could not be fitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShrinkError {
    /// Even with every optional field removed the document is over the budget (thousands of
    /// nested subsegments, or a budget smaller than ids and times).
    #[error(
        "the segment document needs {needed} bytes with every optional field removed, over the \
         budget of {budget}"
    )]
    TooBig {
        /// The smallest size reached.
        needed: usize,
        /// The size asked for, in bytes.
        budget: usize,
    },
    /// The document is not a JSON object.
    #[error("a segment document is a JSON object")]
    NotAnObject,
}

/// The length of `value` as compact JSON, without building the text.
pub fn encoded_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Cuts `document` until its compact JSON is at most `budget` bytes; see the [module](self)
/// docs for what goes first. A document that already fits is left untouched.
///
/// On [`ShrinkError::TooBig`] the document is left as small as it got (still valid, same ids).
pub fn shrink(document: &mut Value, budget: usize) -> Result<Shrunk, ShrinkError> {
    let original_bytes = encoded_len(document);
    if original_bytes <= budget {
        return Ok(Shrunk {
            original_bytes,
            bytes: original_bytes,
            truncated: false,
        });
    }
    if !document.is_object() {
        return Err(ShrinkError::NotAnObject);
    }
    let target = budget.saturating_sub(MARKER_RESERVE);
    let fits = |v: &Value| encoded_len(v) <= target;

    // 1. A common length for long strings: the longest that fits.
    let longest = longest_string(document);
    let with_cap = |cap: usize| {
        let mut v = document.clone();
        each_segment(&mut v, &mut |seg| {
            for_optional(seg, |value| cap_strings(value, cap))
        });
        v
    };
    let mut cut = match largest_fitting(longest, with_cap, fits) {
        Some(v) => v,
        None => {
            // 2. Strings at their shortest; now a common length for arrays.
            let strings_cut = with_cap(0);
            let longest = longest_array(&strings_cut);
            let with_len = |len: usize| {
                let mut v = strings_cut.clone();
                each_segment(&mut v, &mut |seg| {
                    for_optional(seg, |value| cap_arrays(value, len))
                });
                v
            };
            match largest_fitting(longest, with_len, fits) {
                Some(v) => v,
                None => {
                    // 3. Optional fields go, largest first.
                    let mut v = with_len(0);
                    remove_largest_until(&mut v, target);
                    v
                }
            }
        }
    };
    let needed = encoded_len(&cut);
    if needed > target {
        *document = cut;
        return Err(ShrinkError::TooBig { needed, budget });
    }
    mark(&mut cut, original_bytes);
    let bytes = encoded_len(&cut);
    *document = cut;
    Ok(Shrunk {
        original_bytes,
        bytes,
        truncated: true,
    })
}

/// The candidate `make(n)` for the largest `n` in `0..=max` that `fits`, by binary search
/// (a larger `n` keeps more, so fitting is monotone in `n`).
fn largest_fitting(
    max: usize,
    make: impl Fn(usize) -> Value,
    fits: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let mut best = None;
    let (mut lo, mut hi) = (0, max);
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        let candidate = make(mid);
        if fits(&candidate) {
            best = Some(candidate);
            lo = mid + 1;
        } else if mid == 0 {
            break;
        } else {
            hi = mid - 1;
        }
    }
    best
}

/// Runs `f` on the document's segment object and every nested subsegment object.
fn each_segment(value: &mut Value, f: &mut dyn FnMut(&mut Map<String, Value>)) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    f(object);
    if let Some(Value::Array(children)) = object.get_mut("subsegments") {
        for child in children {
            each_segment(child, f);
        }
    }
}

fn each_segment_ref(value: &Value, f: &mut dyn FnMut(&Map<String, Value>)) {
    let Some(object) = value.as_object() else {
        return;
    };
    f(object);
    if let Some(Value::Array(children)) = object.get("subsegments") {
        for child in children {
            each_segment_ref(child, f);
        }
    }
}

fn for_optional(segment: &mut Map<String, Value>, mut f: impl FnMut(&mut Value)) {
    for (key, value) in segment.iter_mut() {
        if !PROTECTED.contains(&key.as_str()) {
            f(value);
        }
    }
}

fn longest_string(document: &Value) -> usize {
    fn walk(value: &Value, longest: &mut usize) {
        match value {
            Value::String(s) => *longest = (*longest).max(s.len()),
            Value::Array(items) => items.iter().for_each(|v| walk(v, longest)),
            Value::Object(map) => map.values().for_each(|v| walk(v, longest)),
            _ => {}
        }
    }
    let mut longest = 0;
    each_segment_ref(document, &mut |seg| {
        for (key, value) in seg {
            if !PROTECTED.contains(&key.as_str()) {
                walk(value, &mut longest);
            }
        }
    });
    longest
}

fn longest_array(document: &Value) -> usize {
    fn walk(value: &Value, longest: &mut usize) {
        match value {
            Value::Array(items) => {
                *longest = (*longest).max(items.len());
                items.iter().for_each(|v| walk(v, longest));
            }
            Value::Object(map) => map.values().for_each(|v| walk(v, longest)),
            _ => {}
        }
    }
    let mut longest = 0;
    each_segment_ref(document, &mut |seg| {
        for (key, value) in seg {
            if !PROTECTED.contains(&key.as_str()) {
                walk(value, &mut longest);
            }
        }
    });
    longest
}

/// Cuts every string in `value` longer than `cap` bytes (plus room for the suffix).
fn cap_strings(value: &mut Value, cap: usize) {
    match value {
        Value::String(s) if s.len() > cap + SUFFIX_ROOM => {
            let keep = floor_char_boundary(s, cap);
            let cut = s.len() - keep;
            s.truncate(keep);
            s.push_str(&format!("…[truncated {cut} bytes]"));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| cap_strings(v, cap)),
        Value::Object(map) => map.values_mut().for_each(|v| cap_strings(v, cap)),
        _ => {}
    }
}

fn cap_arrays(value: &mut Value, len: usize) {
    match value {
        Value::Array(items) => {
            items.truncate(len);
            items.iter_mut().for_each(|v| cap_arrays(v, len));
        }
        Value::Object(map) => map.values_mut().for_each(|v| cap_arrays(v, len)),
        _ => {}
    }
}

fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|i| s.is_char_boundary(*i)).unwrap_or(0)
}

/// Removes optional fields (of any segment in the document), largest first, until it fits.
fn remove_largest_until(document: &mut Value, target: usize) {
    while encoded_len(document) > target {
        let mut largest: Option<(usize, usize, String)> = None;
        let mut index = 0;
        each_segment_ref(document, &mut |seg| {
            for (key, value) in seg {
                if !PROTECTED.contains(&key.as_str()) {
                    let size = key.len() + encoded_len(value);
                    if largest.as_ref().is_none_or(|(s, _, _)| size > *s) {
                        largest = Some((size, index, key.clone()));
                    }
                }
            }
            index += 1;
        });
        let Some((_, at, key)) = largest else {
            return;
        };
        let mut index = 0;
        each_segment(document, &mut |seg| {
            if index == at {
                seg.remove(&key);
            }
            index += 1;
        });
    }
}

fn mark(document: &mut Value, original_bytes: usize) {
    let Some(object) = document.as_object_mut() else {
        return;
    };
    let marker = json!({"truncated": true, "original_bytes": original_bytes});
    // Metadata that is not X-Ray's shape is left as it is: the cut strings still say what
    // happened.
    if let Value::Object(metadata) = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()))
    {
        metadata.insert(MARKER_NAMESPACE.to_owned(), marker);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_value;

    fn handler(message: &str) -> Value {
        json!({
            "type": "subsegment",
            "name": "handler",
            "id": "53995c3f42cd8ad8",
            "trace_id": "1-581cf771-a006649127e371903a2de979",
            "parent_id": "70de5b6f19ff9a0a",
            "start_time": 1.0,
            "end_time": 2.0,
            "fault": true,
            "cause": {"exceptions": [{"type": "Error", "message": message,
                                      "stack": [{"label": "main", "path": "src/main.rs", "line": 3}]}]},
            "annotations": {"ColdStart": true},
        })
    }

    #[test]
    fn a_document_that_fits_is_untouched() {
        let mut doc = handler("small");
        let before = doc.clone();
        let shrunk = shrink(&mut doc, 65_000).expect("fits");
        assert!(!shrunk.truncated);
        assert_eq!(doc, before);
    }

    #[test]
    fn a_long_cause_is_cut_with_a_marker_and_the_links_survive() {
        let mut doc = handler(&"é".repeat(40_000));
        let shrunk = shrink(&mut doc, 8_000).expect("fits");
        assert!(shrunk.truncated);
        assert!(shrunk.original_bytes > 80_000);
        assert!(shrunk.bytes <= 8_000, "{}", shrunk.bytes);
        assert_eq!(encoded_len(&doc), shrunk.bytes);
        let message = doc["cause"]["exceptions"][0]["message"]
            .as_str()
            .expect("message kept");
        assert!(message.starts_with("éé"), "{message}");
        assert!(message.contains("…[truncated "), "{message}");
        assert_eq!(doc["metadata"]["lamplight"]["truncated"], true);
        assert_eq!(
            doc["metadata"]["lamplight"]["original_bytes"],
            shrunk.original_bytes
        );
        assert_eq!(doc["annotations"]["ColdStart"], true, "short values stay");
        let segment = &parse_value(&doc).expect("still a valid document")[0];
        assert_eq!(segment.id.to_string(), "53995c3f42cd8ad8");
        assert_eq!(
            segment.parent_id.map(|p| p.to_string()).as_deref(),
            Some("70de5b6f19ff9a0a")
        );
        assert!(segment.fault);
    }

    #[test]
    fn many_small_items_are_cut_by_count_then_fields_go() {
        let mut doc = handler("boom");
        doc["cause"]["exceptions"][0]["stack"] = Value::Array(
            (0..5_000)
                .map(|i| json!({"label": format!("f{i}"), "line": i}))
                .collect(),
        );
        let shrunk = shrink(&mut doc, 4_000).expect("fits");
        assert!(shrunk.bytes <= 4_000);
        let stack = doc["cause"]["exceptions"][0]["stack"]
            .as_array()
            .expect("stack kept");
        assert!(!stack.is_empty() && stack.len() < 5_000, "{}", stack.len());

        let mut doc = handler("boom");
        doc["metadata"] = json!({"default": {"blob": "x".repeat(10_000)}});
        doc["http"] = json!({"request": {"url": "https://example.com/"}});
        let shrunk = shrink(&mut doc, 450).expect("fits");
        assert!(shrunk.bytes <= 450, "{}", shrunk.bytes);
        assert_eq!(doc["id"], "53995c3f42cd8ad8");
        assert_eq!(doc["metadata"]["lamplight"]["truncated"], true);
    }

    #[test]
    fn a_budget_below_the_skeleton_is_an_error_that_keeps_the_ids() {
        let mut doc = handler("boom");
        let err = shrink(&mut doc, 100).expect_err("too small");
        assert!(
            matches!(err, ShrinkError::TooBig { budget: 100, .. }),
            "{err}"
        );
        assert_eq!(doc["id"], "53995c3f42cd8ad8");
        assert!(parse_value(&doc).is_ok());
        assert_eq!(
            shrink(&mut json!("x".repeat(100)), 10),
            Err(ShrinkError::NotAnObject)
        );
    }
}
