//! The lambda-otel-lite contestant as a Lambda function, as its documentation shows:
//! `init_telemetry` with the default configuration (sync mode, its OTLP exporter to standard
//! output) and `create_traced_handler`. Started by the `process` harness.

use lambda_otel_lite::{TelemetryConfig, create_traced_handler, init_telemetry};
use otel_faas_benches::peers::lite;

fn main() -> Result<(), lambda_runtime::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (_, completion) = init_telemetry(TelemetryConfig::default()).await?;
        let handler = create_traced_handler("orders", completion, lite::sqs);
        lambda_runtime::run(lambda_runtime::service_fn(handler)).await
    })
}
