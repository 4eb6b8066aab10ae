//! The otel-faas contestant built alone (see `../Cargo.toml`): the same handler as
//! `fn_otel_faas`, with the runtime's features this build was given.

use otel_faas_runtime::aws_lambda_events::event::sqs::SqsEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

/// The business logic every contestant runs for an SQS batch.
#[traced_function(trigger = "sqs")]
async fn traced_sqs(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    let bytes: usize = event
        .payload
        .records
        .iter()
        .filter_map(|m| m.body.as_ref())
        .map(String::len)
        .sum();
    std::hint::black_box(bytes);
    Ok(())
}

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(otel_faas_runtime::lambda::run(traced_sqs))
}
