//! Function logs, kept per log stream as CloudWatch Logs would.
//!
//! The lines each execution environment writes, plus the service's own
//! `START`/`END`/`REPORT` lines.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// The most lines kept per function; older ones are dropped first.
const MAX_EVENTS: usize = 20_000;
/// The most bytes of lines kept per function: with lines of up to [`MAX_LINE`] bytes, the line
/// count alone would let one function hold gigabytes.
pub const MAX_HISTORY_BYTES: usize = 32 * 1024 * 1024;
/// The longest line kept, in bytes: CloudWatch Logs' event limit (256 KB). Longer lines are cut
/// and end in [`TRUNCATED`].
pub const MAX_LINE: usize = 256 * 1024;
/// What ends a line that was cut at [`MAX_LINE`].
pub const TRUNCATED: &str = " [truncated]";
/// The most bytes of log one invocation's [`crate::Outcome::logs`] keeps: the oldest lines go
/// first, as the log tail is what callers read.
pub const MAX_INVOCATION_LOG: usize = 1024 * 1024;

/// One log line, as GetLogEvents and FilterLogEvents return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LogEvent {
    /// Milliseconds since the epoch.
    pub timestamp: u64,
    /// The execution environment's log stream.
    pub log_stream_name: String,
    /// The line, without its newline.
    pub message: String,
}

/// Called with (log stream, line) for every line.
pub(crate) type LineEcho = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Where a function's lines go: kept for later reads, and optionally echoed as they arrive.
#[derive(Clone, Default)]
pub(crate) struct LogSink {
    inner: Arc<Mutex<History>>,
    echo: Option<LineEcho>,
}

/// The kept lines: a ring buffer bounded in lines and in bytes.
#[derive(Default)]
struct History {
    events: VecDeque<LogEvent>,
    bytes: usize,
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
        let size = event_size(&event);
        let mut history = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        history.bytes += size;
        history.events.push_back(event);
        while history.events.len() > MAX_EVENTS || history.bytes > MAX_HISTORY_BYTES {
            let Some(oldest) = history.events.pop_front() else {
                break;
            };
            history.bytes -= event_size(&oldest);
        }
    }

    /// How many lines and bytes are kept (what the bounds are checked against).
    #[cfg(test)]
    pub fn kept(&self) -> (usize, usize) {
        let history = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (history.events.len(), history.bytes)
    }

    /// Lines at or after `since_ms`, oldest first.
    pub fn since(&self, since_ms: u64) -> Vec<LogEvent> {
        let history = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        history
            .events
            .iter()
            .filter(|e| e.timestamp >= since_ms)
            .cloned()
            .collect()
    }

    /// Every line, grouped by stream.
    pub fn streams(&self) -> BTreeMap<String, Vec<String>> {
        let history = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut streams: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in history.events.iter() {
            streams
                .entry(e.log_stream_name.clone())
                .or_default()
                .push(e.message.clone());
        }
        streams
    }
}

/// What a kept line costs: its text and its stream name (the struct itself is small and fixed).
fn event_size(event: &LogEvent) -> usize {
    event.message.len() + event.log_stream_name.len()
}

/// Cuts a process's output into lines of at most `cap` bytes as it arrives, holding at most
/// `cap` bytes of an unfinished line: a process that prints without newlines, or prints
/// gigabytes, cannot grow it. A line over the cap is emitted as soon as the cap is passed, cut
/// and ending in [`TRUNCATED`]; the rest of it, up to its newline, is dropped.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    cap: usize,
    partial: Vec<u8>,
    /// In the dropped rest of a line already emitted cut.
    skipping: bool,
}

