//! The invocation-scoped span processor: each invocation's finished spans wait in a bounded
//! buffer of their own and leave in one asynchronous export when that invocation ends.
//!
//! Why not the SDK's processors: `SimpleSpanProcessor` exports synchronously inside
//! `Span::end`, blocking the executor on the network, and `BatchSpanProcessor` needs a
//! round trip to its background thread for every `force_flush` (≈ 60 µs measured) and may
//! be frozen by the platform with spans still queued. Here `on_end` is a push under an
//! uncontended mutex, and the export is awaited by the invocation itself, under a timeout
//! that the flush budget and the invocation's deadline both bound. When a buffer is full,
//! further leaf spans are dropped and counted: memory never grows without bound. The
//! invocation's own spans (invocation, trigger, batch — they end last, after the leaves
//! that filled the buffer) are kept beyond the bound: at most three more.
//!
//! # Whose span is it
//!
//! Several invocations may run at once in one process (Lambda Managed Instances, Azure's
//! concurrent host requests), and one invocation's flush must not take, sample or lose
//! another's spans. Each invocation therefore has its own [`InvocationSpans`], and its spans
//! carry it in their OpenTelemetry context ([`SpanOwner`], put there when the invocation
//! span is opened and inherited by every span opened under it — the handler's `tracing`
//! spans included, wherever they run). `on_start` reads it from the parent context and notes
//! the span's owner under the span id (a sharded map: a lock and an insert, then a lock and
//! a remove at `on_end`); `on_end` routes the finished span to its owner. A span with no
//! owner (opened outside any invocation), or ending after its invocation was flushed,
//! waits in the process's own buffer and leaves with the next flush of any invocation.
//! Routing by trace id would be wrong: a caller fanning out (a Step Functions `Map` state,
//! an HTTP client calling the same function twice) gives concurrent invocations one trace.
//!
//! Spans the head sampler dropped but recorded for the keep rules ([`crate::sampling`]) wait
//! apart, in the same bound, and are decided per invocation at its flush.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::{Span as _, SpanContext, SpanId};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::sampling::{KeepRules, decide};

/// A span exporter behind a trait object: the OTLP pipeline ([`crate::otlp`]), or any
/// [`SpanExporter`].
pub(crate) trait DynExporter: Send + Sync + fmt::Debug {
    /// Exports `batch`; retries, if any, end by `deadline` (the flush budget).
    fn export(
        &self,
        batch: Vec<SpanData>,
        deadline: tokio::time::Instant,
    ) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>>;
    fn shutdown(&self) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource);
}

impl<E: SpanExporter> DynExporter for E {
    fn export(
        &self,
        batch: Vec<SpanData>,
        _deadline: tokio::time::Instant,
    ) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>> {
        Box::pin(SpanExporter::export(self, batch))
    }

    fn shutdown(&self) -> OTelSdkResult {
        SpanExporter::shutdown(self)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        SpanExporter::set_resource(self, resource);
    }
}

/// What one flush did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlushOutcome {
    /// Nothing was waiting.
    Empty,
    /// This many spans were exported.
    Exported(usize),
    /// The exporter failed; the spans are lost (and counted as dropped).
    Failed {
        /// Spans in the failed batch.
        spans: usize,
        /// The exporter's error.
        error: String,
    },
    /// The export did not finish within its budget and was abandoned.
    TimedOut {
        /// Spans in the abandoned batch.
        spans: usize,
        /// The budget it had.
        budget: Duration,
    },
    /// No time was left before the invocation's deadline; the spans were dropped.
    NoTimeLeft {
        /// Spans dropped.
        spans: usize,
    },
    /// Spans are not exported (`OTEL_TRACES_EXPORTER=none`).
    Disabled,
}

/// Buffered spans and their exporter, shared by the processor the SDK calls and the
/// invocations that flush.
pub(crate) struct SpanBuffer {
    /// Spans of no invocation: opened outside one, or ended after its flush.
    unowned: InvocationSpans,
    owners: Owners,
    capacity: usize,
    exporter: Option<Box<dyn DynExporter>>,
    keep: KeepRules,
    dropped: AtomicU64,
    exported: AtomicU64,
    sampled_out: AtomicU64,
}

/// One invocation's finished spans, waiting for its flush; see the module documentation.
#[derive(Debug, Default)]
pub(crate) struct InvocationSpans {
    spans: Mutex<Buffered>,
}

/// The invocation a span belongs to, carried as a value in the OpenTelemetry context of the
/// invocation's spans.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpanOwner(pub(crate) Arc<InvocationSpans>);

