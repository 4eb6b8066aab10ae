use aws_lambda_events::event::kinesis::KinesisEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "kafka")]
async fn handler(_event: LambdaEvent<KinesisEvent>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
