use aws_lambda_events::event::sqs::SqsEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "http")]
async fn handler(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    let _ = event.payload;
    Ok(())
}

fn main() {}
