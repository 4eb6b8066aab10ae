//! The OTLP export pipeline: spans, FaaS metrics and log records encoded with
//! `opentelemetry-proto`'s generated types and posted over OTLP/HTTP, configured per signal
//! by the `OTEL_EXPORTER_OTLP[_TRACES|_METRICS|_LOGS]_*` variables ([`settings`]).
//!
//! | part | job |
//! |---|---|
//! | [`settings`] | the variables of the exporter specification, per signal; what the build cannot honour is an error |
//! | [`encode`] | `http/protobuf` and `http/json` bodies; the resource encoded once per process |
//! | [`logs`] | log record bodies, and CloudWatch Logs' log group and stream headers |
//! | `wire` | spans written into protobuf straight from the SDK's `SpanData` |
//! | `transport` | a pooled Hyper client, TLS on rustls for `https`, gzip bodies, the answer read within bounds |
//! | `retry` | `429`/`502`/`503`/`504` and connection failures tried again with backoff or `Retry-After`, inside the export's deadline |
//! | `sigv4` | SigV4 signatures for AWS's OTLP endpoints (the `aws-sigv4` feature) |
//! | `grpc` | OTLP/gRPC on the same client over HTTP/2: framing, `grpc-status` from the trailers, the retryable codes and `RetryInfo` (the `grpc` feature) |
//!
//! Why our own and not `opentelemetry-otlp`'s exporters: over HTTP they get TLS only
//! through `reqwest` (`reqwest-rustls`), a second HTTP stack beside the Hyper one the
//! runtime links; their retry policy sleeps on its own schedule, blind to the flush budget
//! and the invocation's deadline; a partial success is read and not reported to the
//! caller; and spans are grouped by scope through a hash map on every export (issue 17's
//! largest single cost). Compression and `http/json` exist there as features; here they
//! come with the rest. What is kept from the field: `opentelemetry-proto`'s message types
//! and conversions, and `aws-sigv4` for signing.
//!
//! An export gets a deadline: the invocation's flush budget. Retries stop there, and a
//! `Retry-After` (over gRPC, a `RetryInfo` delay) longer than what is left gives up at once — and later exports are dropped
//! unsent until that time has passed, as the endpoint asked. After an export gave up on an
//! endpoint that stays unavailable, each export makes one attempt until one gets through,
//! so an outage costs each invocation one attempt, not its whole flush budget. A collector's partial success
//! (`200` with `partial_success` set) is not retried, as the specification says; what it
//! rejected is counted and logged, rate-limited, by [`crate::Telemetry`].

pub(crate) mod connections;
pub(crate) mod encode;
#[cfg(feature = "grpc")]
mod grpc;
pub(crate) mod logs;
mod retry;
pub(crate) mod settings;
#[cfg(feature = "aws-sigv4")]
mod sigv4;
#[cfg(feature = "tls")]
mod tls;
pub(crate) mod transport;
mod wire;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::metrics::v1::ScopeMetrics;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::SpanData;
use tokio::time::Instant;

use crate::metrics::DynMetricExporter;
use crate::processor::DynExporter;
use encode::Encoder;
use retry::Backoff;
use settings::{OtlpSettings, Protocol, Signal};
use transport::Transport;

/// What collectors said they rejected (OTLP partial success), counted over the process's
/// life, and the last message not yet logged.
#[derive(Debug, Default)]
pub(crate) struct Rejections {
    spans: AtomicU64,
    points: AtomicU64,
    log_records: AtomicU64,
    unreported: Mutex<Option<String>>,
}

impl Rejections {
    /// Spans collectors rejected so far.
    pub(crate) fn spans(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }

    /// Metric data points collectors rejected so far.
    pub(crate) fn points(&self) -> u64 {
        self.points.load(Ordering::Relaxed)
    }

    /// Log records collectors rejected so far.
    pub(crate) fn log_records(&self) -> u64 {
        self.log_records.load(Ordering::Relaxed)
    }

