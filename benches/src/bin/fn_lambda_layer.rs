//! The `lambda_runtime` `OpenTelemetryLayer` contestant as a Lambda function, set up as the
//! layer's example does (batch span processor, `tracing-opentelemetry` as the global
//! subscriber, `force_flush` after every invocation), exporting over OTLP/HTTP to
//! `OTEL_EXPORTER_OTLP_ENDPOINT`. With `BENCH_EVENT=http` it serves the HTTP handler through
//! `lambda_http`'s adapter (what `lambda_http::run` runs), under the layer with the `Http`
//! trigger. Started by the `process` and `production_path` harnesses.

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
        if otel_faas_benches::serves_http() {
            let service = lambda_runtime::service_fn(lambda_layer::http);
            return lambda_runtime::Runtime::new(lambda_http::Adapter::from(service))
                .layer(telemetry.layer(OpenTelemetryFaasTrigger::Http))
                .run()
                .await;
        }
        lambda_runtime::Runtime::new(lambda_runtime::service_fn(lambda_layer::sqs))
            .layer(telemetry.layer(OpenTelemetryFaasTrigger::PubSub))
            .run()
            .await
    })
}
