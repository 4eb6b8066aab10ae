//! The otel-faas contestant as a Lambda function: the `#[traced_function(trigger = "sqs")]`
//! handler run by `otel_faas_runtime::lambda::run`, configured by the environment (OTLP/HTTP
//! export, or `OTEL_SDK_DISABLED=true`; `AWS_LAMBDA_MAX_CONCURRENCY` for Managed Instances).
//! With `BENCH_HANDLER_IO_MS` set, the handler first waits that long, as for a downstream
//! call; with `BENCH_EVENT=http`, the `#[traced_function(trigger = "http")]` handler is
//! served instead. Started by the `process`, `throughput` and `production_path` harnesses.

fn main() -> Result<(), otel_faas_runtime::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if otel_faas_benches::serves_http() {
            return otel_faas_runtime::lambda::run(otel_faas_benches::traced_http).await;
        }
        match std::env::var_os("BENCH_HANDLER_IO_MS") {
            Some(_) => otel_faas_runtime::lambda::run(otel_faas_benches::traced_sqs_io).await,
            None => otel_faas_runtime::lambda::run(otel_faas_benches::traced_sqs).await,
        }
    })
}
