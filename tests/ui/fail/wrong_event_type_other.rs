use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "other")]
async fn handler(payload: serde_json::Value) -> Result<(), Error> {
    let _ = payload;
    Ok(())
}

fn main() {}
