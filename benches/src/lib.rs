//! The contestants of the benchmarks: one handler body, run bare, wrapped in hand-written
//! OpenTelemetry SDK code, and annotated with `#[traced_function]`.
//!
//! The hand-written version is what a careful engineer writes without otel-faas: the SDK's
//! `SimpleSpanProcessor` (the cheapest correct processor) and the same spans with the same
//! attributes as the glue produces — the floor for instrumentation.
//!
//! The peers (lambda_runtime's own OpenTelemetry layer, lambda-otel-lite) are in [`peers`].

use std::time::Duration;

pub mod peers;

use aws_lambda_events::event::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use lambda_http::{Body, Request, RequestExt as _, Response};
use lambda_runtime::LambdaEvent;
use opentelemetry::context::FutureExt as _;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{
    Link, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_semantic_conventions::attribute as semconv;
use otel_faas_runtime::{Error, traced_function};

/// An exporter that drops every batch: the benchmarks measure instrumentation, not I/O.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(std::hint::black_box(batch));
        Ok(())
    }
}

/// Whether a function binary (`fn_*`) serves the HTTP handler (`BENCH_EVENT=http`) rather
/// than the SQS one (unset, or `sqs`).
pub fn serves_http() -> bool {
    std::env::var("BENCH_EVENT").is_ok_and(|event| event == "http")
}

/// The sample REST API request of the examples.
pub fn rest_request() -> ApiGatewayProxyRequest {
    let json = include_str!("../../examples/events/apigw_rest_get.json");
    serde_json::from_str(json).expect("sample request")
}

/// An SQS batch of `n` messages from one queue, each with an `AWSTraceHeader`.
pub fn sqs_batch(n: usize) -> SqsEvent {
    let json = include_str!("../../examples/events/sqs_batch.json");
    let sample: SqsEvent = serde_json::from_str(json).expect("sample batch");
    let template: SqsMessage = sample.records[0].clone();
    let mut event = SqsEvent::default();
    event.records = (0..n)
        .map(|i| {
            let mut message = template.clone();
            message.message_id = Some(format!("message-{i}"));
            message
        })
        .collect();
    event
}

/// The business logic every contestant runs for an SQS batch.
async fn process_batch(event: &SqsEvent) -> Result<(), Error> {
    let bytes: usize = event
        .records
        .iter()
        .filter_map(|m| m.body.as_ref())
        .map(String::len)
        .sum();
    std::hint::black_box(bytes);
    Ok(())
}

/// The business logic every contestant runs for an HTTP request.
fn respond(request: &Request) -> Result<Response<Body>, Error> {
    let id = request
        .path_parameters_ref()
        .and_then(|p| p.first("petId"))
        .unwrap_or("0")
        .to_owned();
    Ok(Response::builder().status(200).body(Body::from(id))?)
}

/// The SQS handler, bare.
pub async fn bare_sqs(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    process_batch(&event.payload).await
}

/// The SQS handler with otel-faas.
#[traced_function(trigger = "sqs")]
pub async fn traced_sqs(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    process_batch(&event.payload).await
}

