//! OpenTelemetry logs (`OTEL_LOGS_EXPORTER=otlp`): the handler's `tracing` events become
//! log records — body, severity, fields as attributes, the resource, and the trace and span
//! ids of the span they were logged in — and leave with their invocation's spans, in the
//! same flush and under the same budget.
//!
//! Events become records through the field's bridge, `opentelemetry-appender-tracing`
//! (its `OpenTelemetryTracingBridge` layer, beside the log-line layer and the span layer
//! in the process's subscriber), and the SDK's `SdkLoggerProvider`, which stamps each
//! record with the current OpenTelemetry context's trace and span ids. What the SDK does
//! not give us is the per-invocation flush: its `BatchLogRecordProcessor` exports from a
//! thread of its own on its own schedule (which the platform may freeze mid-export), and
//! its `SimpleLogRecordProcessor` exports inside the `tracing` call, blocking the handler
//! on the network. So the processor here ([`InvocationLogProcessor`]) only files each
//! record, and the invocation's flush exports them, as [`crate::processor`] does for spans.
//!
//! # Whose record is it
//!
//! As for spans: each invocation has its own bounded buffer ([`InvocationLogs`]), carried
//! as a [`LogOwner`] in the OpenTelemetry context the invocation's spans are opened in (the
//! handler's own `tracing` spans, and tasks instrumented with them, inherit it), else found
//! through the invocation the task runs for. Concurrent invocations (Lambda Managed
//! Instances, Azure's concurrent requests) never export each other's records. A record of
//! no invocation — logged outside one, or after its flush, by a background task — waits in
//! the process's own buffer and leaves with the next flush of any invocation, or the one at
//! shutdown. Each buffer holds at most `OTEL_BLRP_MAX_QUEUE_SIZE` records (2048); the
//! rest are dropped and counted.
//!
//! Which events are exported is the process's log level (`RUST_LOG`, `AWS_LAMBDA_LOG_LEVEL`,
//! see [`crate::logging`]): the same events as the log lines on standard output.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::InstrumentationScope;
use opentelemetry::logs::LogRecord as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogProcessor, SdkLogRecord, SdkLoggerProvider};

use crate::otlp::logs::OtlpLogExporter;
use crate::processor::within;

/// The default of `OTEL_BLRP_MAX_QUEUE_SIZE`: the most records one buffer holds.
pub(crate) const DEFAULT_MAX_QUEUED_LOG_RECORDS: usize = 2048;

/// One invocation's log records, waiting for its flush.
#[derive(Debug, Default)]
pub(crate) struct InvocationLogs {
    records: Mutex<Filed>,
}

#[derive(Debug, Default)]
struct Filed {
    records: Vec<SdkLogRecord>,
    /// Set by the flush that ends the invocation: later records go to the process's buffer.
    closed: bool,
}

/// The invocation a log record belongs to, carried as a value in the OpenTelemetry context
/// of the invocation's spans.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogOwner(pub(crate) Arc<InvocationLogs>);

impl InvocationLogs {
    fn lock(&self) -> MutexGuard<'_, Filed> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Files `record`, or once this invocation was flushed hands it to `late` (never
    /// closed); `false` when the buffer it went to is full.
    fn push(&self, record: SdkLogRecord, capacity: usize, late: &InvocationLogs) -> bool {
        let mut filed = self.lock();
        if filed.closed {
            drop(filed);
            return late.push(record, capacity, late);
        }
        if filed.records.len() >= capacity {
            return false;
        }
        filed.records.push(record);
        true
    }

    /// Takes what waits, and with `close` marks the invocation over.
    fn take(&self, close: bool) -> Vec<SdkLogRecord> {
        let mut filed = self.lock();
        filed.closed |= close;
        std::mem::take(&mut filed.records)
    }
}

/// What one flush of log records did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LogFlushOutcome {
    /// Nothing was waiting.
    Empty,
    /// This many records were exported.
    Exported(usize),
    /// The records were lost: the export failed, ran out of budget or had none.
    Lost {
        /// Records lost.
        records: usize,
        /// Why.
        error: String,
    },
}

