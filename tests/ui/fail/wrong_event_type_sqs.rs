use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "sqs")]
async fn handler(event: LambdaEvent<serde_json::Value>) -> Result<(), Error> {
    let _ = event.payload;
    Ok(())
}

fn main() {}
