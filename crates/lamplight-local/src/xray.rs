//! The X-Ray daemon sink, which assembles the traces functions send.
//!
//! A UDP listener that takes what functions send to `AWS_XRAY_DAEMON_ADDRESS`, validates
//! it, and assembles traces.
//!
//! Bad datagrams are counted and kept (the last [`MAX_REJECTIONS`], with the reason and the
//! first bytes) so a test or a user can see why a segment never showed up; they never stop
//! the listener.
//!
//! What is kept is bounded: [`MAX_TRACES`] traces, [`MAX_SEGMENTS_PER_TRACE`] segments in one
//! trace, [`MAX_SEGMENTS`] and [`MAX_BYTES`] in all. The oldest traces are evicted first;
//! segments over a trace's cap are refused. Both are counted in [`SinkStats`], so a trace that
//! looks short says why.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lamplight_xray::{Segment, SegmentId, Trace, TraceId, daemon, document};
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// The most traces kept; the oldest is dropped first.
pub const MAX_TRACES: usize = 2_000;
/// The most segments (subsegments included) kept in one trace; later new ones are refused.
pub const MAX_SEGMENTS_PER_TRACE: usize = 10_000;
/// The most segments kept in all traces; the oldest traces are evicted to stay under it.
pub const MAX_SEGMENTS: usize = 100_000;
/// About the most bytes of segment documents kept in all traces (measured as received).
pub const MAX_BYTES: usize = 256 * 1024 * 1024;
/// What a segment the service records itself is counted as, in bytes.
const RECORDED_SEGMENT_BYTES: usize = 1024;
/// The most rejected datagrams kept for inspection.
pub const MAX_REJECTIONS: usize = 100;

/// Counters of what the sink received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    /// Datagrams received, well-formed or not.
    pub datagrams: u64,
    /// Segments and subsegments accepted (nested ones included).
    pub segments: u64,
    /// Datagrams without the daemon header, or not JSON.
    pub malformed: u64,
    /// Documents that broke a segment rule (ids, times, parent links).
    pub invalid: u64,
    /// Valid segments refused because their trace already held [`MAX_SEGMENTS_PER_TRACE`].
    pub dropped_segments: u64,
    /// Traces evicted, oldest first, to stay within [`MAX_TRACES`], [`MAX_SEGMENTS`] and
    /// [`MAX_BYTES`].
    pub evicted_traces: u64,
    /// Segments the evicted traces held.
    pub evicted_segments: u64,
}

/// A datagram the sink refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// What was wrong.
    pub reason: String,
    /// The first bytes of the datagram.
    pub excerpt: String,
}

#[derive(Default)]
struct Inner {
    order: VecDeque<TraceId>,
    traces: HashMap<TraceId, Kept>,
    stats: SinkStats,
    rejections: VecDeque<Rejection>,
    /// Segments in all kept traces.
    segments: usize,
    /// Bytes of the segments in all kept traces.
    bytes: usize,
}

/// One kept trace, with where each of its segments is, so a segment sent again (in progress,
/// then complete) replaces its earlier form in constant time.
struct Kept {
    trace: Trace,
    index: HashMap<SegmentId, Slot>,
    bytes: usize,
}

#[derive(Clone, Copy)]
struct Slot {
    position: usize,
    bytes: usize,
}

impl Inner {
    /// Adds one segment that takes about `bytes` bytes.
    fn add(&mut self, segment: Segment, bytes: usize) {
        let id = segment.trace_id.clone();
        if !self.traces.contains_key(&id) {
            while self.order.len() >= MAX_TRACES {
                self.evict_oldest();
            }
            self.order.push_back(id.clone());
            self.traces.insert(
                id.clone(),
                Kept {
                    trace: Trace::new(id.clone()),
                    index: HashMap::new(),
                    bytes: 0,
                },
            );
        }
        let Some(kept) = self.traces.get_mut(&id) else {
            return;
        };
        match kept.index.get_mut(&segment.id) {
            Some(slot) => {
                kept.bytes = kept.bytes - slot.bytes + bytes;
                self.bytes = self.bytes - slot.bytes + bytes;
                slot.bytes = bytes;
                kept.trace.segments[slot.position] = segment;
            }
            None if kept.trace.segments.len() >= MAX_SEGMENTS_PER_TRACE => {
                self.stats.dropped_segments += 1;
                return;
            }
            None => {
                let position = kept.trace.segments.len();
                kept.index.insert(segment.id, Slot { position, bytes });
                kept.trace.segments.push(segment);
                kept.bytes += bytes;
                self.bytes += bytes;
                self.segments += 1;
            }
        }
        self.stats.segments += 1;
        while (self.segments > MAX_SEGMENTS || self.bytes > MAX_BYTES) && !self.order.is_empty() {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        let Some(oldest) = self.order.pop_front() else {
            return;
        };
        if let Some(kept) = self.traces.remove(&oldest) {
            let count = kept.trace.segments.len();
            self.segments -= count;
            self.bytes -= kept.bytes;
            self.stats.evicted_traces += 1;
            self.stats.evicted_segments += count as u64;
        }
    }
}

/// Received traces, shared by the UDP listener, the service's own facade segments, and readers.
pub struct TraceStore {
    inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
}

impl Default for TraceStore {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            changed: watch::channel(0).0,
        }
    }
}

