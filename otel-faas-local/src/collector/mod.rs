//! An OTLP/HTTP and OTLP/gRPC **traces, metrics and logs receiver** on 127.0.0.1, for the
//! local runner, the end-to-end tests and the benchmarks.
//!
//! [`Collector`] plays the part of an OpenTelemetry Collector for one process: point a function
//! at it with `OTEL_EXPORTER_OTLP_ENDPOINT=`[`Collector::endpoint`], and every span the function
//! exports is decoded from the real protobuf request and kept as a [`ReceivedSpan`]: a
//! [`SpanView`](crate::render::SpanView) to print with
//! [`render_trees`](crate::render::render_trees), the resource and scope it came with, and its
//! attributes with their OTLP types. Every metric data point is
//! kept as a [`ReceivedMetric`]: its instrument's name and unit, its typed attributes and its
//! [`MetricValue`].
//!
//! # What is implemented
//!
//! Derived from the OTLP specification (open-telemetry/opentelemetry-proto,
//! `docs/specification.md`, "OTLP/HTTP").
//!
//! - `POST /v1/traces` with `Content-Type: application/x-protobuf`: the body is decoded as an
//!   `ExportTraceServiceRequest`, its spans are stored in arrival order, and the answer is `200`
//!   with an encoded empty `ExportTraceServiceResponse` (full success) and
//!   `Content-Type: application/x-protobuf`.
//! - `Content-Type: application/json` ("JSON Protobuf Encoding"): the body is decoded from
//!   OTLP/JSON (hex ids, integer enums, lowerCamelCase keys, 64-bit integers as strings or
//!   numbers) with `opentelemetry-proto`'s serde mapping, and the answer is the same response
//!   in JSON, with `Content-Type: application/json` ("The server MUST use the same
//!   Content-Type in the response as it received in the request").
//! - `Content-Encoding: gzip` ("OTLP/HTTP Request"): the body is decompressed, within
//!   [`MAX_BODY_BYTES`] after decompression (`413` beyond).
//! - Scripted refusals ([`CollectorOptions::refuse_first`]): the first exports are answered
//!   with the given status (`429`, `503`, …) and `Retry-After`, and what they carried is
//!   not stored, as a throttling collector does ("OTLP/HTTP Throttling"); later exports are
//!   served. Refused exports are counted by [`Collector::refused`].
//! - Partial success ([`CollectorOptions::partial_success`]): every decoded span export is
//!   answered `200` with `partial_success` set ("Partial Success"); the spans are stored.
//! - TLS ([`CollectorOptions::tls`]): a certificate and key the caller gives (tests make
//!   them with `rcgen`), and optionally client certificates required and checked against a
//!   CA (mTLS); [`Collector::endpoint`] is then `https://127.0.0.1:PORT`.
//! - SigV4 ([`CollectorOptions::sigv4`]): as CloudWatch's OTLP endpoints do, every export
//!   must carry a Signature Version 4 `Authorization` for the collector's known
//!   credentials, service and region, over the body as received; the collector recomputes
//!   it with `aws-sigv4` from the request's `x-amz-date` and signed headers, and answers
//!   `403` when it differs (a tampered body, another service or region, a missing or
//!   wrong session token).
//! - A connection closed under the client ([`CollectorOptions::drop_reused_connections`]):
//!   one export is answered per connection, and a second one sent on the same connection
//!   gets no answer — the connection is closed — as a client sees a keep-alive connection
//!   the server dropped while the client's environment was frozen.
//! - `POST /v1/metrics`, under the same rules: the body is decoded as an
//!   `ExportMetricsServiceRequest`, its data points are stored in arrival order (sums, gauges
//!   and histograms; exponential histograms by count and sum; summaries are skipped), and the
//!   answer is an encoded empty `ExportMetricsServiceResponse`.
//! - `POST /v1/logs`, under the same rules (protobuf or OTLP/JSON, gzip, SigV4 — CloudWatch
//!   Logs signs for the service `logs`): the body is decoded as an `ExportLogsServiceRequest`,
//!   its records are stored in arrival order as [`ReceivedLog`]s with the headers of the
//!   request ([`Collector::last_log_export_headers`]: `x-aws-log-group`, …), and the answer
//!   is an encoded empty `ExportLogsServiceResponse`.
//! - HTTP/1.1 with keep-alive, one tokio task per connection.
//! - OTLP/gRPC on the same port (the `grpc` module): HTTP/2 by prior knowledge (h2c) or after
//!   ALPN `h2` with TLS, unary `Export` calls of
//!   `opentelemetry.proto.collector.trace.v1.TraceService` and `…metrics.v1.MetricsService`,
//!   gzip messages (`grpc-encoding: gzip`), the answer's message followed by `grpc-status: 0`
//!   in the trailers, and errors as trailers-only answers (`INVALID_ARGUMENT` for a message
//!   that does not decode, `RESOURCE_EXHAUSTED` over [`MAX_BODY_BYTES`], `UNIMPLEMENTED` for
//!   another method or compression). Scripted refusals are
//!   [`CollectorOptions::refuse_first_grpc`] (a status, with `RetryInfo` when it has a
//!   delay); [`CollectorOptions::answer`] is answered with the code gRPC's HTTP-to-gRPC
//!   mapping gives it; delay and partial success apply as over HTTP. SigV4 is not checked on
//!   gRPC calls (AWS's OTLP endpoints are HTTP only).
//! - A slow collector: [`Collector::start_with_delay`] answers every export, traces and
//!   metrics alike, only after a delay. What an export carries is stored as soon as the request
//!   is decoded, before the delay, so an exporter that gives up waiting has still delivered it.
//! - A failing collector: [`Collector::start_answering`] stores every decodable export, traces
//!   and metrics alike, and answers it with the status it was given.
//!
//! Requests the collector turns down get a `text/plain` message saying why, and the collector
//! keeps serving. Both paths follow the same rules:
//!
//! | Situation                                                       | Status |
//! |-----------------------------------------------------------------|--------|
//! | `Content-Encoding` other than `identity` or `gzip`              | 415    |
//! | `Content-Type` other than `application/x-protobuf` or `…/json`  | 415    |
//! | a gzip body that does not decompress                            | 400    |
//! | body over [`MAX_BODY_BYTES`]                                    | 413    |
//! | body that does not decode as the path's `Export…ServiceRequest` | 400    |
//! | body cut short                                                  | 400    |
//! | `/v1/traces`, `/v1/metrics` or `/v1/logs` not `POST`            | 405    |
//! | any other path (`/v1development/profiles`, …)                   | 404    |
//!
//! # What is not implemented
//!
//! - Compression other than gzip (answered `415`).
//! - gRPC over HTTP/1.1 (answered `505`), client-streaming calls with several messages.
//! - The profiles endpoint (answered `404`).
//! - Summary metric points (decoded, then dropped), exemplars and histogram buckets.
//! - Authentication by header: every decodable export is accepted, whatever its headers.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//! use otel_faas_local::collector::Collector;
//! use otel_faas_local::render::render_trees;
//!
//! # async fn example() -> std::io::Result<()> {
//! let collector = Collector::start().await?;
//! // … run a function with OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint() …
//! if collector.wait_for(Duration::from_secs(5), |span| span.view.kind == "SERVER").await {
//!     let views: Vec<_> = collector.spans().into_iter().map(|span| span.view).collect();
//!     print!("{}", render_trees(&views));
//! }
//! // The FaaS metrics leave in the same flush as the spans.
//! if collector.wait_for_metrics(Duration::from_secs(1), |point| point.name == "faas.invocations").await {
//!     for point in collector.metrics() {
//!         println!("{} {:?} {:?}", point.name, point.value, point.attribute("faas.trigger"));
//!     }
//! }
//! collector.shutdown();
//! # Ok(())
//! # }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::server::{self, Connections};
use decode::{received_metrics, received_spans};
use requests::handle_request;

