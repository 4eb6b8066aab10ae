use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "eventbridge", links_from = "message_attributes")]
async fn handler(_event: LambdaEvent<EventBridgeEvent>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
