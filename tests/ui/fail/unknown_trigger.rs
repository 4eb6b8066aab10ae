use aws_lambda_events::event::sqs::SqsEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "mq")]
async fn handler(_event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
