//! `trigger = "kinesis"`: the consumer span named after the stream, links from contexts in
//! the records' data, per-record spans and partial batch failures.

mod common;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use common::{assert_malformed_is_exported, error_of, linked_traces, merged, sample};
use opentelemetry::trace::SpanKind;
use otel_faas_runtime::testing::{SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

const SEQ: [&str; 3] = [
    "49656626524283569810356587302945378126537464185403179010",
    "49656626524283569810356587302946587052357078814577885186",
    "49656626524283569810356587302947795978176693443752591362",
];

#[traced_function(trigger = "kinesis")]
async fn clicks(_event: LambdaEvent<KinesisEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "kinesis", links_from = "data")]
async fn linked_clicks(_event: LambdaEvent<KinesisEvent>) -> Result<(), Error> {
    Ok(())
}

#[tokio::test]
async fn a_batch_is_consumed_under_its_stream_and_shard() {
    let kit = TestKit::new().function_name("clickstream-consumer");
    kit.invoke(clicks, sample("kinesis_batch")).await.unwrap();
    let spans = kit.spans();
    assert_eq!(spans.len(), 2, "{}", kit.tree());
    let invocation = spans.named("clickstream-consumer");
    assert_eq!(invocation.attr("faas.trigger").as_deref(), Some("pubsub"));
    let consumer = spans.named("process clickstream");
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(consumer.parent_span_id, invocation.span_context.span_id());
    for (key, value) in [
        ("faas.trigger", "pubsub"),
        ("messaging.system", "aws.kinesis"),
        ("messaging.operation.type", "process"),
        ("messaging.destination.name", "clickstream"),
        ("aws.kinesis.stream_name", "clickstream"),
        ("messaging.destination.partition.id", "shardId-000000000000"),
        ("messaging.batch.message_count", "3"),
    ] {
        assert_eq!(consumer.attr(key).as_deref(), Some(value), "{key}");
    }
    assert!(consumer.links.is_empty(), "data is only read when asked");
}

#[tokio::test]
async fn links_from_data_links_to_a_traceparent_in_json_data() {
    let kit = TestKit::new();
    kit.invoke(linked_clicks, sample("kinesis_batch"))
        .await
        .unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process clickstream");
    assert_eq!(
        linked_traces(consumer),
        ["6bf92f3577b34da6a3ce929d0e0e4736"],
        "one of three records carries a context; plain text and JSON without one give none"
    );
    assert_eq!(consumer.links[0].attributes[0].value.to_string(), SEQ[0]);
}

#[tokio::test]
async fn records_from_two_streams_have_no_destination() {
    let kit = TestKit::new();
    kit.invoke(clicks, merged(&["kinesis_batch", "kinesis_single"]))
        .await
        .unwrap();
    let spans = kit.spans();
    let consumer = spans.named("process");
    assert_eq!(consumer.attr("messaging.destination.name"), None);
    assert_eq!(consumer.attr("messaging.destination.partition.id"), None);
    assert_eq!(
        consumer.attr("messaging.batch.message_count").as_deref(),
        Some("4")
    );
}

#[traced_function(trigger = "kinesis", per_record, links_from = "data")]
async fn each_click(record: KinesisEventRecord) -> Result<(), Error> {
    match std::str::from_utf8(&record.kinesis.data) {
        Ok("hello") => Err("not a click".into()),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn per_record_mode_traces_each_record_and_reports_from_the_first_failure() {
    let kit = TestKit::new().function_name("clickstream-consumer");
    let response: KinesisEventResponse = kit
        .invoke(each_click, sample("kinesis_batch"))
        .await
        .unwrap();
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(reported, [SEQ[1], SEQ[2]]);

    let spans = kit.spans();
    let batch = *spans
        .all_named("process clickstream")
        .iter()
        .find(|s| s.attr("messaging.batch.message_count").is_some())
        .expect("the batch span");
    assert_eq!(
        batch.attr("otel_faas.batch.failed_count").as_deref(),
        Some("2")
    );
    assert_eq!(error_of(batch).as_deref(), Some("2 of 3 records failed"));
    let records: Vec<_> = spans
        .children_of(batch)
        .into_iter()
        .map(|s| (s.attr("messaging.message.id").unwrap(), error_of(s)))
        .collect();
    assert_eq!(
        records,
        [
            (SEQ[0].to_owned(), None),
            (SEQ[1].to_owned(), Some("not a click".to_owned()))
        ]
    );
    let first = spans
        .children_of(batch)
        .into_iter()
        .find(|s| s.attr("messaging.message.id").as_deref() == Some(SEQ[0]))
        .unwrap();
    assert_eq!(first.span_kind, SpanKind::Consumer);
    assert_eq!(
        first.attr("messaging.destination.partition.id").as_deref(),
        Some("shardId-000000000000")
    );
    assert_eq!(linked_traces(first), ["6bf92f3577b34da6a3ce929d0e0e4736"]);
}

#[tokio::test]
async fn data_that_is_not_base64_fails_readably_and_is_still_exported() {
    let kit = TestKit::new();
    let mut event = sample("kinesis_single");
    event["Records"][0]["kinesis"]["data"] = "%%% not base64 %%%".into();
    assert_malformed_is_exported(
        &kit,
        each_click,
        &event,
        "Records[0].kinesis.data",
        "pubsub",
    )
    .await;
}
