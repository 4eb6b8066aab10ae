//! An OTLP/HTTP **traces and metrics receiver** on 127.0.0.1, for the local runner, the
//! end-to-end tests and the benchmarks.
//!
//! [`Collector`] plays the part of an OpenTelemetry Collector for one process: point a function
//! at it with `OTEL_EXPORTER_OTLP_ENDPOINT=`[`Collector::endpoint`], and every span the function
//! exports is decoded from the real protobuf request and kept as a [`ReceivedSpan`]: a
//! [`SpanView`] to print with [`render_trees`](crate::render::render_trees), the resource and
//! scope it came with, and its attributes with their OTLP types. Every metric data point is
//! kept as a [`ReceivedMetric`]: its instrument's name and unit, its typed attributes and its
//! [`MetricValue`].
//!
//! # What is implemented
//!
//! - `POST /v1/traces` with `Content-Type: application/x-protobuf`: the body is decoded as an
//!   `ExportTraceServiceRequest`, its spans are stored in arrival order, and the answer is `200`
//!   with an encoded empty `ExportTraceServiceResponse` (full success) and
//!   `Content-Type: application/x-protobuf`.
//! - `POST /v1/metrics`, under the same rules: the body is decoded as an
//!   `ExportMetricsServiceRequest`, its data points are stored in arrival order (sums, gauges
//!   and histograms; exponential histograms by count and sum; summaries are skipped), and the
//!   answer is an encoded empty `ExportMetricsServiceResponse`.
//! - HTTP/1.1 with keep-alive, one tokio task per connection.
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
//! | `Content-Encoding` other than `identity` (e.g. `gzip`)          | 415    |
//! | `Content-Type` other than `application/x-protobuf` (JSON too)   | 415    |
//! | body over [`MAX_BODY_BYTES`]                                    | 413    |
//! | body that does not decode as the path's `Export…ServiceRequest` | 400    |
//! | body cut short                                                  | 400    |
//! | `/v1/traces` or `/v1/metrics` with another method than `POST`   | 405    |
//! | any other path (`/v1/logs`, …)                                  | 404    |
//!
//! # What is not implemented
//!
//! - Compressed bodies: no gzip (answered `415`; leave `OTEL_EXPORTER_OTLP_COMPRESSION` unset).
//! - OTLP/JSON (answered `415`), OTLP/gRPC, HTTP/2 and TLS.
//! - The logs and profiles endpoints (`/v1/logs`, … answer `404`).
//! - Summary metric points (decoded, then dropped), exemplars and histogram buckets.
//! - Partial success, throttling (`429`/`503` with `Retry-After`) and authentication: every
//!   decodable export is accepted whole, whatever its headers.
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
use std::convert::Infallible;
use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, metric, number_data_point,
};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message as _;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::server::{self, HttpResponse};
use otel_faas_runtime::render::SpanView;

/// The path span exports are posted to.
const TRACES_PATH: &str = "/v1/traces";

/// The path metric exports are posted to.
const METRICS_PATH: &str = "/v1/metrics";

/// The media type of OTLP/HTTP protobuf bodies.
const PROTOBUF: &str = "application/x-protobuf";

/// Largest export body accepted (uncompressed); larger ones are answered `413`.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/// An OTLP/HTTP traces and metrics receiver on 127.0.0.1 (protobuf bodies, `POST /v1/traces`
/// and `POST /v1/metrics`).
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

    async fn start_with(delay: Duration, answer: StatusCode) -> std::io::Result<Collector> {
        let (listener, addr) = server::bind_loopback().await?;
        let shared = Arc::new(Shared::new(addr, delay, answer));
        let handler = Arc::clone(&shared);
        server::serve(
            listener,
            shared.shutdown.subscribe(),
            "OTLP collector",
            move |request| handle_request(Arc::clone(&handler), request),
        );
        Ok(Collector {
            _stop_on_drop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        })
    }

    /// The base endpoint for `OTEL_EXPORTER_OTLP_ENDPOINT`: `http://127.0.0.1:PORT` (exporters
    /// append `/v1/traces` and `/v1/metrics`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.shared.addr)
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

    /// Forgets received spans and metric data points.
    pub fn clear(&self) {
        self.shared.lock_spans().clear();
        self.shared.lock_metrics().clear();
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

/// One received span with its resource.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// The span as a person reads it.
    pub view: SpanView,
    /// Resource attributes, rendered like [`SpanView::attributes`].
    pub resource: Vec<(String, String)>,
    /// Instrumentation scope name (empty when the export carried no scope).
    pub scope: String,
    /// The raw OTLP span kind (`opentelemetry_proto::tonic::trace::v1::span::SpanKind` as
    /// `i32`: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// The span's attributes with their OTLP types, in received order.
    pub attributes: Vec<(String, AttributeValue)>,
    /// Which span export request brought it: 1 for the first this collector received.
    pub export: u64,
}

impl ReceivedSpan {
    /// The typed value of span attribute `key`, if present (the first one, if repeated).
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        first(&self.attributes, key)
    }

    /// The rendered value of resource attribute `key`, if present.
    pub fn resource_attribute(&self, key: &str) -> Option<&str> {
        first(&self.resource, key).map(String::as_str)
    }
}

/// The value of the first pair named `key`.
fn first<'a, V>(pairs: &'a [(String, V)], key: &str) -> Option<&'a V> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, value)| value)
}

/// An attribute value as OTLP typed it.
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    /// `string_value`.
    String(String),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `array_value`, elements typed in turn.
    Array(Vec<AttributeValue>),
    /// A value OpenTelemetry's Rust API cannot record (`kvlist_value`, `bytes_value`, a string
    /// table index) or no value at all.
    Other,
}

impl From<&AnyValue> for AttributeValue {
    fn from(value: &AnyValue) -> Self {
        match &value.value {
            Some(any_value::Value::StringValue(text)) => AttributeValue::String(text.clone()),
            Some(any_value::Value::BoolValue(flag)) => AttributeValue::Bool(*flag),
            Some(any_value::Value::IntValue(number)) => AttributeValue::Int(*number),
            Some(any_value::Value::DoubleValue(number)) => AttributeValue::Double(*number),
            Some(any_value::Value::ArrayValue(array)) => {
                AttributeValue::Array(array.values.iter().map(AttributeValue::from).collect())
            }
            Some(
                any_value::Value::KvlistValue(_)
                | any_value::Value::BytesValue(_)
                | any_value::Value::StringValueStrindex(_),
            )
            | None => AttributeValue::Other,
        }
    }
}

impl fmt::Display for AttributeValue {
    /// As `opentelemetry::Value` displays the value: strings raw, arrays as `[a,b]` with
    /// string elements in double quotes; [`AttributeValue::Other`] as `?`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttributeValue::String(text) => formatter.write_str(text),
            AttributeValue::Bool(flag) => write!(formatter, "{flag}"),
            AttributeValue::Int(number) => write!(formatter, "{number}"),
            AttributeValue::Double(number) => write!(formatter, "{number}"),
            AttributeValue::Array(elements) => {
                formatter.write_char('[')?;
                for (i, element) in elements.iter().enumerate() {
                    if i > 0 {
                        formatter.write_char(',')?;
                    }
                    match element {
                        AttributeValue::String(text) => write!(formatter, "\"{text}\"")?,
                        other => write!(formatter, "{other}")?,
                    }
                }
                formatter.write_char(']')
            }
            AttributeValue::Other => formatter.write_char('?'),
        }
    }
}

