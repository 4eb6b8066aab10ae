//! An EventBridge rule target: the invocation continues the producer's trace from the
//! `traceparent` it put in the event's `detail` (`parent_from = "detail"`), and a CONSUMER
//! `process {detail-type}` span carries the event id, source and detail-type.
//!
//! `cargo run --example eventbridge` prints the traces on the local runner.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::eventbridge::EventBridgeEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "eventbridge", parent_from = "detail")]
async fn handler(event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    tracing::info!(source = %event.payload.source, "event received");
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalRunner::new("order-events")
        .event_json(
            "a custom event whose detail carries a traceparent",
            include_str!("events/eventbridge_custom.json"),
        )
        .event_json(
            "an event whose detail carries a traceContext object",
            include_str!("events/eventbridge_trace_context.json"),
        )
        .event_json(
            "an AWS service event (no trace context: a new trace)",
            include_str!("events/eventbridge_aws_service.json"),
        )
        .run(handler)
}
