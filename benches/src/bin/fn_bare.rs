//! The bare contestant as a Lambda function (the floor of the process-level benchmarks): the
//! SQS handler on `lambda_runtime`, no telemetry. Started by the `process` harness.

fn main() -> Result<(), lambda_runtime::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(lambda_runtime::run(lambda_runtime::service_fn(
        otel_faas_benches::bare_sqs,
    )))
}
