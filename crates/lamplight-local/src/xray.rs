//! The X-Ray daemon sink: a UDP listener that takes what functions send to
//! `AWS_XRAY_DAEMON_ADDRESS`, validates it, and assembles traces.
//!
//! Bad datagrams are counted and kept (the last [`MAX_REJECTIONS`], with the reason and the
//! first bytes) so a test or a user can see why a segment never showed up; they never stop
//! the listener.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lamplight_xray::{Segment, Trace, TraceId, daemon, document};
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// The most traces kept; the oldest is dropped first.
pub const MAX_TRACES: usize = 2_000;
/// The most rejected datagrams kept for inspection.
pub const MAX_REJECTIONS: usize = 100;

/// Counters of what the sink received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SinkStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Segments and subsegments accepted (nested ones included).
    pub segments: u64,
    /// Datagrams without the daemon header, or not JSON.
    pub malformed: u64,
    /// Documents that broke a segment rule (ids, times, parent links).
    pub invalid: u64,
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
    traces: HashMap<TraceId, Trace>,
    stats: SinkStats,
    rejections: VecDeque<Rejection>,
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
                drop(inner);
                self.record(segments);
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
    pub fn record(&self, segments: Vec<Segment>) {
        let mut inner = self.lock();
        for segment in segments {
            inner.stats.segments += 1;
            let id = segment.trace_id.clone();
            if !inner.traces.contains_key(&id) {
                if inner.order.len() == MAX_TRACES
                    && let Some(oldest) = inner.order.pop_front()
                {
                    inner.traces.remove(&oldest);
                }
                inner.order.push_back(id.clone());
            }
            inner
                .traces
                .entry(id.clone())
                .or_insert_with(|| Trace::new(id))
                .add(segment);
        }
        drop(inner);
        self.changed.send_modify(|n| *n += 1);
    }

    /// The trace with `id`.
    pub fn trace(&self, id: &TraceId) -> Option<Trace> {
        self.lock().traces.get(id).cloned()
    }

    /// Every trace kept, oldest first.
    pub fn traces(&self) -> Vec<Trace> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .filter_map(|id| inner.traces.get(id).cloned())
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

/// The UDP listener.
#[derive(Debug)]
pub struct XraySink {
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
    use serde_json::json;

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
                invalid: 1
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
