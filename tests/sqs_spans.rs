//! `trigger = "sqs"`: the invocation span, the batch span linked to every producer, the
//! per-message spans of `per_message` mode, and partial batch failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageObj};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use otel_faas_runtime::testing::{SpanDataExt, Spans, TestKit};
use otel_faas_runtime::trigger::sqs::process_message;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

fn batch() -> Value {
    let path = format!(
        "{}/examples/events/sqs_batch.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("sample event")).expect("valid JSON")
}

fn message(id: &str, queue: &str, trace_header: Option<&str>) -> Value {
    let mut attributes = json!({ "ApproximateReceiveCount": "1" });
    if let Some(header) = trace_header {
        attributes["AWSTraceHeader"] = header.into();
    }
    json!({
        "messageId": id, "receiptHandle": "r", "body": "{}", "attributes": attributes,
        "messageAttributes": {}, "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:eu-west-1:123456789012:{queue}"), "awsRegion": "eu-west-1"
    })
}

#[traced_function(trigger = "sqs")]
async fn consume(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    tracing::info!(messages = event.payload.records.len(), "consumed");
    Ok(())
}

#[tokio::test]
async fn a_batch_is_a_server_invocation_with_a_consumer_span_linked_to_each_producer() {
    let kit = TestKit::new().function_name("orders-consumer");
    kit.invoke(consume, batch())
        .await
        .expect("handler succeeds");
    let spans = kit.spans();
    assert_eq!(spans.len(), 2, "{}", kit.tree());

    let invocation = spans.named("orders-consumer");
    assert_eq!(invocation.span_kind, SpanKind::Server);
    assert_eq!(invocation.attr("faas.trigger").as_deref(), Some("pubsub"));
    assert_eq!(invocation.attr("faas.coldstart").as_deref(), Some("true"));
    assert!(invocation.attr("faas.invocation_id").is_some());
    assert_eq!(
        invocation.parent_span_id.to_string(),
        "0000000000000000",
        "a new trace: SQS carries no parent"
    );

    let batch = spans.named("process orders");
    assert_eq!(batch.span_kind, SpanKind::Consumer);
    assert_eq!(batch.parent_span_id, invocation.span_context.span_id());
    for (key, value) in [
        ("faas.trigger", "pubsub"),
        ("messaging.system", "aws_sqs"),
        ("messaging.operation.type", "process"),
        ("messaging.operation.name", "process"),
        ("messaging.destination.name", "orders"),
        ("messaging.batch.message_count", "3"),
    ] {
        assert_eq!(batch.attr(key).as_deref(), Some(value), "{key}");
    }
    // Two of the three messages carry an AWSTraceHeader; each becomes a link.
    let links: Vec<(String, String, Option<String>)> = batch
        .links
        .iter()
        .map(|l| {
            let id = l
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "messaging.message.id")
                .map(|kv| kv.value.to_string());
            (
                l.span_context.trace_id().to_string(),
                l.span_context.span_id().to_string(),
                id,
            )
        })
        .collect();
    assert_eq!(
        links,
        vec![
            (
                "6712c2a15e3f8b0d4a9c7e2f1b6d3a8c".into(),
                "3b1f5d7e9a2c4e6f".into(),
                Some("059f36b4-87a3-44ab-83d2-661975830a7d".into())
            ),
            (
                "6712c2a40c9e8d7f6a5b4c3d2e1f0a9b".into(),
                "7c2d4e6f8a0b1c3d".into(),
                Some("2e1424d4-f796-459a-8184-9c92662be6da".into())
            ),
        ]
    );
}

#[tokio::test]
async fn the_cold_start_is_counted_once_per_process() {
    let kit = TestKit::new();
    kit.invoke(consume, batch()).await.unwrap();
    kit.invoke(consume, batch()).await.unwrap();
    let spans = kit.spans();
    let coldstarts: Vec<String> = spans
        .all_named("test-function")
        .iter()
        .map(|s| s.attr("faas.coldstart").unwrap())
        .collect();
    assert_eq!(coldstarts, ["true", "false"]);
}

