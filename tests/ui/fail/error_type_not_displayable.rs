use otel_faas_runtime::{lambda::LambdaEvent, traced_function};

#[derive(Debug)]
struct Opaque;

#[traced_function(trigger = "other")]
async fn handler(event: LambdaEvent<u32>) -> Result<u32, Opaque> {
    Ok(event.payload)
}

fn main() {}
