//! `lambda_runtime::layers::OpenTelemetryLayer`, as its documentation shows: a tracer provider
//! with a batch span processor, `tracing-opentelemetry` as the `tracing` subscriber, and the
//! layer on the runtime's service stack with a flush closure that calls the provider's
//! `force_flush` after every invocation.
//!
//! The layer opens the invocation span (`faas.trigger`, `faas.invocation_id`,
//! `faas.coldstart`, `faas.name`); the handler records its kind (SERVER, as the layer's example
//! does) and everything otel-faas adds that the layer does not: for SQS a CONSUMER batch span
//! with the messaging attributes and a link per message to its producer, for HTTP the span
//! name, the parent from `traceparent` and the HTTP attributes.
//!
//! With tracing-opentelemetry 0.34 (context activation on by default) the layer's span is
//! started when the layer enters it, before the handler runs, so the handler's `otel.kind`,
//! `otel.name` and `set_parent` come too late and are ignored: the exported invocation span
//! is INTERNAL, named after the function, and starts a new trace. Its attributes (set on the
//! started span) are all there. The work is the same as when they take effect.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::{Body, Request, RequestExt as _, Response};
use lambda_runtime::layers::{OpenTelemetryFaasTrigger, OpenTelemetryLayer};
use lambda_runtime::{LambdaEvent, LambdaInvocation};
use opentelemetry::KeyValue;
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_faas_runtime::Error;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::{Headers, process_batch, respond};

/// The telemetry a function using the layer sets up at start: the provider (batch span
/// processor over `exporter`) and the `tracing` dispatcher that feeds it.
pub struct LayerTelemetry {
    provider: Arc<SdkTracerProvider>,
    /// The `tracing` subscriber with the OpenTelemetry layer; installed globally by a
    /// function, set as the thread's default by the in-process benchmark.
    pub dispatch: tracing::Dispatch,
}

impl LayerTelemetry {
    /// The provider and subscriber of the layer's example, exporting to `exporter`.
    pub fn new<E: SpanExporter + 'static>(exporter: E) -> Self {
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer("lambda-runtime-otel");
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
        LayerTelemetry {
            provider: Arc::new(provider),
            dispatch: tracing::Dispatch::new(subscriber),
        }
    }

    /// The layer, with the documented flush: `force_flush` once the invocation's future is done.
    pub fn layer(
        &self,
        trigger: OpenTelemetryFaasTrigger,
    ) -> OpenTelemetryLayer<impl Fn() + Clone + use<>> {
        let provider = Arc::clone(&self.provider);
        OpenTelemetryLayer::new(move || {
            let _ = provider.force_flush();
        })
        .with_trigger(trigger)
    }
}

impl Drop for LayerTelemetry {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// What the runtime's stack hands the layer for an invocation: the context, with empty
/// headers and body (the in-process benchmark passes the prebuilt event beside it, as it does
/// to every contestant, instead of serializing it).
pub fn invocation(context: lambda_runtime::Context) -> LambdaInvocation {
    let (parts, ()) = http::Response::new(()).into_parts();
    LambdaInvocation {
        parts,
        body: bytes::Bytes::new(),
        context,
    }
}

/// The SQS handler under the layer: a CONSUMER batch span with a link per message.
pub async fn sqs(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    tracing::Span::current().record("otel.kind", "SERVER");
    let records = &event.payload.records;
    let queue = records
        .first()
        .and_then(|m| m.event_source_arn.as_deref())
        .and_then(|a| a.rsplit(':').next())
        .unwrap_or_default();
    let batch = tracing::info_span!(
        "process",
        otel.name = format!("process {queue}"),
        otel.kind = "CONSUMER",
        faas.trigger = "pubsub",
        messaging.system = "aws_sqs",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = queue,
        messaging.batch.message_count = records.len() as i64,
    );
    for message in records {
        let producer = message
            .attributes
            .get("AWSTraceHeader")
            .and_then(|h| opentelemetry_aws::trace::xray_propagator::span_context_from_str(h));
        if let Some(producer) = producer {
            let id = KeyValue::new(
                semconv::MESSAGING_MESSAGE_ID,
                message.message_id.clone().unwrap_or_default(),
            );
            batch.add_link_with_attributes(producer, vec![id]);
        }
    }
    process_batch(&event.payload).instrument(batch).await
}

/// The HTTP handler under the layer: the invocation span gets its parent from `traceparent`
/// and the HTTP attributes otel-faas records.
pub async fn http(request: Request) -> Result<Response<Body>, Error> {
    let span = tracing::Span::current();
    span.record("otel.kind", "SERVER");
    let parent = TraceContextPropagator::new().extract(&Headers(request.headers()));
    let _ = span.set_parent(parent);
    let context = request.lambda_context_ref().cloned().unwrap_or_default();
    let arn = &context.invoked_function_arn;
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let route = "/pets/{petId}";
    span.record("otel.name", format!("{} {route}", request.method()));
    let attributes = [
        KeyValue::new(
            semconv::CLOUD_ACCOUNT_ID,
            arn.split(':').nth(4).unwrap_or_default().to_owned(),
        ),
        KeyValue::new(semconv::CLOUD_RESOURCE_ID, arn.clone()),
        KeyValue::new(
            semconv::HTTP_REQUEST_METHOD,
            request.method().as_str().to_owned(),
        ),
        KeyValue::new(semconv::URL_PATH, request.uri().path().to_owned()),
        KeyValue::new(semconv::URL_SCHEME, header("x-forwarded-proto")),
        KeyValue::new(
            semconv::URL_QUERY,
            request.uri().query().unwrap_or_default().to_owned(),
        ),
        KeyValue::new(semconv::HTTP_ROUTE, route),
        KeyValue::new(semconv::USER_AGENT_ORIGINAL, header("user-agent")),
        KeyValue::new(semconv::CLIENT_ADDRESS, "198.51.100.7"),
        KeyValue::new(semconv::SERVER_ADDRESS, header("host")),
        KeyValue::new(semconv::SERVER_PORT, 443),
        KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, "1.1"),
    ];
    for attribute in attributes {
        span.set_attribute(attribute.key, attribute.value);
    }
    let result = respond(&request);
    if let Ok(response) = &result {
        span.set_attribute(
            semconv::HTTP_RESPONSE_STATUS_CODE,
            i64::from(response.status().as_u16()),
        );
    }
    result
}

/// Runs another exporter's exports on a tokio runtime.
///
/// The SDK's batch span processor exports from a thread of its own, outside any tokio
/// runtime, and the OTLP exporter's Hyper client (the HTTP stack this workspace builds the
/// exporter with) needs one: each export is spawned onto the function's runtime and awaited.
#[derive(Debug)]
pub struct OnTokio<E> {
    inner: Arc<E>,
    handle: tokio::runtime::Handle,
}

impl<E> OnTokio<E> {
    /// Exports with `inner` on the runtime of `handle`.
    pub fn new(inner: E, handle: tokio::runtime::Handle) -> Self {
        OnTokio {
            inner: Arc::new(inner),
            handle,
        }
    }
}

impl<E: SpanExporter + 'static> SpanExporter for OnTokio<E> {
    fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        let inner = Arc::clone(&self.inner);
        let task = self.handle.spawn(async move { inner.export(batch).await });
        async move {
            task.await.unwrap_or_else(|error| {
                Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                    error.to_string(),
                ))
            })
        }
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}
