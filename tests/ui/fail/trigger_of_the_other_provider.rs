use otel_faas_runtime::azure::{AzureEvent, QueueMessage};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "sqs", provider = "azure")]
async fn on_azure(_event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "timer", provider = "aws")]
async fn on_aws(_event: LambdaEvent<serde_json::Value>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