/// The spans waiting for the flush.
#[derive(Debug, Default)]
struct Buffered {
    /// Sampled: exported.
    sampled: Vec<SpanData>,
    /// Recorded but not sampled: exported if a keep rule keeps their trace.
    pending: Vec<SpanData>,
    /// Set by the flush that ends the invocation: spans ending later go elsewhere.
    closed: bool,
    /// The invocation's own spans (invocation, trigger, batch): kept when the buffer is
    /// full, at the expense of the leaf spans that filled it.
    essential: Vec<SpanId>,
    /// Spans of this invocation dropped because the buffer was full.
    dropped: u64,
}

impl Buffered {
    fn len(&self) -> usize {
        self.sampled.len() + self.pending.len()
    }
}

impl InvocationSpans {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffered> {
        self.spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Buffers `span`, or, once this invocation was flushed, hands it to `late` (which is
    /// never closed); `false` when the buffer it went to is full. The invocation's own spans
    /// are kept even then: the bound is on the leaf spans, and there are at most three.
    fn push(&self, span: SpanData, capacity: usize, late: &InvocationSpans) -> bool {
        let mut spans = self.lock();
        if spans.closed {
            drop(spans);
            return late.push(span, capacity, late);
        }
        if spans.len() >= capacity && !spans.essential.contains(&span.span_context.span_id()) {
            spans.dropped += 1;
            return false;
        }
        match span.span_context.is_sampled() {
            true => spans.sampled.push(span),
            false => spans.pending.push(span),
        }
        true
    }

    /// Marks `spans` as the invocation's own (invocation, trigger or batch span): they are
    /// never the ones dropped when the buffer is full.
    pub(crate) fn keep_always(&self, spans: impl IntoIterator<Item = SpanId>) {
        self.lock().essential.extend(spans);
    }

    /// Spans of this invocation dropped so far because its buffer was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// Takes what waits, and with `close` marks the invocation over.
    fn take(&self, close: bool) -> Buffered {
        let mut spans = self.lock();
        spans.closed |= close;
        let reserve = if close { 0 } else { spans.sampled.len() };
        Buffered {
            sampled: std::mem::replace(&mut spans.sampled, Vec::with_capacity(reserve)),
            pending: std::mem::take(&mut spans.pending),
            ..Buffered::default()
        }
    }
}

/// Span id → owning invocation, for the spans in flight; sharded so concurrent invocations
/// seldom wait on each other's lock.
#[derive(Default)]
struct Owners {
    shards: [Shard; SHARDS],
}

/// Span ids (as `u64`) of one shard and their owners.
type Shard = Mutex<HashMap<u64, Arc<InvocationSpans>, BuildHasherDefault<IdHasher>>>;

const SHARDS: usize = 8;

impl Owners {
    fn shard(
        &self,
        id: u64,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<InvocationSpans>, BuildHasherDefault<IdHasher>>>
    {
        self.shards[id as usize % SHARDS]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn insert(&self, span: SpanId, owner: Arc<InvocationSpans>) {
        let id = u64::from_ne_bytes(span.to_bytes());
        self.shard(id).insert(id, owner);
    }

    fn remove(&self, span: SpanId) -> Option<Arc<InvocationSpans>> {
        let id = u64::from_ne_bytes(span.to_bytes());
        self.shard(id).remove(&id)
    }
}

/// Span ids are random already: their bits are the hash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl fmt::Debug for SpanBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanBuffer")
            .field("capacity", &self.capacity)
            .field("exporter", &self.exporter)
            .field("dropped", &self.dropped)
            .finish()
    }
}

impl SpanBuffer {
    pub(crate) fn new(
        capacity: usize,
        exporter: Option<Box<dyn DynExporter>>,
        keep: KeepRules,
    ) -> Self {
        SpanBuffer {
            unowned: InvocationSpans::default(),
            owners: Owners::default(),
            capacity,
            exporter,
            keep,
            dropped: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            sampled_out: AtomicU64::new(0),
        }
    }

    /// Whether a span with this context would be exported or decided at all.
    fn wanted(&self, span: &SpanContext) -> bool {
        self.exporter.is_some() && (span.is_sampled() || self.keep.any())
    }

    fn start(&self, span: &Span, parent: &Context) {
        let sc = span.span_context();
        if !self.wanted(sc) {
            return;
        }
        if let Some(owner) = parent.get::<SpanOwner>() {
            self.owners.insert(sc.span_id(), owner.0.clone());
        }
    }

