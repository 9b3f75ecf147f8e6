//! Traces assembled from segments, and their rendering as a terminal waterfall or JSON tree.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::document::Segment;
use crate::ids::{SegmentId, TraceId};

/// Every segment and subsegment received for one trace id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// `1-<8 hex time>-<24 hex>`.
    pub id: TraceId,
    /// Segments in arrival order; a later document with the same id replaces the earlier one
    /// (an in-progress segment followed by its completed form).
    pub segments: Vec<Segment>,
}

/// A segment and what ran under it, for JSON output.
#[derive(Debug, Clone, Serialize)]
pub struct Node<'a> {
    /// Its fields, inline in the node's JSON.
    #[serde(flatten)]
    pub segment: &'a Segment,
    /// Its children, by start time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node<'a>>,
}

impl Trace {
    /// An empty trace.
    pub fn new(id: TraceId) -> Self {
        Self {
            id,
            segments: Vec::new(),
        }
    }

    /// Adds a segment, replacing an earlier one with the same id.
    pub fn add(&mut self, segment: Segment) {
        match self.segments.iter_mut().find(|s| s.id == segment.id) {
            Some(existing) => *existing = segment,
            None => self.segments.push(segment),
        }
    }

    /// The segment with `id`.
    pub fn get(&self, id: SegmentId) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// Earliest start, in epoch seconds.
    pub fn start(&self) -> Option<f64> {
        self.segments.iter().map(|s| s.start_time).reduce(f64::min)
    }

    /// Latest end, in epoch seconds.
    pub fn end(&self) -> Option<f64> {
        self.segments
            .iter()
            .filter_map(|s| s.end_time)
            .reduce(f64::max)
    }

    /// Segments whose parent is not part of the trace (the top of the tree, or orphans).
    pub fn roots(&self) -> Vec<&Segment> {
        let ids: HashSet<SegmentId> = self.segments.iter().map(|s| s.id).collect();
        let mut roots: Vec<&Segment> = self
            .segments
            .iter()
            .filter(|s| s.parent_id.is_none_or(|p| !ids.contains(&p)))
            .collect();
        roots.sort_by(|a, b| a.start_time.total_cmp(&b.start_time));
        roots
    }

    /// Segments that name a parent this trace never received.
    pub fn orphans(&self) -> Vec<&Segment> {
        let ids: HashSet<SegmentId> = self.segments.iter().map(|s| s.id).collect();
        self.segments
            .iter()
            .filter(|s| s.parent_id.is_some_and(|p| !ids.contains(&p)))
            .collect()
    }

    /// The direct children of `id`, by start time.
    pub fn children(&self, id: SegmentId) -> Vec<&Segment> {
        let mut children: Vec<&Segment> = self
            .segments
            .iter()
            .filter(|s| s.parent_id == Some(id))
            .collect();
        children.sort_by(|a, b| a.start_time.total_cmp(&b.start_time));
        children
    }

    /// The trace as a tree, for JSON output.
    pub fn tree(&self) -> Vec<Node<'_>> {
        self.roots().into_iter().map(|s| self.node(s, 0)).collect()
    }

    fn node<'a>(&'a self, segment: &'a Segment, depth: usize) -> Node<'a> {
        // Depth bound: a cycle of parent ids in bad input must not recurse forever.
        let children = if depth > 64 {
            Vec::new()
        } else {
            self.children(segment.id)
                .into_iter()
                .map(|c| self.node(c, depth + 1))
                .collect()
        };
        Node { segment, children }
    }

    /// The trace as a terminal waterfall: one row per segment, indented under its parent, with a
    /// bar placed on the trace's timeline.
    pub fn waterfall(&self, bar_width: usize) -> String {
        let mut rows = Vec::new();
        for root in self.roots() {
            self.rows(root, 0, &mut rows);
        }
        let (start, end) = (self.start().unwrap_or(0.0), self.end().unwrap_or(0.0));
        let total = (end - start).max(1e-9);
        let label_width = rows
            .iter()
            .map(|(depth, s)| depth * 2 + label(s).chars().count())
            .max()
            .unwrap_or(0);
        let mut out = format!(
            "trace {}  {}  {} segment{}\n",
            self.id,
            format_ms(end - start),
            self.segments.len(),
            if self.segments.len() == 1 { "" } else { "s" }
        );
        for (depth, segment) in rows {
            let text = format!("{}{}", "  ".repeat(depth), label(segment));
            // The epsilon keeps float noise (100.002 - 100.000 = 0.00199..) from moving a bar a cell.
            let from =
                (((segment.start_time - start) / total) * bar_width as f64 + 1e-6).floor() as usize;
            let to = match segment.end_time {
                Some(e) => ((((e - start) / total) * bar_width as f64 - 1e-6).ceil() as usize)
                    .max(from + 1),
                None => bar_width,
            };
            let to = to.min(bar_width).max(from.min(bar_width));
            let bar = format!(
                "{}{}{}",
                " ".repeat(from.min(bar_width)),
                "█".repeat(to - from.min(bar_width)),
                " ".repeat(bar_width - to)
            );
            let duration = segment
                .duration()
                .map_or_else(|| "in progress".to_owned(), format_ms);
            let _ = writeln!(
                out,
                "  {text:<label_width$}  |{bar}|  {duration:>9}{}",
                marks(segment)
            );
        }
        let orphans = self.orphans();
        if !orphans.is_empty() {
            let _ = writeln!(
                out,
                "  ({} segment{} name a parent that never arrived)",
                orphans.len(),
                if orphans.len() == 1 { "" } else { "s" }
            );
        }
        out
    }

    fn rows<'a>(
        &'a self,
        segment: &'a Segment,
        depth: usize,
        rows: &mut Vec<(usize, &'a Segment)>,
    ) {
        rows.push((depth, segment));
        if depth <= 64 {
            for child in self.children(segment.id) {
                self.rows(child, depth + 1, rows);
            }
        }
    }
}

