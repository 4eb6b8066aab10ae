//! `examples/pipeline.rs` end to end in one process: its HTTP function, invoked with an API
//! Gateway event, sends through the real AWS SDK (with `TraceInterceptor`) to the local SQS
//! double; the double delivers the message as Lambda does to the example's consumer, which
//! reserves the stock in the local DynamoDB double. The trace must cross: AWSTraceHeader
//! names the PRODUCER span, the consumer links to it, the PRODUCER is a child of the HTTP
//! SERVER span, the caller's attribute arrives unchanged, and the consumer's DynamoDB calls
//! are CLIENT spans under the message's span.
//!
//! `cargo run --example pipeline` runs the same functions as processes on the local runner.

use aws_lambda_events::event::sqs::SqsEvent;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::SpanData;
use otel_faas_local::dynamodb::DynamoDbTables;
use otel_faas_local::sqs::SqsQueues;
use otel_faas_runtime::testing::{SpanDataExt, TestKit};
use serde_json::Value;

#[path = "../examples/pipeline.rs"]
#[allow(dead_code)]
mod example;

fn sample_request() -> Value {
    serde_json::from_str(include_str!(
        "../examples/events/apigw_http_post_order.json"
    ))
    .expect("the sample request")
}

/// `Root=1-{8}-{24};Parent={16};Sampled=1` → (trace id, parent span id).
fn xray_ids(header: &str) -> (String, String) {
    let field = |name: &str| {
        header
            .split(';')
            .find_map(|f| f.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {header}"))
            .to_owned()
    };
    let root = field("Root=1-");
    (root.replace('-', ""), field("Parent="))
}

fn links_to(span: &SpanData, producer: &SpanData) -> bool {
    span.links.iter().any(|link| {
        link.span_context.trace_id() == producer.span_context.trace_id()
            && link.span_context.span_id() == producer.span_context.span_id()
    })
}

#[tokio::test]
async fn the_consumer_links_to_the_producer_span_of_the_http_request() {
    let sqs = SqsQueues::start("eu-west-1", "123456789012")
        .await
        .expect("the SQS double");
    let url = sqs.create_queue("orders");
    let dynamodb = DynamoDbTables::start().await.expect("the DynamoDB double");
    dynamodb.create_table("reservations", "order");
    // SAFETY: set before anything else in this test binary (one test) reads the environment.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.endpoint());
        std::env::set_var("RESERVATIONS_TABLE", "reservations");
        std::env::set_var("AWS_ENDPOINT_URL_SQS", sqs.endpoint());
        std::env::set_var("ORDERS_QUEUE_URL", &url);
        std::env::set_var("AWS_REGION", "eu-west-1");
    }

    let kit = TestKit::new();
    let response = kit
        .invoke(example::api, sample_request())
        .await
        .expect("the API answers");
    assert_eq!(response.status(), 202);

    let spans = kit.spans();
    let server = spans.named("POST /orders");
    let producer = spans.named("send orders");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(producer.span_kind, SpanKind::Producer);
    // The test kit keeps the SDK's own `tracing` spans (`SQS.SendMessage`, `try_op`), which
    // the function's default filter leaves out: here the PRODUCER is a descendant.
    let mut ancestor = spans.parent_of(producer);
    while let Some(span) = ancestor.filter(|s| s.span_context != server.span_context) {
        ancestor = spans.parent_of(span);
    }
    assert!(
        ancestor.is_some(),
        "the PRODUCER span is under the HTTP SERVER span:\n{}",
        kit.tree()
    );

    let sent = sqs.sent("orders");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        producer.attr("messaging.message.id").as_deref(),
        Some(sent[0].message_id.as_str())
    );

    let event = sqs.receive("orders", 10).expect("the message");
    let delivered: SqsEvent = serde_json::from_value(event.clone()).expect("an SqsEvent");
    let message = &delivered.records[0];
    let header = message
        .attributes
        .get("AWSTraceHeader")
        .expect("AWSTraceHeader");
    let (trace_id, parent) = xray_ids(header);
    assert_eq!(trace_id, producer.span_context.trace_id().to_string());
    assert_eq!(parent, producer.span_context.span_id().to_string());
    let tenant = &message.message_attributes["tenant"];
    assert_eq!(tenant.string_value.as_deref(), Some("acme"));
    assert_eq!(tenant.data_type.as_deref(), Some("String"));
    let traceparent = message.message_attributes["traceparent"]
        .string_value
        .as_deref()
        .expect("a traceparent attribute");
    assert!(
        traceparent.contains(&format!(
            "{}-{}",
            producer.span_context.trace_id(),
            producer.span_context.span_id()
        )),
        "{traceparent}"
    );
    assert_eq!(
        message.body.as_deref(),
        Some(r#"{"order":1001,"sku":"book","quantity":2}"#)
    );

    kit.clear();
    kit.invoke(example::worker, event)
        .await
        .expect("the worker processes the batch");
    let spans = kit.spans();
    let consumers = spans.all_named("process orders");
    assert_eq!(consumers.len(), 2, "{:?}", spans.names());
    for consumer in &consumers {
        assert_eq!(consumer.span_kind, SpanKind::Consumer);
        assert!(
            links_to(consumer, producer),
            "{} links to the PRODUCER span: {:?}",
            consumer.name,
            consumer.links.links
        );
        assert_ne!(
            consumer.span_context.trace_id(),
            producer.span_context.trace_id(),
            "a consumer starts a trace of its own"
        );
    }
    // The reservation: DynamoDB calls under the message's span, traced by the interceptor.
    let message_span = consumers
        .iter()
        .find(|c| c.attr("messaging.message.id").as_deref() == Some(sent[0].message_id.as_str()))
        .expect("the per-message span");
    for (name, operation) in [
        ("DynamoDB.GetItem", "GetItem"),
        ("DynamoDB.PutItem", "PutItem"),
    ] {
        let call = spans
            .all_named(name)
            .into_iter()
            .find(|s| s.span_kind == SpanKind::Client && s.attr("rpc.method").is_some())
            .unwrap_or_else(|| panic!("a {name} CLIENT span:\n{}", kit.tree()));
        assert_eq!(call.attr("rpc.method").as_deref(), Some(operation));
        assert_eq!(
            call.attr("aws.dynamodb.table_names").as_deref(),
            Some("[\"reservations\"]")
        );
        let mut ancestor = spans.parent_of(call);
        while let Some(span) = ancestor.filter(|s| s.span_context != message_span.span_context) {
            ancestor = spans.parent_of(span);
        }
        assert!(
            ancestor.is_some(),
            "{name} is under the message's span:\n{}",
            kit.tree()
        );
    }
    let reserved = dynamodb.items("reservations");
    assert_eq!(reserved.len(), 1);
    assert_eq!(reserved[0]["order"]["N"], "1001");
    assert_eq!(reserved[0]["tenant"]["S"], "acme");
}