    fn push(&self, mut span: SpanData) {
        if !self.wanted(&span.span_context) {
            return;
        }
        crate::events::conform(&mut span);
        let pushed = match self.owners.remove(span.span_context.span_id()) {
            Some(owner) => owner.push(span, self.capacity, &self.unowned),
            None => self.unowned.push(span, self.capacity, &self.unowned),
        };
        if !pushed {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The batch to export: the sampled spans of `owner` (when given, which closes it) and of
    /// no invocation, and the traces a keep rule keeps among their pending ones.
    fn take(&self, owner: Option<&InvocationSpans>) -> Vec<SpanData> {
        let mut batch = self.unowned.take(false);
        if let Some(owner) = owner {
            let own = owner.take(true);
            match batch.sampled.is_empty() {
                true => batch.sampled = own.sampled,
                false => batch.sampled.extend(own.sampled),
            }
            batch.pending.extend(own.pending);
        }
        let (kept, discarded) = decide(&self.keep, batch.pending);
        self.sampled_out
            .fetch_add(discarded as u64, Ordering::Relaxed);
        let mut spans = batch.sampled;
        spans.extend(kept);
        spans
    }

    /// Spans recorded for the keep rules and discarded because no rule kept them.
    pub(crate) fn sampled_out(&self) -> u64 {
        self.sampled_out.load(Ordering::Relaxed)
    }

    /// Spans dropped so far: buffer full, export failed, timed out or out of time.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Spans exported so far.
    pub(crate) fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Exports, in one batch, the spans of `owner` — the invocation that ends, whose buffer
    /// this closes — and those of no invocation, giving up after `budget`. Without an
    /// owner, only the latter.
    pub(crate) async fn flush(
        &self,
        owner: Option<&InvocationSpans>,
        budget: Duration,
    ) -> FlushOutcome {
        let Some(exporter) = &self.exporter else {
            return FlushOutcome::Disabled;
        };
        let batch = self.take(owner);
        let spans = batch.len();
        if spans == 0 {
            return FlushOutcome::Empty;
        }
        let outcome = if budget.is_zero() {
            FlushOutcome::NoTimeLeft { spans }
        } else {
            let deadline = tokio::time::Instant::now() + budget;
            match within(budget, exporter.export(batch, deadline)).await {
                Some(Ok(())) => FlushOutcome::Exported(spans),
                Some(Err(error)) => FlushOutcome::Failed {
                    spans,
                    error: error.to_string(),
                },
                None => FlushOutcome::TimedOut { spans, budget },
            }
        };
        match &outcome {
            FlushOutcome::Exported(n) => {
                self.exported.fetch_add(*n as u64, Ordering::Relaxed);
            }
            _ => {
                self.dropped.fetch_add(spans as u64, Ordering::Relaxed);
            }
        }
        outcome
    }

    pub(crate) fn shutdown_exporter(&self) -> OTelSdkResult {
        match &self.exporter {
            Some(exporter) => exporter.shutdown(),
            None => Ok(()),
        }
    }
}

/// Awaits `future` for at most `budget`, `None` when it takes longer; a future that is ready
/// at once (an in-memory exporter) costs no timer.
pub(crate) async fn within<F: Future>(budget: Duration, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx))).await;
    match first {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => tokio::time::timeout(budget, future).await.ok(),
    }
}

/// The [`SpanProcessor`] registered with the SDK: it only fills the [`SpanBuffer`].
#[derive(Debug)]
pub(crate) struct InvocationProcessor(pub(crate) Arc<SpanBuffer>);

impl SpanProcessor for InvocationProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        self.0.push(span);
    }

    /// Flushing is asynchronous and driven by the invocation; the SDK's synchronous
    /// `force_flush` has nothing to wait for.
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_exporter().or_else(|e| match e {
            OTelSdkError::AlreadyShutdown => Ok(()),
            other => Err(other),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::MemoryExporter;
    use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    fn pipeline(capacity: usize, exporter: MemoryExporter) -> (SdkTracerProvider, Arc<SpanBuffer>) {
        let buffer = Arc::new(SpanBuffer::new(
            capacity,
            Some(Box::new(exporter)),
            KeepRules::NONE,
        ));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(InvocationProcessor(buffer.clone()))
            .build();
        (provider, buffer)
    }

    #[tokio::test]
    async fn spans_wait_for_the_flush_then_leave_in_one_batch() {
        let exporter = MemoryExporter::default();
        let (provider, buffer) = pipeline(16, exporter.clone());
        let tracer = provider.tracer("t");
        tracer.start("a").end();
        tracer.start("b").end();
        assert!(exporter.spans().is_empty());
        assert_eq!(
            buffer.flush(None, Duration::from_secs(1)).await,
            FlushOutcome::Exported(2)
        );
        assert_eq!(exporter.spans().len(), 2);
        assert_eq!(
            buffer.flush(None, Duration::from_secs(1)).await,
            FlushOutcome::Empty
        );
    }

    #[tokio::test]
    async fn a_full_buffer_drops_and_counts() {
        let exporter = MemoryExporter::default();
        let (provider, buffer) = pipeline(3, exporter.clone());
        let tracer = provider.tracer("t");
        for _ in 0..10 {
            tracer.start("s").end();
        }
        assert_eq!(buffer.dropped(), 7);
        assert_eq!(
            buffer.flush(None, Duration::from_secs(1)).await,
            FlushOutcome::Exported(3)
        );
    }

    #[tokio::test]
    async fn no_budget_drops_the_batch() {
        let exporter = MemoryExporter::default();
        let (provider, buffer) = pipeline(8, exporter.clone());
        provider.tracer("t").start("s").end();
        assert_eq!(
            buffer.flush(None, Duration::ZERO).await,
            FlushOutcome::NoTimeLeft { spans: 1 }
        );
        assert_eq!(buffer.dropped(), 1);
        assert!(exporter.spans().is_empty());
    }

    fn sorted_names(exporter: &MemoryExporter) -> Vec<String> {
        let mut names: Vec<String> = exporter
            .spans()
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn each_invocation_flushes_its_own_spans_and_late_ones_go_with_the_next_flush() {
        let exporter = MemoryExporter::default();
        let (provider, buffer) = pipeline(16, exporter.clone());
        let tracer = provider.tracer("t");
        let (a, b) = (SpanOwner::default(), SpanOwner::default());
        let in_a = Context::new().with_value(a.clone());
        let in_b = Context::new().with_value(b.clone());
        // Interleaved, one trace: routing goes by owner, not by trace.
        let root_a = tracer.start_with_context("a", &in_a);
        let cx_a = in_a.with_span(root_a);
        let root_b = tracer.start_with_context(
            "b",
            &in_b.with_remote_span_context(cx_a.span().span_context().clone()),
        );
        let cx_b = in_b.with_span(root_b);
        tracer.start_with_context("a child", &cx_a).end();
        tracer.start_with_context("b child", &cx_b).end();
        cx_a.span().end();
        tracer.start("nobody's").end();

        let outcome = buffer.flush(Some(&a.0), Duration::from_secs(1)).await;
        assert_eq!(outcome, FlushOutcome::Exported(3));
        let names = sorted_names(&exporter);
        assert_eq!(names, ["a", "a child", "nobody's"]);

        // A span of `a` ending after its flush is nobody's now; `b`'s flush takes it.
        exporter.clear();
        let late = tracer.start_with_context("a late", &cx_a);
        cx_b.span().end();
        drop(late);
        let outcome = buffer.flush(Some(&b.0), Duration::from_secs(1)).await;
        assert_eq!(outcome, FlushOutcome::Exported(3));
        let names = sorted_names(&exporter);
        assert_eq!(names, ["a late", "b", "b child"]);
        assert_eq!(buffer.dropped(), 0);
    }

    #[tokio::test]
    async fn each_invocation_has_its_own_bound() {
        let exporter = MemoryExporter::default();
        let (provider, buffer) = pipeline(2, exporter.clone());
        let tracer = provider.tracer("t");
        let (a, b) = (SpanOwner::default(), SpanOwner::default());
        for owner in [&a, &b] {
            let cx = Context::new().with_value(owner.clone());
            for _ in 0..3 {
                tracer.start_with_context("s", &cx).end();
            }
        }
        assert_eq!(buffer.dropped(), 2);
        let outcome = buffer.flush(Some(&a.0), Duration::from_secs(1)).await;
        assert_eq!(outcome, FlushOutcome::Exported(2));
    }

    #[derive(Debug)]
    struct NeverAnswers;

    impl SpanExporter for NeverAnswers {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            std::future::pending().await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_exporter_that_never_answers_is_abandoned_at_the_budget() {
        let buffer = Arc::new(SpanBuffer::new(
            8,
            Some(Box::new(NeverAnswers)),
            KeepRules::NONE,
        ));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(InvocationProcessor(buffer.clone()))
            .build();
        provider.tracer("t").start("s").end();
        let budget = Duration::from_millis(250);
        assert_eq!(
            buffer.flush(None, budget).await,
            FlushOutcome::TimedOut { spans: 1, budget }
        );
    }
}
