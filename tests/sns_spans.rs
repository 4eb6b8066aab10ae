//! `trigger = "sns"`: the invocation span, the consumer span named after the topic, links to
//! the producers whose context rides in the message attributes, and malformed notifications.

mod common;

use aws_lambda_events::event::sns::SnsEvent;
use common::{assert_malformed_is_exported, error_of, linked_traces, merged, sample};
use opentelemetry::trace::SpanKind;
use otel_faas_runtime::testing::{SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "sns")]
async fn notify(event: LambdaEvent<SnsEvent>) -> Result<(), Error> {
    for record in &event.payload.records {
        if record.sns.message.contains("poison") {
            return Err(format!("cannot handle {}", record.sns.message_id).into());
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_notification_is_consumed_under_its_topic_and_linked_to_its_producer() {
    let kit = TestKit::new().function_name("notifier");
    kit.invoke(notify, sample("sns_single")).await.unwrap();
    let spans = kit.spans();
    assert_eq!(spans.len(), 2, "{}", kit.tree());

    let invocation = spans.named("notifier");
    assert_eq!(invocation.span_kind, SpanKind::Server);
    assert_eq!(invocation.attr("faas.trigger").as_deref(), Some("pubsub"));
    assert!(invocation.attr("faas.invocation_id").is_some());

    let consumer = spans.named("process orders-topic");
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(consumer.parent_span_id, invocation.span_context.span_id());
    for (key, value) in [
        ("faas.trigger", "pubsub"),
        ("messaging.system", "aws.sns"),
        ("messaging.operation.type", "process"),
        ("messaging.operation.name", "process"),
        ("messaging.destination.name", "orders-topic"),
        (
            "aws.sns.topic.arn",
            "arn:aws:sns:eu-west-1:123456789012:orders-topic",
        ),
        (
            "messaging.message.id",
            "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
        ),
    ] {
        assert_eq!(consumer.attr(key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(consumer.attr("messaging.batch.message_count"), None);
    assert_eq!(
        linked_traces(consumer),
        ["0af7651916cd43dd8448eb211c80319c"]
    );
    assert_eq!(
        consumer.links[0].span_context.span_id().to_string(),
        "b7ad6b7169203331"
    );
    assert_eq!(
        consumer.links[0].attributes[0].value.to_string(),
        "95df01b4-ee98-5cb9-9903-4c221d41eb5e"
    );
}

#[tokio::test]
async fn optional_fields_absent_give_no_link_and_no_error() {
    let kit = TestKit::new();
    kit.invoke(notify, sample("sns_minimal")).await.unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process alerts");
    assert!(consumer.links.is_empty());
    assert_eq!(error_of(consumer), None);
}

#[tokio::test]
async fn an_xray_header_in_the_message_attributes_is_a_link_too() {
    let kit = TestKit::new();
    kit.invoke(notify, sample("sns_xray")).await.unwrap();
    let spans = kit.spans();
    assert_eq!(
        linked_traces(spans.named("process orders-topic")),
        ["5759e988bd862e3fe1be46a994272793"]
    );
}

#[tokio::test]
async fn a_batch_across_topics_has_a_count_and_no_destination() {
    let kit = TestKit::new();
    let batch = merged(&["sns_single", "sns_minimal", "sns_xray"]);
    kit.invoke(notify, batch).await.unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process");
    assert_eq!(consumer.attr("messaging.destination.name"), None);
    assert_eq!(consumer.attr("aws.sns.topic.arn"), None);
    assert_eq!(consumer.attr("messaging.message.id"), None);
    assert_eq!(
        consumer.attr("messaging.batch.message_count").as_deref(),
        Some("3")
    );
    assert_eq!(
        linked_traces(consumer),
        [
            "0af7651916cd43dd8448eb211c80319c",
            "5759e988bd862e3fe1be46a994272793"
        ]
    );
}

#[tokio::test]
async fn malformed_trace_attributes_are_ignored() {
    let kit = TestKit::new();
    let mut event = sample("sns_single");
    event["Records"][0]["Sns"]["MessageAttributes"]["traceparent"]["Value"] =
        "00-not-a-trace-01".into();
    event["Records"][0]["Sns"]["MessageAttributes"]["AWSTraceHeader"] =
        serde_json::json!({ "Type": "Number", "Value": "Root=garbage" });
    kit.invoke(notify, event).await.unwrap();
    assert!(kit.spans().named("process orders-topic").links.is_empty());
}

#[tokio::test]
async fn a_failing_handler_marks_both_spans() {
    let kit = TestKit::new().function_name("notifier");
    let mut event = sample("sns_minimal");
    event["Records"][0]["Sns"]["Message"] = "poison".into();
    let error = kit.invoke(notify, event).await.unwrap_err();
    assert!(error.error_message.contains("cannot handle"), "{error:?}");
    let spans = kit.spans();
    let consumer = spans.named("process alerts");
    assert!(error_of(consumer).unwrap().contains("cannot handle"));
    assert_eq!(consumer.events_named("exception").len(), 1);
    assert!(error_of(spans.named("notifier")).is_some());
}

#[tokio::test]
async fn a_malformed_notification_fails_readably_and_is_still_exported() {
    let kit = TestKit::new();
    let mut event = sample("sns_single");
    event["Records"][0]["Sns"]["Timestamp"] = "yesterday".into();
    assert_malformed_is_exported(&kit, notify, &event, "Records[0].Sns.Timestamp", "pubsub").await;
}
