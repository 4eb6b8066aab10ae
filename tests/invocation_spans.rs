//! What every invocation span carries whatever the trigger, the `other` trigger, the
//! configuration that shapes spans (sampling, propagators), and events that never reach
//! the handler.

use std::collections::HashMap;

use aws_lambda_events::event::sqs::SqsEvent;
use opentelemetry::trace::{SpanKind, Status};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::testing::{Invocation, SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde::Deserialize;
use serde_json::{Value, json};

fn kit_with(vars: &[(&str, &str)]) -> TestKit {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TestKit::with_config(Config::from_lookup(|key| vars.get(key).cloned()))
}

#[derive(Deserialize)]
struct Recalculate {
    customer: String,
}

#[traced_function(trigger = "other")]
async fn recalculate(event: LambdaEvent<Recalculate>) -> Result<Value, Error> {
    Ok(json!({ "customer": event.payload.customer, "points": 120 }))
}

#[tokio::test]
async fn a_direct_invocation_is_a_server_span_with_the_invocation_attributes() {
    let kit = TestKit::new().function_name("loyalty");
    let invocation = Invocation {
        request_id: Some("8f2e5a51-9c0e-4d4f-a6b1-2f5d0a0c9e11".into()),
        invoked_function_arn: Some(
            "arn:aws:lambda:eu-west-1:210987654321:function:loyalty:live".into(),
        ),
        ..Invocation::default()
    };
    let output = kit
        .invoke_with(recalculate, json!({ "customer": "c-4711" }), invocation)
        .await
        .unwrap();
    assert_eq!(output["points"], 120);

    let spans = kit.spans();
    let span = spans.named("loyalty");
    assert_eq!(span.span_kind, SpanKind::Server);
    for (key, value) in [
        ("faas.trigger", "other"),
        ("faas.invocation_id", "8f2e5a51-9c0e-4d4f-a6b1-2f5d0a0c9e11"),
        ("faas.coldstart", "true"),
        ("cloud.account.id", "210987654321"),
        (
            "aws.lambda.invoked_arn",
            "arn:aws:lambda:eu-west-1:210987654321:function:loyalty:live",
        ),
        // the alias `live` is replaced by the version the runtime reports
        (
            "cloud.resource_id",
            "arn:aws:lambda:eu-west-1:210987654321:function:loyalty:$LATEST",
        ),
    ] {
        assert_eq!(span.attr(key).as_deref(), Some(value), "{key}");
    }
    let resource: HashMap<String, String> = span_resource(&kit).into_iter().collect();
    assert_eq!(
        resource.get("service.name").map(String::as_str),
        Some("loyalty")
    );
    assert_eq!(
        resource.get("cloud.platform").map(String::as_str),
        Some("aws_lambda")
    );
}

fn span_resource(kit: &TestKit) -> Vec<(String, String)> {
    kit.telemetry()
        .resource()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An invocation whose caller passed `traceparent` in the client context.
fn from_caller(traceparent: &str) -> Invocation {
    Invocation {
        client_context: Some(HashMap::from([(
            "traceparent".to_owned(),
            traceparent.to_owned(),
        )])),
        ..Invocation::default()
    }
}

/// An invocation whose Lambda runtime trace header (`Lambda-Runtime-Trace-Id`) is `header`.
fn with_runtime_trace_header(header: &str) -> Invocation {
    Invocation {
        xray_trace_id: Some(header.to_owned()),
        ..Invocation::default()
    }
}

/// Invokes `recalculate` as `invocation` says; returns the invocation span's trace id and
/// parent span id.
async fn trace_and_parent(kit: &TestKit, invocation: Invocation) -> (String, String) {
    kit.invoke_with(recalculate, json!({ "customer": "c" }), invocation)
        .await
        .unwrap();
    let span = kit.spans().named("test-function").clone();
    (
        span.span_context.trace_id().to_string(),
        span.parent_span_id.to_string(),
    )
}

const RUNTIME_TRACE_HEADER: &str =
    "Root=1-6712c2a1-5e3f8b0d4a9c7e2f1b6d3a8c;Parent=53995c3f42cd8ad8;Sampled=1";

#[tokio::test]
async fn the_caller_can_pass_its_trace_in_the_client_context() {
    let kit = TestKit::new();
    let (trace_id, parent) = trace_and_parent(
        &kit,
        from_caller("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    )
    .await;
    assert_eq!(trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(parent, "b7ad6b7169203331");
}

#[tokio::test]
async fn provisioned_concurrency_is_never_a_cold_start() {
    let kit = kit_with(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")]);
    kit.invoke(recalculate, json!({ "customer": "c" }))
        .await
        .unwrap();
    assert_eq!(
        kit.spans()
            .named("test-function")
            .attr("faas.coldstart")
            .as_deref(),
        Some("false")
    );
}

#[tokio::test]
async fn always_off_records_nothing_and_the_handler_still_runs() {
    let kit = kit_with(&[("OTEL_TRACES_SAMPLER", "always_off")]);
    let output = kit
        .invoke(recalculate, json!({ "customer": "c" }))
        .await
        .unwrap();
    assert_eq!(output["points"], 120);
    assert!(kit.spans().is_empty());
}

#[tokio::test]
async fn parent_based_sampling_follows_the_callers_decision() {
    let kit = kit_with(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
    ]);
    let sampled = from_caller("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let not_sampled = from_caller("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
    kit.invoke_with(recalculate, json!({ "customer": "sampled" }), sampled)
        .await
        .unwrap();
    kit.invoke_with(
        recalculate,
        json!({ "customer": "not sampled" }),
        not_sampled,
    )
    .await
    .unwrap();
    kit.invoke(recalculate, json!({ "customer": "new trace at ratio 0" }))
        .await
        .unwrap();
    assert_eq!(
        kit.spans().len(),
        1,
        "only the sampled caller's trace is recorded: {}",
        kit.tree()
    );
}

#[tokio::test]
async fn xray_lambda_takes_the_runtime_trace_header_as_parent() {
    let kit = kit_with(&[("OTEL_PROPAGATORS", "tracecontext,xray-lambda")]);
    let (trace_id, parent) =
        trace_and_parent(&kit, with_runtime_trace_header(RUNTIME_TRACE_HEADER)).await;
    assert_eq!(trace_id, "6712c2a15e3f8b0d4a9c7e2f1b6d3a8c");
    assert_eq!(parent, "53995c3f42cd8ad8");
}

#[tokio::test]
async fn without_xray_lambda_the_runtime_trace_header_is_ignored() {
    let kit = TestKit::new();
    let (trace_id, _) =
        trace_and_parent(&kit, with_runtime_trace_header(RUNTIME_TRACE_HEADER)).await;
    assert_ne!(trace_id, "6712c2a15e3f8b0d4a9c7e2f1b6d3a8c");
}

#[traced_function(trigger = "sqs")]
async fn consume(_event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    Ok(())
}

#[tokio::test]
async fn an_event_that_is_not_json_fails_readably_and_its_span_is_still_exported() {
    let kit = TestKit::new();
    let error = kit
        .invoke_raw(
            consume,
            b"{\"Records\": [ {\"messageId\": ",
            Invocation::default(),
        )
        .await
        .expect_err("the event cannot be read");
    assert_eq!(
        error.error_type,
        "lambda_runtime::deserializer::DeserializeError"
    );
    assert!(
        error
            .error_message
            .starts_with("failed to deserialize the incoming data"),
        "{}",
        error.error_message
    );

    let spans = kit.spans();
    let span = spans.named("test-function");
    assert!(
        matches!(&span.status, Status::Error { description } if description.contains("EOF while parsing"))
    );
    assert_eq!(
        span.attr("error.type").as_deref(),
        Some("lambda_runtime::deserializer::DeserializeError")
    );
    assert_eq!(
        span.attr("faas.trigger").as_deref(),
        Some("pubsub"),
        "an SQS handler's event, whatever arrived"
    );
    assert!(span.attr("faas.invocation_id").is_some());
    assert_eq!(span.events_named("exception").len(), 1);
}

#[tokio::test]
async fn an_event_of_the_wrong_shape_names_the_field_and_its_trigger_but_never_its_value() {
    let kit = TestKit::new();
    let wrong = json!({ "Records": [ {
        "messageId": "m-1",
        "eventSource": "aws:sqs",
        "messageAttributes": "S3CR3T-api-key"
    } ] });
    let error = kit
        .invoke(consume, wrong)
        .await
        .expect_err("messageAttributes must be a map");
    assert!(
        error
            .error_message
            .contains("[Records[0].messageAttributes] invalid type: string, expected a map"),
        "the field path and the expected type: {}",
        error.error_message
    );
    let spans = kit.spans();
    let span = spans.named("test-function");
    // The event's value never leaves: not in the status, the exception event or the log.
    let Status::Error { description } = &span.status else {
        panic!("{:?}", span.status)
    };
    assert_eq!(description.as_ref(), error.error_message);
    for event in span.events_named("exception") {
        for kv in &event.attributes {
            assert!(!kv.value.as_str().contains("S3CR3T"), "{kv:?}");
        }
    }
    assert!(!error.error_message.contains("S3CR3T"));
    assert_eq!(
        span.attr("faas.trigger").as_deref(),
        Some("pubsub"),
        "read from the payload's eventSource"
    );

    kit.clear();
    kit.invoke(consume, json!({ "Records": [] }))
        .await
        .expect("the next invocation is served");
    assert_eq!(kit.spans().len(), 2);
}

#[traced_function(trigger = "sqs")]
async fn overruns(_event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    tracing::info_span!("still working")
        .in_scope(|| std::thread::sleep(std::time::Duration::from_millis(20)));
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    Ok(())
}

#[tokio::test]
async fn a_handler_still_running_at_the_deadline_margin_is_recorded_as_a_timeout() {
    let kit = TestKit::new().function_name("slow");
    let invocation = Invocation {
        timeout: Some(std::time::Duration::from_millis(250)),
        ..Invocation::default()
    };
    let event = json!({ "Records": [] });
    kit.invoke_with(overruns, event, invocation)
        .await
        .expect("the handler itself ends well, later");
    let spans = kit.spans();
    let invocation = spans.named("slow");
    assert_eq!(invocation.attr("error.type").as_deref(), Some("timeout"));
    let duration = invocation
        .end_time
        .duration_since(invocation.start_time)
        .unwrap();
    assert!(
        duration < std::time::Duration::from_millis(250),
        "ended at the margin (100 ms before the 250 ms deadline), not when the handler ended: {duration:?}"
    );
    let batch = spans.named("process");
    assert_eq!(batch.attr("error.type").as_deref(), Some("timeout"));
    assert_eq!(
        batch.events_named("exception").len(),
        1,
        "on the innermost span only"
    );
    assert_eq!(invocation.events_named("exception").len(), 0);
    assert!(
        spans.0.iter().any(|s| s.name == "still working"),
        "the spans finished before the timeout are exported"
    );
}

mod malformed {
    use super::*;
    use aws_lambda_events::event::{
        dynamodb, eventbridge::EventBridgeEvent, kinesis::KinesisEvent, s3::S3Event, sns::SnsEvent,
    };

    #[traced_function(trigger = "sns")]
    async fn sns(_event: LambdaEvent<SnsEvent>) -> Result<(), Error> {
        Ok(())
    }

    #[traced_function(trigger = "eventbridge")]
    async fn eventbridge(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
        Ok(())
    }

    #[traced_function(trigger = "schedule")]
    async fn schedule(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
        Ok(())
    }

    #[traced_function(trigger = "s3")]
    async fn s3(_event: LambdaEvent<S3Event>) -> Result<(), Error> {
        Ok(())
    }

    #[traced_function(trigger = "dynamodb")]
    async fn dynamodb(_event: LambdaEvent<dynamodb::Event>) -> Result<(), Error> {
        Ok(())
    }

    #[traced_function(trigger = "kinesis")]
    async fn kinesis(_event: LambdaEvent<KinesisEvent>) -> Result<(), Error> {
        Ok(())
    }

    async fn trigger_of<H, M: 'static>(handler: H, event: &[u8]) -> Option<String>
    where
        H: otel_faas_runtime::lambda::Handler<M>,
        H::Output: serde::Serialize + std::fmt::Debug,
    {
        let kit = TestKit::new();
        kit.invoke_raw(handler, event, Invocation::default())
            .await
            .expect_err(&format!(
                "{} does not deserialize",
                String::from_utf8_lossy(event)
            ));
        kit.spans().named("test-function").attr("faas.trigger")
    }

    #[tokio::test]
    async fn a_malformed_event_keeps_the_trigger_its_handler_declares() {
        let broken: &[u8] = b"{not json";
        let wrong_shape: &[u8] = br#"{"Records": 5, "detail-type": 5, "id": 5}"#;
        for event in [broken, wrong_shape] {
            let expected = Some("pubsub".to_owned());
            assert_eq!(trigger_of(consume, event).await, expected, "sqs");
            assert_eq!(trigger_of(sns, event).await, expected, "sns");
            assert_eq!(trigger_of(kinesis, event).await, expected, "kinesis");
            assert_eq!(
                trigger_of(eventbridge, event).await,
                expected,
                "eventbridge"
            );
            let datasource = Some("datasource".to_owned());
            assert_eq!(trigger_of(s3, event).await, datasource, "s3");
            assert_eq!(trigger_of(dynamodb, event).await, datasource, "dynamodb");
        }
        // EventBridge's type serves `eventbridge` and `schedule` alike: a scheduled event's
        // shape says which.
        let scheduled: &[u8] =
            br#"{"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}, "id": 5}"#;
        assert_eq!(
            trigger_of(schedule, scheduled).await.as_deref(),
            Some("timer")
        );
    }
}
