use aws_lambda_events::event::sqs::SqsEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "sqs")]
async fn handler(event: LambdaEvent<SqsEvent>) -> Result<String, Error> {
    Ok(format!("{}", event.payload.records.len()))
}

fn main() {}
