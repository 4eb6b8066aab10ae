//! The handler stays an ordinary async fn: calling it directly runs the body, untraced
//! when no telemetry was started.
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "other")]
async fn double(event: LambdaEvent<u32>) -> Result<u32, Error> {
    Ok(event.payload * 2)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let event = LambdaEvent::new(21, Default::default());
    assert_eq!(runtime.block_on(double(event)).unwrap(), 42);
}
