//! `trigger = "eventbridge"` and `trigger = "schedule"`: the consumer span named after the
//! detail-type, a context carried in the detail as link or parent, and scheduled roots.

mod common;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use common::{assert_malformed_is_exported, linked_traces, sample};
use opentelemetry::trace::SpanKind;
use otel_faas_runtime::testing::{Invocation, SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde::{Deserialize, Serialize};

const XRAY_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

#[traced_function(trigger = "eventbridge")]
async fn on_event(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "eventbridge", links_from = "detail")]
async fn linked(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "eventbridge", parent_from = "detail")]
async fn continued(_event: LambdaEvent<CloudWatchEvent>) -> Result<(), Error> {
    Ok(())
}

#[derive(Deserialize, Serialize)]
struct OrderPlaced {
    #[serde(rename = "orderId")]
    order_id: String,
    traceparent: Option<String>,
}

#[traced_function(trigger = "eventbridge", parent_from = "detail")]
async fn typed(event: LambdaEvent<EventBridgeEvent<OrderPlaced>>) -> Result<(), Error> {
    if event.payload.detail.order_id.is_empty() {
        return Err("no order id".into());
    }
    Ok(())
}

#[tokio::test]
async fn an_event_is_consumed_under_its_detail_type_with_the_cloudevents_id() {
    let kit = TestKit::new().function_name("orders");
    kit.invoke(on_event, sample("eventbridge_custom"))
        .await
        .unwrap();
    let spans = kit.spans();
    let invocation = spans.named("orders");
    assert_eq!(invocation.span_kind, SpanKind::Server);
    assert_eq!(invocation.attr("faas.trigger").as_deref(), Some("pubsub"));
    assert_eq!(
        invocation.parent_span_id.to_string(),
        "0000000000000000",
        "the detail is only read when asked"
    );
    let consumer = spans.named("process");
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(consumer.parent_span_id, invocation.span_context.span_id());
    for (key, value) in [
        ("faas.trigger", "pubsub"),
        ("messaging.system", "aws.eventbridge"),
        ("messaging.operation.type", "process"),
        (
            "messaging.message.id",
            "4d8c1f2e-6b3a-4c9d-8e7f-1a2b3c4d5e6f",
        ),
        (
            "cloudevents.event_id",
            "4d8c1f2e-6b3a-4c9d-8e7f-1a2b3c4d5e6f",
        ),
        ("cloudevents.event_source", "com.example.orders"),
        ("cloudevents.event_type", "Order Placed"),
    ] {
        assert_eq!(consumer.attr(key).as_deref(), Some(value), "{key}");
    }
    assert!(consumer.links.is_empty());
}

#[tokio::test]
async fn links_from_detail_links_to_a_top_level_traceparent() {
    let kit = TestKit::new();
    kit.invoke(linked, sample("eventbridge_custom"))
        .await
        .unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process");
    assert_eq!(
        linked_traces(consumer),
        ["4bf92f3577b34da6a3ce929d0e0e4736"]
    );
}

#[tokio::test]
async fn links_from_detail_reads_a_trace_context_object() {
    let kit = TestKit::new();
    kit.invoke(linked, sample("eventbridge_trace_context"))
        .await
        .unwrap();
    let spans = kit.spans();
    assert_eq!(
        linked_traces(spans.named("process")),
        ["5bf92f3577b34da6a3ce929d0e0e4736"]
    );
}

