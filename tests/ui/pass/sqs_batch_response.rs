//! An SQS handler that reports partial batch failures itself.
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "sqs", links_from = "both")]
async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in event.payload.records {
        if message.body.is_none() {
            response.add_failure(message.message_id.unwrap_or_default());
        }
    }
    Ok(response)
}

fn main() {
    drop(otel_faas_runtime::lambda::run(handler));
}
