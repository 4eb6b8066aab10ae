//! Tests of the collector with the real OTLP/HTTP exporters and raw requests: helpers here,
//! spans, metrics and logs in their own files.

mod grpc;
mod logs;
mod metrics;
mod spans;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant as StdInstant;
use std::time::{Duration, SystemTime};

use http::StatusCode;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind as ApiSpanKind, Status as ApiStatus, TraceFlags,
    TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue as ApiKeyValue, StringValue, Value};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, metric, number_data_point,
};
use opentelemetry_proto::tonic::trace::v1::span::{self, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use otel_faas_runtime::render::SpanView;
use prost::Message as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::decode::render_value;
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
