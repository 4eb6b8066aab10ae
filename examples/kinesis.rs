//! A Kinesis consumer, one record at a time: a CONSUMER `process {stream}` batch span with
//! the shard, a span per record linked to the producer whose `traceparent` is in the JSON
//! data (`links_from = "data"`), and `batchItemFailures` from the first failed record.
//!
//! `cargo run --example kinesis` prints the traces on the local runner.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::kinesis::KinesisEventRecord;
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "kinesis", per_record, links_from = "data")]
async fn handler(record: KinesisEventRecord) -> Result<(), Error> {
    let data = &record.kinesis.data;
    tracing::info!(bytes = data.len(), "click received");
    if !data.starts_with(b"{") {
        return Err("a click is a JSON object".into());
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalRunner::new("clickstream-consumer")
        .event_json(
            "three records, one carrying a traceparent, one not JSON",
            include_str!("events/kinesis_batch.json"),
        )
        .event_json(
            "one payment record",
            include_str!("events/kinesis_single.json"),
        )
        .run(handler)
}
