//! `trigger = "dynamodb"`: the data-source invocation span, per-record spans, and partial
//! batch failures reported by sequence number.

mod common;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use common::{assert_malformed_is_exported, error_of, merged, sample};
use opentelemetry::trace::SpanKind;
use otel_faas_runtime::testing::{SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "dynamodb")]
async fn on_change(_event: LambdaEvent<Event>) -> Result<(), Error> {
    Ok(())
}

#[tokio::test]
async fn a_batch_names_its_table_and_a_single_record_its_operation_and_time() {
    let kit = TestKit::new().function_name("orders-projector");
    kit.invoke(on_change, sample("dynamodb_batch"))
        .await
        .unwrap();
    let spans = kit.spans();
    assert_eq!(spans.len(), 1, "{}", kit.tree());
    let span = spans.named("orders-projector");
    assert_eq!(span.span_kind, SpanKind::Server);
    assert_eq!(span.attr("faas.trigger").as_deref(), Some("datasource"));
    assert_eq!(
        span.attr("faas.document.collection").as_deref(),
        Some("Orders")
    );
    assert_eq!(
        span.attr("faas.document.operation"),
        None,
        "insert, edit and delete"
    );
    assert_eq!(
        span.attr("faas.document.name"),
        None,
        "item keys are never exported"
    );

    kit.clear();
    kit.invoke(on_change, sample("dynamodb_keys_only"))
        .await
        .unwrap();
    let spans = kit.spans();
    let span = spans.named("orders-projector");
    assert_eq!(
        span.attr("faas.document.collection").as_deref(),
        Some("Customers")
    );
    assert_eq!(
        span.attr("faas.document.operation").as_deref(),
        Some("insert")
    );
    assert_eq!(
        span.attr("faas.document.time").as_deref(),
        Some("2026-11-21T10:18:25Z")
    );

    kit.clear();
    kit.invoke(on_change, merged(&["dynamodb_batch", "dynamodb_keys_only"]))
        .await
        .unwrap();
    assert_eq!(
        kit.spans()
            .named("orders-projector")
            .attr("faas.document.collection"),
        None
    );
}

#[traced_function(trigger = "dynamodb", per_record)]
async fn project(record: EventRecord) -> Result<(), Error> {
    match record.event_name.as_str() {
        "MODIFY" => Err("the projection is out of date".into()),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn per_record_mode_stops_at_the_first_failure_and_reports_it_by_sequence_number() {
    let kit = TestKit::new().function_name("orders-projector");
    let response: DynamoDbEventResponse =
        kit.invoke(project, sample("dynamodb_batch")).await.unwrap();
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone().unwrap())
        .collect();
    assert_eq!(
        reported,
        [
            "4421584600000000017450439092",
            "4421584700000000017450439093"
        ],
        "the failed record and the one after it, so the shard is retried in order"
    );

    let spans = kit.spans();
    assert_eq!(spans.names().len(), 3, "{}", kit.tree());
    let invocation = spans.named("orders-projector");
    assert_eq!(
        invocation.attr("otel_faas.batch.failed_count").as_deref(),
        Some("2")
    );
    assert_eq!(
        error_of(invocation).as_deref(),
        Some("2 of 3 records failed")
    );

    let insert = spans.named("insert Orders");
    assert_eq!(insert.span_kind, SpanKind::Internal);
    assert_eq!(insert.parent_span_id, invocation.span_context.span_id());
    assert_eq!(
        insert.attr("faas.document.time").as_deref(),
        Some("2026-11-21T10:15:42Z")
    );
    assert_eq!(error_of(insert), None);
    let edit = spans.named("edit Orders");
    assert_eq!(
        edit.attr("faas.document.operation").as_deref(),
        Some("edit")
    );
    assert_eq!(
        error_of(edit).as_deref(),
        Some("the projection is out of date")
    );
    assert!(
        spans.all_named("delete Orders").is_empty(),
        "not processed after a failure"
    );
}

#[traced_function(trigger = "dynamodb")]
async fn reports_itself(event: LambdaEvent<Event>) -> Result<DynamoDbEventResponse, Error> {
    let mut response = DynamoDbEventResponse::default();
    if let Some(last) = event.payload.records.last() {
        let mut failure = aws_lambda_events::event::streams::DynamoDbBatchItemFailure::default();
        failure.item_identifier = last.change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    Ok(response)
}

#[tokio::test]
async fn a_batch_handlers_own_failure_response_is_recorded() {
    let kit = TestKit::new().function_name("orders-projector");
    kit.invoke(reports_itself, sample("dynamodb_batch"))
        .await
        .unwrap();
    let spans = kit.spans();
    let span = spans.named("orders-projector");
    assert_eq!(
        span.attr("otel_faas.batch.failed_ids").as_deref(),
        Some("[\"4421584700000000017450439093\"]")
    );
    assert_eq!(error_of(span).as_deref(), Some("1 of 3 records failed"));
}

#[tokio::test]
async fn a_malformed_record_fails_readably_and_is_still_exported() {
    let kit = TestKit::new();
    let mut event = sample("dynamodb_batch");
    event["Records"][1]["dynamodb"]["NewImage"]["status"] = serde_json::json!({ "Q": "?" });
    assert_malformed_is_exported(&kit, project, &event, "Records[1]", "datasource").await;
}
