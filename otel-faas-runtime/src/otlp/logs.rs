//! Log records over OTLP: `ExportLogsServiceRequest` bodies (binary protobuf or OTLP/JSON,
//! with `opentelemetry-proto`'s generated types and its conversion of the SDK's records),
//! posted by the same [`Sender`] as spans and metrics — the logs endpoint's own settings,
//! TLS, gzip, retries inside the flush budget and SigV4 — and the log group and stream
//! CloudWatch Logs' OTLP endpoint needs.
//!
//! CloudWatch Logs (AWS documentation, "Sending logs using the OTLP endpoint (OpenTelemetry
//! Logs)", `CWL_HTTP_Endpoints_OTLP`, and "OTLP Endpoints", `CloudWatch-OTLPEndpoint`):
//! `POST https://logs.<region>.amazonaws.com/v1/logs`, SigV4-signed for the service `logs`,
//! protobuf or JSON, gzip or not, into an *existing* log group and stream named by the
//! `x-aws-log-group` and `x-aws-log-stream` headers. When an export is signed for `logs`
//! and `OTEL_EXPORTER_OTLP_[LOGS_]HEADERS` names neither, they default to the function's
//! own log group and stream (`AWS_LAMBDA_LOG_GROUP_NAME`, `AWS_LAMBDA_LOG_STREAM_NAME`,
//! which Lambda sets and creates), so the records land beside the function's log lines.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLogRecord;
use prost::Message as _;
use tokio::time::Instant;

use super::settings::{OtlpSettings, Protocol, Signal};
use super::{Rejections, Sender};

/// The header naming the CloudWatch Logs log group an export goes to.
pub(crate) const LOG_GROUP_HEADER: &str = "x-aws-log-group";
/// The header naming the CloudWatch Logs log stream an export goes to.
pub(crate) const LOG_STREAM_HEADER: &str = "x-aws-log-stream";

/// Adds the function's own log group and stream as CloudWatch Logs' headers, unless the
/// configured headers name them already.
pub(crate) fn add_log_group_headers(
    headers: &mut Vec<(String, String)>,
    var: &dyn Fn(&str) -> Option<String>,
) {
    for (header, variable) in [
        (LOG_GROUP_HEADER, "AWS_LAMBDA_LOG_GROUP_NAME"),
        (LOG_STREAM_HEADER, "AWS_LAMBDA_LOG_STREAM_NAME"),
    ] {
        let named = headers
            .iter()
            .any(|(key, _)| key.eq_ignore_ascii_case(header));
        // The names come from the platform; a value that is not a valid header is left out
        // (CloudWatch then answers 400, and the export's failure is logged).
        if !named
            && let Some(value) = var(variable)
            && http::HeaderValue::from_str(&value).is_ok()
        {
            headers.push((header.to_owned(), value));
        }
    }
}

/// The OTLP log exporter: one request per flush that has records, to the logs endpoint.
#[derive(Debug)]
pub(crate) struct OtlpLogExporter {
    sender: Sender,
    resource: ProtoResource,
    schema_url: String,
}

impl OtlpLogExporter {
    /// The exporter `settings` describe, for `resource`.
    pub(crate) fn new(
        settings: &OtlpSettings,
        resource: &Resource,
        rejections: Arc<Rejections>,
    ) -> Result<Self, String> {
        Ok(OtlpLogExporter {
            sender: Sender::new(Signal::Logs, settings, rejections)?,
            resource: ProtoResource::from(resource),
            schema_url: resource.schema_url().unwrap_or_default().to_owned(),
        })
    }

    /// Exports `records`; retries end by `deadline` (the flush budget).
    pub(crate) async fn export(
        &self,
        records: &[SdkLogRecord],
        deadline: Instant,
    ) -> Result<(), String> {
        let body = self.body(records);
        self.sender.send(body, deadline).await
    }

    /// The request: one `ResourceLogs`, the records grouped by their `tracing` target as
    /// the instrumentation scope (`opentelemetry-appender-tracing` names no scope of its
    /// own), with a linear scan over the few targets a function logs from.
    fn body(&self, records: &[SdkLogRecord]) -> Bytes {
        let mut scopes: Vec<ScopeLogs> = Vec::new();
        for record in records {
            let target = record.target().map(|t| t.as_ref()).unwrap_or_default();
            let converted = LogRecord::from(record);
            match scopes
                .iter_mut()
                .find(|s| s.scope.as_ref().is_some_and(|scope| scope.name == target))
            {
                Some(scope) => scope.log_records.push(converted),
                None => scopes.push(ScopeLogs {
                    scope: Some(ProtoScope {
                        name: target.to_owned(),
                        ..ProtoScope::default()
                    }),
                    log_records: vec![converted],
                    schema_url: String::new(),
                }),
            }
        }
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(self.resource.clone()),
                scope_logs: scopes,
                schema_url: self.schema_url.clone(),
            }],
        };
        match self.sender.protocol {
            Protocol::HttpProtobuf | Protocol::Grpc => Bytes::from(request.encode_to_vec()),
            #[cfg(feature = "http-json")]
            Protocol::HttpJson => Bytes::from(serde_json::to_vec(&request).unwrap_or_default()),
            #[cfg(not(feature = "http-json"))]
            Protocol::HttpJson => {
                unreachable!("http/json is refused at start-up without the feature")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_functions_log_group_and_stream_are_the_defaults_and_configured_ones_win() {
        let var = |key: &str| match key {
            "AWS_LAMBDA_LOG_GROUP_NAME" => Some("/aws/lambda/orders".to_owned()),
            "AWS_LAMBDA_LOG_STREAM_NAME" => Some("2026/11/30/[$LATEST]abc".to_owned()),
            _ => None,
        };
        let mut headers = Vec::new();
        add_log_group_headers(&mut headers, &var);
        assert_eq!(
            headers,
            [
                (LOG_GROUP_HEADER.to_owned(), "/aws/lambda/orders".to_owned()),
                (
                    LOG_STREAM_HEADER.to_owned(),
                    "2026/11/30/[$LATEST]abc".to_owned()
                )
            ]
        );
        let mut configured = vec![("X-AWS-Log-Group".to_owned(), "otel-logs".to_owned())];
        add_log_group_headers(&mut configured, &var);
        assert_eq!(configured.len(), 2, "{configured:?}");
        assert_eq!(configured[0].1, "otel-logs");
        assert_eq!(configured[1].0, LOG_STREAM_HEADER);
    }
}
