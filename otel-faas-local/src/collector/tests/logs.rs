//! `/v1/logs`: log records decoded from protobuf, gzip and OTLP/JSON bodies.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;

use super::*;

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn request() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(ProtoResource {
                attributes: vec![string("service.name", "orders")],
                ..ProtoResource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(
                    opentelemetry_proto::tonic::common::v1::InstrumentationScope {
                        name: "orders::handler".to_owned(),
                        ..Default::default()
                    },
                ),
                log_records: vec![LogRecord {
                    time_unix_nano: 1_750_000_000_000_000_000,
                    severity_number: 13,
                    severity_text: "WARN".to_owned(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("stock is low".to_owned())),
                    }),
                    attributes: vec![string("sku", "A-1")],
                    trace_id: TRACE.to_be_bytes().to_vec(),
                    span_id: 0x11_u64.to_be_bytes().to_vec(),
                    ..LogRecord::default()
                }],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).expect("gzip");
    encoder.finish().expect("gzip")
}

#[tokio::test]
async fn log_records_are_decoded_from_protobuf_gzip_and_json_bodies() {
    let collector = start().await;
    let protobuf = request().encode_to_vec();
    let json = serde_json::to_vec(&request()).expect("OTLP/JSON");
    let gzip_header = ("Content-Encoding", "gzip");
    let json_header = ("Content-Type", "application/json");
    let bodies = [
        (vec![PROTOBUF_HEADER], protobuf.clone()),
        (vec![PROTOBUF_HEADER, gzip_header], gzip(&protobuf)),
        (vec![json_header], json),
    ];
    for (headers, body) in bodies {
        let (status, text) = raw_request(&collector, "POST", "/v1/logs", &headers, &body).await;
        assert_eq!(status, 200, "{headers:?}: {text}");
    }
    assert_eq!(collector.log_requests(), 3);
    assert_eq!(collector.requests(), 0, "no span export counted");
    let logs = collector.logs();
    assert_eq!(logs.len(), 3);
    for (n, log) in logs.iter().enumerate() {
        assert_eq!(log.trace_id, format!("{TRACE:032x}"));
        assert_eq!(log.span_id, "0000000000000011");
        assert_eq!(
            (log.severity_number, log.severity_text.as_str()),
            (13, "WARN")
        );
        assert_eq!(log.body, "stock is low");
        assert_eq!(
            log.attribute("sku"),
            Some(&AttributeValue::String("A-1".to_owned()))
        );
        assert_eq!(log.resource_attribute("service.name"), Some("orders"));
        assert_eq!(log.scope, "orders::handler");
        assert_eq!(log.export, n as u64 + 1);
    }
    let (status, text) =
        raw_request(&collector, "POST", "/v1/logs", &[PROTOBUF_HEADER], b"\xff").await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("ExportLogsServiceRequest"), "{text}");
}
