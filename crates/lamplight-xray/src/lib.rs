//! AWS X-Ray wire formats, shared by every lamplight crate that produces or consumes traces.
//!
//! | module | holds |
//! |---|---|
//! | [`ids`] | [`TraceId`] and [`SegmentId`]: parsing, validation, generation |
//! | [`header`] | [`TraceHeader`], the `X-Amzn-Trace-Id` / `Lambda-Runtime-Trace-Id` value |
//! | [`document`] | segment documents: validation and flattening into [`Segment`]s |
//! | [`daemon`] | the daemon's UDP framing: header line + document |
//! | [`shrink`] | fitting a segment document into a byte budget, marked as truncated |
//! | [`page`] | the trace page: HTML listing traces or invocations, with waterfalls and segment details |
//! | [`trace`] | [`Trace`]: segments assembled by parent links, rendered as a waterfall or JSON |

pub mod daemon;
pub mod document;
pub mod header;
pub mod ids;
pub mod page;
pub mod shrink;
pub mod trace;

pub use document::{DocumentError, Kind, Segment};
pub use header::{HeaderError, Sampling, TraceHeader};
pub use ids::{IdError, SegmentId, TraceId};
pub use trace::Trace;