/// The path span exports are posted to.
const TRACES_PATH: &str = "/v1/traces";

/// The path metric exports are posted to.
const METRICS_PATH: &str = "/v1/metrics";
/// The path log exports are posted to.
const LOGS_PATH: &str = "/v1/logs";

/// The media type of OTLP/HTTP protobuf bodies.
const PROTOBUF: &str = "application/x-protobuf";

/// Largest export body accepted (uncompressed); larger ones are answered `413`.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

mod decode;
mod grpc;
mod logs;
mod received;
mod requests;
mod sigv4;
#[cfg(test)]
mod tests;
mod tls;

pub use decode::span_view;
pub use logs::ReceivedLog;
pub use received::{AttributeValue, MetricValue, ReceivedMetric, ReceivedSpan};

/// How a [`Collector`] behaves beyond accepting every export at once;
/// [`Collector::start_with_options`].
#[derive(Clone, Debug)]
pub struct CollectorOptions {
    /// Answer every export only after this delay (what it carried is stored before).
    pub delay: Duration,
    /// The status every decoded export is answered with (what it carried is stored).
    pub answer: StatusCode,
    /// The first exports are refused, in order, with these answers, and what they carried
    /// is not stored; later exports are served.
    pub refuse_first: Vec<Refusal>,
    /// Answer every decoded span export `200` with this `partial_success`:
    /// (`rejected_spans`, `error_message`).
    pub partial_success: Option<(i64, String)>,
    /// Serve TLS with this identity.
    pub tls: Option<TlsIdentity>,
    /// Close a connection, unanswered, when a second export arrives on it.
    pub drop_reused_connections: bool,
    /// Accept only exports SigV4-signed with these credentials, service and region.
    pub sigv4: Option<SigV4Check>,
    /// The first gRPC calls are refused, in order, with these statuses, and what they
    /// carried is not stored; later calls are served. ([`CollectorOptions::refuse_first`]
    /// applies to OTLP/HTTP exports only.)
    pub refuse_first_grpc: Vec<GrpcRefusal>,
}

