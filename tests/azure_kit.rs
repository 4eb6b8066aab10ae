//! The test kit for Azure Functions custom handlers: requests go through the custom
//! handler's own request handling, as the Functions host sends them, without a socket.

use bytes::Bytes;
use futures_util::future::join_all;
use http::StatusCode;
use opentelemetry::trace::SpanKind;
use otel_faas_local::azure::HostInvocation;
use otel_faas_runtime::azure::{AzureEvent, FunctionApp, FunctionBindings, QueueMessage};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::testing::{AzureTestKit, SpanDataExt};
use otel_faas_runtime::{Error, traced_function};
use serde_json::{Value, json};

#[traced_function(trigger = "queue")]
async fn resize(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    let order = &event.payload.body;
    let pause = order["ms"].as_u64().unwrap_or(0);
    let _span = tracing::info_span!("resize image");
    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
    match order["fail"].as_bool() {
        Some(true) => Err("cannot resize".into()),
        _ => Ok(()),
    }
}

fn app() -> FunctionApp {
    let bindings = FunctionBindings::default().with_trigger("myQueueItem", Some("images"));
    FunctionApp::new().function_with("Resize", bindings, resize)
}

/// A queue message holding `order`, encoded as the host encodes it.
fn message(order: Value) -> Value {
    HostInvocation::new("Resize")
        .data("myQueueItem", json!(order.to_string()))
        .metadata("DequeueCount", json!(2))
        .metadata("Id", json!("800ae4b3-bdd2-4c08-badd-f08e5a34b865"))
        .to_json()
}

#[tokio::test]
async fn a_queue_invocation_is_answered_and_traced_as_the_server_does() {
    let kit = AzureTestKit::new(app());
    let answer = kit
        .invoke_with_id("Resize", "inv-1", &message(json!({})))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let spans = kit.spans();
    let server = spans
        .0
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("the invocation span");
    assert_eq!(server.attr("faas.invocation_id").as_deref(), Some("inv-1"));
    assert_eq!(
        server.attr("cloud.provider").as_deref(),
        None,
        "a resource attribute"
    );
    let consumer = spans.named("process images");
    assert_eq!(
        spans.parent_of(consumer).map(|p| &p.name),
        Some(&server.name)
    );
    assert!(kit.tree().contains("process images"), "{}", kit.tree());
    assert!(
        kit.metrics().iter().any(|p| p.name == "faas.invocations"),
        "{:?}",
        kit.metrics()
    );
}

#[tokio::test]
async fn a_malformed_host_request_is_a_readable_400_with_an_error_span() {
    let kit = AzureTestKit::new(app());
    let answer = kit
        .post_raw("/Resize", "inv-bad", Bytes::from_static(b"{not json"))
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let spans = kit.spans();
    let server = spans
        .0
        .iter()
        .find(|s| s.attr("faas.invocation_id").as_deref() == Some("inv-bad"))
        .expect("the invocation span of the refused request");
    assert!(
        server.attr("error.type").is_some(),
        "{:?}",
        server.attributes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_at_a_zero_ratio_keep_only_the_failing_whole_trace() {
    let config = Config::from_lookup(|key| match key {
        "OTEL_TRACES_SAMPLER" => Some("traceidratio".into()),
        "OTEL_TRACES_SAMPLER_ARG" => Some("0".into()),
        "OTEL_FAAS_KEEP" => Some("errors".into()),
        _ => None,
    });
    let kit = &AzureTestKit::with_config(app(), config);
    let orders = (0..8).map(|i| match i {
        5 => json!({ "ms": 80, "fail": true }),
        i => json!({ "ms": 5 + i * 5 }),
    });
    let answers = join_all(orders.enumerate().map(|(i, order)| async move {
        let id = format!("inv-{i}");
        kit_invoke(kit, &id, order).await
    }))
    .await;
    assert_eq!(answers[5], StatusCode::INTERNAL_SERVER_ERROR);
    let spans = kit.spans();
    let ids: Vec<String> = spans
        .0
        .iter()
        .filter_map(|s| s.attr("faas.invocation_id"))
        .collect();
    assert_eq!(
        ids,
        ["inv-5"],
        "only the failing invocation: {:?}",
        spans.names()
    );
    assert_eq!(spans.len(), 3, "its whole trace: {:?}", spans.names());
}

async fn kit_invoke(kit: &AzureTestKit, id: &str, order: Value) -> StatusCode {
    kit.invoke_with_id("Resize", id, &message(order))
        .await
        .status
}
