//! The otel-faas contestant as a Lambda function: the `#[traced_function(trigger = "sqs")]`
//! handler run by `otel_faas_runtime::lambda::run`, configured by the environment (OTLP/HTTP
//! export, or `OTEL_SDK_DISABLED=true`). Started by the `process` harness.

fn main() -> Result<(), otel_faas_runtime::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(otel_faas_runtime::lambda::run(
        otel_faas_benches::traced_sqs,
    ))
}
