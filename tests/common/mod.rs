//! What the per-trigger span tests share: the sample events and a look at spans' links.

#![allow(dead_code)]

use opentelemetry_sdk::trace::SpanData;
use serde_json::Value;

/// A sample event from `examples/events/`, as AWS delivers it.
pub fn sample(name: &str) -> Value {
    let path = format!("{}/examples/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("valid JSON")
}

/// The records of several samples, as one batch.
pub fn merged(names: &[&str]) -> Value {
    let records: Vec<Value> = names
        .iter()
        .flat_map(|name| {
            sample(name)["Records"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// The trace id of each of a span's links.
pub fn linked_traces(span: &SpanData) -> Vec<String> {
    span.links
        .iter()
        .map(|l| l.span_context.trace_id().to_string())
        .collect()
}

/// The description of an Error status, or `None`.
pub fn error_of(span: &SpanData) -> Option<String> {
    match &span.status {
        opentelemetry::trace::Status::Error { description } => Some(description.to_string()),
        _ => None,
    }
}
