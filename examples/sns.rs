//! An SNS subscriber: the invocation span, a CONSUMER `process {topic}` span with the
//! messaging attributes, and a link to the publisher whose `traceparent` (or X-Ray header)
//! rides in the message attributes.
//!
//! `cargo run --example sns` prints the traces on the local runner.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::sns::SnsEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "sns")]
async fn handler(event: LambdaEvent<SnsEvent>) -> Result<(), Error> {
    for record in &event.payload.records {
        tracing::info!(subject = ?record.sns.subject, "notification received");
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalRunner::new("order-notifier")
        .event_json(
            "a notification published with a W3C traceparent attribute",
            include_str!("events/sns_single.json"),
        )
        .event_json(
            "a notification carrying an X-Ray header attribute",
            include_str!("events/sns_xray.json"),
        )
        .event_json(
            "a notification without subject or attributes",
            include_str!("events/sns_minimal.json"),
        )
        .run(handler)
}
