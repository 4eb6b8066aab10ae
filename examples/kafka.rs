//! A Kafka consumer (Amazon MSK or a self-managed cluster), one record at a time: a CONSUMER
//! `process {topic}` batch span, a span per record with its partition, offset and key,
//! linked to the producer whose `traceparent` record header it carries, and a failed
//! invocation — Lambda retries the batch — from the first record that fails.
//!
//! `cargo run --example kafka` prints the traces on the local runner.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::kafka::KafkaRecord;
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "kafka", per_record)]
async fn handler(record: KafkaRecord) -> Result<(), Error> {
    let value = record.value.as_deref().unwrap_or_default();
    tracing::info!(
        offset = record.offset,
        bytes = value.len(),
        "order received"
    );
    // The value is base64 of the producer's bytes; an order is a JSON object, which always
    // starts with `ey` (`{"`) once encoded.
    if !value.starts_with("ey") {
        return Err("an order is a JSON object".into());
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalRunner::new("orders-consumer")
        .event_json(
            "MSK: three orders on two partitions, one with a traceparent header, one not JSON",
            include_str!("events/kafka_batch.json"),
        )
        .event_json(
            "self-managed Kafka: one payment",
            include_str!("events/kafka_self_managed.json"),
        )
        .run(handler)
}
