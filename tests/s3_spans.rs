//! `trigger = "s3"`: the data-source invocation span with `faas.document.*`, the per-record
//! spans of `per_record` mode and `process_record`, and malformed notifications.

mod common;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use common::{assert_malformed_is_exported, error_of, sample};
use opentelemetry::trace::SpanKind;
use otel_faas_runtime::testing::{Invocation, SpanDataExt, TestKit};
use otel_faas_runtime::trigger::process_record;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "s3")]
async fn on_upload(_event: LambdaEvent<S3Event>) -> Result<(), Error> {
    Ok(())
}

#[tokio::test]
async fn one_record_describes_its_document_on_the_invocation_span() {
    let kit = TestKit::new().function_name("thumbnails");
    kit.invoke(on_upload, sample("s3_put")).await.unwrap();
    let spans = kit.spans();
    assert_eq!(spans.len(), 1, "{}", kit.tree());
    let span = spans.named("thumbnails");
    assert_eq!(span.span_kind, SpanKind::Server);
    for (key, value) in [
        ("faas.trigger", "datasource"),
        ("faas.document.collection", "photos-eu"),
        ("faas.document.operation", "insert"),
        ("faas.document.name", "uploads/2026/my holiday photoé.jpg"),
        ("faas.document.time", "2026-11-21T08:15:42.512Z"),
    ] {
        assert_eq!(span.attr(key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(span.parent_span_id.to_string(), "0000000000000000");
}

#[tokio::test]
async fn a_mixed_batch_keeps_only_what_every_record_agrees_on() {
    let kit = TestKit::new().function_name("thumbnails");
    kit.invoke(on_upload, sample("s3_batch")).await.unwrap();
    let spans = kit.spans();
    let span = spans.named("thumbnails");
    assert_eq!(span.attr("faas.trigger").as_deref(), Some("datasource"));
    for key in [
        "faas.document.collection",
        "faas.document.operation",
        "faas.document.name",
        "faas.document.time",
    ] {
        assert_eq!(span.attr(key), None, "{key} differs across records");
    }
    assert_eq!(
        span.attr("otel_faas.document.mixed").as_deref(),
        Some(r#"["faas.document.collection","faas.document.operation"]"#),
        "what the conventions require and the records disagree on"
    );

    kit.clear();
    kit.invoke(on_upload, sample("s3_restore")).await.unwrap();
    let spans = kit.spans();
    let span = spans.named("thumbnails");
    assert_eq!(
        span.attr("faas.document.collection").as_deref(),
        Some("photos-eu"),
        "one bucket"
    );
    assert_eq!(
        span.attr("faas.document.operation"),
        None,
        "edit and delete"
    );
}

#[traced_function(trigger = "s3", per_record)]
async fn each_object(record: S3EventRecord) -> Result<(), Error> {
    match record.s3.object.key.as_deref() {
        Some(key) if key.ends_with(".mp4") => Err(format!("cannot transcode {key}").into()),
        _ => Ok(()),
    }
}

#[tokio::test]
async fn per_record_mode_traces_each_object_and_fails_the_invocation_for_a_failed_one() {
    let kit = TestKit::new().function_name("thumbnails");
    let error = kit
        .invoke(each_object, sample("s3_batch"))
        .await
        .unwrap_err();
    assert_eq!(error.error_message, "1 of 3 records failed");

    let spans = kit.spans();
    assert_eq!(spans.len(), 4, "{}", kit.tree());
    let invocation = spans.named("thumbnails");
    assert_eq!(
        invocation.attr("otel_faas.batch.failed_count").as_deref(),
        Some("1")
    );
    assert_eq!(
        error_of(invocation).as_deref(),
        Some("1 of 3 records failed")
    );

    let inserts = spans.all_named("insert photos-eu");
    assert_eq!(inserts.len(), 2);
    for span in &inserts {
        assert_eq!(span.span_kind, SpanKind::Internal);
        assert_eq!(span.parent_span_id, invocation.span_context.span_id());
    }
    let failed = inserts
        .iter()
        .find(|s| error_of(s).is_some())
        .expect("the video failed");
    assert_eq!(
        failed.attr("faas.document.name").as_deref(),
        Some("uploads/2026/holiday-video.mp4")
    );
    assert_eq!(failed.events_named("exception").len(), 1);
    let delete = spans.named("delete archive-eu");
    assert_eq!(
        delete.attr("faas.document.operation").as_deref(),
        Some("delete")
    );
    assert_eq!(
        error_of(delete),
        None,
        "S3 records are independent: all are tried"
    );
}

#[traced_function(trigger = "s3")]
async fn walks_the_objects(event: LambdaEvent<S3Event>) -> Result<(), Error> {
    for record in &event.payload.records {
        process_record(record, async { Ok::<_, Error>(()) }).await?;
    }
    Ok(())
}

#[tokio::test]
async fn process_record_gives_a_batch_handler_the_same_record_spans() {
    let kit = TestKit::new().function_name("thumbnails");
    kit.invoke(walks_the_objects, sample("s3_restore"))
        .await
        .unwrap();
    let spans = kit.spans();
    let invocation = spans.named("thumbnails");
    let edit = spans.named("edit photos-eu");
    assert_eq!(edit.parent_span_id, invocation.span_context.span_id());
    assert_eq!(
        edit.attr("faas.document.name").as_deref(),
        Some("archive/2019/wedding-album.zip")
    );
    let delete = spans.named("delete photos-eu");
    assert_eq!(delete.parent_span_id, invocation.span_context.span_id());
}

#[tokio::test]
async fn a_malformed_notification_fails_readably_and_is_still_exported() {
    let kit = TestKit::new();
    let mut event = sample("s3_put");
    event["Records"][0]["s3"]["object"]["size"] = "big".into();
    assert_malformed_is_exported(
        &kit,
        on_upload,
        &event,
        "Records[0].s3.object.size",
        "datasource",
    )
    .await;

    kit.clear();
    let payload = serde_json::to_vec(&event).unwrap();
    let truncated = &payload[..payload.len() / 2];
    kit.invoke_raw(on_upload, truncated, Invocation::default())
        .await
        .unwrap_err();
    assert!(error_of(kit.spans().named("test-function")).is_some());
}

#[tokio::test]
async fn a_time_in_the_first_second_of_the_epoch_is_still_the_documents_time() {
    // Every timestamp whose whole seconds were 0 used to be taken for a missing one.
    let kit = TestKit::new().function_name("thumbnails");
    let mut event = sample("s3_put");
    event["Records"][0]["eventTime"] = serde_json::Value::from("1970-01-01T00:00:00.250Z");
    kit.invoke(on_upload, event).await.unwrap();
    let spans = kit.spans();
    assert_eq!(
        spans
            .named("thumbnails")
            .attr("faas.document.time")
            .as_deref(),
        Some("1970-01-01T00:00:00.250Z")
    );
}
