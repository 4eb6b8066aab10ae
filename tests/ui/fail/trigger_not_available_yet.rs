use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "cloudwatch_logs")]
async fn handler(_event: LambdaEvent<serde_json::Value>) -> Result<(), Error> {
    Ok(())
}

fn main() {}