impl LineSplitter {
    /// A splitter for lines of at most `cap` bytes (never less than room for the marker and
    /// a few bytes of text).
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(TRUNCATED.len() + 8),
            partial: Vec::new(),
            skipping: false,
        }
    }

    /// Takes the next bytes of output; calls `line` for every line they complete.
    pub fn push(&mut self, mut data: &[u8], mut line: impl FnMut(String)) {
        while !data.is_empty() {
            let newline = data.iter().position(|b| *b == b'\n');
            let end = newline.unwrap_or(data.len());
            if self.skipping {
                if newline.is_some() {
                    self.skipping = false;
                }
            } else {
                // One byte past the cap is enough to know the line is too long.
                let room = self.cap + 1 - self.partial.len();
                self.partial.extend_from_slice(&data[..end.min(room)]);
                if self.partial.len() > self.cap {
                    line(self.cut());
                    self.skipping = newline.is_none();
                } else if newline.is_some() {
                    line(self.take());
                }
            }
            data = match newline {
                Some(n) => &data[n + 1..],
                None => &[],
            };
        }
    }

    /// The output ended: the unfinished line, if any.
    pub fn finish(&mut self) -> Option<String> {
        self.skipping = false;
        (!self.partial.is_empty()).then(|| self.take())
    }

    /// The buffered bytes as a complete line (`\r` of CRLF endings dropped).
    fn take(&mut self) -> String {
        let raw = std::mem::take(&mut self.partial);
        let mut end = raw.len();
        while end > 0 && raw[end - 1] == b'\r' {
            end -= 1;
        }
        let text = String::from_utf8_lossy(&raw[..end]).into_owned();
        if text.len() <= self.cap {
            text
        } else {
            // Invalid bytes become three-byte replacement characters: cap the text, too.
            self.cut_text(&text)
        }
    }

    /// The buffered bytes as a line that was too long.
    fn cut(&mut self) -> String {
        let raw = std::mem::take(&mut self.partial);
        let text = String::from_utf8_lossy(&raw);
        self.cut_text(&text)
    }

    fn cut_text(&self, text: &str) -> String {
        let mut end = self.cap - TRUNCATED.len();
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut cut = String::with_capacity(end + TRUNCATED.len());
        cut.push_str(&text[..end]);
        cut.push_str(TRUNCATED);
        cut
    }
}

/// One invocation's log text, keeping its newest [`MAX_INVOCATION_LOG`] bytes (or `cap`).
#[derive(Debug)]
pub(crate) struct InvocationLog {
    cap: usize,
    text: String,
    dropped: usize,
}

impl Default for InvocationLog {
    fn default() -> Self {
        Self::new(MAX_INVOCATION_LOG)
    }
}

