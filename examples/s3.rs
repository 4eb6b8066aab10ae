//! An S3 notification handler, one object at a time: the invocation span names the bucket
//! (`faas.document.*`), and `per_record` gives each object an INTERNAL span with its
//! operation, URL-decoded key and time. A failed object fails the invocation, so S3's
//! retry sees it again.
//!
//! `cargo run --example s3` prints the traces on the local runner.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::aws_lambda_events::event::s3::S3EventRecord;
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "s3", per_record)]
async fn handler(record: S3EventRecord) -> Result<(), Error> {
    let key = record.s3.object.key.as_deref().unwrap_or_default();
    tracing::info!(key, "making a thumbnail");
    if key.ends_with(".mp4") {
        return Err(format!("{key}: videos have no thumbnail").into());
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    LocalRunner::new("thumbnails")
        .event_json(
            "one upload with an encoded key",
            include_str!("events/s3_put.json"),
        )
        .event_json(
            "two uploads and a delete, one failing",
            include_str!("events/s3_batch.json"),
        )
        .run(handler)
}
