//! The function's CloudWatch logs: recent lines, a filter pattern, or following new ones.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::aws::Aws;
use crate::error::DeployError;

/// One line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// The log stream (one per execution environment).
    pub stream: String,
    /// The line.
    pub message: String,
}

/// Lines of `/aws/lambda/<name>` since `since` ago, matching `pattern` (CloudWatch filter
/// syntax); `after` skips lines at or before an earlier call's last timestamp.
pub async fn read(
    aws: &Aws,
    name: &str,
    since: Duration,
    pattern: Option<&str>,
    after: Option<i64>,
) -> Result<Vec<Line>, DeployError> {
    let group = format!("/aws/lambda/{name}");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let start = after.map_or(now - since.as_millis() as i64, |t| t + 1);
    let mut lines = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = aws
            .logs
            .filter_log_events()
            .log_group_name(&group)
            .start_time(start)
            .set_filter_pattern(pattern.map(str::to_owned))
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                    DeployError::Aws {
                        operation: "logs:FilterLogEvents".into(),
                        message: format!("no log group {group}: the function has not run yet, or is not deployed in this region"),
                    }
                } else {
                    DeployError::from_sdk("logs:FilterLogEvents", e)
                }
            })?;
        lines.extend(page.events().iter().map(|e| Line {
            timestamp: e.timestamp().unwrap_or_default(),
            stream: e.log_stream_name().unwrap_or_default().to_owned(),
            message: e.message().unwrap_or_default().trim_end().to_owned(),
        }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    lines.sort_by_key(|l| l.timestamp);
    Ok(lines)
}