/// One scripted refusal of a gRPC call: a trailers-only answer with this status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcRefusal {
    /// The gRPC status code, such as `14` (`UNAVAILABLE`).
    pub code: u32,
    /// `grpc-message`.
    pub message: String,
    /// When set, a `google.rpc.RetryInfo` with this `retry_delay` in
    /// `grpc-status-details-bin`.
    pub retry_delay: Option<Duration>,
}

/// What a SigV4-checking collector expects: the credentials it knows, and the service and
/// region an AWS endpoint signs for.
#[derive(Clone, Debug)]
pub struct SigV4Check {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token the request must carry (`x-amz-security-token`), if any.
    pub session_token: Option<String>,
    /// The signing name, such as `xray`.
    pub service: String,
    /// The region, such as `us-west-2`.
    pub region: String,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        CollectorOptions {
            delay: Duration::ZERO,
            answer: StatusCode::OK,
            refuse_first: Vec::new(),
            partial_success: None,
            tls: None,
            drop_reused_connections: false,
            sigv4: None,
            refuse_first_grpc: Vec::new(),
        }
    }
}

/// One scripted refusal: a status, and the `Retry-After` seconds to send with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The status, such as `503` or `429`.
    pub status: StatusCode,
    /// `Retry-After`, in seconds, if any.
    pub retry_after: Option<u64>,
}

/// The certificate a TLS collector presents, and the CA its clients' certificates must come
/// from, all PEM.
#[derive(Clone, Debug)]
pub struct TlsIdentity {
    /// The server's certificate chain (valid for `127.0.0.1`).
    pub certificate_pem: String,
    /// The server's private key.
    pub key_pem: String,
    /// When set, clients must present a certificate issued by this CA (mTLS).
    pub client_ca_pem: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// An OTLP traces and metrics receiver on 127.0.0.1: OTLP/HTTP (`POST /v1/traces` and
/// `POST /v1/metrics`) and OTLP/gRPC (the trace and metrics services' `Export`) on one port.
///
/// Clones share one collector. It stops serving on [`Collector::shutdown`] or when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Collector {
    shared: Arc<Shared>,
    _stop_on_drop: Arc<StopOnDrop>,
}

