//! lambda-otel-lite: `create_traced_handler` in sync mode (its default), whose completion
//! handler calls the provider's `force_flush` after every invocation, with its
//! `LambdaSpanProcessor` in front of the exporter.
//!
//! It opens one SERVER span per invocation (`faas.*` and `cloud.*` from the context) and
//! takes the rest from the event through a `SpanAttributesExtractor`. It has one for API
//! Gateway REST requests (HTTP attributes, parent from `traceparent`), none for SQS: the
//! documented way is to implement the trait for the event, which [`SqsBatch`] does — the
//! invocation span becomes the CONSUMER span with the messaging attributes and a link per
//! message (lambda-otel-lite's model has no separate batch span).
//!
//! [`init_telemetry`](lambda_otel_lite::init_telemetry) installs the process-global `tracing`
//! subscriber, text-map propagator and tracer provider, as a function does once at start.
//! The in-process benchmark cannot let one contestant own the global `tracing` subscriber
//! (it would also see the others' spans), so [`LiteTelemetry`] builds what `init_telemetry`
//! builds — the same provider, processor, resource, subscriber layers and propagators — and
//! the benchmark sets its subscriber as the thread's default instead.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_otel_lite::{
    LambdaSpanProcessor, LambdaXrayPropagator, ProcessorMode, SpanAttributes,
    SpanAttributesExtractor, TelemetryCompletionHandler, TriggerType,
};
use lambda_runtime::LambdaEvent;
use opentelemetry_032::propagation::TextMapCompositePropagator;
use opentelemetry_032::trace::Link;
use opentelemetry_032::{KeyValue, Value};
use opentelemetry_sdk_032::error::OTelSdkResult;
use opentelemetry_sdk_032::propagation::TraceContextPropagator;
use opentelemetry_sdk_032::trace::{SdkTracerProvider, SpanData, SpanExporter};
use otel_faas_runtime::Error;
use serde::{Deserialize, Serialize};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::{http_request, process_batch, respond};

/// An OpenTelemetry 0.32 exporter that drops every batch (lambda-otel-lite's SDK version).
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard032;

impl SpanExporter for Discard032 {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(std::hint::black_box(batch));
        Ok(())
    }
}

/// What `init_telemetry` sets up, without making any of it process-global.
pub struct LiteTelemetry {
    /// Signals the end of each invocation (a `force_flush` in sync mode).
    pub completion: TelemetryCompletionHandler,
    /// The `tracing` subscriber `init_telemetry` would install globally.
    pub dispatch: tracing::Dispatch,
}

impl LiteTelemetry {
    /// `init_telemetry`'s set-up in sync mode, with `exporter` behind its `LambdaSpanProcessor`
    /// and the propagators it installs by default (X-Ray, then W3C trace context).
    pub fn new<E: SpanExporter + std::fmt::Debug + 'static>(exporter: E) -> Self {
        let propagators: Vec<
            Box<dyn opentelemetry_032::propagation::TextMapPropagator + Send + Sync>,
        > = vec![
            Box::new(LambdaXrayPropagator::new()),
            Box::new(TraceContextPropagator::new()),
        ];
        opentelemetry_032::global::set_text_map_propagator(TextMapCompositePropagator::new(
            propagators,
        ));
        let provider = SdkTracerProvider::builder()
            .with_span_processor(LambdaSpanProcessor::builder().exporter(exporter).build())
            .with_resource(lambda_otel_lite::get_lambda_resource())
            .build();
        let completion =
            TelemetryCompletionHandler::new(Arc::new(provider), None, ProcessorMode::Sync);
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry_033::OpenTelemetryLayer::new(
                completion.get_tracer().clone(),
            ))
            .with(tracing_subscriber::EnvFilter::new("info"));
        LiteTelemetry {
            completion,
            dispatch: tracing::Dispatch::new(subscriber),
        }
    }
}