    /// The last partial success not yet logged, described.
    pub(crate) fn take_unreported(&self) -> Option<String> {
        self.unreported
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn record(&self, signal: Signal, rejected: i64, message: &str) {
        if rejected <= 0 && message.is_empty() {
            return;
        }
        let rejected = rejected.max(0) as u64;
        let (counter, unit) = match signal {
            Signal::Traces => (&self.spans, "spans"),
            Signal::Metrics => (&self.points, "metric data points"),
            Signal::Logs => (&self.log_records, "log records"),
        };
        counter.fetch_add(rejected, Ordering::Relaxed);
        let reason = match message.trim() {
            "" => "no reason given",
            reason => reason,
        };
        // The message comes from the endpoint the user configured; still, keep it short.
        let reason: String = reason.chars().take(300).collect();
        let described = match rejected {
            0 => format!("the OTLP endpoint accepted the {unit} with a warning: {reason}"),
            n => format!(
                "the OTLP endpoint rejected {n} {unit} (partial success; {} rejected in all): {reason}",
                counter.load(Ordering::Relaxed)
            ),
        };
        *self
            .unreported
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(described);
    }
}

/// Posts the bodies of one signal, trying again as [`retry`] says.
#[derive(Debug)]
struct Sender {
    signal: Signal,
    protocol: Protocol,
    transport: Transport,
    rejections: Arc<Rejections>,
    /// Set when an export gave up on a retryable failure, cleared by any answer that is not
    /// one: while set, each export makes one attempt, so an endpoint that is down costs each
    /// invocation one attempt rather than its whole flush budget.
    unavailable: AtomicBool,
    /// The `Retry-After` of the last throttling answer that could not be honoured within its
    /// export's budget: exports before it are dropped unsent.
    not_before: Mutex<Option<Instant>>,
}

impl Sender {
    fn new(
        signal: Signal,
        settings: &OtlpSettings,
        rejections: Arc<Rejections>,
    ) -> Result<Self, String> {
        Ok(Sender {
            signal,
            protocol: settings.protocol,
            transport: Transport::new(settings)?,
            rejections,
            unavailable: AtomicBool::new(false),
            not_before: Mutex::new(None),
        })
    }