impl std::fmt::Debug for TraceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceStore")
            .field("stats", &self.stats())
            .finish()
    }
}

impl TraceStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one datagram as the daemon would.
    pub fn receive_datagram(&self, datagram: &[u8]) {
        let result = daemon::decode(datagram)
            .map_err(|e| (true, e.to_string()))
            .and_then(|doc| {
                document::parse(doc)
                    .map_err(|e| (e.path == "$", format!("invalid segment document: {e}")))
            });
        let mut inner = self.lock();
        inner.stats.datagrams += 1;
        match result {
            Ok(segments) => {
                // Share the datagram's size among what it held, to bound memory in bytes.
                let bytes = datagram.len() / segments.len().max(1);
                for segment in segments {
                    inner.add(segment, bytes);
                }
                drop(inner);
                self.changed.send_modify(|n| *n += 1);
            }
            Err((malformed, reason)) => {
                if malformed {
                    inner.stats.malformed += 1;
                } else {
                    inner.stats.invalid += 1;
                }
                if inner.rejections.len() == MAX_REJECTIONS {
                    inner.rejections.pop_front();
                }
                let excerpt =
                    String::from_utf8_lossy(&datagram[..datagram.len().min(200)]).into_owned();
                inner.rejections.push_back(Rejection { reason, excerpt });
                drop(inner);
                self.changed.send_modify(|n| *n += 1);
            }
        }
    }

    /// Adds validated segments (the service's own facade segments come in this way).
    pub(crate) fn record(&self, segments: Vec<Segment>) {
        let mut inner = self.lock();
        for segment in segments {
            inner.add(segment, RECORDED_SEGMENT_BYTES);
        }
        drop(inner);
        self.changed.send_modify(|n| *n += 1);
    }

    /// The segments of trace `id` received so far.
    pub fn trace(&self, id: &TraceId) -> Option<Trace> {
        self.lock().traces.get(id).map(|k| k.trace.clone())
    }

    /// Every trace kept, oldest first.
    pub fn traces(&self) -> Vec<Trace> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .filter_map(|id| inner.traces.get(id).map(|k| k.trace.clone()))
            .collect()
    }

    /// What was received so far.
    pub fn stats(&self) -> SinkStats {
        self.lock().stats
    }

    /// The datagrams refused most recently.
    pub fn rejections(&self) -> Vec<Rejection> {
        self.lock().rejections.iter().cloned().collect()
    }

    /// Waits until trace `id` satisfies `ready`, for at most `timeout`; returns the trace as it
    /// then is (complete or not), or `None` if nothing of it arrived.
    pub async fn wait_for(
        &self,
        id: &TraceId,
        timeout: Duration,
        ready: impl Fn(&Trace) -> bool,
    ) -> Option<Trace> {
        let mut changes = self.changed.subscribe();
        let wait = async {
            loop {
                if let Some(trace) = self.trace(id)
                    && ready(&trace)
                {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(timeout, wait).await;
        self.trace(id)
    }
}

/// The daemon's UDP listener, feeding a [`TraceStore`].
#[derive(Debug)]
pub(crate) struct XraySink {
    addr: SocketAddr,
    store: Arc<TraceStore>,
    task: tokio::task::JoinHandle<()>,
}

impl XraySink {
    /// Binds `addr` (port 0 picks a free one) and starts listening.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let socket = UdpSocket::bind(addr).await?;
        let addr = socket.local_addr()?;
        let store = Arc::new(TraceStore::default());
        let task = tokio::spawn(listen(socket, store.clone()));
        Ok(Self { addr, store, task })
    }

    /// The address to put in `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The traces received.
    pub fn store(&self) -> &Arc<TraceStore> {
        &self.store
    }
}

impl Drop for XraySink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listen(socket: UdpSocket, store: Arc<TraceStore>) {
    let mut buf = vec![0u8; daemon::MAX_DATAGRAM + 1];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, _)) => store.receive_datagram(&buf[..n]),
            // ICMP errors from earlier sends and the like: the socket is still good.
            Err(e) => tracing::debug!("x-ray sink: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Proptest's configuration: a bounded number of cases unless `PROPTEST_CASES` says.
    fn cases() -> ProptestConfig {
        let mut config = ProptestConfig::default();
        if std::env::var_os("PROPTEST_CASES").is_none() {
            config.cases = 64;
        }
        config
    }

    fn segment(trace: &str, id: u64, start: f64) -> serde_json::Value {
        json!({"name": "f", "id": format!("{id:016x}"), "trace_id": trace,
               "start_time": start, "end_time": start + 0.5})
    }

    fn trace_id(n: u64) -> String {
        format!("1-581cf771-{n:024x}")
    }

    prop_compose! {
        fn valid_document()(
            name in "[a-zA-Z0-9 _.-]{1,40}",
            id in 1u64..,
            trace in 1u64..,
            start in 1.0f64..2.0e9,
            length in 0.0f64..1.0e4,
        ) -> (serde_json::Value, TraceId, SegmentId) {
            let trace = trace_id(trace);
            let doc = json!({"name": name, "id": format!("{id:016x}"), "trace_id": trace,
                             "start_time": start, "end_time": start + length});
            let trace: TraceId = trace.parse().unwrap_or_else(|e| panic!("{trace}: {e}"));
            let id: SegmentId = format!("{id:016x}").parse().unwrap_or_else(|e| panic!("{id}: {e:?}"));
            (doc, trace, id)
        }
    }

    proptest! {
        #![proptest_config(cases())]

        /// Any bytes, with or without the daemon header: never a panic, always counted once.
        #[test]
        fn random_datagrams_are_counted_never_fatal(
            datagrams in proptest::collection::vec(
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..300),
                    proptest::collection::vec(any::<u8>(), 0..300).prop_map(|body| {
                        let mut d = b"{\"format\":\"json\",\"version\":1}\n".to_vec();
                        d.extend(body);
                        d
                    }),
                    "[{}\\[\\]\":,a-z0-9. -]{0,200}".prop_map(|s| daemon::encode(s.as_bytes())),
                ],
                1..20,
            ),
        ) {
            let store = TraceStore::default();
            for d in &datagrams {
                store.receive_datagram(d);
            }
            let stats = store.stats();
            prop_assert_eq!(stats.datagrams, datagrams.len() as u64);
            prop_assert!(stats.malformed + stats.invalid <= stats.datagrams);
            prop_assert!(store.rejections().len() <= MAX_REJECTIONS);
        }

        /// Valid documents, in daemon framing, are all kept under their trace.
        #[test]
        fn valid_datagrams_are_recorded(docs in proptest::collection::vec(valid_document(), 1..20)) {
            let store = TraceStore::default();
            for (doc, _, _) in &docs {
                let bytes = serde_json::to_vec(doc).unwrap_or_default();
                store.receive_datagram(&daemon::encode(&bytes));
            }
            let stats = store.stats();
            prop_assert_eq!(stats.malformed + stats.invalid, 0, "{:?}", store.rejections());
            for (_, trace, id) in &docs {
                let kept = store.trace(trace);
                prop_assert!(kept.is_some_and(|t| t.get(*id).is_some()));
            }
        }
    }

    #[test]
    fn one_huge_trace_is_capped_quickly_and_counted() {
        let trace = trace_id(7);
        let total = 15_000u64;
        let docs: Vec<Vec<u8>> = (1..=total)
            .map(|i| {
                daemon::encode(&serde_json::to_vec(&segment(&trace, i, 1.0)).unwrap_or_default())
            })
            .collect();

        // What `Trace::add` (a linear search per segment) costs for the same segments.
        let parsed: Vec<Segment> = docs
            .iter()
            .flat_map(|d| {
                document::parse(daemon::decode(d).unwrap_or_default()).unwrap_or_default()
            })
            .collect();
        let indexed = TraceStore::default();
        let insert = std::time::Instant::now();
        indexed.record(parsed.clone());
        let insert = insert.elapsed();
        let linear = std::time::Instant::now();
        let mut plain = Trace::new(trace.parse().unwrap_or_else(|e| panic!("{e}")));
        for s in parsed {
            plain.add(s);
        }
        let linear = linear.elapsed();

        let store = TraceStore::default();
        let started = std::time::Instant::now();
        for d in &docs {
            store.receive_datagram(d);
        }
        // Sent again (in progress, then complete): replaced, not added.
        for d in docs.iter().take(100) {
            store.receive_datagram(d);
        }
        let elapsed = started.elapsed();
        eprintln!(
            "15k segments in one trace: inserting with Trace::add {linear:?}, with the index {insert:?}; receiving 15.1k datagrams (parse + insert) {elapsed:?}"
        );
        let kept = store
            .trace(&trace.parse().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|| panic!("kept"));
        assert_eq!(kept.segments.len(), MAX_SEGMENTS_PER_TRACE);
        let stats = store.stats();
        assert_eq!(
            stats.dropped_segments,
            total - MAX_SEGMENTS_PER_TRACE as u64
        );
        assert_eq!(stats.segments, MAX_SEGMENTS_PER_TRACE as u64 + 100);
        assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    }

    #[test]
    fn the_oldest_traces_are_evicted_and_counted() {
        let store = TraceStore::default();
        let extra = 5u64;
        for t in 0..(MAX_TRACES as u64 + extra) {
            let doc = serde_json::to_vec(&segment(&trace_id(t + 1), 1, 1.0)).unwrap_or_default();
            store.receive_datagram(&daemon::encode(&doc));
        }
        let stats = store.stats();
        assert_eq!(stats.evicted_traces, extra);
        assert_eq!(stats.evicted_segments, extra);
        let kept = store.traces();
        assert_eq!(kept.len(), MAX_TRACES);
        assert_eq!(
            kept[0].id.as_str(),
            trace_id(extra + 1),
            "the oldest went first"
        );
        assert!(
            store
                .trace(&trace_id(1).parse().unwrap_or_else(|e| panic!("{e}")))
                .is_none()
        );

        // Segments in all traces are bounded too: big traces push out old ones.
        let store = TraceStore::default();
        let per_trace = MAX_SEGMENTS_PER_TRACE as u64;
        let traces = (MAX_SEGMENTS as u64 / per_trace) + 2;
        for t in 0..traces {
            let segments = (1..=per_trace)
                .flat_map(|i| {
                    document::parse_value(&segment(&trace_id(t + 1), i, 1.0)).unwrap_or_default()
                })
                .collect();
            store.record(segments);
        }
        let stats = store.stats();
        assert_eq!(stats.evicted_traces, 2, "{stats:?}");
        assert_eq!(stats.evicted_segments, 2 * per_trace);
        assert_eq!(store.traces().len() as u64, traces - 2);
    }

    #[tokio::test]
    async fn real_datagrams_are_assembled_and_bad_ones_counted() {
        let sink = XraySink::bind("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("bind");
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let trace_id: TraceId = "1-581cf771-a006649127e371903a2de979".parse().expect("id");
        let good = json!({"name": "f", "id": "70de5b6f19ff9a0a", "trace_id": trace_id.as_str(),
                          "start_time": 1.0, "end_time": 2.0,
                          "subsegments": [{"name": "s", "id": "70de5b6f19ff9a0b", "start_time": 1.1, "end_time": 1.2}]});
        let doc = serde_json::to_vec(&good).expect("json");
        client
            .send_to(&daemon::encode(&doc), sink.addr())
            .await
            .expect("send");
        client.send_to(b"garbage", sink.addr()).await.expect("send");
        client
            .send_to(&daemon::encode(b"{\"name\":\"x\"}"), sink.addr())
            .await
            .expect("send");
        let trace = sink
            .store()
            .wait_for(&trace_id, Duration::from_secs(5), |t| t.segments.len() == 2)
            .await
            .expect("trace arrived");
        assert_eq!(trace.segments.len(), 2);
        // The bad datagrams were sent after the good one: wait for them to be counted.
        for _ in 0..100 {
            if sink.store().stats().datagrams == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            sink.store().stats(),
            SinkStats {
                datagrams: 3,
                segments: 2,
                malformed: 1,
                invalid: 1,
                ..SinkStats::default()
            }
        );
        let reasons: Vec<_> = sink
            .store()
            .rejections()
            .into_iter()
            .map(|r| r.reason)
            .collect();
        assert!(reasons[0].contains("no header line"), "{reasons:?}");
        assert!(
            reasons[1].contains("invalid segment document: trace_id: missing"),
            "{reasons:?}"
        );
    }
}
