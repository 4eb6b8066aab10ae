//! What the collector keeps of each log export (`POST /v1/logs`,
//! `ExportLogsServiceRequest`): every log record with its ids, severity, body, typed
//! attributes, resource and scope.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};

use super::decode::{rendered_resource, scope_name, typed_attributes};
use super::received::{AttributeValue, first};

/// One received log record, with its resource and scope.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceivedLog {
    /// The trace id, lowercase hex (empty when the record carries none).
    pub trace_id: String,
    /// The span id, lowercase hex (empty when the record carries none).
    pub span_id: String,
    /// `severity_number` (9 is INFO, 13 WARN, 17 ERROR; 0 unspecified).
    pub severity_number: i32,
    /// `severity_text`, such as `INFO`.
    pub severity_text: String,
    /// The body as text: a string body as is, any other rendered (empty when it has none).
    pub body: String,
    /// `event_name` (empty when it has none).
    pub event_name: String,
    /// When the event happened, nanoseconds since the Unix epoch (0 when unknown).
    pub time_unix_nano: u64,
    /// The record's attributes with their OTLP types, in received order.
    pub attributes: Vec<(String, AttributeValue)>,
    /// Resource attributes, rendered.
    pub resource: Vec<(String, String)>,
    /// Instrumentation scope name (empty when the export carried no scope).
    pub scope: String,
    /// Which log export request brought it: 1 for the first this collector received.
    pub export: u64,
}

impl ReceivedLog {
    /// The typed value of record attribute `key`, if present (the first one, if repeated).
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        first(&self.attributes, key)
    }

    /// The rendered value of resource attribute `key`, if present.
    pub fn resource_attribute(&self, key: &str) -> Option<&str> {
        first(&self.resource, key).map(String::as_str)
    }
}

/// The log records of one export request, each with its resource and scope.
pub(super) fn received_logs(request: &ExportLogsServiceRequest, export: u64) -> Vec<ReceivedLog> {
    let mut received = Vec::new();
    for resource_logs in &request.resource_logs {
        let resource = rendered_resource(resource_logs.resource.as_ref());
        for scope_logs in &resource_logs.scope_logs {
            let scope = scope_name(scope_logs.scope.as_ref());
            received.extend(scope_logs.log_records.iter().map(|record| ReceivedLog {
                trace_id: hex(&record.trace_id),
                span_id: hex(&record.span_id),
                severity_number: record.severity_number,
                severity_text: record.severity_text.clone(),
                body: record.body.as_ref().map(body_text).unwrap_or_default(),
                event_name: record.event_name.clone(),
                time_unix_nano: record.time_unix_nano,
                attributes: typed_attributes(&record.attributes),
                resource: resource.clone(),
                scope: scope.clone(),
                export,
            }));
        }
    }
    received
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn body_text(body: &AnyValue) -> String {
    match &body.value {
        Some(any_value::Value::StringValue(text)) => text.clone(),
        _ => AttributeValue::from(body).to_string(),
    }
}