#[tokio::test]
async fn one_message_has_no_batch_count_and_mixed_queues_no_destination() {
    let kit = TestKit::new();
    kit.invoke(
        consume,
        json!({ "Records": [message("m-1", "orders", None)] }),
    )
    .await
    .unwrap();
    let single = kit.spans().named("process orders").clone();
    assert_eq!(single.attr("messaging.batch.message_count"), None);
    assert!(single.links.is_empty());

    kit.clear();
    let mixed = json!({ "Records": [message("a", "orders", None), message("b", "refunds", None)] });
    kit.invoke(consume, mixed).await.unwrap();
    let span = kit.spans().named("process").clone();
    assert_eq!(span.attr("messaging.destination.name"), None);
    assert_eq!(
        span.attr("messaging.batch.message_count").as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn malformed_trace_headers_are_skipped_not_fatal() {
    let kit = TestKit::new();
    let records = json!({ "Records": [
        message("bad-1", "orders", Some("Root=1-zzzz;Parent=;Sampled=1")),
        message("bad-2", "orders", Some("garbage")),
        message("good", "orders", Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")),
    ]});
    kit.invoke(consume, records)
        .await
        .expect("bad headers never fail the invocation");
    let spans = kit.spans();
    let batch = spans.named("process orders");
    assert_eq!(batch.links.len(), 1);
    assert_eq!(
        batch.links[0].span_context.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
}

#[traced_function(trigger = "sqs", links_from = "message_attributes")]
async fn w3c_links(_event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    Ok(())
}

#[tokio::test]
async fn links_from_message_attributes_reads_a_w3c_traceparent() {
    let kit = TestKit::new();
    let mut record = message(
        "m",
        "orders",
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
    );
    record["messageAttributes"] = json!({ "traceparent": {
        "stringValue": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "stringListValues": [], "binaryListValues": [], "dataType": "String"
    }});
    kit.invoke(w3c_links, json!({ "Records": [record] }))
        .await
        .unwrap();
    let spans = kit.spans();
    let batch = spans.named("process orders");
    assert_eq!(batch.links.len(), 1, "only the configured source is read");
    assert_eq!(
        batch.links[0].span_context.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
}

#[traced_function(trigger = "sqs")]
async fn reports_failures(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in &event.payload.records {
        if message
            .body
            .as_deref()
            .is_some_and(|b| b.contains("poison"))
        {
            response.add_failure(message.message_id.clone().unwrap_or_default());
        }
    }
    Ok(response)
}

#[tokio::test]
async fn a_reported_partial_failure_marks_the_batch_span() {
    let kit = TestKit::new();
    let response = kit.invoke(reports_failures, batch()).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    let spans = kit.spans();
    let batch = spans.named("process orders");
    assert_eq!(
        batch.attr("otel_faas.batch.failed_count").as_deref(),
        Some("1")
    );
    assert_eq!(
        batch.attr("otel_faas.batch.failed_ids").as_deref(),
        Some(r#"["c80e8021-a70a-42c7-a470-796e1186f753"]"#)
    );
    assert!(
        matches!(&batch.status, Status::Error { description } if description == "1 of 3 messages failed")
    );
    assert_eq!(
        batch.attr("error.type").as_deref(),
        Some("partial_batch_failure"),
        "conditionally required on a failed messaging span"
    );
    let invocation = spans.named("test-function");
    assert!(
        matches!(invocation.status, Status::Unset),
        "the invocation itself succeeded"
    );
}

/// The batch span (the `process orders` span under the invocation span) and the message
/// spans under it.
fn batch_and_messages(spans: &Spans) -> (&SpanData, Vec<&SpanData>) {
    let invocation = spans.named("test-function");
    let batch = spans
        .all_named("process orders")
        .into_iter()
        .find(|s| s.parent_span_id == invocation.span_context.span_id())
        .expect("batch span under the invocation");
    (batch, spans.children_of(batch))
}

#[derive(Debug, Deserialize, Serialize)]
struct Order {
    order: u32,
    sku: String,
}

#[traced_function(trigger = "sqs", per_message)]
async fn each_order(message: SqsMessageObj<Order>) -> Result<(), Error> {
    match message.body.sku.as_str() {
        "poison" => Err(format!("order {} cannot be shipped", message.body.order).into()),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn per_message_mode_traces_each_message_and_reports_the_failed_ones() {
    let kit = TestKit::new();
    let response = kit
        .invoke(each_order, batch())
        .await
        .expect("the batch succeeds");
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["c80e8021-a70a-42c7-a470-796e1186f753"]);

    let spans = kit.spans();
    let (batch, messages) = batch_and_messages(&spans);
    assert_eq!(messages.len(), 3, "{}", kit.tree());
    assert!(
        messages
            .iter()
            .all(|m| m.span_kind == SpanKind::Consumer && m.name == "process orders")
    );

    let first = messages
        .iter()
        .find(|m| {
            m.attr("messaging.message.id").as_deref()
                == Some("059f36b4-87a3-44ab-83d2-661975830a7d")
        })
        .unwrap();
    assert_eq!(
        first.links.len(),
        1,
        "each message span links its own producer"
    );
    assert_eq!(
        first.links[0].span_context.span_id().to_string(),
        "3b1f5d7e9a2c4e6f"
    );
    assert!(matches!(first.status, Status::Unset));

    let poison = messages
        .iter()
        .find(|m| {
            m.attr("messaging.message.id").as_deref()
                == Some("c80e8021-a70a-42c7-a470-796e1186f753")
        })
        .unwrap();
    assert!(
        matches!(&poison.status, Status::Error { description } if description == "order 1003 cannot be shipped")
    );
    assert_eq!(poison.events_named("exception").len(), 1);
    assert_eq!(
        batch.attr("otel_faas.batch.failed_count").as_deref(),
        Some("1")
    );
}

#[traced_function(trigger = "sqs", per_message, name = "ship order")]
async fn panics_on_poison(message: SqsMessage) -> Result<(), Error> {
    if message
        .body
        .as_deref()
        .is_some_and(|b| b.contains("poison"))
    {
        panic!("poison message");
    }
    Ok(())
}

#[tokio::test]
async fn a_panicking_message_fails_alone() {
    let kit = TestKit::new();
    let response = kit
        .invoke(panics_on_poison, batch())
        .await
        .expect("one panic does not fail the batch");
    assert_eq!(response.batch_item_failures.len(), 1);
    let spans = kit.spans();
    let shipped = spans.all_named("ship order");
    assert_eq!(
        shipped.len(),
        3,
        "`name` names the message spans: {}",
        kit.tree()
    );
    let panicked: Vec<_> = shipped
        .iter()
        .filter(|s| s.attr("error.type").as_deref() == Some("panic"))
        .collect();
    assert_eq!(panicked.len(), 1);
}

#[traced_function(trigger = "sqs", per_message)]
async fn fifo(message: SqsMessage) -> Result<(), Error> {
    match message.message_id.as_deref() {
        Some("2") => Err("out of stock".into()),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn on_a_fifo_queue_the_messages_after_a_failure_are_not_processed() {
    let kit = TestKit::new();
    let records: Vec<Value> = ["1", "2", "3", "4"]
        .iter()
        .map(|id| message(id, "orders.fifo", None))
        .collect();
    let response = kit
        .invoke(fifo, json!({ "Records": records }))
        .await
        .unwrap();
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["2", "3", "4"],
        "order is kept: 3 and 4 are retried after 2"
    );
    let processed: Vec<String> = kit
        .spans()
        .all_named("process orders.fifo")
        .iter()
        .filter_map(|s| s.attr("messaging.message.id"))
        .collect();
    assert_eq!(processed, ["1", "2"]);
}

#[traced_function(trigger = "sqs")]
async fn walks_the_batch(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in &event.payload.records {
        let work = async {
            match message.body.as_deref() {
                Some(body) if body.contains("poison") => Err("cannot ship".to_owned()),
                _ => Ok(()),
            }
        };
        if process_message(message, work).await.is_err() {
            response.add_failure(message.message_id.clone().unwrap_or_default());
        }
    }
    Ok(response)
}

#[tokio::test]
async fn a_batch_handler_can_give_each_message_its_own_span() {
    let kit = TestKit::new();
    let response = kit.invoke(walks_the_batch, batch()).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    let spans = kit.spans();
    let (_, messages) = batch_and_messages(&spans);
    assert_eq!(messages.len(), 3, "{}", kit.tree());
    assert!(messages.iter().all(|m| m.span_kind == SpanKind::Consumer));
    let first = messages
        .iter()
        .find(|m| {
            m.attr("messaging.message.id").as_deref()
                == Some("059f36b4-87a3-44ab-83d2-661975830a7d")
        })
        .unwrap();
    assert_eq!(
        first.links[0].span_context.span_id().to_string(),
        "3b1f5d7e9a2c4e6f"
    );
    let failed: Vec<_> = messages
        .iter()
        .filter(|m| matches!(m.status, Status::Error { .. }))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].attr("error.type").as_deref(),
        Some("alloc::string::String")
    );
}

#[traced_function(trigger = "sqs", per_message)]
async fn each_message(_message: SqsMessage) -> Result<(), Error> {
    Ok(())
}

#[tokio::test]
async fn a_full_buffer_drops_leaf_spans_never_the_invocations_own() {
    let kit = TestKit::with_config(otel_faas_runtime::config::Config::from_lookup(|key| {
        (key == "OTEL_BSP_MAX_QUEUE_SIZE").then(|| "8".to_owned())
    }));
    let records: Vec<Value> = (0..20)
        .map(|i| message(&format!("m-{i}"), "orders", None))
        .collect();
    kit.invoke(each_message, json!({ "Records": records }))
        .await
        .expect("the batch succeeds");
    let spans = kit.spans();
    let invocation = spans
        .0
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap_or_else(|| panic!("the invocation span is kept: {:?}", spans.names()));
    let batch = spans
        .0
        .iter()
        .find(|s| s.attr("messaging.batch.message_count").as_deref() == Some("20"))
        .unwrap_or_else(|| panic!("the batch span is kept: {:?}", spans.names()));
    assert_eq!(
        spans.parent_of(batch).map(|p| p.span_context.span_id()),
        Some(invocation.span_context.span_id())
    );
    let messages = spans.children_of(batch).len();
    assert_eq!(
        messages,
        8,
        "the leaf spans fill the bound: {:?}",
        spans.names()
    );
    assert_eq!(
        invocation
            .attr(otel_faas_runtime::telemetry::DROPPED_SPANS)
            .as_deref(),
        Some("12"),
        "the invocation span counts what was dropped"
    );
    assert_eq!(kit.telemetry().dropped_spans(), 12);
}
