use otel_faas_runtime::azure::{AzureEvent, QueueMessage};
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "queue", provider = "lambda")]
async fn handler(_event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
