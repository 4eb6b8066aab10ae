use aws_lambda_events::event::kinesis::KinesisEventRecord;
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "kinesis", per_message)]
async fn handler(_record: KinesisEventRecord) -> Result<(), Error> {
    Ok(())
}

fn main() {}