/// An SQS event, with the `SpanAttributesExtractor` lambda-otel-lite asks users to write for
/// event types it does not know.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SqsBatch(pub SqsEvent);

impl SpanAttributesExtractor for SqsBatch {
    fn extract_span_attributes(&self) -> SpanAttributes {
        let records = &self.0.records;
        let queue = records
            .first()
            .and_then(|m| m.event_source_arn.as_deref())
            .and_then(|a| a.rsplit(':').next())
            .unwrap_or_default();
        let attributes = HashMap::from([
            ("messaging.system".to_owned(), Value::from("aws_sqs")),
            (
                "messaging.operation.type".to_owned(),
                Value::from("process"),
            ),
            (
                "messaging.operation.name".to_owned(),
                Value::from("process"),
            ),
            (
                "messaging.destination.name".to_owned(),
                Value::from(queue.to_owned()),
            ),
            (
                "messaging.batch.message_count".to_owned(),
                Value::from(records.len() as i64),
            ),
        ]);
        let links = records
            .iter()
            .filter_map(|m| {
                let header = m.attributes.get("AWSTraceHeader")?;
                let producer =
                    opentelemetry_aws_020::trace::xray_propagator::span_context_from_str(header)?;
                let id = KeyValue::new(
                    "messaging.message.id",
                    m.message_id.clone().unwrap_or_default(),
                );
                Some(Link::new(producer, vec![id], 0))
            })
            .collect();
        SpanAttributes::builder()
            .kind("CONSUMER".to_owned())
            .span_name(format!("process {queue}"))
            .attributes(attributes)
            .links(links)
            .trigger(TriggerType::PubSub.to_string())
            .build()
    }
}

/// The SQS handler lambda-otel-lite wraps.
pub async fn sqs(event: LambdaEvent<SqsBatch>) -> Result<(), Error> {
    process_batch(&event.payload.0).await
}

/// The HTTP handler lambda-otel-lite wraps. It receives the API Gateway event (the type its
/// extractor knows), builds the same `lambda_http` request the other contestants get, and
/// answers with the API Gateway response a serializable handler must return.
pub async fn http(
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let response = respond(&http_request(event.payload, event.context))?;
    let (parts, body) = response.into_parts();
    let mut answer = ApiGatewayProxyResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.body = Some(body);
    Ok(answer)
}

/// lambda-otel-lite's documented OTLP/HTTP set-up ("Using LambdaSpanProcessor with blocking
/// http client", `init_telemetry`'s documentation): an OTLP exporter whose client blocks,
/// behind its `LambdaSpanProcessor`, whose `force_flush` waits for the export with
/// `futures_executor::block_on` on the handler's thread.
///
/// The documentation's client is `reqwest::blocking`, which runs its requests on a runtime of
/// its own, on a thread of its own. This does the same with the Hyper client this workspace
/// builds the OpenTelemetry exporters with: each export runs on a one-thread tokio runtime
/// owned by this exporter, and the processor's `block_on` waits for it.
#[derive(Debug)]
pub struct Blocking<E> {
    inner: Arc<E>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl<E> Blocking<E> {
    /// Exports with `inner` on a runtime of its own.
    pub fn new(inner: E) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()?;
        Ok(Blocking {
            inner: Arc::new(inner),
            runtime: Some(runtime),
        })
    }
}

impl<E> Drop for Blocking<E> {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's task panics; this one has nothing to finish.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl<E: SpanExporter + 'static> SpanExporter for Blocking<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let inner = Arc::clone(&self.inner);
        let task = self
            .runtime
            .as_ref()
            .map(|runtime| runtime.spawn(async move { inner.export(batch).await }));
        async move {
            let failed = |error: String| {
                Err(opentelemetry_sdk_032::error::OTelSdkError::InternalFailure(
                    error,
                ))
            };
            match task {
                Some(task) => task.await.unwrap_or_else(|error| failed(error.to_string())),
                None => failed("the export runtime is gone".to_owned()),
            }
        }
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk_032::Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}
