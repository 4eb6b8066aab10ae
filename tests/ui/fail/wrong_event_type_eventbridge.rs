use aws_lambda_events::event::sns::SnsEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "eventbridge")]
async fn handler(_event: LambdaEvent<SnsEvent>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
