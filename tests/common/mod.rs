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

/// Invokes `handler` of a kit whose function is `function` with `event`, which must not
/// deserialize, and checks what a malformed event must give: a readable error naming
/// `field`, and the invocation span still exported, Error, with the trigger's
/// `faas.trigger` told from the payload's shape.
pub async fn assert_malformed_is_exported<H, M: 'static>(
    kit: &otel_faas_runtime::testing::TestKit,
    handler: H,
    event: &Value,
    field: &str,
    trigger: &str,
) where
    H: otel_faas_runtime::lambda::Handler<M>,
{
    use otel_faas_runtime::testing::SpanDataExt as _;
    let payload = serde_json::to_vec(event).unwrap();
    let error = match kit.invoke_raw(handler, &payload, Default::default()).await {
        Ok(_) => panic!("a malformed event must fail its invocation"),
        Err(error) => error,
    };
    assert!(error.error_message.contains(field), "{error:?}");
    let spans = kit.spans();
    let invocation = spans
        .0
        .iter()
        .find(|s| s.span_kind == opentelemetry::trace::SpanKind::Server)
        .unwrap_or_else(|| panic!("no invocation span: {:?}", spans.names()));
    assert_eq!(invocation.attr("faas.trigger").as_deref(), Some(trigger));
    assert!(
        error_of(invocation).is_some_and(|e| e.contains(field)),
        "{:?}",
        invocation.status
    );
}
