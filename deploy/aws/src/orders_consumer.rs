//! `orders-consumer`: the SQS function of `template.yaml`.
//!
//! One span per message under the batch's `process orders` span; a message whose body is not
//! a JSON order with an `orderId` fails alone, and the glue returns it in
//! `batchItemFailures` — which Lambda honours only with `FunctionResponseTypes:
//! [ReportBatchItemFailures]` on the event source mapping (otherwise it deletes it).

use aws_lambda_events::event::sqs::SqsMessage;
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "sqs", per_message)]
async fn handler(message: SqsMessage) -> Result<(), Error> {
    let body = message.body.as_deref().unwrap_or_default();
    let order: serde_json::Value = serde_json::from_str(body)?;
    let id = order["orderId"]
        .as_u64()
        .ok_or("the message has no orderId")?;
    let _ship = tracing::info_span!("ship order", order.id = id).entered();
    tracing::info!(order.id = id, "order shipped");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    otel_faas_runtime::lambda::run(handler).await
}
