use aws_lambda_events::event::sqs::SqsMessage;
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "sqs")]
async fn handler(message: SqsMessage) -> Result<(), Error> {
    let _ = message.body;
    Ok(())
}

fn main() {}
