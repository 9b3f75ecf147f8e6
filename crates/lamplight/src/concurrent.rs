//! Doing many things at once inside one invocation.
//!
//! - [`all_settled`]: run every task to the end, even when some fail, then report every failure
//!   with its label in one [`AggregateError`] (the asyncio `gather(return_exceptions=True)` habit,
//!   without losing the successes).
//! - [`all_settled_bounded`]: the same with at most `limit` tasks running at once.
//! - [`fan_out`]: at most `limit` calls in flight, results in input order, stop at the first
//!   error; [`fan_out_settled`] is the same fan-out collecting every failure instead.
//! - [`Collector`]: the same aggregation for a handful of differently typed results, such as the
//!   outputs of `tokio::join!`.
//!
//! ```
//! use lamplight::concurrent::all_settled;
//!
//! # tokio_test::block_on(async {
//! let settled = all_settled((0..100).map(|i| {
//!     (format!("task {i}"), async move {
//!         if i % 40 == 7 { Err(format!("{i} is unlucky")) } else { Ok(i * 2) }
//!     })
//! }))
//! .await;
//! let (doubled, error) = settled.into_parts();
//! assert_eq!(doubled.len(), 97);
//! let error = error.expect("three failed");
//! assert_eq!(error.failures().len(), 3);
//! assert!(error.to_string().starts_with("3 of 100 tasks failed:\n  - task 7: 7 is unlucky"));
//! # });
//! ```

use std::fmt;
use std::future::Future;

use futures::stream::{self, StreamExt};

use crate::error::{BoxError, chain};

/// One failed task: its position, its label and its error.
#[derive(Debug)]
pub struct Failure {
    /// Position of the task in the input.
    pub index: usize,
    /// What the task was doing.
    pub label: String,
    /// Why it failed.
    pub error: BoxError,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.label, chain(self.error.as_ref()))
    }
}

/// Several tasks failed; each failure is kept, in input order.
#[derive(Debug)]
pub struct AggregateError {
    total: usize,
    failures: Vec<Failure>,
}

impl AggregateError {
    /// Every failure, in input order.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// How many tasks ran in all.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The failures, by value.
    pub fn into_failures(self) -> Vec<Failure> {
        self.failures
    }
}

impl fmt::Display for AggregateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} tasks failed:", self.failures.len(), self.total)?;
        for failure in &self.failures {
            write!(f, "\n  - {failure}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AggregateError {}

/// The outcome of every task, in input order.
#[derive(Debug)]
pub struct Settled<T> {
    results: Vec<Result<T, Failure>>,
}

impl<T> Settled<T> {
    /// How many tasks ran.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether no task ran.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// The successful values, in input order.
    pub fn successes(&self) -> impl Iterator<Item = &T> {
        self.results.iter().filter_map(|r| r.as_ref().ok())
    }

    /// The failures, in input order.
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.results.iter().filter_map(|r| r.as_ref().err())
    }

    /// Every value when all succeeded, else one error naming each failure.
    pub fn into_result(self) -> Result<Vec<T>, AggregateError> {
        match self.into_parts() {
            (values, None) => Ok(values),
            (_, Some(error)) => Err(error),
        }
    }

    /// The successful values, and an error naming each failure if there was any.
    pub fn into_parts(self) -> (Vec<T>, Option<AggregateError>) {
        let total = self.results.len();
        let mut values = Vec::with_capacity(total);
        let mut failures = Vec::new();
        for result in self.results {
            match result {
                Ok(v) => values.push(v),
                Err(f) => failures.push(f),
            }
        }
        let error = (!failures.is_empty()).then_some(AggregateError { total, failures });
        (values, error)
    }

    /// Each task's own result, in input order.
    pub fn into_results(self) -> Vec<Result<T, Failure>> {
        self.results
    }
}

/// Runs every `(label, task)` concurrently and waits for all of them, whatever fails.
pub async fn all_settled<I, L, F, T, E>(tasks: I) -> Settled<T>
where
    I: IntoIterator<Item = (L, F)>,
    L: fmt::Display,
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    let tasks = tasks
        .into_iter()
        .enumerate()
        .map(|(index, (label, task))| async move {
            task.await.map_err(|e| Failure {
                index,
                label: label.to_string(),
                error: e.into(),
            })
        });
    Settled {
        results: futures::future::join_all(tasks).await,
    }
}

