//! `lambda_runtime`'s OpenTelemetry layer built alone (see `../Cargo.toml`): the set-up of
//! `fn_lambda_layer` (batch span processor, `tracing-opentelemetry`, `force_flush` after every
//! invocation, OTLP/HTTP with the Hyper client run on the function's tokio runtime) around
//! the bare SQS handler.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::layers::{OpenTelemetryFaasTrigger, OpenTelemetryLayer};
use lambda_runtime::{Error, LambdaEvent};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt as _;

async fn sqs(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    let bytes: usize = event
        .payload
        .records
        .iter()
        .filter_map(|m| m.body.as_ref())
        .map(String::len)
        .sum();
    std::hint::black_box(bytes);
    Ok(())
}

/// Runs the OTLP exporter's exports on the function's runtime (the batch processor exports
/// from a thread of its own, and the Hyper client needs a tokio runtime).
#[derive(Debug)]
struct OnTokio<E> {
    inner: Arc<E>,
    handle: tokio::runtime::Handle,
}

impl<E: SpanExporter + 'static> SpanExporter for OnTokio<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let inner = Arc::clone(&self.inner);
        let task = self.handle.spawn(async move { inner.export(batch).await });
        async move {
            task.await
                .unwrap_or_else(|error| Err(OTelSdkError::InternalFailure(error.to_string())))
        }
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

fn main() -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build()?;
        let exporter = OnTokio {
            inner: Arc::new(exporter),
            handle: tokio::runtime::Handle::current(),
        };
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer("lambda-runtime-otel");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        tracing::subscriber::set_global_default(subscriber)?;
        let layer = OpenTelemetryLayer::new(move || {
            let _ = provider.force_flush();
        })
        .with_trigger(OpenTelemetryFaasTrigger::PubSub);
        lambda_runtime::Runtime::new(lambda_runtime::service_fn(sqs))
            .layer(layer)
            .run()
            .await
    })
}
