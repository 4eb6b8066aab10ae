//! The `lambda_runtime` `OpenTelemetryLayer` contestant as a Lambda function, set up as the
//! layer's example does (batch span processor, `tracing-opentelemetry` as the global
//! subscriber, `force_flush` after every invocation), exporting over OTLP/HTTP to
//! `OTEL_EXPORTER_OTLP_ENDPOINT`. Started by the `process` harness.

use lambda_runtime::layers::OpenTelemetryFaasTrigger;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use otel_faas_benches::peers::lambda_layer::{self, LayerTelemetry, OnTokio};

fn main() -> Result<(), lambda_runtime::Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()?;
        let telemetry =
            LayerTelemetry::new(OnTokio::new(exporter, tokio::runtime::Handle::current()));
        tracing::dispatcher::set_global_default(telemetry.dispatch.clone())?;
        lambda_runtime::Runtime::new(lambda_runtime::service_fn(lambda_layer::sqs))
            .layer(telemetry.layer(OpenTelemetryFaasTrigger::PubSub))
            .run()
            .await
    })
}