impl InvocationLog {
    /// A log keeping at most about `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            text: String::new(),
            dropped: 0,
        }
    }

    /// Appends one line.
    pub fn push_line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > self.cap {
            // Drop down to three quarters of the cap at once, so a long run of lines costs one
            // move per quarter of the cap rather than one per line; cut at a line start.
            let excess = self.text.len() - self.cap / 4 * 3;
            let cut = self.text.as_bytes()[excess..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(self.text.len(), |n| excess + n + 1);
            self.text.drain(..cut);
            self.dropped += cut;
        }
    }

    /// Forgets everything (a new invocation starts).
    pub fn clear(&mut self) {
        self.text.clear();
        self.dropped = 0;
    }

    /// The text so far, with a first line saying how much was dropped; empties the log.
    pub fn take(&mut self) -> String {
        let dropped = std::mem::take(&mut self.dropped);
        let text = std::mem::take(&mut self.text);
        if dropped == 0 {
            text
        } else {
            format!("[lamplight-local: {dropped} bytes of earlier log lines dropped]\n{text}")
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The figures of one invocation's `REPORT` line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The invocation's `RequestId`.
    pub request_id: String,
    /// From handing the event to the runtime to its result.
    pub duration: Duration,
    /// Init duration, on the environment's first invocation.
    pub init_duration: Option<Duration>,
    /// The function's configured memory, in MB (`Memory Size`).
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
pub(crate) fn peak_memory_mb(pid: Option<u32>) -> u64 {
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

    /// Proptest's configuration: a bounded number of cases unless `PROPTEST_CASES` says.
    fn cases() -> proptest::test_runner::Config {
        let mut config = proptest::test_runner::Config::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = 64;
        }
        config
    }

    fn split_all(cap: usize, chunks: &[&[u8]]) -> (Vec<String>, usize) {
        let mut splitter = LineSplitter::new(cap);
        let mut lines = Vec::new();
        let mut most_buffered = 0;
        for chunk in chunks {
            splitter.push(chunk, |l| lines.push(l));
            most_buffered = most_buffered.max(splitter.partial.len());
        }
        lines.extend(splitter.finish());
        (lines, most_buffered)
    }

    proptest::proptest! {
        #![proptest_config(cases())]

        /// Random output cut at random points: no panic, no line over the cap, the buffer never
        /// over the cap, and every line within the cap exactly as written.
        #[test]
        fn split_lines_are_capped_and_lose_nothing_below_the_cap(
            cap in 20usize..200,
            data in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => proptest::num::u8::ANY,
                    1 => proptest::strategy::Just(b'\n'),
                    1 => proptest::strategy::Just(b'\r'),
                ],
                0..2_000,
            ),
            cuts in proptest::collection::vec(0usize..2_000, 0..20),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            let chunks: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
            let (lines, most_buffered) = split_all(cap, &chunks);
            proptest::prop_assert!(most_buffered <= cap + 1);

            let mut raw: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
            // Text after the last newline is a line only if there is some.
            if raw.last().is_some_and(|l| l.is_empty()) {
                raw.pop();
            }
            proptest::prop_assert_eq!(lines.len(), raw.len());
            for (line, raw) in lines.iter().zip(raw) {
                proptest::prop_assert!(line.len() <= cap, "{} > {cap}", line.len());
                let mut end = raw.len();
                while end > 0 && raw[end - 1] == b'\r' {
                    end -= 1;
                }
                let whole = String::from_utf8_lossy(&raw[..end]);
                if raw.len() <= cap && whole.len() <= cap {
                    proptest::prop_assert_eq!(line, &whole);
                } else {
                    let kept = line.strip_suffix(TRUNCATED);
                    proptest::prop_assert!(kept.is_some(), "cut line not marked: {line:?}");
                    let all = String::from_utf8_lossy(raw);
                    proptest::prop_assert!(all.starts_with(kept.unwrap_or_default()));
                }
            }
        }
    }

    #[test]
    fn a_line_without_a_newline_is_cut_as_soon_as_it_passes_the_cap() {
        let mut splitter = LineSplitter::new(MAX_LINE);
        let mut lines = Vec::new();
        let chunk = vec![b'x'; 64 * 1024];
        // 8 MB without a newline, then a short line.
        for _ in 0..128 {
            splitter.push(&chunk, |l| lines.push(l));
            assert!(splitter.partial.len() <= MAX_LINE + 1);
        }
        splitter.push(b"tail\nnext\n", |l| lines.push(l));
        assert_eq!(lines.len(), 2, "one cut line, then `next`");
        assert_eq!(lines[0].len(), MAX_LINE);
        assert!(lines[0].ends_with(TRUNCATED));
        assert_eq!(lines[1], "next");
        assert_eq!(splitter.finish(), None);
    }

    #[test]
    fn an_invocation_log_keeps_its_newest_lines_within_the_cap() {
        let mut log = InvocationLog::new(10_000);
        for i in 0..10_000 {
            log.push_line(&format!("line {i}"));
            assert!(log.text.len() <= 10_000 + 20, "{}", log.text.len());
        }
        let text = log.take();
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("[lamplight-local: ")
                && first.ends_with("bytes of earlier log lines dropped]"),
            "{first}"
        );
        assert!(text.ends_with("line 9999\n"), "the tail is kept");
        assert!(
            text.lines().skip(1).all(|l| l.starts_with("line ")),
            "cut at line starts"
        );
        assert_eq!(log.take(), "", "taking empties it");
    }

    #[test]
    fn a_log_sink_keeps_a_bounded_number_of_bytes() {
        let sink = LogSink::default();
        let line = "y".repeat(MAX_LINE);
        for _ in 0..(MAX_HISTORY_BYTES / MAX_LINE + 20) {
            sink.push("stream", line.clone());
        }
        let (lines, bytes) = sink.kept();
        assert!(bytes <= MAX_HISTORY_BYTES, "{bytes}");
        assert!(
            lines > 0 && lines < MAX_HISTORY_BYTES / MAX_LINE + 20,
            "{lines}"
        );
        for i in 0..(MAX_EVENTS + 10) {
            sink.push("stream", format!("{i}"));
        }
        assert_eq!(sink.kept().0, MAX_EVENTS);
        assert_eq!(
            sink.streams()["stream"].last().map(String::as_str),
            Some(format!("{}", MAX_EVENTS + 9).as_str())
        );
    }

    #[test]
    fn this_process_has_a_peak_memory() {
        assert!(peak_memory_mb(Some(std::process::id())) > 0);
        assert_eq!(peak_memory_mb(None), 0);
    }
}
