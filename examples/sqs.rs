//! An SQS consumer that reserves stock for a batch of orders and reports the ones it could
//! not ship, so SQS retries only those.
//!
//! `cargo run --example sqs` runs it on the local runner and prints its trace: the
//! invocation span, the `process orders` CONSUMER span with a link to each producer's trace
//! (from the `AWSTraceHeader` SQS adds), a span per message (`process_message`) with the
//! handler's own `tracing` spans inside. Built for Lambda
//! (`cargo lambda build --example sqs`), the same binary serves real batches.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use otel_faas_runtime::trigger::sqs::process_message;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde::Deserialize;

#[derive(Deserialize)]
struct Order {
    order: u32,
    sku: String,
}

#[traced_function(trigger = "sqs")]
async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in &event.payload.records {
        if process_message(message, reserve_stock(message.body.as_deref()))
            .await
            .is_err()
        {
            response.add_failure(message.message_id.clone().unwrap_or_default());
        }
    }
    Ok(response)
}

async fn reserve_stock(body: Option<&str>) -> Result<(), Error> {
    let order: Order = serde_json::from_str(body.unwrap_or("{}"))?;
    let _span =
        tracing::info_span!("reserve stock", order = order.order, sku = %order.sku).entered();
    if order.sku == "poison" {
        tracing::warn!(
            order = order.order,
            "no such product; the message goes back to the queue"
        );
        return Err(format!("order {}: no such product", order.order).into());
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