#[tokio::test]
async fn parent_from_detail_continues_the_producers_trace() {
    let kit = TestKit::new().function_name("billing");
    kit.invoke(continued, sample("eventbridge_trace_context"))
        .await
        .unwrap();
    let spans = kit.spans();
    let invocation = spans.named("billing");
    assert_eq!(
        invocation.span_context.trace_id().to_string(),
        "5bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(invocation.parent_span_id.to_string(), "10f067aa0ba902b7");
    assert!(invocation.parent_span_is_remote);
}

#[tokio::test]
async fn a_typed_detail_is_searched_through_its_fields() {
    let kit = TestKit::new().function_name("orders");
    kit.invoke(typed, sample("eventbridge_custom"))
        .await
        .unwrap();
    let spans = kit.spans();
    assert_eq!(
        spans.named("orders").span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[tokio::test]
async fn an_xray_header_in_the_detail_is_read_and_a_malformed_one_ignored() {
    let kit = TestKit::new().function_name("orders");
    let mut event = sample("eventbridge_aws_service");
    event["detail"]["AWSTraceHeader"] = XRAY_HEADER.into();
    kit.invoke(continued, event.clone()).await.unwrap();
    assert_eq!(
        kit.spans()
            .named("orders")
            .span_context
            .trace_id()
            .to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );

    kit.clear();
    event["detail"]["AWSTraceHeader"] = "Root=1-zz;Parent=;Sampled=1".into();
    event["detail"]["traceparent"] =
        "00-00000000000000000000000000000000-0000000000000000-01".into();
    kit.invoke(continued, event).await.unwrap();
    let spans = kit.spans();
    let invocation = spans.named("orders");
    assert_eq!(invocation.parent_span_id.to_string(), "0000000000000000");
}

#[tokio::test]
async fn an_aws_service_event_names_its_source() {
    let kit = TestKit::new();
    kit.invoke(on_event, sample("eventbridge_aws_service"))
        .await
        .unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process");
    assert_eq!(
        consumer.attr("cloudevents.event_source").as_deref(),
        Some("aws.ec2")
    );
}

#[tokio::test]
async fn an_event_without_its_detail_type_fails_readably_and_is_exported() {
    let kit = TestKit::new();
    let mut event = sample("eventbridge_custom");
    event.as_object_mut().unwrap().remove("detail-type");
    assert_malformed_is_exported(&kit, on_event, &event, "detail-type", "pubsub").await;
}

#[traced_function(trigger = "schedule", cron = "cron(0 9 * * ? *)")]
async fn nightly(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "schedule")]
async fn hourly(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

#[tokio::test]
async fn a_scheduled_rule_is_a_timer_root_with_its_time_and_cron() {
    let kit = TestKit::new().function_name("nightly-report");
    let invocation = Invocation {
        xray_trace_id: Some(XRAY_HEADER.to_owned()),
        ..Invocation::default()
    };
    kit.invoke_with(nightly, sample("schedule_rule"), invocation)
        .await
        .unwrap();
    let spans = kit.spans();
    assert_eq!(spans.len(), 1, "{}", kit.tree());
    let span = spans.named("nightly-report");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.attr("faas.trigger").as_deref(), Some("timer"));
    assert_eq!(
        span.attr("faas.time").as_deref(),
        Some("2026-11-21T09:00:00Z")
    );
    assert_eq!(span.attr("faas.cron").as_deref(), Some("0 9 * * ? *"));
    assert_eq!(
        span.parent_span_id.to_string(),
        "0000000000000000",
        "a schedule is always a new root, whatever the trace header says"
    );
    assert_ne!(
        span.span_context.trace_id().to_string(),
        "5759e988bd862e3fe1be46a994272793"
    );
}

#[tokio::test]
async fn a_scheduler_notification_with_a_string_detail_is_accepted() {
    let kit = TestKit::new().function_name("hourly-sync");
    kit.invoke(hourly, sample("schedule_scheduler"))
        .await
        .unwrap();
    let spans = kit.spans();
    let span = spans.named("hourly-sync");
    assert_eq!(
        span.attr("faas.time").as_deref(),
        Some("2026-11-21T10:00:00Z")
    );
    assert_eq!(span.attr("faas.cron"), None, "no cron option, no faas.cron");
}

#[tokio::test]
async fn a_schedule_with_a_malformed_time_fails_readably_and_is_exported() {
    let kit = TestKit::new();
    let mut event = sample("schedule_rule");
    event["time"] = "tomorrow at nine".into();
    assert_malformed_is_exported(&kit, nightly, &event, "time", "timer").await;
}