/// How long the I/O handlers wait, as for a downstream call: `BENCH_HANDLER_IO_MS`.
pub fn handler_io() -> std::time::Duration {
    static IO: std::sync::OnceLock<std::time::Duration> = std::sync::OnceLock::new();
    *IO.get_or_init(|| {
        let ms = std::env::var("BENCH_HANDLER_IO_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        std::time::Duration::from_millis(ms)
    })
}

/// The SQS handler, bare, waiting [`handler_io`] first (a downstream call).
pub async fn bare_sqs_io(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    tokio::time::sleep(handler_io()).await;
    process_batch(&event.payload).await
}

/// The SQS handler with otel-faas, waiting [`handler_io`] first (a downstream call).
#[traced_function(trigger = "sqs")]
pub async fn traced_sqs_io(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    tokio::time::sleep(handler_io()).await;
    process_batch(&event.payload).await
}

/// The HTTP handler, bare.
pub async fn bare_http(request: Request) -> Result<Response<Body>, Error> {
    respond(&request)
}

/// The HTTP handler with otel-faas.
#[traced_function(trigger = "http")]
pub async fn traced_http(request: Request) -> Result<Response<Body>, Error> {
    respond(&request)
}

/// The request a handler receives for `event`, as `lambda_http` builds it.
pub fn http_request(event: ApiGatewayProxyRequest, context: lambda_runtime::Context) -> Request {
    Request::from(lambda_http::request::LambdaRequest::ApiGatewayV1(event))
        .with_lambda_context(context)
}

/// Hand-written OpenTelemetry instrumentation producing the spans otel-faas produces.
pub struct HandWritten {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    propagator: TraceContextPropagator,
    coldstart: std::sync::atomic::AtomicBool,
}

impl Default for HandWritten {
    fn default() -> Self {
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(Discard)
            .build();
        let tracer = provider.tracer("hand-written");
        HandWritten {
            provider,
            tracer,
            propagator: TraceContextPropagator::new(),
            coldstart: std::sync::atomic::AtomicBool::new(true),
        }
    }
}

impl Drop for HandWritten {
    fn drop(&mut self) {
        let _ = self
            .provider
            .shutdown_with_timeout(Duration::from_millis(100));
    }
}

impl HandWritten {
    fn invocation_attributes(
        &self,
        trigger: &'static str,
        context: &lambda_runtime::Context,
    ) -> Vec<KeyValue> {
        let arn = &context.invoked_function_arn;
        let account = arn.split(':').nth(4).unwrap_or_default().to_owned();
        vec![
            KeyValue::new(semconv::FAAS_TRIGGER, trigger),
            KeyValue::new(semconv::FAAS_INVOCATION_ID, context.request_id.clone()),
            KeyValue::new(
                semconv::FAAS_COLDSTART,
                self.coldstart
                    .swap(false, std::sync::atomic::Ordering::Relaxed),
            ),
            KeyValue::new(semconv::AWS_LAMBDA_INVOKED_ARN, arn.clone()),
            KeyValue::new(semconv::CLOUD_ACCOUNT_ID, account),
            KeyValue::new(semconv::CLOUD_RESOURCE_ID, arn.clone()),
        ]
    }

    /// The SQS handler, instrumented by hand: SERVER invocation span, CONSUMER batch span
    /// linked to each message's producer.
    pub async fn sqs(&self, event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
        let attributes = self.invocation_attributes("pubsub", &event.context);
        let invocation = self
            .tracer
            .span_builder(event.context.env_config.function_name.clone())
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start(&self.tracer);
        let cx = Context::new().with_span(invocation);
        let records = &event.payload.records;
        let queue = records
            .first()
            .and_then(|m| m.event_source_arn.as_deref())
            .and_then(|a| a.rsplit(':').next());
        let links: Vec<Link> = records
            .iter()
            .filter_map(|m| {
                let header = m.attributes.get("AWSTraceHeader")?;
                let producer =
                    opentelemetry_aws::trace::xray_propagator::span_context_from_str(header)?;
                let id = KeyValue::new(
                    semconv::MESSAGING_MESSAGE_ID,
                    m.message_id.clone().unwrap_or_default(),
                );
                Some(Link::new(producer, vec![id], 0))
            })
            .collect();
        let batch = self
            .tracer
            .span_builder(format!("process {}", queue.unwrap_or_default()))
            .with_kind(SpanKind::Consumer)
            .with_attributes([
                KeyValue::new(semconv::FAAS_TRIGGER, "pubsub"),
                KeyValue::new(semconv::MESSAGING_SYSTEM, "aws_sqs"),
                KeyValue::new(semconv::MESSAGING_OPERATION_TYPE, "process"),
                KeyValue::new(semconv::MESSAGING_OPERATION_NAME, "process"),
                KeyValue::new(
                    semconv::MESSAGING_DESTINATION_NAME,
                    queue.unwrap_or_default().to_owned(),
                ),
                KeyValue::new(semconv::MESSAGING_BATCH_MESSAGE_COUNT, records.len() as i64),
            ])
            .with_links(links)
            .start_with_context(&self.tracer, &cx);
        let batch_cx = cx.with_span(batch);
        let result = process_batch(&event.payload)
            .with_context(batch_cx.clone())
            .await;
        if let Err(error) = &result {
            batch_cx.span().set_status(Status::error(error.to_string()));
        }
        batch_cx.span().end();
        cx.span().end();
        result
    }

    /// The HTTP handler, instrumented by hand: one SERVER span, parent from `traceparent`.
    pub async fn http(&self, request: Request) -> Result<Response<Body>, Error> {
        let parent = self.propagator.extract(&Headers(request.headers()));
        let context = request.lambda_context_ref().cloned().unwrap_or_default();
        let mut attributes = self.invocation_attributes("http", &context);
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let route = "/pets/{petId}";
        attributes.extend([
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
        ]);
        let span = self
            .tracer
            .span_builder(format!("{} {route}", request.method()))
            .with_kind(SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &parent);
        let cx = parent.with_span(span);
        let result = {
            let _attached = cx.clone().attach();
            respond(&request)
        };
        if let Ok(response) = &result {
            cx.span().set_attribute(KeyValue::new(
                semconv::HTTP_RESPONSE_STATUS_CODE,
                i64::from(response.status().as_u16()),
            ));
        }
        cx.span().end();
        result
    }
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Reads and counts everything `child` writes to its standard output (for contestants that
/// export to it), so that the pipe never fills.
pub fn count_stdout(child: &mut tokio::process::Child) -> tokio::task::JoinHandle<u64> {
    let stdout = child.stdout.take();
    tokio::spawn(async move {
        let Some(mut stdout) = stdout else { return 0 };
        tokio::io::copy(&mut stdout, &mut tokio::io::sink())
            .await
            .unwrap_or(0)
    })
}

/// `100000` → `100,000`, for the tables.
pub fn thousands(n: impl std::fmt::Display) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The directory of the contestants' function binaries (`fn_*`): the running harness's own.
pub fn binaries_dir() -> Result<std::path::PathBuf, Error> {
    Ok(std::env::current_exe()?
        .parent()
        .ok_or("no directory")?
        .to_path_buf())
}

/// The contestant's function binary `name` in `dir`, or an error saying how to build it.
pub fn contestant_binary(dir: &std::path::Path, name: &str) -> Result<std::path::PathBuf, Error> {
    let path = dir.join(name);
    if !path.exists() {
        return Err(format!(
            "{} not found: build the contestants first (cargo build --release -p otel-faas-benches --bins)",
            path.display()
        )
        .into());
    }
    Ok(path)
}
