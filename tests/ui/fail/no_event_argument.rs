use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "other")]
async fn handler() -> Result<(), Error> {
    Ok(())
}

fn main() {}