/// One received metric data point, with its instrument and resource.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedMetric {
    /// The instrument's name, such as `faas.invocations`.
    pub name: String,
    /// The instrument's unit, such as `s` or `{invocation}` (empty when it has none).
    pub unit: String,
    /// The data point's attributes with their OTLP types, in received order.
    pub attributes: Vec<(String, AttributeValue)>,
    /// The data point's value.
    pub value: MetricValue,
    /// Resource attributes, rendered like [`SpanView::attributes`].
    pub resource: Vec<(String, String)>,
    /// Instrumentation scope name (empty when the export carried no scope).
    pub scope: String,
}

impl ReceivedMetric {
    /// The typed value of data point attribute `key`, if present (the first one, if repeated).
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        first(&self.attributes, key)
    }

    /// The rendered value of resource attribute `key`, if present.
    pub fn resource_attribute(&self, key: &str) -> Option<&str> {
        first(&self.resource, key).map(String::as_str)
    }
}

/// The value of a [`ReceivedMetric`]. Integer values are widened to `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricValue {
    /// A sum (a counter, or an up-down counter when not `monotonic`).
    Sum {
        /// The sum: what it grew by since the previous export when `delta`, else its total.
        value: f64,
        /// Whether it only grows (a counter).
        monotonic: bool,
        /// Delta temporality (else cumulative, or unspecified).
        delta: bool,
    },
    /// A histogram, explicit-bucket or exponential, by count and sum (no buckets).
    Histogram {
        /// How many values were recorded.
        count: u64,
        /// Their sum (0 when the exporter left it out).
        sum: f64,
        /// Delta temporality (else cumulative, or unspecified).
        delta: bool,
    },
    /// A gauge's last value.
    Gauge(f64),
}

/// Converts a decoded OTLP span into a [`SpanView`] (so other code can render OTLP data).
///
/// Ids become lowercase hex; an empty or all-zero parent id becomes `""`. Attribute values are
/// rendered as `opentelemetry::Value::to_string()` renders the value the SDK exported, so a
/// view built here equals the one built from the SDK's `SpanData`.
pub fn span_view(span: &Span) -> SpanView {
    let start = unix_nanos(span.start_time_unix_nano);
    SpanView {
        trace_id: hex(&span.trace_id),
        span_id: hex(&span.span_id),
        parent_span_id: parent_id(&span.parent_span_id),
        name: span.name.clone(),
        kind: kind_name(span.kind).to_owned(),
        start,
        duration: unix_nanos(span.end_time_unix_nano)
            .duration_since(start)
            .unwrap_or_default(),
        attributes: render_attributes(&span.attributes),
        events: span
            .events
            .iter()
            .map(|event| (event.name.clone(), render_attributes(&event.attributes)))
            .collect(),
        links: span
            .links
            .iter()
            .map(|link| {
                (
                    hex(&link.trace_id),
                    hex(&link.span_id),
                    render_attributes(&link.attributes),
                )
            })
            .collect(),
        error: error_description(span.status.as_ref()),
        ok: status_code(span.status.as_ref()) == OtlpStatusCode::Ok,
    }
}

// ---------------------------------------------------------------------------------------------
// OTLP → views
// ---------------------------------------------------------------------------------------------

/// An export's resource attributes, rendered; empty when it has none.
fn rendered_resource(
    resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>,
) -> Vec<(String, String)> {
    resource
        .map(|resource| render_attributes(&resource.attributes))
        .unwrap_or_default()
}

/// An export's instrumentation scope name; empty when it has none.
fn scope_name(
    scope: Option<&opentelemetry_proto::tonic::common::v1::InstrumentationScope>,
) -> String {
    scope.map(|scope| scope.name.clone()).unwrap_or_default()
}

/// The spans of one export request, each with its resource and scope.
fn received_spans(request: &ExportTraceServiceRequest, export: u64) -> Vec<ReceivedSpan> {
    let mut received = Vec::new();
    for resource_spans in &request.resource_spans {
        let resource = rendered_resource(resource_spans.resource.as_ref());
        for scope_spans in &resource_spans.scope_spans {
            let scope = scope_name(scope_spans.scope.as_ref());
            received.extend(scope_spans.spans.iter().map(|span| ReceivedSpan {
                view: span_view(span),
                resource: resource.clone(),
                scope: scope.clone(),
                kind: span.kind,
                attributes: typed_attributes(&span.attributes),
                export,
            }));
        }
    }
    received
}

/// The data points of one metrics export request, each with its instrument, resource and
/// scope. Summary points are skipped.
fn received_metrics(request: &ExportMetricsServiceRequest) -> Vec<ReceivedMetric> {
    let mut received = Vec::new();
    for resource_metrics in &request.resource_metrics {
        let resource = rendered_resource(resource_metrics.resource.as_ref());
        for scope_metrics in &resource_metrics.scope_metrics {
            let scope = scope_name(scope_metrics.scope.as_ref());
            for metric in &scope_metrics.metrics {
                received.extend(data_points(metric).into_iter().map(|(attributes, value)| {
                    ReceivedMetric {
                        name: metric.name.clone(),
                        unit: metric.unit.clone(),
                        attributes: typed_attributes(attributes),
                        value,
                        resource: resource.clone(),
                        scope: scope.clone(),
                    }
                }));
            }
        }
    }
    received
}

/// The data points of one metric: each one's attributes and value.
fn data_points(metric: &Metric) -> Vec<(&[KeyValue], MetricValue)> {
    let is_delta = |temporality: i32| temporality == AggregationTemporality::Delta as i32;
    match &metric.data {
        Some(metric::Data::Sum(sum)) => sum
            .data_points
            .iter()
            .map(|point| {
                let value = MetricValue::Sum {
                    value: number(point),
                    monotonic: sum.is_monotonic,
                    delta: is_delta(sum.aggregation_temporality),
                };
                (point.attributes.as_slice(), value)
            })
            .collect(),
        Some(metric::Data::Gauge(gauge)) => gauge
            .data_points
            .iter()
            .map(|point| {
                (
                    point.attributes.as_slice(),
                    MetricValue::Gauge(number(point)),
                )
            })
            .collect(),
        Some(metric::Data::Histogram(histogram)) => histogram
            .data_points
            .iter()
            .map(|point| {
                let value = MetricValue::Histogram {
                    count: point.count,
                    sum: point.sum.unwrap_or_default(),
                    delta: is_delta(histogram.aggregation_temporality),
                };
                (point.attributes.as_slice(), value)
            })
            .collect(),
        Some(metric::Data::ExponentialHistogram(histogram)) => histogram
            .data_points
            .iter()
            .map(|point| {
                let value = MetricValue::Histogram {
                    count: point.count,
                    sum: point.sum.unwrap_or_default(),
                    delta: is_delta(histogram.aggregation_temporality),
                };
                (point.attributes.as_slice(), value)
            })
            .collect(),
        Some(metric::Data::Summary(_)) | None => Vec::new(),
    }
}

