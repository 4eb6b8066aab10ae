use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "schedule", cron = "rate(5 minutes)")]
async fn rate(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "schedule", cron = "0 9 * * *")]
async fn five_fields(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