fn label(segment: &Segment) -> String {
    match (&segment.origin, &segment.namespace) {
        (Some(origin), _) => format!("{} ({origin})", segment.name),
        (None, Some(ns)) => format!("{} [{ns}]", segment.name),
        (None, None) => segment.name.clone(),
    }
}

fn marks(segment: &Segment) -> String {
    let mut marks = String::new();
    if segment.fault {
        marks.push_str("  fault");
    }
    if segment.error {
        marks.push_str("  error");
    }
    if segment.throttle {
        marks.push_str("  throttle");
    }
    if let Some(cause) = segment
        .field("cause.exceptions")
        .and_then(|e| e.get(0))
        .and_then(|e| e.get("message"))
        .and_then(|m| m.as_str())
    {
        let _ = write!(marks, ": {cause}");
    }
    marks
}

fn format_ms(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::parse_value;
    use serde_json::json;

    fn trace() -> Trace {
        let trace_id = "1-581cf771-a006649127e371903a2de979";
        let mut trace = Trace::new(trace_id.parse().expect("id"));
        for doc in [
            json!({"name": "greeter", "id": "0000000000000001", "trace_id": trace_id,
                   "start_time": 100.000, "end_time": 100.010, "origin": "AWS::Lambda"}),
            json!({"name": "greeter", "id": "0000000000000002", "trace_id": trace_id, "parent_id": "0000000000000001",
                   "start_time": 100.001, "end_time": 100.009, "origin": "AWS::Lambda::Function"}),
            json!({"type": "subsegment", "name": "handler", "id": "0000000000000003", "trace_id": trace_id,
                   "parent_id": "0000000000000002", "start_time": 100.002, "end_time": 100.008,
                   "subsegments": [{"name": "S3", "id": "0000000000000004", "namespace": "aws",
                                    "start_time": 100.003, "end_time": 100.005, "fault": true,
                                    "cause": {"exceptions": [{"message": "NoSuchKey"}]}}]}),
        ] {
            for s in parse_value(&doc).expect("valid") {
                trace.add(s);
            }
        }
        trace
    }

    #[test]
    fn the_tree_follows_parent_links() {
        let trace = trace();
        let tree = trace.tree();
        assert_eq!(tree.len(), 1);
        assert_eq!(
            tree[0].children[0].children[0].children[0].segment.name,
            "S3"
        );
        assert!(trace.orphans().is_empty());
        assert!((trace.end().expect("end") - trace.start().expect("start") - 0.010).abs() < 1e-9);
    }

    #[test]
    fn the_waterfall_indents_children_and_marks_faults() {
        insta::assert_snapshot!(trace().waterfall(20), @"
        trace 1-581cf771-a006649127e371903a2de979  10.00 ms  4 segments
          greeter (AWS::Lambda)              |████████████████████|   10.00 ms
            greeter (AWS::Lambda::Function)  |  ████████████████  |    8.00 ms
              handler                        |    ████████████    |    6.00 ms
                S3 [aws]                     |      ████          |    2.00 ms  fault: NoSuchKey
        ");
    }

    #[test]
    fn a_segment_whose_parent_never_arrived_is_an_orphan() {
        let mut trace = trace();
        let stray = parse_value(&json!({"type": "subsegment", "name": "late", "id": "0000000000000009",
            "trace_id": trace.id.as_str(), "parent_id": "00000000000000ff", "start_time": 100.0, "end_time": 100.001}))
        .expect("valid");
        trace.add(stray[0].clone());
        assert_eq!(trace.orphans().len(), 1);
        assert!(
            trace
                .waterfall(10)
                .contains("1 segment name a parent that never arrived")
        );
    }
}