/// The process's log records and where they go.
#[derive(Debug)]
pub(crate) struct LogBuffer {
    /// Records of no invocation: logged outside one, or after its flush.
    unowned: InvocationLogs,
    capacity: usize,
    exporter: OtlpLogExporter,
    dropped: AtomicU64,
    exported: AtomicU64,
}

impl LogBuffer {
    fn file(&self, record: SdkLogRecord) {
        let owner = Context::map_current(|cx| cx.get::<LogOwner>().cloned())
            .or_else(|| crate::invocation::current().map(|i| i.log_owner().clone()));
        let filed = match owner {
            Some(owner) => owner.0.push(record, self.capacity, &self.unowned),
            None => self.unowned.push(record, self.capacity, &self.unowned),
        };
        if !filed {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Exports, in one request, the records of `owner` (the invocation that ends, whose
    /// buffer this closes) and those of no invocation, giving up after `budget`.
    pub(crate) async fn flush(
        &self,
        owner: Option<&InvocationLogs>,
        budget: Duration,
    ) -> LogFlushOutcome {
        let mut records = self.unowned.take(false);
        if let Some(owner) = owner {
            records.extend(owner.take(true));
        }
        let count = records.len();
        if count == 0 {
            return LogFlushOutcome::Empty;
        }
        let outcome = match budget.is_zero() {
            true => Err("no time left before the invocation's deadline".to_owned()),
            false => {
                let deadline = tokio::time::Instant::now() + budget;
                // Boxed: inline, the export's future (the whole HTTP exchange) would make
                // every flush's future, and each future that holds one, kilobytes larger —
                // and each is moved into a box per invocation, logs or none (issue 17).
                within(budget, Box::pin(self.exporter.export(&records, deadline)))
                    .await
                    .unwrap_or_else(|| Err(format!("gave up after {} ms", budget.as_millis())))
            }
        };
        match outcome {
            Ok(()) => {
                self.exported.fetch_add(count as u64, Ordering::Relaxed);
                LogFlushOutcome::Exported(count)
            }
            Err(error) => {
                self.dropped.fetch_add(count as u64, Ordering::Relaxed);
                LogFlushOutcome::Lost {
                    records: count,
                    error,
                }
            }
        }
    }

    /// Records dropped so far: buffer full, export failed or out of time.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records exported so far.
    pub(crate) fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }
}

/// The [`LogProcessor`] registered with the SDK: it only files records for the flush.
#[derive(Debug)]
struct InvocationLogProcessor(Arc<LogBuffer>);

impl LogProcessor for InvocationLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, _scope: &InstrumentationScope) {
        // The bridge leaves the event's time out; the SDK stamped when it saw it, which for
        // a `tracing` event is when it happened (CloudWatch Logs files records by it).
        if record.timestamp().is_none()
            && let Some(observed) = record.observed_timestamp()
        {
            record.set_timestamp(observed);
        }
        self.0.file(record.clone());
    }

    /// Flushing is asynchronous and driven by the invocation.
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The logs pipeline of a process: the SDK's logger provider, whose processor files records
/// into the [`LogBuffer`].
#[derive(Debug, Clone)]
pub(crate) struct Logs {
    provider: SdkLoggerProvider,
    buffer: Arc<LogBuffer>,
}

impl Logs {
    pub(crate) fn new(exporter: OtlpLogExporter, resource: Resource, capacity: usize) -> Self {
        let buffer = Arc::new(LogBuffer {
            unowned: InvocationLogs::default(),
            capacity,
            exporter,
            dropped: AtomicU64::new(0),
            exported: AtomicU64::new(0),
        });
        let provider = SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_log_processor(InvocationLogProcessor(buffer.clone()))
            .build();
        Logs { provider, buffer }
    }

    pub(crate) fn provider(&self) -> &SdkLoggerProvider {
        &self.provider
    }

    pub(crate) fn buffer(&self) -> &LogBuffer {
        &self.buffer
    }

    pub(crate) fn shutdown(&self) {
        let _ = self.provider.shutdown();
    }
}
