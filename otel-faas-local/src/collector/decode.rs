//! OTLP protobuf messages, decoded into what the collector keeps.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, metric, number_data_point,
};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as OtlpStatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use otel_faas_runtime::render::SpanView;

use super::received::{AttributeValue, MetricValue, ReceivedMetric, ReceivedSpan};

/// An export's resource attributes, rendered; empty when it has none.
pub(super) fn rendered_resource(
    resource: Option<&opentelemetry_proto::tonic::resource::v1::Resource>,
) -> Vec<(String, String)> {
    resource
        .map(|resource| render_attributes(&resource.attributes))
        .unwrap_or_default()
}

/// An export's instrumentation scope name; empty when it has none.
pub(super) fn scope_name(
    scope: Option<&opentelemetry_proto::tonic::common::v1::InstrumentationScope>,
) -> String {
    scope.map(|scope| scope.name.clone()).unwrap_or_default()
}

/// The spans of one export request, each with its resource and scope.
pub(super) fn received_spans(
    request: &ExportTraceServiceRequest,
    export: u64,
) -> Vec<ReceivedSpan> {
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
pub(super) fn received_metrics(request: &ExportMetricsServiceRequest) -> Vec<ReceivedMetric> {
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
pub(super) fn data_points(metric: &Metric) -> Vec<(&[KeyValue], MetricValue)> {
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
pub(super) fn number(point: &NumberDataPoint) -> f64 {
    match point.value {
        Some(number_data_point::Value::AsDouble(value)) => value,
        Some(number_data_point::Value::AsInt(value)) => value as f64,
        None => 0.0,
    }
}

pub(super) fn typed_attributes(attributes: &[KeyValue]) -> Vec<(String, AttributeValue)> {
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

pub(super) fn render_attributes(attributes: &[KeyValue]) -> Vec<(String, String)> {
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
pub(super) fn render_value(value: &AnyValue) -> String {
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
pub(super) fn render_element(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(text)) => format!("\"{text}\""),
        _ => render_value(value),
    }
}

pub(super) fn kind_name(kind: i32) -> &'static str {
    match SpanKind::try_from(kind) {
        Ok(SpanKind::Internal) => "INTERNAL",
        Ok(SpanKind::Server) => "SERVER",
        Ok(SpanKind::Client) => "CLIENT",
        Ok(SpanKind::Producer) => "PRODUCER",
        Ok(SpanKind::Consumer) => "CONSUMER",
        Ok(SpanKind::Unspecified) | Err(_) => "UNSPECIFIED",
    }
}

pub(super) fn status_code(status: Option<&Status>) -> OtlpStatusCode {
    status
        .and_then(|status| OtlpStatusCode::try_from(status.code).ok())
        .unwrap_or(OtlpStatusCode::Unset)
}

pub(super) fn error_description(status: Option<&Status>) -> Option<String> {
    match (status, status_code(status)) {
        (Some(status), OtlpStatusCode::Error) => Some(status.message.clone()),
        _ => None,
    }
}

pub(super) fn unix_nanos(nanos: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
}

/// A parent span id: `""` for a root (no id, or the invalid all-zero one).
pub(super) fn parent_id(bytes: &[u8]) -> String {
    if bytes.iter().all(|byte| *byte == 0) {
        String::new()
    } else {
        hex(bytes)
    }
}

pub(super) fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
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