    /// Sends `body` until it is answered, or no retry fits before `deadline`.
    async fn send(&self, body: Bytes, deadline: Instant) -> Result<(), String> {
        let not_before = *self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = not_before.filter(|at| *at > Instant::now()) {
            return Err(format!(
                "not sent: the OTLP endpoint asked to wait ({}) another {} ms",
                match self.protocol {
                    Protocol::Grpc => "RetryInfo",
                    _ => "Retry-After",
                },
                at.saturating_duration_since(Instant::now()).as_millis()
            ));
        }
        let prepared = self.transport.prepare(body)?;
        let single_attempt = self.unavailable.load(Ordering::Relaxed);
        let mut backoff = Backoff::new();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = self.transport.post(&prepared, left).await;
            let answered = match &outcome {
                Ok(answer) => !answer.retryable(),
                Err(failure) => !failure.retryable,
            };
            if answered {
                self.unavailable.store(false, Ordering::Relaxed);
            }
            let (problem, retry_after) = match outcome {
                Ok(answer) if answer.accepted() => {
                    self.read_partial_success(&answer.body, answer.json);
                    return Ok(());
                }
                Ok(answer) if answer.retryable() => (answer.describe(false), answer.retry_after),
                Ok(answer) => return Err(answer.describe(true)),
                Err(failure) if failure.retryable => (failure.message, None),
                Err(failure) => return Err(failure.message),
            };
            self.unavailable.store(true, Ordering::Relaxed);
            if single_attempt {
                return Err(format!(
                    "{problem}; not retried: the previous export could not get through either \
                     (one attempt per export until one does)"
                ));
            }
            let wait = backoff.wait(retry_after);
            let left = deadline.saturating_duration_since(Instant::now());
            let plural = if attempts == 1 { "" } else { "s" };
            if left.is_zero() {
                return Err(format!(
                    "{problem}; the flush budget is spent: gave up after {attempts} attempt{plural}"
                ));
            }
            if wait >= left {
                if let Some(retry_after) = retry_after {
                    *self
                        .not_before
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) =
                        Some(Instant::now() + retry_after);
                }
                let asked = match (retry_after, self.protocol) {
                    (Some(_), Protocol::Grpc) => "RetryInfo asked for",
                    (Some(_), _) => "Retry-After asked for",
                    (None, _) => "the next retry was due in",
                };
                return Err(format!(
                    "{problem}; {asked} {} ms, past the flush budget ({} ms left): gave up after \
                     {attempts} attempt{plural}",
                    wait.as_millis(),
                    left.as_millis(),
                ));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// Counts what a `200` answer's `partial_success` says was rejected.
    fn read_partial_success(&self, body: &[u8], json: bool) {
        if body.is_empty() {
            return;
        }
        let partial = match self.signal {
            Signal::Traces => decode::<ExportTraceServiceResponse>(body, json)
                .and_then(|answer| answer.partial_success)
                .map(|partial| (partial.rejected_spans, partial.error_message)),
            Signal::Metrics => decode::<ExportMetricsServiceResponse>(body, json)
                .and_then(|answer| answer.partial_success)
                .map(|partial| (partial.rejected_data_points, partial.error_message)),
            Signal::Logs => decode::<ExportLogsServiceResponse>(body, json)
                .and_then(|answer| answer.partial_success)
                .map(|partial| (partial.rejected_log_records, partial.error_message)),
        };
        if let Some((rejected, message)) = partial {
            self.rejections.record(self.signal, rejected, &message);
        }
    }
}

/// An `Export…ServiceResponse` in the encoding the answer says; `None` when it does not
/// decode (the export was accepted all the same).
#[cfg(feature = "http-json")]
fn decode<M: prost::Message + Default + serde::de::DeserializeOwned>(
    body: &[u8],
    json: bool,
) -> Option<M> {
    match json {
        true => serde_json::from_slice(body).ok(),
        false => M::decode(body).ok(),
    }
}

#[cfg(not(feature = "http-json"))]
fn decode<M: prost::Message + Default>(body: &[u8], json: bool) -> Option<M> {
    match json {
        true => None,
        false => M::decode(body).ok(),
    }
}

/// What an error answer says, when it is short text (the body should be a protobuf
/// `google.rpc.Status`; collectors often answer text).
fn reason(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if !text.trim().is_empty() && text.len() <= 300 => format!(": {}", text.trim()),
        _ => String::new(),
    }
}

/// The OTLP span exporter: one request per flush, to the traces endpoint.
pub(crate) struct OtlpSpanExporter {
    sender: Sender,
    encoder: Arc<Encoder>,
}

impl fmt::Debug for OtlpSpanExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpSpanExporter")
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl DynExporter for OtlpSpanExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>> {
        Box::pin(async move {
            let body = self.encoder.traces(batch, self.sender.protocol);
            self.sender
                .send(body, deadline)
                .await
                .map_err(OTelSdkError::InternalFailure)
        })
    }

    fn shutdown(&self) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.encoder = Arc::new(Encoder::new(resource));
    }
}

/// The OTLP metrics exporter: one request per flush that has points, to the metrics
/// endpoint.
pub(crate) struct OtlpMetricExporter {
    sender: Sender,
    encoder: Arc<Encoder>,
}

impl DynMetricExporter for OtlpMetricExporter {
    fn export<'a>(
        &'a self,
        metrics: &'a ScopeMetrics,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let body = self.encoder.metrics(metrics, self.sender.protocol);
            self.sender.send(body, deadline).await
        })
    }
}

/// The span exporter `settings` describe, for `resource`.
pub(crate) fn span_exporter(
    settings: &OtlpSettings,
    encoder: Arc<Encoder>,
    rejections: Arc<Rejections>,
) -> Result<OtlpSpanExporter, String> {
    Ok(OtlpSpanExporter {
        sender: Sender::new(Signal::Traces, settings, rejections)?,
        encoder,
    })
}

/// The metrics exporter `settings` describe, for `resource`.
pub(crate) fn metric_exporter(
    settings: &OtlpSettings,
    encoder: Arc<Encoder>,
    rejections: Arc<Rejections>,
) -> Result<OtlpMetricExporter, String> {
    Ok(OtlpMetricExporter {
        sender: Sender::new(Signal::Metrics, settings, rejections)?,
        encoder,
    })
}
