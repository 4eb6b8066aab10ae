use aws_lambda_events::event::sqs::SqsMessage;
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "sqs", per_message = "yes")]
async fn handler(_message: SqsMessage) -> Result<(), Error> {
    Ok(())
}

fn main() {}