/// Like [`all_settled`], with at most `limit` tasks running at once (a `limit` of 0 counts
/// as 1): for fan-outs over many items where each failure should name its item.
///
/// ```
/// use lamplight::concurrent::all_settled_bounded;
///
/// # tokio_test::block_on(async {
/// let keys = ["a.json", "b.json", "missing.json"];
/// let settled = all_settled_bounded(
///     keys.iter().map(|k| (format!("s3://bucket/{k}"), async move {
///         if k.starts_with("missing") { Err("NoSuchKey") } else { Ok(k.len()) }
///     })),
///     2,
/// )
/// .await;
/// let error = settled.into_result().unwrap_err();
/// assert_eq!(error.to_string(), "1 of 3 tasks failed:\n  - s3://bucket/missing.json: NoSuchKey");
/// # });
/// ```
pub async fn all_settled_bounded<I, L, F, T, E>(tasks: I, limit: usize) -> Settled<T>
where
    I: IntoIterator<Item = (L, F)>,
    L: fmt::Display,
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    let mut slots: Vec<Option<Result<T, Failure>>> = Vec::new();
    let mut running = stream::iter(tasks.into_iter().enumerate())
        .map(|(index, (label, task))| async move {
            let result = task.await.map_err(|e| Failure {
                index,
                label: label.to_string(),
                error: e.into(),
            });
            (index, result)
        })
        .buffer_unordered(limit.max(1));
    while let Some((index, result)) = running.next().await {
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        slots[index] = Some(result);
    }
    Settled {
        results: slots.into_iter().flatten().collect(),
    }
}

/// Calls `f` on every item with at most `limit` calls in flight (a `limit` of 0 counts as 1) and
/// returns the results in input order. The first error stops the fan-out: calls in flight are
/// dropped and no new call starts.
///
/// ```
/// # tokio_test::block_on(async {
/// let lengths = lamplight::concurrent::fan_out(["a", "bb", "ccc"], 2, |s| async move {
///     Ok::<_, std::io::Error>(s.len())
/// })
/// .await?;
/// assert_eq!(lengths, [1, 2, 3]);
/// # Ok::<(), std::io::Error>(()) });
/// ```
pub async fn fan_out<I, F, Fut, T, E>(items: I, limit: usize, f: F) -> Result<Vec<T>, E>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut slots: Vec<Option<T>> = Vec::new();
    let mut running = indexed(items, limit, f);
    while let Some((index, result)) = running.next().await {
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        slots[index] = Some(result?);
    }
    Ok(slots.into_iter().flatten().collect())
}

/// Like [`fan_out`], but every call runs to the end and every failure is collected; failures
/// are labelled `item <index>`.
pub async fn fan_out_settled<I, F, Fut, T, E>(items: I, limit: usize, f: F) -> Settled<T>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    let mut slots: Vec<Option<Result<T, Failure>>> = Vec::new();
    let mut running = indexed(items, limit, f);
    while let Some((index, result)) = running.next().await {
        if slots.len() <= index {
            slots.resize_with(index + 1, || None);
        }
        slots[index] = Some(result.map_err(|e| Failure {
            index,
            label: format!("item {index}"),
            error: e.into(),
        }));
    }
    Settled {
        results: slots.into_iter().flatten().collect(),
    }
}

fn indexed<I, F, Fut, T, E>(
    items: I,
    limit: usize,
    mut f: F,
) -> impl stream::Stream<Item = (usize, Result<T, E>)>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    stream::iter(items.into_iter().enumerate())
        .map(move |(index, item)| {
            let call = f(item);
            async move { (index, call.await) }
        })
        .buffer_unordered(limit.max(1))
}

/// Gathers the results of differently typed work, such as the outputs of `tokio::join!`, into
/// one [`AggregateError`].
///
/// ```
/// use lamplight::concurrent::Collector;
///
/// # tokio_test::block_on(async {
/// let (page, object) = tokio::join!(
///     async { Ok::<_, std::io::Error>("<html>") },
///     async { Err::<Vec<u8>, _>(std::io::Error::other("NoSuchKey")) },
/// );
/// let mut collector = Collector::new();
/// let page = collector.take("GET https://example.com", page);
/// let object = collector.take("s3://bucket/key", object);
/// assert_eq!(page, Some("<html>"));
/// assert!(object.is_none());
/// let error = collector.finish().unwrap_err();
/// assert_eq!(error.to_string(), "1 of 2 tasks failed:\n  - s3://bucket/key: NoSuchKey");
/// # });
/// ```
#[derive(Debug, Default)]
pub struct Collector {
    total: usize,
    failures: Vec<Failure>,
}

