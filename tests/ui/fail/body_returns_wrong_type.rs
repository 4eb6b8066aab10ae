use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "other")]
async fn handler(event: LambdaEvent<u32>) -> Result<u32, Error> {
    if event.payload == 0 {
        return Ok("zero");
    }
    Ok(event.payload)
}

fn main() {}
