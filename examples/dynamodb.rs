//! A DynamoDB stream projector, one record at a time: each record gets an INTERNAL
//! `{operation} {table}` span, and a failed record — with the ones after it, as a shard is
//! ordered — goes back to Lambda in `batchItemFailures`.
//!
//! `cargo run --example dynamodb` prints the traces on the local runner.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::dynamodb::EventRecord;
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "dynamodb", per_record)]
async fn handler(record: EventRecord) -> Result<(), Error> {
    tracing::info!(change = %record.event_name, "projecting");
    if record.event_name == "REMOVE" {
        return Err("cannot project a removal yet".into());
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalRunner::new("orders-projector")
        .event_json(
            "an insert, a modify and a remove",
            include_str!("events/dynamodb_batch.json"),
        )
        .event_json(
            "a keys-only insert",
            include_str!("events/dynamodb_keys_only.json"),
        )
        .run(handler)
}