/// A number data point's value, integers widened; 0 when it has none.
fn number(point: &NumberDataPoint) -> f64 {
    match point.value {
        Some(number_data_point::Value::AsDouble(value)) => value,
        Some(number_data_point::Value::AsInt(value)) => value as f64,
        None => 0.0,
    }
}

fn typed_attributes(attributes: &[KeyValue]) -> Vec<(String, AttributeValue)> {
    attributes
        .iter()
        .map(|kv| {
            let value = kv
                .value
                .as_ref()
                .map_or(AttributeValue::Other, AttributeValue::from);
            (kv.key.clone(), value)
        })
        .collect()
}

fn render_attributes(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            let value = kv.value.as_ref().map(render_value).unwrap_or_default();
            (kv.key.clone(), value)
        })
        .collect()
}

/// Renders a value as `opentelemetry::Value`'s `Display` does: strings raw, arrays as
/// `[a,b]` with string elements in double quotes (`["a","b"]`). Values the Rust API has no
/// counterpart for get a form of their own: key-value lists as `{k=v,…}`, bytes as hex.
fn render_value(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        Some(any_value::Value::BoolValue(flag)) => flag.to_string(),
        Some(any_value::Value::IntValue(number)) => number.to_string(),
        Some(any_value::Value::DoubleValue(number)) => number.to_string(),
        Some(any_value::Value::ArrayValue(array)) => {
            let elements: Vec<String> = array.values.iter().map(render_element).collect();
            format!("[{}]", elements.join(","))
        }
        Some(any_value::Value::KvlistValue(list)) => {
            let pairs: Vec<String> = render_attributes(&list.values)
                .into_iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            format!("{{{}}}", pairs.join(","))
        }
        Some(any_value::Value::BytesValue(bytes)) => hex(bytes),
        Some(any_value::Value::StringValueStrindex(index)) => format!("#{index}"),
        None => String::new(),
    }
}

/// An array element: strings quoted, as `opentelemetry::Array`'s `Display` does.
fn render_element(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => format!("\"{text}\""),
        _ => render_value(value),
    }
}

fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Internal) => "INTERNAL",
        Ok(SpanKind::Server) => "SERVER",
        Ok(SpanKind::Client) => "CLIENT",
        Ok(SpanKind::Producer) => "PRODUCER",
        Ok(SpanKind::Consumer) => "CONSUMER",
        Ok(SpanKind::Unspecified) | Err(_) => "UNSPECIFIED",
    }
}

fn status_code(status: Option<&Status>) -> OtlpStatusCode {
    status
        .and_then(|status| OtlpStatusCode::try_from(status.code).ok())
        .unwrap_or(OtlpStatusCode::Unset)
}

fn error_description(status: Option<&Status>) -> Option<String> {
    match (status, status_code(status)) {
        (Some(status), OtlpStatusCode::Error) => Some(status.message.clone()),
        _ => None,
    }
}

fn unix_nanos(nanos: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// A parent span id: `""` for a root (no id, or the invalid all-zero one).
fn parent_id(bytes: &[u8]) -> String {
    if bytes.iter().all(|byte| *byte == 0) {
        String::new()
    } else {
        hex(bytes)
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
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
    spans: Mutex<Vec<ReceivedSpan>>,
    metrics: Mutex<Vec<ReceivedMetric>>,
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
    fn new(addr: SocketAddr, delay: Duration, answer: StatusCode) -> Self {
        Self {
            addr,
            delay,
            answer,
            spans: Mutex::new(Vec::new()),
            metrics: Mutex::new(Vec::new()),
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

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// What an export path receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    /// `/v1/traces`: `ExportTraceServiceRequest`.
    Traces,
    /// `/v1/metrics`: `ExportMetricsServiceRequest`.
    Metrics,
}

impl Signal {
    fn of_path(path: &str) -> Option<Signal> {
        match path {
            TRACES_PATH => Some(Signal::Traces),
            METRICS_PATH => Some(Signal::Metrics),
            _ => None,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Signal::Traces => TRACES_PATH,
            Signal::Metrics => METRICS_PATH,
        }
    }

    /// The protobuf message the body must decode as.
    fn request_message(self) -> &'static str {
        match self {
            Signal::Traces => "ExportTraceServiceRequest",
            Signal::Metrics => "ExportMetricsServiceRequest",
        }
    }
}

async fn handle_request(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let Some(signal) = Signal::of_path(request.uri().path()) else {
        return Ok(text_response(
            StatusCode::NOT_FOUND,
            format!(
                "not found: this collector serves only POST {TRACES_PATH} and POST \
                 {METRICS_PATH} (no logs or profiles)"
            ),
        ));
    };
    if request.method() != Method::POST {
        let mut response = text_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method not allowed: use POST on {}", signal.path()),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return Ok(response);
    }
    let mut response = handle_export(&shared, signal, request).await;
    if !shared.delay.is_zero() {
        tokio::time::sleep(shared.delay).await;
    }
    if response.status() == StatusCode::OK && shared.answer != StatusCode::OK {
        response = text_response(
            shared.answer,
            format!("answering {} as configured", shared.answer),
        );
    }
    Ok(response)
}

/// Checks, reads and decodes one export, and stores what it carries.
async fn handle_export(
    shared: &Shared,
    signal: Signal,
    request: Request<Incoming>,
) -> HttpResponse {
    match accept_export(shared, signal, request).await {
        Ok(()) => match signal {
            Signal::Traces => protobuf_response(&ExportTraceServiceResponse::default()),
            Signal::Metrics => protobuf_response(&ExportMetricsServiceResponse::default()),
        },
        Err(rejection) => text_response(rejection.status, rejection.message),
    }
}

async fn accept_export(
    shared: &Shared,
    signal: Signal,
    request: Request<Incoming>,
) -> Result<(), Rejection> {
    check_headers(request.headers())?;
    let (parts, body) = request.into_parts();
    let body = read_body(body).await?;
    let undecodable = |error: prost::DecodeError| {
        tracing::warn!(%error, path = signal.path(), "OTLP collector: undecodable export");
        Rejection::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the body is not a protobuf {}: {error}",
                signal.request_message()
            ),
        )
    };
    match signal {
        Signal::Traces => {
            let export = ExportTraceServiceRequest::decode(body).map_err(undecodable)?;
            shared.record(&export, parts.headers);
        }
        Signal::Metrics => {
            let export = ExportMetricsServiceRequest::decode(body).map_err(undecodable)?;
            shared.record_metrics(&export);
        }
    }
    Ok(())
}

/// Why an export was turned down: answered with `status` and `message` as plain text.
struct Rejection {
    status: StatusCode,
    message: String,
}

impl Rejection {
    fn new(status: StatusCode, message: String) -> Self {
        Self { status, message }
    }

    fn unsupported(message: String) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }
}

