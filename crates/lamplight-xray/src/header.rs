//! The `X-Amzn-Trace-Id` header: `Root=<trace id>;Parent=<segment id>;Sampled=0|1`.

use std::fmt;
use std::str::FromStr;

use crate::ids::{IdError, SegmentId, TraceId};

/// The name of the HTTP header that carries the trace context between services.
pub const HEADER_NAME: &str = "X-Amzn-Trace-Id";

/// The sampling decision carried by a trace header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    /// `Sampled=1`: record and send segments.
    Sampled,
    /// `Sampled=0`: send nothing.
    NotSampled,
    /// `Sampled=?` or no `Sampled` field: the receiver decides.
    Undecided,
}

/// A parsed trace header.
///
/// ```
/// use lamplight_xray::{TraceHeader, Sampling};
///
/// let header: TraceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
///     .parse()?;
/// assert_eq!(header.root.as_str(), "1-5759e988-bd862e3fe1be46a994272793");
/// assert_eq!(header.parent.map(|p| p.to_string()).as_deref(), Some("53995c3f42cd8ad8"));
/// assert_eq!(header.sampling, Sampling::Sampled);
/// # Ok::<(), lamplight_xray::HeaderError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// The trace every segment of this request belongs to.
    pub root: TraceId,
    /// The segment that called us, if any.
    pub parent: Option<SegmentId>,
    /// Whether segments should be sent.
    pub sampling: Sampling,
    /// Fields this crate does not interpret (`Lineage`, `Self`, ...), kept in order.
    pub extra: Vec<(String, String)>,
}

impl TraceHeader {
    /// A new sampled header for a fresh trace, with `parent` as the calling segment.
    pub fn new(root: TraceId, parent: Option<SegmentId>, sampling: Sampling) -> Self {
        Self {
            root,
            parent,
            sampling,
            extra: Vec::new(),
        }
    }

    /// Whether the caller asked for this request to be recorded.
    pub fn is_sampled(&self) -> bool {
        self.sampling == Sampling::Sampled
    }
}

/// Why a trace header was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No `Root=` field.
    #[error("trace header `{0}` has no `Root=` field")]
    MissingRoot(String),
    /// A field is not `key=value`.
    #[error("trace header field `{0}` is not `key=value`")]
    Malformed(String),
    /// The `Sampled` field is not `0`, `1` or `?`.
    #[error("trace header field `Sampled={0}` must be 0, 1 or ?")]
    Sampled(String),
    /// The root or parent id is malformed.
    #[error(transparent)]
    Id(#[from] IdError),
}

impl FromStr for TraceHeader {
    type Err = HeaderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut root = None;
        let mut parent = None;
        let mut sampling = Sampling::Undecided;
        let mut extra = Vec::new();
        for field in s.split(';').map(str::trim).filter(|f| !f.is_empty()) {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| HeaderError::Malformed(field.to_owned()))?;
            match key.trim() {
                "Root" => root = Some(value.trim().parse::<TraceId>()?),
                "Parent" => parent = Some(value.trim().parse::<SegmentId>()?),
                "Sampled" => {
                    sampling = match value.trim() {
                        "1" => Sampling::Sampled,
                        "0" => Sampling::NotSampled,
                        "?" => Sampling::Undecided,
                        other => return Err(HeaderError::Sampled(other.to_owned())),
                    }
                }
                other => extra.push((other.to_owned(), value.trim().to_owned())),
            }
        }
        let root = root.ok_or_else(|| HeaderError::MissingRoot(s.to_owned()))?;
        Ok(Self {
            root,
            parent,
            sampling,
            extra,
        })
    }
}

impl fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root={}", self.root)?;
        if let Some(parent) = self.parent {
            write!(f, ";Parent={parent}")?;
        }
        match self.sampling {
            Sampling::Sampled => f.write_str(";Sampled=1")?,
            Sampling::NotSampled => f.write_str(";Sampled=0")?,
            Sampling::Undecided => {}
        }
        for (key, value) in &self.extra {
            write!(f, ";{key}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_keeping_unknown_fields() {
        let text = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:0";
        let header: TraceHeader = text.parse().expect("valid");
        assert_eq!(header.sampling, Sampling::NotSampled);
        assert_eq!(header.extra, vec![("Lineage".into(), "a87bd80c:0".into())]);
        assert_eq!(header.to_string(), text);
    }

    #[test]
    fn a_root_alone_is_undecided_and_parentless() {
        let header: TraceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793"
            .parse()
            .expect("valid");
        assert_eq!(header.parent, None);
        assert_eq!(header.sampling, Sampling::Undecided);
        assert!(!header.is_sampled());
    }

    #[test]
    fn bad_headers_say_what_is_wrong() {
        let cases = [
            ("Parent=53995c3f42cd8ad8", "no `Root=` field"),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=2",
                "must be 0, 1 or ?",
            ),
            ("Root=1-xyz", "invalid X-Ray trace id"),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=12",
                "invalid X-Ray segment id",
            ),
            ("Root", "is not `key=value`"),
        ];
        for (text, expected) in cases {
            let err = text.parse::<TraceHeader>().expect_err(text).to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
