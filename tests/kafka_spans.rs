//! `trigger = "kafka"`: the consumer span named after the topic, its partition, offset and
//! key, links from the records' `traceparent` headers (never a failure when a header is
//! malformed), per-record spans, and the failed invocation of `per_record` mode.

mod common;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use common::{assert_malformed_is_exported, error_of, linked_traces, sample};
use opentelemetry::trace::SpanKind;
use otel_faas_runtime::testing::{SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde_json::{Value, json};

/// The trace of the `traceparent` header of `orders-0` offset 15 in `kafka_batch`.
const ORDERS_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The trace of the `traceparent` header of the record in `kafka_self_managed`.
const PAYMENTS_TRACE: &str = "5c1e7a2b9d3f4e6a8b0c2d4e6f8a0b1c";

#[traced_function(trigger = "kafka")]
async fn orders(_event: LambdaEvent<KafkaEvent>) -> Result<(), Error> {
    Ok(())
}

/// A header value as Lambda sends it: the bytes as Java's signed bytes.
fn header_bytes(value: &[u8]) -> Value {
    json!(value.iter().map(|b| *b as i8).collect::<Vec<_>>())
}

/// `kafka_self_managed` with its record's headers replaced.
fn with_headers(headers: Value) -> Value {
    let mut event = sample("kafka_self_managed");
    event["records"]["payments-3"][0]["headers"] = headers;
    event
}

#[tokio::test]
async fn a_batch_is_consumed_under_its_topic() {
    let kit = TestKit::new().function_name("orders-consumer");
    kit.invoke(orders, sample("kafka_batch")).await.unwrap();
    let spans = kit.spans();
    assert_eq!(spans.len(), 2, "{}", kit.tree());
    let invocation = spans.named("orders-consumer");
    assert_eq!(invocation.span_kind, SpanKind::Server);
    assert_eq!(invocation.attr("faas.trigger").as_deref(), Some("pubsub"));
    let consumer = spans.named("process orders");
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(consumer.parent_span_id, invocation.span_context.span_id());
    for (key, value) in [
        ("faas.trigger", "pubsub"),
        ("messaging.system", "kafka"),
        ("messaging.operation.type", "process"),
        ("messaging.operation.name", "process"),
        ("messaging.destination.name", "orders"),
        ("messaging.batch.message_count", "3"),
    ] {
        assert_eq!(consumer.attr(key).as_deref(), Some(value), "{key}");
    }
    for absent in [
        "messaging.destination.partition.id",
        "messaging.kafka.offset",
        "messaging.kafka.message.key",
    ] {
        assert_eq!(consumer.attr(absent), None, "two partitions: {absent}");
    }
}

#[tokio::test]
async fn each_record_with_a_traceparent_header_is_linked() {
    let kit = TestKit::new();
    kit.invoke(orders, sample("kafka_batch")).await.unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process orders");
    assert_eq!(
        linked_traces(consumer),
        [ORDERS_TRACE],
        "one record carries a context; one carries none, one a malformed traceparent"
    );
    let link = &consumer.links[0];
    assert_eq!(link.span_context.span_id().to_string(), "00f067aa0ba902b7");
    assert!(link.span_context.is_remote());
    assert_eq!(
        link.span_context.trace_state().get("vendor"),
        Some("t61rcWkgMzE"),
        "the tracestate header comes with it"
    );
    let attributes: Vec<(String, String)> = link
        .attributes
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect();
    assert_eq!(
        attributes,
        [
            ("messaging.destination.partition.id".into(), "0".into()),
            ("messaging.kafka.offset".into(), "15".into())
        ]
    );
}

#[tokio::test]
async fn one_record_puts_its_partition_offset_and_key_on_the_batch_span() {
    let kit = TestKit::new().function_name("payments");
    kit.invoke(orders, sample("kafka_self_managed"))
        .await
        .unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process payments");
    for (key, value) in [
        ("messaging.system", "kafka"),
        ("messaging.destination.name", "payments"),
        ("messaging.destination.partition.id", "3"),
        ("messaging.kafka.offset", "90832516"),
        ("messaging.kafka.message.key", "payment-é7"),
    ] {
        assert_eq!(consumer.attr(key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(consumer.attr("messaging.batch.message_count"), None);
    assert_eq!(consumer.attr("messaging.kafka.message.tombstone"), None);
    assert_eq!(linked_traces(consumer), [PAYMENTS_TRACE]);
}

#[tokio::test]
async fn records_of_two_topics_have_no_destination() {
    let mut event = sample("kafka_batch");
    let payments = sample("kafka_self_managed")["records"]["payments-3"].clone();
    event["records"]["payments-3"] = payments;
    let kit = TestKit::new();
    kit.invoke(orders, event).await.unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process");
    assert_eq!(consumer.attr("messaging.destination.name"), None);
    assert_eq!(consumer.attr("messaging.destination.partition.id"), None);
    assert_eq!(
        consumer.attr("messaging.batch.message_count").as_deref(),
        Some("4")
    );
    assert_eq!(
        linked_traces(consumer),
        [ORDERS_TRACE, PAYMENTS_TRACE],
        "links in topic, partition and offset order"
    );
}

#[tokio::test]
async fn one_partition_of_one_topic_is_the_batch_s_partition() {
    let mut event = sample("kafka_batch");
    event["records"].as_object_mut().unwrap().remove("orders-1");
    let kit = TestKit::new();
    kit.invoke(orders, event).await.unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process orders");
    assert_eq!(
        consumer
            .attr("messaging.destination.partition.id")
            .as_deref(),
        Some("0")
    );
    assert_eq!(consumer.attr("messaging.kafka.offset"), None, "two records");
}

#[tokio::test]
async fn a_malformed_traceparent_header_gives_no_link_and_fails_nothing() {
    let valid = b"00-5c1e7a2b9d3f4e6a8b0c2d4e6f8a0b1c-b7ad6b7169203331-01";
    let cases = [
        ("not UTF-8", json!([{ "traceparent": [-1, -2, -3] }])),
        ("empty", json!([{ "traceparent": [] }])),
        (
            "all-zero trace id",
            json!([{ "traceparent": header_bytes(b"00-00000000000000000000000000000000-b7ad6b7169203331-01") }]),
        ),
        (
            "short ids",
            json!([{ "traceparent": header_bytes(b"00-1-2-01") }]),
        ),
        (
            "too long",
            json!([{ "traceparent": header_bytes(&[b'0'; 4096]) }]),
        ),
        (
            "upper-case key: Kafka header keys are case-sensitive",
            json!([{ "Traceparent": header_bytes(valid) }]),
        ),
        (
            "a valid tracestate alone",
            json!([{ "tracestate": header_bytes(b"vendor=x") }]),
        ),
        (
            "a later malformed value replaces an earlier valid one",
            json!([{ "traceparent": header_bytes(valid) }, { "traceparent": [0] }]),
        ),
    ];
    for (case, headers) in cases {
        let kit = TestKit::new().function_name("payments");
        let result = kit.invoke(orders, with_headers(headers)).await;
        assert!(result.is_ok(), "{case}: {result:?}");
        let spans = kit.spans();
        let consumer = spans.named("process payments");
        assert!(consumer.links.is_empty(), "{case}: {:?}", consumer.links);
        assert_eq!(error_of(consumer), None, "{case}");
    }
}

#[tokio::test]
async fn a_record_without_a_value_is_a_tombstone_and_a_key_that_is_not_utf8_is_left_out() {
    let mut event = sample("kafka_self_managed");
    let record = &mut event["records"]["payments-3"][0];
    record["value"] = Value::Null;
    record["key"] = "/w==".into();
    let kit = TestKit::new().function_name("payments");
    kit.invoke(orders, event).await.unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process payments");
    assert_eq!(
        consumer
            .attr("messaging.kafka.message.tombstone")
            .as_deref(),
        Some("true")
    );
    assert_eq!(consumer.attr("messaging.kafka.message.key"), None);
}

#[traced_function(trigger = "kafka", per_record)]
async fn each_order(record: KafkaRecord) -> Result<(), Error> {
    match record.value.as_deref() {
        Some("aGVsbG8=") => Err("an order is a JSON object".into()),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn per_record_mode_traces_each_record_under_the_batch_span() {
    let mut event = sample("kafka_batch");
    event["records"]["orders-1"][0]["value"] = "e30=".into();
    let kit = TestKit::new().function_name("orders-consumer");
    kit.invoke(each_order, event).await.unwrap();
    let spans = kit.spans();
    assert_eq!(spans.len(), 5, "{}", kit.tree());
    let batch = *spans
        .all_named("process orders")
        .iter()
        .find(|s| s.attr("messaging.batch.message_count").is_some())
        .expect("the batch span");
    assert_eq!(error_of(batch), None);
    let records: Vec<_> = spans
        .children_of(batch)
        .into_iter()
        .map(|s| {
            assert_eq!(s.span_kind, SpanKind::Consumer);
            assert_eq!(s.name, "process orders");
            assert_eq!(s.attr("messaging.system").as_deref(), Some("kafka"));
            (
                s.attr("messaging.destination.partition.id").unwrap(),
                s.attr("messaging.kafka.offset").unwrap(),
                s.attr("messaging.kafka.message.key"),
                linked_traces(s),
            )
        })
        .collect();
    let key = |k: &str| Some(k.to_owned());
    assert_eq!(
        records,
        [
            (
                "0".into(),
                "15".into(),
                key("order-42"),
                vec![ORDERS_TRACE.to_owned()]
            ),
            ("0".into(), "16".into(), key("order-43"), vec![]),
            ("1".into(), "7".into(), key("order-44"), vec![]),
        ],
        "topic, partition, offset order, whatever the order of the JSON object"
    );
}

#[tokio::test]
async fn per_record_mode_fails_the_invocation_from_the_first_failed_record() {
    let mut event = sample("kafka_batch");
    // The first record of the batch fails: the two after it are not processed.
    event["records"]["orders-0"][0]["value"] = "aGVsbG8=".into();
    event["records"]["orders-1"][0]["value"] = "e30=".into();
    let kit = TestKit::new().function_name("orders-consumer");
    let error = kit
        .invoke(each_order, event)
        .await
        .expect_err("Kafka has no partial batch response here: the invocation fails");
    assert_eq!(error.error_message, "3 of 3 records failed");

    let spans = kit.spans();
    let invocation = spans.named("orders-consumer");
    assert!(error_of(invocation).is_some(), "the invocation failed");
    let batch = *spans
        .all_named("process orders")
        .iter()
        .find(|s| s.attr("messaging.batch.message_count").is_some())
        .expect("the batch span");
    assert_eq!(
        batch.attr("otel_faas.batch.failed_count").as_deref(),
        Some("3")
    );
    assert_eq!(
        batch.attr("otel_faas.batch.failed_ids"),
        None,
        "a Kafka record has no id to list"
    );
    assert_eq!(error_of(batch).as_deref(), Some("3 of 3 records failed"));
    let records = spans.children_of(batch);
    assert_eq!(records.len(), 1, "{}", kit.tree());
    assert_eq!(
        records[0].attr("messaging.kafka.offset").as_deref(),
        Some("15")
    );
    assert_eq!(
        error_of(records[0]).as_deref(),
        Some("an order is a JSON object")
    );
}

#[tokio::test]
async fn an_out_of_range_header_byte_fails_readably_and_is_still_exported() {
    // Lambda writes header bytes as Java's signed bytes; a number beyond them is not an event
    // Lambda sends, and fails the invocation as any malformed event does.
    let kit = TestKit::new();
    let event = with_headers(json!([{ "traceparent": [300] }]));
    assert_malformed_is_exported(&kit, each_order, &event, "records", "pubsub").await;
}
