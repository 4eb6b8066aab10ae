//! The lambda-otel-lite contestant as a Lambda function, as its documentation shows:
//! `init_telemetry` (sync mode, its default) and `create_traced_handler`. Started by the
//! `process`, `flush_latency` and `production_path` harnesses.
//!
//! How it exports:
//! - by default, with its default configuration: its
//!   `LambdaSpanProcessor` in front of `OtlpStdoutSpanExporter`, which writes each batch to
//!   standard output as OTLP (protobuf, gzip, base64 in a JSON line) for the
//!   serverless-otlp-forwarder to pick up from CloudWatch Logs;
//! - with `BENCH_LITE_EXPORT=otlp`: OTLP/HTTP (protobuf) to `OTEL_EXPORTER_OTLP_ENDPOINT`, as `init_telemetry`'s documentation
//!   shows ("Using LambdaSpanProcessor with blocking http client"): the OTLP exporter of its
//!   OpenTelemetry version (0.32), blocking ([`Blocking`](otel_faas_benches::peers::lite::Blocking)),
//!   behind its `LambdaSpanProcessor`, exported by the `force_flush` that ends every
//!   invocation.
//!
//! `BENCH_EVENT=http` serves the API Gateway REST handler (its built-in extractor) instead
//! of the SQS one.

use lambda_otel_lite::{
    LambdaSpanProcessor, TelemetryConfig, create_traced_handler, init_telemetry,
};
use opentelemetry_otlp_032::{Protocol, WithExportConfig as _};
use otel_faas_benches::peers::lite::{self, Blocking};

fn main() -> Result<(), lambda_runtime::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = match std::env::var("BENCH_LITE_EXPORT").as_deref() {
            Ok("otlp") => {
                let exporter = opentelemetry_otlp_032::SpanExporter::builder()
                    .with_http()
                    .with_protocol(Protocol::HttpBinary)
                    .build()?;
                let processor = LambdaSpanProcessor::builder()
                    .exporter(Blocking::new(exporter)?)
                    .build();
                TelemetryConfig::builder()
                    .with_span_processor(processor)
                    .build()
            }
            _ => TelemetryConfig::default(),
        };
        let (_, completion) = init_telemetry(config).await?;
        if otel_faas_benches::serves_http() {
            let handler = create_traced_handler("pets", completion, lite::http);
            return lambda_runtime::run(lambda_runtime::service_fn(handler)).await;
        }
        let handler = create_traced_handler("orders", completion, lite::sqs);
        lambda_runtime::run(lambda_runtime::service_fn(handler)).await
    })
}