/// Turns down compressed and non-protobuf bodies.
fn check_headers(headers: &HeaderMap) -> Result<(), Rejection> {
    let encoding = header_text(headers, &CONTENT_ENCODING).to_ascii_lowercase();
    match encoding.trim() {
        "" | "identity" => {}
        "gzip" => {
            return Err(Rejection::unsupported(
                "Content-Encoding gzip is not supported by this local collector: send \
                 uncompressed protobuf (leave OTEL_EXPORTER_OTLP_COMPRESSION unset)"
                    .to_owned(),
            ));
        }
        other => {
            return Err(Rejection::unsupported(format!(
                "Content-Encoding {other:?} is not supported by this local collector: send \
                 uncompressed protobuf"
            )));
        }
    }
    let content_type = header_text(headers, &CONTENT_TYPE);
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match media_type.as_str() {
        PROTOBUF => Ok(()),
        "application/json" => Err(Rejection::unsupported(format!(
            "OTLP/JSON is not supported by this local collector: send {PROTOBUF} \
             (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)"
        ))),
        _ => Err(Rejection::unsupported(format!(
            "Content-Type {content_type:?} is not supported: send {PROTOBUF}"
        ))),
    }
}

/// A header's value as text; empty when absent or not visible ASCII.
fn header_text<'a>(headers: &'a HeaderMap, name: &http::header::HeaderName) -> &'a str {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
}

async fn read_body(body: Incoming) -> Result<Bytes, Rejection> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(Rejection::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY_BYTES} bytes"),
        )),
        Err(error) => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            format!("the body could not be read: {error}"),
        )),
    }
}

fn protobuf_response(message: &impl prost::Message) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(message.encode_to_vec())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PROTOBUF));
    response
}

