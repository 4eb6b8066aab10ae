//! A scheduled function: every run is the root of a new trace, with `faas.trigger=timer`,
//! `faas.time` from the event and `faas.cron` from the attribute.
//!
//! `cargo run --example schedule` prints the traces on the local runner.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::eventbridge::EventBridgeEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "schedule", cron = "cron(0 9 * * ? *)")]
async fn handler(event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    tracing::info!(rule = ?event.payload.resources, "building the nightly report");
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalRunner::new("nightly-report")
        .event_json(
            "an EventBridge scheduled rule",
            include_str!("events/schedule_rule.json"),
        )
        .event_json(
            "an EventBridge Scheduler notification",
            include_str!("events/schedule_scheduler.json"),
        )
        .run(handler)
}
