//! Function logs: the lines each execution environment writes, plus the service's own
//! `START`/`END`/`REPORT` lines, kept per log stream as CloudWatch Logs would.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The most lines kept per function; older ones are dropped first.
const MAX_EVENTS: usize = 20_000;

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    /// The execution environment's log stream.
    pub log_stream_name: String,
    /// The line, without its newline.
    pub message: String,
}

/// Called with (log stream, line) for every line.
pub type LineEcho = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Where a function's lines go: kept for later reads, and optionally echoed as they arrive.
#[derive(Clone, Default)]
pub struct LogSink {
    inner: Arc<Mutex<VecDeque<LogEvent>>>,
    echo: Option<LineEcho>,
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSink").finish_non_exhaustive()
    }
}

impl LogSink {
    /// A sink that also calls `echo(stream, line)` for every line.
    pub fn with_echo(echo: LineEcho) -> Self {
        Self {
            inner: Arc::default(),
            echo: Some(echo),
        }
    }

    /// Records a line.
    pub fn push(&self, stream: &str, message: String) {
        if let Some(echo) = &self.echo {
            echo(stream, &message);
        }
        let event = LogEvent {
            timestamp: now_ms(),
            log_stream_name: stream.to_owned(),
            message,
        };
        let mut events = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if events.len() == MAX_EVENTS {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// Lines at or after `since_ms`, oldest first.
    pub fn since(&self, since_ms: u64) -> Vec<LogEvent> {
        let events = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        events
            .iter()
            .filter(|e| e.timestamp >= since_ms)
            .cloned()
            .collect()
    }

    /// Every line, grouped by stream.
    pub fn streams(&self) -> BTreeMap<String, Vec<String>> {
        let events = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut streams: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in events.iter() {
            streams
                .entry(e.log_stream_name.clone())
                .or_default()
                .push(e.message.clone());
        }
        streams
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The figures of one invocation's `REPORT` line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The request id.
    pub request_id: String,
    /// From handing the event to the runtime to its result.
    pub duration: Duration,
    /// Init duration, on the environment's first invocation.
    pub init_duration: Option<Duration>,
    /// Configured memory, MB.
    pub memory_size_mb: u32,
    /// Peak resident memory of the runtime process, MB.
    pub max_memory_used_mb: u64,
    /// `timeout`, `error` (the runtime crashed) or none.
    pub status: Option<String>,
    /// The X-Ray trace, when sampled.
    pub xray: Option<(String, String)>,
}

impl Report {
    /// Billed duration in ms: the invocation (and, on a cold start, the init phase, which Lambda
    /// bills since August 2025), rounded up to the millisecond.
    pub fn billed_ms(&self) -> u128 {
        let total = self.duration + self.init_duration.unwrap_or_default();
        total.as_micros().div_ceil(1000).max(1)
    }

    /// The `REPORT` line as Lambda writes it.
    pub fn line(&self) -> String {
        let mut line = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            self.request_id,
            ms(self.duration),
            self.billed_ms(),
            self.memory_size_mb,
            self.max_memory_used_mb
        );
        if let Some(init) = self.init_duration {
            let _ = write!(line, "\tInit Duration: {:.2} ms", ms(init));
        }
        if let Some(status) = &self.status {
            let _ = write!(line, "\tStatus: {status}");
        }
        line.push('\t');
        if let Some((trace_id, segment_id)) = &self.xray {
            let _ = write!(
                line,
                "\nXRAY TraceId: {trace_id}\tSegmentId: {segment_id}\tSampled: true"
            );
        }
        line
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Peak resident memory (VmHWM) of a process, in MB, from `/proc`.
pub fn peak_memory_mb(pid: Option<u32>) -> u64 {
    let Some(pid) = pid else { return 0 };
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb.div_ceil(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_match_lambdas_shape() {
        let report = Report {
            request_id: "8f5c1b1a-0000-4000-8000-000000000001".into(),
            duration: Duration::from_micros(12_345),
            init_duration: Some(Duration::from_micros(45_678)),
            memory_size_mb: 128,
            max_memory_used_mb: 18,
            status: None,
            xray: Some((
                "1-581cf771-a006649127e371903a2de979".into(),
                "70de5b6f19ff9a0a".into(),
            )),
        };
        assert_eq!(
            report.line(),
            "REPORT RequestId: 8f5c1b1a-0000-4000-8000-000000000001\tDuration: 12.35 ms\tBilled Duration: 59 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 45.68 ms\t\nXRAY TraceId: 1-581cf771-a006649127e371903a2de979\tSegmentId: 70de5b6f19ff9a0a\tSampled: true"
        );
    }

    #[test]
    fn this_process_has_a_peak_memory() {
        assert!(peak_memory_mb(Some(std::process::id())) > 0);
        assert_eq!(peak_memory_mb(None), 0);
    }
}
