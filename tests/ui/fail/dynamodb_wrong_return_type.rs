use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "dynamodb")]
async fn handler(_event: LambdaEvent<Event>) -> Result<SqsBatchResponse, Error> {
    Ok(SqsBatchResponse::default())
}

fn main() {}