fn text_response(status: StatusCode, message: String) -> HttpResponse {
    let mut response = Response::new(Full::new(Bytes::from(message + "\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::Instant as StdInstant;
    use tokio::net::TcpStream;

    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry::trace::{
        Event, Link, SpanContext, SpanId, SpanKind as ApiSpanKind, Status as ApiStatus, TraceFlags,
        TraceId, TraceState,
    };
    use opentelemetry::{Array, InstrumentationScope, KeyValue as ApiKeyValue, StringValue, Value};
    use opentelemetry_otlp::WithExportConfig as _;
    use opentelemetry_proto::tonic::trace::v1::span;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;
    use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
    use opentelemetry_sdk::metrics::reader::MetricReader;
    use opentelemetry_sdk::metrics::{
        InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
    };
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;
    const PRODUCER_TRACE: u128 = 0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c;

    async fn start() -> Collector {
        Collector::start().await.expect("start collector")
    }

    /// The real OTLP/HTTP protobuf exporter, pointed at `collector`, with a resource.
    fn exporter(collector: &Collector) -> opentelemetry_otlp::SpanExporter {
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/traces", collector.endpoint()))
            .build()
            .expect("build exporter");
        exporter.set_resource(
            &Resource::builder_empty()
                .with_service_name("orders")
                .with_attribute(ApiKeyValue::new("cloud.provider", "aws"))
                .with_attribute(ApiKeyValue::new("faas.max_memory", 134_217_728_i64))
                .build(),
        );
        exporter
    }

    async fn export(collector: &Collector, spans: Vec<SpanData>) {
        exporter(collector)
            .export(spans)
            .await
            .expect("export accepted");
    }

    fn context(trace: u128, span: u64) -> SpanContext {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )
    }

    fn at(millis: u64, nanos: u32) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::new(1_750_000_000 + millis / 1000, nanos)
    }

    fn span_data(span: u64, parent: u64, name: &'static str, kind: ApiSpanKind) -> SpanData {
        SpanData {
            span_context: context(TRACE, span),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: kind,
            name: Cow::Borrowed(name),
            start_time: at(0, 123_456_789),
            end_time: at(1000, 987_654_321),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: ApiStatus::Unset,
            instrumentation_scope: InstrumentationScope::builder("otel-faas-test").build(),
        }
    }

    /// A SERVER root with typed attributes, a CONSUMER child with a link, an event and an
    /// error, and an INTERNAL grandchild with status OK.
    fn sample_trace() -> Vec<SpanData> {
        let mut server = span_data(0x11, 0, "orders-consumer", ApiSpanKind::Server);
        server.attributes = vec![
            ApiKeyValue::new("faas.trigger", "pubsub"),
            ApiKeyValue::new("faas.coldstart", true),
            ApiKeyValue::new("http.response.status_code", 200_i64),
            ApiKeyValue::new("sample.ratio", 0.25),
            ApiKeyValue::new("sample.whole", 3.0),
            ApiKeyValue::new(
                "queue.names",
                Value::Array(Array::String(vec![
                    StringValue::from("a"),
                    StringValue::from("b c"),
                ])),
            ),
            ApiKeyValue::new("queue.sizes", Value::Array(Array::I64(vec![1, -2, 3]))),
            ApiKeyValue::new("queue.flags", Value::Array(Array::Bool(vec![true, false]))),
            ApiKeyValue::new("queue.weights", Value::Array(Array::F64(vec![0.5, 2.0]))),
        ];
        let mut consumer = span_data(0x22, 0x11, "process orders", ApiSpanKind::Consumer);
        consumer.attributes = vec![ApiKeyValue::new("messaging.batch.message_count", 3_i64)];
        consumer.links.links.push(Link::new(
            context(PRODUCER_TRACE, 0xb7ad_6b71_6920_3331),
            vec![ApiKeyValue::new("messaging.message.id", "m-1")],
            0,
        ));
        consumer.events.events.push(Event::new(
            "exception",
            at(500, 0),
            vec![
                ApiKeyValue::new("exception.type", "Timeout"),
                ApiKeyValue::new("exception.escaped", false),
            ],
            0,
        ));
        consumer.status = ApiStatus::error("downstream timed out");
        let mut internal = span_data(0x33, 0x22, "validate", ApiSpanKind::Internal);
        internal.status = ApiStatus::Ok;
        vec![server, consumer, internal]
    }

    fn find<'a>(spans: &'a [ReceivedSpan], name: &str) -> &'a ReceivedSpan {
        spans
            .iter()
            .find(|span| span.view.name == name)
            .unwrap_or_else(|| panic!("no span named {name} in {spans:#?}"))
    }

    /// A raw HTTP/1.1 request on a fresh connection; returns the status and the body.
    async fn raw_request(
        collector: &Collector,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        let mut stream = TcpStream::connect(collector.addr()).await.expect("connect");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            collector.addr(),
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await.expect("write head");
        stream.write_all(body).await.expect("write body");
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .expect("read response");
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    const PROTOBUF_HEADER: (&str, &str) = ("Content-Type", PROTOBUF);

    /// Method, path, headers, expected status and a part of the expected message.
    type Case = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
        u16,
        &'static str,
    );

    #[tokio::test]
    async fn spans_from_the_real_exporter_round_trip() {
        let collector = start().await;
        let sent = sample_trace();
        export(&collector, sent.clone()).await;

        assert!(collector.wait_for_count(3, Duration::from_secs(5)).await);
        assert_eq!(collector.requests(), 1);
        let received = collector.spans();
        assert_eq!(received.len(), 3);
        for data in &sent {
            let span = find(&received, &data.name);
            assert_eq!(
                span.view,
                SpanView::from(data),
                "views differ for {}",
                data.name
            );
            assert_eq!(span.scope, "otel-faas-test");
            assert_eq!(span.resource_attribute("service.name"), Some("orders"));
            assert_eq!(span.resource_attribute("cloud.provider"), Some("aws"));
            assert_eq!(
                span.resource_attribute("faas.max_memory"),
                Some("134217728")
            );
        }

        let server = find(&received, "orders-consumer");
        assert_eq!(server.view.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(server.view.span_id, "0000000000000011");
        assert_eq!(server.view.parent_span_id, "");
        assert_eq!(server.view.kind, "SERVER");
        assert_eq!(server.kind, SpanKind::Server as i32);
        assert_eq!(server.view.duration, Duration::new(1, 864_197_532));
        assert_eq!(
            server.attribute("faas.trigger"),
            Some(&AttributeValue::String("pubsub".into()))
        );
        assert_eq!(
            server.attribute("faas.coldstart"),
            Some(&AttributeValue::Bool(true))
        );
        assert_eq!(
            server.attribute("http.response.status_code"),
            Some(&AttributeValue::Int(200))
        );
        assert_eq!(
            server.attribute("sample.ratio"),
            Some(&AttributeValue::Double(0.25))
        );
        assert_eq!(
            server.attribute("sample.whole"),
            Some(&AttributeValue::Double(3.0))
        );
        assert_eq!(
            server.attribute("queue.sizes"),
            Some(&AttributeValue::Array(vec![
                AttributeValue::Int(1),
                AttributeValue::Int(-2),
                AttributeValue::Int(3)
            ]))
        );
        assert_eq!(
            server.attribute("queue.names"),
            Some(&AttributeValue::Array(vec![
                AttributeValue::String("a".into()),
                AttributeValue::String("b c".into())
            ]))
        );
        assert_eq!(server.view.attribute("sample.whole"), Some("3"));
        assert_eq!(server.view.attribute("queue.names"), Some(r#"["a","b c"]"#));
        assert_eq!(server.view.attribute("queue.sizes"), Some("[1,-2,3]"));
        assert_eq!(server.view.attribute("queue.flags"), Some("[true,false]"));
        assert_eq!(server.view.attribute("queue.weights"), Some("[0.5,2]"));
        assert_eq!(server.attribute("missing"), None);

        let consumer = find(&received, "process orders");
        assert_eq!(consumer.view.kind, "CONSUMER");
        assert_eq!(consumer.view.parent_span_id, "0000000000000011");
        assert_eq!(consumer.view.error.as_deref(), Some("downstream timed out"));
        assert!(!consumer.view.ok);
        assert_eq!(
            consumer.view.links,
            vec![(
                "0af7651916cd43dd8448eb211c80319c".to_owned(),
                "b7ad6b7169203331".to_owned(),
                vec![("messaging.message.id".to_owned(), "m-1".to_owned())]
            )]
        );
        assert_eq!(
            consumer.view.events,
            vec![(
                "exception".to_owned(),
                vec![
                    ("exception.type".to_owned(), "Timeout".to_owned()),
                    ("exception.escaped".to_owned(), "false".to_owned())
                ]
            )]
        );

        let internal = find(&received, "validate");
        assert_eq!(internal.view.parent_span_id, "0000000000000022");
        assert!(internal.view.ok);
        assert_eq!(internal.view.error, None);

        let views: Vec<SpanView> = received.into_iter().map(|span| span.view).collect();
        let tree = otel_faas_runtime::render::render_trees(&views);
        assert!(tree.contains("└─ orders-consumer  SERVER"), "{tree}");
        assert!(
            tree.contains("link → 0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331"),
            "{tree}"
        );
    }

    #[tokio::test]
    async fn keep_alive_connection_carries_several_exports() {
        let collector = start().await;
        let exporter = exporter(&collector);
        for id in 1..=3 {
            let span = span_data(id, 0, "tick", ApiSpanKind::Internal);
            exporter.export(vec![span]).await.expect("export accepted");
        }
        assert_eq!(collector.requests(), 3);
        assert_eq!(collector.spans().len(), 3);
        let ids: Vec<String> = collector
            .spans()
            .into_iter()
            .map(|span| span.view.span_id)
            .collect();
        assert_eq!(
            ids,
            ["0000000000000001", "0000000000000002", "0000000000000003"]
        );
    }

    #[tokio::test]
    async fn garbage_gets_400_and_the_collector_keeps_serving() {
        let collector = start().await;
        let (status, body) = raw_request(
            &collector,
            "POST",
            TRACES_PATH,
            &[PROTOBUF_HEADER],
            b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        )
        .await;
        assert_eq!(status, 400);
        assert!(
            body.contains("not a protobuf ExportTraceServiceRequest"),
            "{body}"
        );
        assert_eq!(collector.requests(), 0);

        export(
            &collector,
            vec![span_data(1, 0, "after", ApiSpanKind::Server)],
        )
        .await;
        assert_eq!(collector.requests(), 1);
        assert_eq!(collector.spans()[0].view.name, "after");
    }

    #[tokio::test]
    async fn an_empty_export_is_answered_with_an_empty_response() {
        let collector = start().await;
        let (status, body) =
            raw_request(&collector, "POST", TRACES_PATH, &[PROTOBUF_HEADER], b"").await;
        assert_eq!(status, 200);
        assert!(body.is_empty(), "{body:?}");
        assert_eq!(collector.requests(), 1);
        assert!(collector.spans().is_empty());
    }

    #[tokio::test]
    async fn unsupported_requests_are_turned_down_with_a_reason() {
        let collector = start().await;
        for (path, body) in [
            (
                TRACES_PATH,
                ExportTraceServiceRequest::default().encode_to_vec(),
            ),
            (
                METRICS_PATH,
                ExportMetricsServiceRequest::default().encode_to_vec(),
            ),
        ] {
            let cases: [Case; 6] = [
                (
                    "POST",
                    path,
                    &[PROTOBUF_HEADER, ("Content-Encoding", "gzip")],
                    415,
                    "gzip is not supported",
                ),
                (
                    "POST",
                    path,
                    &[("Content-Type", "application/json")],
                    415,
                    "OTLP/JSON is not supported",
                ),
                ("POST", path, &[], 415, "send application/x-protobuf"),
                ("GET", path, &[], 405, "use POST"),
                ("POST", "/v1/logs", &[PROTOBUF_HEADER], 404, "not found"),
                ("POST", "/v1/metric", &[PROTOBUF_HEADER], 404, "not found"),
            ];
            for (method, path, headers, want_status, want_text) in cases {
                let (status, text) = raw_request(&collector, method, path, headers, &body).await;
                assert_eq!(status, want_status, "{method} {path} {headers:?}: {text}");
                assert!(
                    text.contains(want_text),
                    "{method} {path} {headers:?}: {text}"
                );
            }
            assert_eq!(collector.requests(), 0);
            assert_eq!(collector.metric_requests(), 0);
        }
        let (_, text) = raw_request(&collector, "GET", METRICS_PATH, &[], b"").await;
        assert!(text.contains("use POST on /v1/metrics"), "{text}");
        let (_, text) = raw_request(&collector, "POST", "/v1/logs", &[PROTOBUF_HEADER], b"").await;
        assert!(
            text.contains("POST /v1/traces and POST /v1/metrics"),
            "{text}"
        );

        let with_parameters = [("Content-Type", "Application/X-Protobuf; charset=binary")];
        let body = ExportTraceServiceRequest::default().encode_to_vec();
        let (status, _) =
            raw_request(&collector, "POST", TRACES_PATH, &with_parameters, &body).await;
        assert_eq!(status, 200);
        let body = ExportMetricsServiceRequest::default().encode_to_vec();
        let (status, _) =
            raw_request(&collector, "POST", METRICS_PATH, &with_parameters, &body).await;
        assert_eq!(status, 200);
        assert_eq!((collector.requests(), collector.metric_requests()), (1, 1));
    }

    #[tokio::test]
    async fn a_delayed_collector_answers_after_its_delay() {
        let delay = Duration::from_millis(300);
        let collector = Collector::start_with_delay(delay)
            .await
            .expect("start collector");
        let started = StdInstant::now();
        let exporting = tokio::spawn({
            let collector = collector.clone();
            async move {
                export(
                    &collector,
                    vec![span_data(1, 0, "slow", ApiSpanKind::Server)],
                )
                .await
            }
        });
        // Stored on arrival, before the answer.
        assert!(
            collector
                .wait_for(Duration::from_secs(5), |span| span.view.name == "slow")
                .await
        );
        exporting.await.expect("export task");
        assert!(
            started.elapsed() >= delay,
            "answered after {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn wait_for_sees_later_arrivals_and_times_out_otherwise() {
        let collector = start().await;
        let started = StdInstant::now();
        assert!(
            !collector
                .wait_for(Duration::from_millis(50), |_| true)
                .await
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(!collector.wait_for_count(1, Duration::from_millis(20)).await);

        let sender = collector.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            export(&sender, vec![span_data(1, 0, "late", ApiSpanKind::Server)]).await;
        });
        assert!(
            collector
                .wait_for(Duration::from_secs(5), |span| span.view.name == "late")
                .await
        );
        assert!(
            !collector
                .wait_for(Duration::from_millis(20), |span| span.view.name == "never")
                .await
        );
    }

    #[tokio::test]
    async fn clear_forgets_spans_but_not_requests() {
        let collector = start().await;
        export(&collector, sample_trace()).await;
        assert_eq!(collector.spans().len(), 3);
        collector.clear();
        assert!(collector.spans().is_empty());
        assert_eq!(collector.requests(), 1);
        assert!(!collector.wait_for_count(1, Duration::from_millis(20)).await);
        export(
            &collector,
            vec![span_data(9, 0, "fresh", ApiSpanKind::Server)],
        )
        .await;
        assert!(collector.wait_for_count(1, Duration::from_secs(5)).await);
    }

    #[tokio::test]
    async fn shutdown_stops_serving() {
        let collector = start().await;
        export(
            &collector,
            vec![span_data(1, 0, "before", ApiSpanKind::Server)],
        )
        .await;
        collector.shutdown();
        let deadline = StdInstant::now() + Duration::from_secs(5);
        loop {
            if TcpStream::connect(collector.addr()).await.is_err() {
                break;
            }
            assert!(
                StdInstant::now() < deadline,
                "still accepting after shutdown"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(collector.spans().len(), 1, "received spans stay readable");
    }

    #[tokio::test]
    async fn dropping_the_last_handle_stops_serving() {
        let collector = start().await;
        let addr = collector.addr();
        drop(collector);
        let deadline = StdInstant::now() + Duration::from_secs(5);
        while TcpStream::connect(addr).await.is_ok() {
            assert!(StdInstant::now() < deadline, "still accepting after drop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn values_render_as_opentelemetry_renders_them() {
        let values = [
            Value::from("plain"),
            Value::from(""),
            Value::from("quote \" and ünïcode, comma"),
            Value::from(true),
            Value::from(false),
            Value::from(0_i64),
            Value::from(i64::MIN),
            Value::from(i64::MAX),
            Value::from(1.0),
            Value::from(-0.0),
            Value::from(0.1 + 0.2),
            Value::from(1e21),
            Value::from(1e-7),
            Value::from(f64::NAN),
            Value::from(f64::INFINITY),
            Value::Array(Array::String(vec![])),
            Value::Array(Array::String(vec!["x".into(), "y,z".into()])),
            Value::Array(Array::I64(vec![])),
            Value::Array(Array::I64(vec![i64::MIN, 0])),
            Value::Array(Array::F64(vec![1.5, 2.0, f64::NEG_INFINITY])),
            Value::Array(Array::Bool(vec![false])),
        ];
        for value in values {
            let otlp = AnyValue::from(value.clone());
            assert_eq!(render_value(&otlp), value.to_string(), "{value:?}");
        }
    }

    #[test]
    fn values_without_an_api_counterpart_are_other() {
        let kvlist = AnyValue {
            value: Some(any_value::Value::KvlistValue(
                opentelemetry_proto::tonic::common::v1::KeyValueList {
                    values: vec![KeyValue {
                        key: "k".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::IntValue(1)),
                        }),
                        key_strindex: 0,
                    }],
                },
            )),
        };
        let bytes = AnyValue {
            value: Some(any_value::Value::BytesValue(vec![0xde, 0xad])),
        };
        assert_eq!(AttributeValue::from(&kvlist), AttributeValue::Other);
        assert_eq!(render_value(&kvlist), "{k=1}");
        assert_eq!(AttributeValue::from(&bytes), AttributeValue::Other);
        assert_eq!(render_value(&bytes), "dead");
        assert_eq!(
            AttributeValue::from(&AnyValue { value: None }),
            AttributeValue::Other
        );
        assert_eq!(render_value(&AnyValue { value: None }), "");
    }

    #[test]
    fn span_view_reads_raw_otlp_fields() {
        let span = Span {
            trace_id: vec![0xab; 16],
            span_id: vec![0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
            parent_span_id: vec![0; 8],
            name: "raw".into(),
            kind: 42,
            start_time_unix_nano: 2_000,
            end_time_unix_nano: 1_000,
            status: Some(Status {
                code: OtlpStatusCode::Error as i32,
                message: String::new(),
            }),
            events: vec![span::Event {
                name: "e".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let view = span_view(&span);
        assert_eq!(view.trace_id, "ab".repeat(16));
        assert_eq!(view.span_id, "0102030405060708");
        assert_eq!(view.parent_span_id, "", "an all-zero parent is no parent");
        assert_eq!(view.kind, "UNSPECIFIED");
        assert_eq!(
            view.start,
            SystemTime::UNIX_EPOCH + Duration::from_micros(2)
        );
        assert_eq!(
            view.duration,
            Duration::ZERO,
            "an end before the start is no duration"
        );
        assert_eq!(view.error.as_deref(), Some(""));
        assert!(!view.ok);
        assert_eq!(view.events, vec![("e".to_owned(), vec![])]);

        let no_status = span_view(&Span::default());
        assert_eq!(no_status.error, None);
        assert!(!no_status.ok);
        assert_eq!(no_status.parent_span_id, "");
    }

    // -----------------------------------------------------------------------------------------
    // Metrics
    // -----------------------------------------------------------------------------------------

    /// Lets the provider own a reader the test also collects.
    #[derive(Debug)]
    struct SharedReader(Arc<ManualReader>);

    impl MetricReader for SharedReader {
        fn register_pipeline(&self, pipeline: std::sync::Weak<Pipeline>) {
            self.0.register_pipeline(pipeline);
        }

        fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.collect(rm)
        }

        fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.force_flush()
        }

        fn shutdown_with_timeout(
            &self,
            timeout: Duration,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.shutdown_with_timeout(timeout)
        }

        fn temporality(&self, kind: InstrumentKind) -> Temporality {
            self.0.temporality(kind)
        }
    }

    /// The real OTLP/HTTP protobuf metric exporter, pointed at `collector`.
    fn metric_exporter(collector: &Collector) -> opentelemetry_otlp::MetricExporter {
        opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(format!("{}{METRICS_PATH}", collector.endpoint()))
            .with_temporality(Temporality::Delta)
            .build()
            .expect("build metric exporter")
    }

    /// A meter provider with a resource, and the delta reader to collect it with.
    fn meter_provider() -> (SdkMeterProvider, Arc<ManualReader>) {
        let reader = Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Delta)
                .build(),
        );
        let provider = SdkMeterProvider::builder()
            .with_reader(SharedReader(Arc::clone(&reader)))
            .with_resource(
                Resource::builder_empty()
                    .with_service_name("orders")
                    .with_attribute(ApiKeyValue::new("cloud.provider", "aws"))
                    .build(),
            )
            .build();
        (provider, reader)
    }

    /// Collects what `reader` holds and exports it to `collector` with the real exporter.
    async fn export_metrics(collector: &Collector, reader: &ManualReader) {
        let mut metrics = ResourceMetrics::default();
        reader.collect(&mut metrics).expect("collect");
        PushMetricExporter::export(&metric_exporter(collector), &metrics)
            .await
            .expect("metrics export accepted");
    }

    fn find_metric<'a>(points: &'a [ReceivedMetric], name: &str) -> &'a ReceivedMetric {
        points
            .iter()
            .find(|point| point.name == name)
            .unwrap_or_else(|| panic!("no point named {name} in {points:#?}"))
    }

    fn pubsub() -> Option<&'static AttributeValue> {
        static PUBSUB: std::sync::OnceLock<AttributeValue> = std::sync::OnceLock::new();
        Some(PUBSUB.get_or_init(|| AttributeValue::String("pubsub".into())))
    }

    #[tokio::test]
    async fn metrics_from_the_real_exporter_round_trip() {
        let collector = start().await;
        let (provider, reader) = meter_provider();
        let meter =
            provider.meter_with_scope(InstrumentationScope::builder("otel-faas-test").build());
        let invocations = meter
            .u64_counter("faas.invocations")
            .with_unit("{invocation}")
            .build();
        let durations = meter
            .f64_histogram("faas.invoke_duration")
            .with_unit("s")
            .build();
        let in_flight = meter.i64_up_down_counter("in_flight").build();
        let memory = meter.f64_gauge("memory.used").with_unit("By").build();
        let attributes = [
            ApiKeyValue::new("faas.trigger", "pubsub"),
            ApiKeyValue::new("attempt", 2_i64),
        ];
        invocations.add(2, &attributes);
        invocations.add(1, &attributes);
        durations.record(0.25, &attributes);
        durations.record(0.5, &attributes);
        in_flight.add(3, &[]);
        in_flight.add(-1, &[]);
        memory.record(1024.5, &[]);
        export_metrics(&collector, &reader).await;

        assert_eq!(collector.metric_requests(), 1);
        assert_eq!(collector.requests(), 0, "span exports are counted apart");
        assert!(collector.spans().is_empty());
        let points = collector.metrics();
        assert_eq!(points.len(), 4, "{points:#?}");
        for point in &points {
            assert_eq!(point.scope, "otel-faas-test");
            assert_eq!(point.resource_attribute("service.name"), Some("orders"));
            assert_eq!(point.resource_attribute("cloud.provider"), Some("aws"));
        }

        let counter = find_metric(&points, "faas.invocations");
        assert_eq!(counter.unit, "{invocation}");
        assert_eq!(
            counter.value,
            MetricValue::Sum {
                value: 3.0,
                monotonic: true,
                delta: true
            }
        );
        assert_eq!(counter.attribute("faas.trigger"), pubsub());
        assert_eq!(counter.attribute("attempt"), Some(&AttributeValue::Int(2)));
        assert_eq!(counter.attribute("missing"), None);

        let histogram = find_metric(&points, "faas.invoke_duration");
        assert_eq!(histogram.unit, "s");
        assert_eq!(
            histogram.value,
            MetricValue::Histogram {
                count: 2,
                sum: 0.75,
                delta: true
            }
        );
        // The SDK does not keep the order attributes were given in.
        let sorted = |point: &ReceivedMetric| {
            let mut attributes = point.attributes.clone();
            attributes.sort_by(|a, b| a.0.cmp(&b.0));
            attributes
        };
        assert_eq!(sorted(histogram), sorted(counter));

        // The SDK keeps up-down counters cumulative under a delta preference.
        let up_down = find_metric(&points, "in_flight");
        assert_eq!(
            up_down.value,
            MetricValue::Sum {
                value: 2.0,
                monotonic: false,
                delta: false
            }
        );
        assert!(up_down.attributes.is_empty());
        assert_eq!(
            find_metric(&points, "memory.used").value,
            MetricValue::Gauge(1024.5)
        );

        // Delta: the next export carries only what changed since.
        invocations.add(1, &attributes);
        export_metrics(&collector, &reader).await;
        assert_eq!(collector.metric_requests(), 2);
        let later = &collector.metrics()[4..];
        assert_eq!(
            find_metric(later, "faas.invocations").value,
            MetricValue::Sum {
                value: 1.0,
                monotonic: true,
                delta: true
            }
        );
        assert!(
            later
                .iter()
                .all(|point| point.name != "faas.invoke_duration"),
            "{later:#?}"
        );
    }

    #[tokio::test]
    async fn malformed_metrics_get_400_and_the_collector_keeps_serving() {
        let collector = start().await;
        let (provider, reader) = meter_provider();
        provider
            .meter("test")
            .u64_counter("faas.invocations")
            .build()
            .add(1, &[]);
        let mut metrics = ResourceMetrics::default();
        reader.collect(&mut metrics).expect("collect");
        let valid = ExportMetricsServiceRequest::from(&metrics).encode_to_vec();
        let bodies: [&[u8]; 2] = [
            b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
            &valid[..valid.len() - 3],
        ];
        for body in bodies {
            let (status, text) =
                raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], body).await;
            assert_eq!(status, 400, "{text}");
            assert!(
                text.contains("not a protobuf ExportMetricsServiceRequest"),
                "{text}"
            );
        }
        assert_eq!(collector.metric_requests(), 0);
        assert!(collector.metrics().is_empty());

        let (status, body) =
            raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], &valid).await;
        assert_eq!(status, 200);
        assert!(
            body.is_empty(),
            "an empty ExportMetricsServiceResponse: {body:?}"
        );
        assert_eq!(collector.metric_requests(), 1);
        assert_eq!(collector.metrics()[0].name, "faas.invocations");
    }

    #[tokio::test]
    async fn an_empty_metrics_export_is_answered_with_an_empty_response() {
        let collector = start().await;
        let (status, body) =
            raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], b"").await;
        assert_eq!(status, 200);
        assert!(body.is_empty(), "{body:?}");
        assert_eq!(collector.metric_requests(), 1);
        assert!(collector.metrics().is_empty());
    }

    #[tokio::test]
    async fn a_delayed_collector_answers_metrics_after_its_delay_too() {
        let delay = Duration::from_millis(300);
        let collector = Collector::start_with_delay(delay)
            .await
            .expect("start collector");
        let (provider, reader) = meter_provider();
        provider
            .meter("test")
            .u64_counter("slow")
            .build()
            .add(1, &[]);
        let started = StdInstant::now();
        let exporting = tokio::spawn({
            let collector = collector.clone();
            async move { export_metrics(&collector, &reader).await }
        });
        // Stored on arrival, before the answer.
        assert!(
            collector
                .wait_for_metrics(Duration::from_secs(5), |point| point.name == "slow")
                .await
        );
        exporting.await.expect("export task");
        assert!(
            started.elapsed() >= delay,
            "answered after {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_failing_collector_stores_metrics_and_answers_its_status() {
        let collector = Collector::start_answering(StatusCode::SERVICE_UNAVAILABLE)
            .await
            .expect("start collector");
        let (provider, reader) = meter_provider();
        provider
            .meter("test")
            .u64_counter("refused")
            .build()
            .add(1, &[]);
        let mut metrics = ResourceMetrics::default();
        reader.collect(&mut metrics).expect("collect");
        let body = ExportMetricsServiceRequest::from(&metrics).encode_to_vec();
        let (status, text) =
            raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], &body).await;
        assert_eq!(status, 503, "{text}");
        assert_eq!(collector.metric_requests(), 1);
        assert_eq!(collector.metrics()[0].name, "refused");
    }

    #[tokio::test]
    async fn metric_waits_see_later_arrivals_and_clear_forgets_points() {
        let collector = start().await;
        assert!(
            !collector
                .wait_for_metrics(Duration::from_millis(20), |_| true)
                .await
        );
        assert!(
            !collector
                .wait_for_metric_count(1, Duration::from_millis(20))
                .await
        );

        let (provider, reader) = meter_provider();
        provider
            .meter("test")
            .u64_counter("late")
            .build()
            .add(1, &[]);
        let sender = collector.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            export_metrics(&sender, &reader).await;
        });
        assert!(
            collector
                .wait_for_metric_count(1, Duration::from_secs(5))
                .await
        );
        assert!(
            collector
                .wait_for_metrics(Duration::from_secs(5), |point| point.name == "late")
                .await
        );
        assert!(
            !collector
                .wait_for(Duration::from_millis(20), |_| true)
                .await,
            "metrics are not spans"
        );

        collector.clear();
        assert!(collector.metrics().is_empty());
        assert_eq!(collector.metric_requests(), 1);
        assert!(
            !collector
                .wait_for_metric_count(1, Duration::from_millis(20))
                .await
        );
    }

    #[test]
    fn metric_points_read_raw_otlp_fields() {
        use opentelemetry_proto::tonic::metrics::v1::{
            ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
            HistogramDataPoint, ResourceMetrics as OtlpResourceMetrics, ScopeMetrics, Sum, Summary,
            SummaryDataPoint,
        };
        let int_point = |value: i64| NumberDataPoint {
            attributes: vec![KeyValue {
                key: "k".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::BoolValue(true)),
                }),
                key_strindex: 0,
            }],
            value: Some(number_data_point::Value::AsInt(value)),
            ..Default::default()
        };
        let metric = |name: &str, data: metric::Data| Metric {
            name: name.into(),
            data: Some(data),
            ..Default::default()
        };
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![OtlpResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![
                        metric(
                            "cumulative",
                            metric::Data::Sum(Sum {
                                data_points: vec![int_point(7), int_point(-2)],
                                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                                is_monotonic: false,
                            }),
                        ),
                        metric(
                            "gauge",
                            metric::Data::Gauge(Gauge {
                                data_points: vec![NumberDataPoint::default()],
                            }),
                        ),
                        metric(
                            "no sum",
                            metric::Data::Histogram(Histogram {
                                data_points: vec![HistogramDataPoint {
                                    count: 4,
                                    sum: None,
                                    ..Default::default()
                                }],
                                aggregation_temporality: 0,
                            }),
                        ),
                        metric(
                            "exponential",
                            metric::Data::ExponentialHistogram(ExponentialHistogram {
                                data_points: vec![ExponentialHistogramDataPoint {
                                    count: 3,
                                    sum: Some(1.5),
                                    ..Default::default()
                                }],
                                aggregation_temporality: AggregationTemporality::Delta as i32,
                            }),
                        ),
                        metric(
                            "summary",
                            metric::Data::Summary(Summary {
                                data_points: vec![SummaryDataPoint::default()],
                            }),
                        ),
                        Metric {
                            name: "no data".into(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let points = received_metrics(&request);
        let values: Vec<(&str, MetricValue)> = points
            .iter()
            .map(|point| (point.name.as_str(), point.value))
            .collect();
        let cumulative = |value| MetricValue::Sum {
            value,
            monotonic: false,
            delta: false,
        };
        assert_eq!(
            values,
            [
                ("cumulative", cumulative(7.0)),
                ("cumulative", cumulative(-2.0)),
                ("gauge", MetricValue::Gauge(0.0)),
                (
                    "no sum",
                    MetricValue::Histogram {
                        count: 4,
                        sum: 0.0,
                        delta: false
                    }
                ),
                (
                    "exponential",
                    MetricValue::Histogram {
                        count: 3,
                        sum: 1.5,
                        delta: true
                    }
                ),
            ]
        );
        assert_eq!(points[0].attribute("k"), Some(&AttributeValue::Bool(true)));
        assert_eq!(points[0].scope, "");
        assert!(points[0].resource.is_empty());
    }

    #[test]
    fn attribute_values_display_as_opentelemetry_displays_them() {
        let values = [
            Value::from("plain"),
            Value::from(true),
            Value::from(-3_i64),
            Value::from(0.5),
            Value::from(2.0),
            Value::Array(Array::String(vec!["x".into(), "y,z".into()])),
            Value::Array(Array::I64(vec![1, 2])),
            Value::Array(Array::F64(vec![])),
        ];
        for value in values {
            let typed = AttributeValue::from(&AnyValue::from(value.clone()));
            assert_eq!(typed.to_string(), value.to_string(), "{value:?}");
        }
        assert_eq!(AttributeValue::Other.to_string(), "?");
    }
}
