//! The invocation-scoped span processor: finished spans wait in a bounded buffer and leave in
//! one asynchronous export when the invocation ends.
//!
//! Why not the SDK's processors: `SimpleSpanProcessor` exports synchronously inside
//! `Span::end`, blocking the executor on the network, and `BatchSpanProcessor` needs a
//! round trip to its background thread for every `force_flush` (≈ 60 µs measured) and may
//! be frozen by the platform with spans still queued. Here `on_end` is a push under an
//! uncontended mutex, and the export is awaited by the invocation itself, under a timeout
//! that the flush budget and the invocation's deadline both bound. When the buffer is full,
//! further spans are dropped and counted: memory never grows without bound.
//!
//! Spans the head sampler dropped but recorded for the keep rules ([`crate::sampling`]) wait
//! apart, in the same bound, and are decided trace by trace at the flush.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::sampling::{KeepRules, decide};

/// A [`SpanExporter`] behind a trait object.
pub(crate) trait DynExporter: Send + Sync + fmt::Debug {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>>;
    fn shutdown(&self) -> OTelSdkResult;
    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource);
}

impl<E: SpanExporter> DynExporter for E {
    fn export(
        &self,
        batch: Vec<SpanData>,
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
/// invocation that flushes.
pub(crate) struct SpanBuffer {
    spans: Mutex<Buffered>,
    capacity: usize,
    exporter: Option<Box<dyn DynExporter>>,
    keep: KeepRules,
    dropped: AtomicU64,
    exported: AtomicU64,
    sampled_out: AtomicU64,
}

/// The spans waiting for the flush.
#[derive(Default)]
struct Buffered {
    /// Sampled: exported.
    sampled: Vec<SpanData>,
    /// Recorded but not sampled: exported if a keep rule keeps their trace.
    pending: Vec<SpanData>,
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
            spans: Mutex::new(Buffered::default()),
            capacity,
            exporter,
            keep,
            dropped: AtomicU64::new(0),
            exported: AtomicU64::new(0),
            sampled_out: AtomicU64::new(0),
        }
    }

    fn push(&self, span: SpanData) {
        if self.exporter.is_none() {
            return;
        }
        let sampled = span.span_context.is_sampled();
        if !sampled && !self.keep.any() {
            return;
        }
        let mut spans = self
            .spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if spans.sampled.len() + spans.pending.len() < self.capacity {
            match sampled {
                true => spans.sampled.push(span),
                false => spans.pending.push(span),
            }
        } else {
            drop(spans);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The batch to export: the sampled spans and the kept traces of the pending ones.
    fn take(&self) -> Vec<SpanData> {
        let mut spans = self
            .spans
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let reserve = spans.sampled.len().min(self.capacity);
        let mut batch = std::mem::replace(&mut spans.sampled, Vec::with_capacity(reserve));
        let pending = std::mem::take(&mut spans.pending);
        drop(spans);
        let (kept, discarded) = decide(&self.keep, pending);
        self.sampled_out
            .fetch_add(discarded as u64, Ordering::Relaxed);
        batch.extend(kept);
        batch
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

    /// Exports every buffered span in one batch, giving up after `budget`.
    pub(crate) async fn flush(&self, budget: Duration) -> FlushOutcome {
        let Some(exporter) = &self.exporter else {
            return FlushOutcome::Disabled;
        };
        let batch = self.take();
        let spans = batch.len();
        if spans == 0 {
            return FlushOutcome::Empty;
        }
        let outcome = if budget.is_zero() {
            FlushOutcome::NoTimeLeft { spans }
        } else {
            match within(budget, exporter.export(batch)).await {
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
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

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
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
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
            buffer.flush(Duration::from_secs(1)).await,
            FlushOutcome::Exported(2)
        );
        assert_eq!(exporter.spans().len(), 2);
        assert_eq!(
            buffer.flush(Duration::from_secs(1)).await,
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
            buffer.flush(Duration::from_secs(1)).await,
            FlushOutcome::Exported(3)
        );
    }

    #[tokio::test]
    async fn no_budget_drops_the_batch() {
        let exporter = MemoryExporter::default();
        let (provider, buffer) = pipeline(8, exporter.clone());
        provider.tracer("t").start("s").end();
        assert_eq!(
            buffer.flush(Duration::ZERO).await,
            FlushOutcome::NoTimeLeft { spans: 1 }
        );
        assert_eq!(buffer.dropped(), 1);
        assert!(exporter.spans().is_empty());
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
            buffer.flush(budget).await,
            FlushOutcome::TimedOut { spans: 1, budget }
        );
    }
}
