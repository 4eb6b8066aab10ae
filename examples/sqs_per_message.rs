//! The same consumer written one message at a time: `per_message` gives each message its own
//! CONSUMER span, linked to its producer, and returns the failed ones to SQS for you.
//!
//! `cargo run --example sqs_per_message` prints the trace on the local runner.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::sqs::SqsMessageObj;
use otel_faas_runtime::{Error, traced_function};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
struct Order {
    order: u32,
    sku: String,
}

#[traced_function(trigger = "sqs", per_message)]
async fn handler(message: SqsMessageObj<Order>) -> Result<(), Error> {
    tracing::info!(order = message.body.order, "reserving stock");
    if message.body.sku == "poison" {
        return Err(format!(
            "order {}: no such product {:?}",
            message.body.order, message.body.sku
        )
        .into());
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalRunner::new("orders-consumer")
        .event_json(
            "a batch of 3 orders, one unshippable",
            include_str!("events/sqs_batch.json"),
        )
        .run(handler)
}
