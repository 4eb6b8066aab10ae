//! The bare contestant as a Lambda function (the floor of the process-level benchmarks): the
//! SQS handler on `lambda_runtime`, no telemetry. Started by the `process`, `throughput` and
//! `production_path` harnesses. It is served by `Runtime::run_concurrent`, which polls one
//! invocation at a time unless `AWS_LAMBDA_MAX_CONCURRENCY` > 1 (Lambda Managed Instances);
//! with `BENCH_HANDLER_IO_MS` set, the handler first waits that long, as for a downstream
//! call. With `BENCH_EVENT=http` it serves the HTTP handler instead, through `lambda_http`
//! (an API Gateway request in, its response out).

fn main() -> Result<(), lambda_runtime::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        if otel_faas_benches::serves_http() {
            let service = lambda_runtime::service_fn(otel_faas_benches::bare_http);
            return lambda_http::run_concurrent(service).await;
        }
        match std::env::var_os("BENCH_HANDLER_IO_MS") {
            Some(_) => {
                let service = lambda_runtime::service_fn(otel_faas_benches::bare_sqs_io);
                lambda_runtime::Runtime::new(service).run_concurrent().await
            }
            None => {
                let service = lambda_runtime::service_fn(otel_faas_benches::bare_sqs);
                lambda_runtime::Runtime::new(service).run_concurrent().await
            }
        }
    })
}