impl fmt::Debug for Collector {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Collector")
            .field("addr", &self.shared.addr)
            .field("delay", &self.shared.delay)
            .field("requests", &self.requests())
            .field("spans", &self.shared.lock_spans().len())
            .field("metric_requests", &self.metric_requests())
            .field("metrics", &self.shared.lock_metrics().len())
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// Binds 127.0.0.1 on an ephemeral port and serves on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start() -> std::io::Result<Collector> {
        Self::start_with_delay(Duration::ZERO).await
    }

    /// Like [`Collector::start`], but answers every export, traces and metrics alike, after
    /// `delay` (to emulate a slow collector). Spans and metric points are stored on arrival,
    /// before the delay.
    pub async fn start_with_delay(delay: Duration) -> std::io::Result<Collector> {
        Self::start_with(delay, StatusCode::OK).await
    }

    /// A collector that decodes, stores and counts every export, traces and metrics alike,
    /// but answers it with `status`, as an overloaded (`503`) or broken (`500`) collector does.
    pub async fn start_answering(status: StatusCode) -> std::io::Result<Collector> {
        Self::start_with(Duration::ZERO, status).await
    }

    /// A collector that answers every span export it decodes as accepted only in part:
    /// `200` with `partial_success` saying `rejected_spans` were rejected, for the reason in
    /// `error_message` (the OTLP specification's "Partial Success"; the message is
    /// `ExportTracePartialSuccess` in opentelemetry-proto's `trace_service.proto`). Every
    /// decoded span is stored anyway.
    pub async fn start_rejecting_spans(
        rejected_spans: i64,
        error_message: &str,
    ) -> std::io::Result<Collector> {
        Self::start_with_options(CollectorOptions {
            partial_success: Some((rejected_spans, error_message.to_owned())),
            ..CollectorOptions::default()
        })
        .await
    }

    async fn start_with(delay: Duration, answer: StatusCode) -> std::io::Result<Collector> {
        Self::start_with_options(CollectorOptions {
            delay,
            answer,
            ..CollectorOptions::default()
        })
        .await
    }

    /// A collector that behaves as `options` say; see [`CollectorOptions`].
    pub async fn start_with_options(options: CollectorOptions) -> std::io::Result<Collector> {
        let (listener, addr) = server::bind_loopback().await?;
        let tls = match &options.tls {
            Some(identity) => Some(tls::acceptor(identity)?),
            None => None,
        };
        let connections = Connections {
            tls,
            drop_reused: options.drop_reused_connections,
            accepted: Arc::default(),
            http2: true,
        };
        let shared = Arc::new(Shared::new(
            addr,
            options,
            Arc::clone(&connections.accepted),
        ));
        let handler = Arc::clone(&shared);
        server::serve_with(
            listener,
            shared.shutdown.subscribe(),
            "OTLP collector",
            connections,
            move |request| {
                let shared = Arc::clone(&handler);
                async move {
                    Ok::<_, std::convert::Infallible>(match grpc::is_grpc(&request) {
                        true => grpc::handle_call(shared, request).await,
                        false => match handle_request(shared, request).await {
                            Ok(response) => response.map(grpc::AnswerBody::from),
                            Err(never) => match never {},
                        },
                    })
                }
            },
        );
        Ok(Collector {
            _stop_on_drop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        })
    }

    /// The base endpoint for `OTEL_EXPORTER_OTLP_ENDPOINT`: `http://127.0.0.1:PORT`, or
    /// `https://…` with TLS (OTLP/HTTP exporters append `/v1/traces` and `/v1/metrics`;
    /// OTLP/gRPC exporters call the services on the same port).
    pub fn endpoint(&self) -> String {
        let scheme = match self.shared.tls {
            true => "https",
            false => "http",
        };
        format!("{scheme}://{}", self.shared.addr)
    }

    /// Exports refused by the script of [`CollectorOptions::refuse_first`] so far.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Connections accepted so far (with TLS, those through their handshake).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Every span received so far, in arrival order (resource and scope kept alongside).
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.shared.lock_spans().clone()
    }

    /// Every metric data point received so far, in arrival order (the points of one export
    /// in the order the export lists them).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.shared.lock_metrics().clone()
    }

    /// Number of span export requests (`/v1/traces`) received and decoded (requests answered
    /// with an error status are not counted; metric exports are counted by
    /// [`Collector::metric_requests`]). [`Collector::clear`] leaves it alone.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Number of metric export requests (`/v1/metrics`) received and decoded, counted as
    /// [`Collector::requests`] counts span exports. [`Collector::clear`] leaves it alone.
    pub fn metric_requests(&self) -> u64 {
        self.shared.metric_requests.load(Ordering::SeqCst)
    }

    /// The headers of the last span export received and decoded (what
    /// `OTEL_EXPORTER_OTLP_HEADERS` adds shows here).
    pub fn last_export_headers(&self) -> HeaderMap {
        self.shared
            .last_headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every log record received so far, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.shared.lock_logs().clone()
    }

    /// Number of log export requests (`/v1/logs`) received and decoded, counted as
    /// [`Collector::requests`] counts span exports.
    pub fn log_requests(&self) -> u64 {
        self.shared.log_requests.load(Ordering::SeqCst)
    }

    /// The headers of the last log export received and decoded.
    pub fn last_log_export_headers(&self) -> HeaderMap {
        self.shared
            .last_log_headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until a received log record satisfies `predicate` or `timeout` passes; returns
    /// whether one did. Records received before the call count.
    pub async fn wait_for_logs(
        &self,
        timeout: Duration,
        predicate: impl Fn(&ReceivedLog) -> bool,
    ) -> bool {
        self.wait_until(timeout, |shared| shared.lock_logs().iter().any(&predicate))
            .await
    }

    /// Waits until a received span satisfies `predicate` or `timeout` passes; returns whether
    /// one did. Spans received before the call count.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        predicate: impl Fn(&ReceivedSpan) -> bool,
    ) -> bool {
        self.wait_until(timeout, |shared| shared.lock_spans().iter().any(&predicate))
            .await
    }

    /// Waits until a received metric data point satisfies `predicate` or `timeout` passes;
    /// returns whether one did. Points received before the call count.
    pub async fn wait_for_metrics(
        &self,
        timeout: Duration,
        predicate: impl Fn(&ReceivedMetric) -> bool,
    ) -> bool {
        self.wait_until(timeout, |shared| {
            shared.lock_metrics().iter().any(&predicate)
        })
        .await
    }

    /// Waits until at least `n` metric data points arrived (since the start or the last
    /// [`Collector::clear`]) or `timeout` passes; returns whether they did. The points of one
    /// export are stored at once, so when this returns `true` the export that brought the
    /// `n`th point is there whole.
    pub async fn wait_for_metric_count(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |shared| shared.lock_metrics().len() >= n)
            .await
    }

    /// The spans of every trace the Lambda invocation `request_id` took part in, once its
    /// invocation span (the one whose `faas.invocation_id` is `request_id`) has arrived;
    /// `None` when it has not within `timeout`.
    pub async fn invocation_traces(
        &self,
        request_id: &str,
        timeout: Duration,
    ) -> Option<Vec<ReceivedSpan>> {
        let is_invocation =
            |span: &ReceivedSpan| span.view.attribute("faas.invocation_id") == Some(request_id);
        if !self.wait_for(timeout, is_invocation).await {
            return None;
        }
        let spans = self.spans();
        let traces: HashSet<String> = spans
            .iter()
            .filter(|s| is_invocation(s))
            .map(|s| s.view.trace_id.clone())
            .collect();
        Some(
            spans
                .into_iter()
                .filter(|s| traces.contains(&s.view.trace_id))
                .collect(),
        )
    }

    /// Waits until at least `n` spans arrived (since the start or the last
    /// [`Collector::clear`]) or `timeout` passes; returns whether they did.
    pub async fn wait_for_count(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |shared| shared.lock_spans().len() >= n)
            .await
    }

    /// Forgets received spans, metric data points and log records.
    pub fn clear(&self) {
        self.shared.lock_spans().clear();
        self.shared.lock_metrics().clear();
        self.shared.lock_logs().clear();
    }

    /// Stops serving: the listener closes and open connections are dropped, pending answers
    /// included. Received spans and metric points stay readable.
    pub fn shutdown(&self) {
        self.shared.stop();
    }

    /// Waits until `done` holds for what was received, re-checking on every arrival.
    async fn wait_until(&self, timeout: Duration, done: impl Fn(&Shared) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        // Subscribed before the first check, so an arrival between check and wait is not lost.
        let mut arrivals = self.shared.arrivals.subscribe();
        loop {
            if done(&self.shared) {
                return true;
            }
            match tokio::time::timeout_at(deadline, arrivals.changed()).await {
                Ok(Ok(())) => {}
                // Timed out, or the sender is gone (it lives as long as `self`).
                Ok(Err(_)) | Err(_) => return false,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------

/// Stops the server when the last [`Collector`] clone goes (the server tasks hold [`Shared`],
/// not this).
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// State shared by the [`Collector`] handles and the server tasks.
struct Shared {
    addr: SocketAddr,
    delay: Duration,
    /// The status every decoded export is answered with.
    answer: StatusCode,
    /// Refusals still to answer, first first.
    refusals: Mutex<std::collections::VecDeque<Refusal>>,
    /// gRPC refusals still to answer, first first.
    grpc_refusals: Mutex<std::collections::VecDeque<GrpcRefusal>>,
    /// Exports refused by the script.
    refused: AtomicU64,
    /// What a decoded span export answered `200` says it rejected, if anything.
    partial_success: Option<(i64, String)>,
    /// Whether the collector serves TLS.
    tls: bool,
    /// Connections accepted.
    connections: Arc<AtomicU64>,
    /// The signature every export must carry, if any.
    sigv4: Option<SigV4Check>,
    spans: Mutex<Vec<ReceivedSpan>>,
    metrics: Mutex<Vec<ReceivedMetric>>,
    logs: Mutex<Vec<ReceivedLog>>,
    /// Decoded log exports.
    log_requests: AtomicU64,
    /// The headers of the last decoded log export request.
    last_log_headers: Mutex<HeaderMap>,
    /// Decoded span exports.
    requests: AtomicU64,
    /// Decoded metric exports.
    metric_requests: AtomicU64,
    /// The headers of the last decoded span export request.
    last_headers: Mutex<HeaderMap>,
    /// Bumped after every decoded export; waiters re-check on change.
    arrivals: watch::Sender<u64>,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    fn new(addr: SocketAddr, options: CollectorOptions, connections: Arc<AtomicU64>) -> Self {
        Self {
            addr,
            delay: options.delay,
            answer: options.answer,
            refusals: Mutex::new(options.refuse_first.into_iter().collect()),
            grpc_refusals: Mutex::new(options.refuse_first_grpc.into_iter().collect()),
            refused: AtomicU64::new(0),
            partial_success: options.partial_success,
            tls: options.tls.is_some(),
            sigv4: options.sigv4,
            connections,
            spans: Mutex::new(Vec::new()),
            metrics: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            log_requests: AtomicU64::new(0),
            last_log_headers: Mutex::new(HeaderMap::new()),
            requests: AtomicU64::new(0),
            metric_requests: AtomicU64::new(0),
            last_headers: Mutex::new(HeaderMap::new()),
            arrivals: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
        }
    }

    fn lock_spans(&self) -> MutexGuard<'_, Vec<ReceivedSpan>> {
        // Every update is one push or clear, so the list stays consistent across a panic.
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_metrics(&self) -> MutexGuard<'_, Vec<ReceivedMetric>> {
        // As for the spans: every update is one extend or clear.
        self.metrics.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_logs(&self) -> MutexGuard<'_, Vec<ReceivedLog>> {
        // As for the spans: every update is one extend or clear.
        self.logs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one decoded log export and stores its records and headers, then wakes the
    /// waiters.
    fn record_logs(&self, request: &ExportLogsServiceRequest, headers: HeaderMap) {
        let export = self.log_requests.fetch_add(1, Ordering::SeqCst) + 1;
        let records = logs::received_logs(request, export);
        *self
            .last_log_headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = headers;
        self.lock_logs().extend(records);
        self.arrivals.send_modify(|arrivals| *arrivals += 1);
    }

    /// Counts one decoded span export and stores its spans and headers, then wakes the
    /// waiters.
    fn record(&self, request: &ExportTraceServiceRequest, headers: HeaderMap) {
        let export = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let spans = received_spans(request, export);
        *self
            .last_headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = headers;
        self.lock_spans().extend(spans);
        self.arrivals.send_modify(|arrivals| *arrivals += 1);
    }

    /// Counts one decoded metrics export and stores its data points, then wakes the waiters.
    fn record_metrics(&self, request: &ExportMetricsServiceRequest) {
        let points = received_metrics(request);
        self.metric_requests.fetch_add(1, Ordering::SeqCst);
        self.lock_metrics().extend(points);
        self.arrivals.send_modify(|arrivals| *arrivals += 1);
    }

    fn stop(&self) {
        self.shutdown.send_replace(true);
    }
}
