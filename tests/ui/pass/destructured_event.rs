//! The event argument may be a pattern.
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "other")]
async fn handler(LambdaEvent { payload, context }: LambdaEvent<serde_json::Value>) -> Result<String, Error> {
    Ok(format!("{payload} {}", context.request_id))
}

fn main() {
    drop(otel_faas_runtime::lambda::run(handler));
}
