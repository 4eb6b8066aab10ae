//! Lambda Managed Instances: one function process handed four invocations at once
//! (`AWS_LAMBDA_MAX_CONCURRENCY=4`, as the platform sets it). Each order takes 300 ms of
//! downstream work; side by side, the four are answered in about 300 ms, not 1.2 s, and
//! each invocation exports its own trace: its spans are never mixed with another's, and
//! the failing order's trace alone carries the error.
//!
//! `cargo run --example managed_instances` runs it on the local runner and prints the four
//! traces. Deployed to a capacity provider, the same binary serves concurrent invocations.

use std::time::Duration;

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use otel_faas_runtime::trigger::sqs::process_message;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

#[traced_function(trigger = "sqs")]
async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in &event.payload.records {
        if process_message(message, ship(message.body.as_deref()))
            .await
            .is_err()
        {
            response.add_failure(message.message_id.clone().unwrap_or_default());
        }
    }
    Ok(response)
}

/// The downstream work of one order: 300 ms, yielding to the other invocations.
async fn ship(body: Option<&str>) -> Result<(), Error> {
    let order = body.unwrap_or_default();
    let work = tokio::time::sleep(Duration::from_millis(300));
    tracing::Instrument::instrument(work, tracing::info_span!("book courier", order)).await;
    match order.contains("unshippable") {
        true => Err(format!("no courier for {order}").into()),
        false => Ok(()),
    }
}

/// One SQS message of queue `orders`, with `body`.
fn batch(n: u32, body: &str) -> serde_json::Value {
    serde_json::json!({ "Records": [{
        "messageId": format!("0b3c1f6e-1d2a-4e5f-8a9b-00000000000{n}"),
        "receiptHandle": "AQEB",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1764489600000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1764489600001"
        },
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
        "awsRegion": "us-east-1"
    }]})
}

fn main() -> Result<(), Error> {
    LocalRunner::new("orders-consumer")
        .configure(|function| function.max_concurrency = 4)
        .event("order 1", batch(1, "order 1"))
        .event("order 2", batch(2, "order 2"))
        .event("order 3, unshippable", batch(3, "order 3, unshippable"))
        .event("order 4", batch(4, "order 4"))
        .run(handler)
}
