use aws_lambda_events::event::dynamodb::Event;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "kinesis")]
async fn handler(_event: LambdaEvent<Event>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
