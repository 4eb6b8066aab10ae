//! What the collector keeps of each export: spans and metric data points, with their
//! resource, scope and typed attributes.

use std::fmt::{self, Write as _};

use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use otel_faas_runtime::render::SpanView;

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
pub(super) fn first<'a, V>(pairs: &'a [(String, V)], key: &str) -> Option<&'a V> {
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
