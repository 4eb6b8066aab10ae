//! The bare contestant built alone (see `Cargo.toml`): the same handler as `fn_bare`, with no
//! telemetry and nothing but `lambda_runtime` in its dependency graph.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent};

/// The business logic every contestant runs for an SQS batch.
async fn bare_sqs(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
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
    runtime.block_on(lambda_runtime::run(lambda_runtime::service_fn(bare_sqs)))
}
