//! The function's X-Ray traces: recent ones (GetTraceSummaries) or given ids, fetched whole
//! (BatchGetTraces) and assembled with lamplight-xray, rendered as a waterfall or an HTML page.

use std::time::{Duration, SystemTime};

use aws_smithy_types::DateTime;
use lamplight_xray::{Trace, TraceId, document};

use crate::aws::Aws;
use crate::error::DeployError;

/// Ids of traces of `name` in the last `since`.
pub async fn recent(aws: &Aws, name: &str, since: Duration) -> Result<Vec<String>, DeployError> {
    let end = SystemTime::now();
    let start = end - since;
    let out = aws
        .xray
        .get_trace_summaries()
        .start_time(DateTime::from(start))
        .end_time(DateTime::from(end))
        .filter_expression(format!("service(\"{name}\")"))
        .send()
        .await
        .map_err(|e| DeployError::from_sdk("xray:GetTraceSummaries", e))?;
    Ok(out
        .trace_summaries()
        .iter()
        .filter_map(|t| t.id().map(str::to_owned))
        .collect())
}

/// The traces with these ids, assembled from their segment documents.
pub async fn fetch(aws: &Aws, ids: &[String]) -> Result<Vec<Trace>, DeployError> {
    let mut traces = Vec::new();
    for chunk in ids.chunks(5) {
        let out = aws
            .xray
            .batch_get_traces()
            .set_trace_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| DeployError::from_sdk("xray:BatchGetTraces", e))?;
        for trace in out.traces() {
            let Some(id) = trace.id().and_then(|i| i.parse::<TraceId>().ok()) else {
                continue;
            };
            let mut assembled = Trace::new(id);
            for segment in trace.segments() {
                let Some(doc) = segment.document() else {
                    continue;
                };
                match document::parse(doc.as_bytes()) {
                    Ok(parts) => parts.into_iter().for_each(|s| assembled.add(s)),
                    Err(e) => tracing::warn!("skipping a segment X-Ray returned: {e}"),
                }
            }
            traces.push(assembled);
        }
    }
    Ok(traces)
}

/// A self-contained HTML page of the traces: a list, and each trace as an interactive waterfall
/// with its segments' annotations, metadata, `aws`/`http` fields and error causes; the traces are
/// embedded in the page as JSON, and it loads nothing from elsewhere.
pub fn html(traces: &[Trace]) -> String {
    let generated = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    lamplight_xray::page::embedded(traces, &generated)
}