impl Collector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `result`, or `None` after recording its error under `label`.
    pub fn take<T, E: Into<BoxError>>(
        &mut self,
        label: impl fmt::Display,
        result: Result<T, E>,
    ) -> Option<T> {
        let index = self.total;
        self.total += 1;
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.failures.push(Failure {
                    index,
                    label: label.to_string(),
                    error: e.into(),
                });
                None
            }
        }
    }

    /// `Ok` when nothing failed, else one error naming every failure.
    pub fn finish(self) -> Result<(), AggregateError> {
        if self.failures.is_empty() {
            Ok(())
        } else {
            Err(AggregateError {
                total: self.total,
                failures: self.failures,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn all_settled_keeps_97_successes_and_names_the_3_failures() {
        let finished = Arc::new(AtomicUsize::new(0));
        let settled = all_settled((0..100u64).map(|i| {
            let finished = finished.clone();
            (format!("fetch object {i}"), async move {
                // Failures come first and fast, successes later: every task must still finish.
                let fails = [3, 50, 99].contains(&i);
                tokio::time::sleep(Duration::from_millis(if fails { 1 } else { 20 })).await;
                finished.fetch_add(1, Ordering::SeqCst);
                if fails {
                    Err(std::io::Error::other(format!("NoSuchKey: key-{i}")))
                } else {
                    Ok(i)
                }
            })
        }))
        .await;
        assert_eq!(finished.load(Ordering::SeqCst), 100);
        assert_eq!(settled.len(), 100);
        let (values, error) = settled.into_parts();
        assert_eq!(values.len(), 97);
        assert_eq!(
            values,
            (0..100)
                .filter(|i| ![3, 50, 99].contains(i))
                .collect::<Vec<_>>()
        );
        let error = error.expect("three failures");
        assert_eq!(error.total(), 100);
        let indices: Vec<_> = error.failures().iter().map(|f| f.index).collect();
        assert_eq!(indices, [3, 50, 99]);
        assert_eq!(
            error.to_string(),
            "3 of 100 tasks failed:\n  - fetch object 3: NoSuchKey: key-3\n  - fetch object 50: NoSuchKey: key-50\n  - fetch object 99: NoSuchKey: key-99"
        );
    }

    #[tokio::test]
    async fn all_settled_runs_tasks_concurrently() {
        let started = std::time::Instant::now();
        let settled = all_settled((0..50).map(|i| {
            (i, async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok::<_, std::io::Error>(i)
            })
        }))
        .await;
        assert_eq!(settled.into_result().expect("all ok").len(), 50);
        // Sequentially this would take 5 s.
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn fan_out_keeps_input_order_and_respects_the_limit() {
        let in_flight = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let results = fan_out(0..40u64, 4, |i| {
            let in_flight = in_flight.clone();
            let peak = peak.clone();
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                // Later items finish sooner, so completion order differs from input order.
                tokio::time::sleep(Duration::from_millis(40 - i)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, std::io::Error>(i * 10)
            }
        })
        .await
        .expect("all ok");
        assert_eq!(results, (0..40).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn fan_out_fails_fast_without_starting_the_rest() {
        let started = Arc::new(AtomicUsize::new(0));
        let result = fan_out(0..1000u32, 2, |i| {
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1)).await;
                if i == 5 {
                    Err(format!("item {i} broke"))
                } else {
                    Ok(i)
                }
            }
        })
        .await;
        assert_eq!(result, Err("item 5 broke".to_owned()));
        assert!(
            started.load(Ordering::SeqCst) < 10,
            "{}",
            started.load(Ordering::SeqCst)
        );
    }

    #[tokio::test]
    async fn fan_out_settled_collects_every_failure_in_order() {
        let settled = fan_out_settled(0..10u32, 3, |i| async move {
            if i % 4 == 1 {
                Err(format!("odd one {i}"))
            } else {
                Ok(i)
            }
        })
        .await;
        assert_eq!(
            settled.successes().copied().collect::<Vec<_>>(),
            [0, 2, 3, 4, 6, 7, 8]
        );
        let error = settled.into_result().expect_err("failures");
        assert_eq!(
            error.to_string(),
            "3 of 10 tasks failed:\n  - item 1: odd one 1\n  - item 5: odd one 5\n  - item 9: odd one 9"
        );
    }

    #[tokio::test]
    async fn a_zero_limit_still_makes_progress() {
        let out = fan_out([1, 2], 0, |i| async move { Ok::<_, std::io::Error>(i) }).await;
        assert_eq!(out.expect("ok"), [1, 2]);
    }
}
