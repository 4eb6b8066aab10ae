//! A test kit for traced handlers: invoke an annotated handler in process, with a synthetic
//! Lambda context, and assert on the spans it produced.
//!
//! Each [`TestKit`] has its own telemetry pipeline with an in-memory exporter, so tests
//! running in parallel never see each other's spans. An invocation goes through the
//! service stack [`crate::lambda::run`] builds — the layer that makes each event an
//! invocation of its own (and records one that does not deserialize), the deadline
//! watchdog, the handler's service, the glue, the export — with the Runtime API client left
//! out. `lambda_runtime`'s own services that deserialize the event and catch a panic are
//! private to it; the kit does what they do (`lambda_runtime`'s `layers/api_response.rs`
//! and `layers/panic.rs`), with the same error type and message. Invocations may run
//! concurrently, as on Lambda Managed Instances: each owns its spans.
//!
//! ```
//! use otel_faas_runtime::aws_lambda_events::event::sqs::SqsEvent;
//! use otel_faas_runtime::testing::{SpanDataExt, TestKit};
//! use otel_faas_runtime::{lambda::LambdaEvent, traced_function, Error};
//! use otel_faas_runtime::opentelemetry::trace::SpanKind;
//!
//! #[traced_function(trigger = "sqs")]
//! async fn handler(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let kit = TestKit::new();
//! let event = serde_json::json!({ "Records": [
//!     { "messageId": "m-1", "body": "{}", "eventSource": "aws:sqs",
//!       "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:orders",
//!       "attributes": { "AWSTraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1" } },
//! ]});
//! kit.invoke(handler, event).await.expect("handler succeeded");
//!
//! let spans = kit.spans();
//! let batch = spans.named("process orders");
//! assert_eq!(batch.span_kind, SpanKind::Consumer);
//! assert_eq!(batch.attr("messaging.system").as_deref(), Some("aws_sqs"));
//! assert_eq!(batch.links.len(), 1);
//! let invocation = spans.parent_of(batch).expect("the invocation span");
//! assert_eq!(invocation.attr("faas.trigger").as_deref(), Some("pubsub"));
//! # }
//! ```
//!
//! # Defaults
//!
//! A kit stands for one function in one account, whatever the test process's environment
//! says: it reads no `OTEL_*` and no `AWS_*` variable.
//!
//! | | default | where it shows | change it with |
//! |---|---|---|---|
//! | function name | `test-function` | the invocation span's name; the resource's `service.name` and `faas.name`; the log group `/aws/lambda/test-function` | [`TestKit::function_name`] |
//! | account | `123456789012` | `cloud.account.id`, in the invoked ARN | [`Invocation::invoked_function_arn`] |
//! | region | `us-east-1` | the resource's `cloud.region`, in the invoked ARN | the ARN only: the resource keeps `us-east-1` |
//! | invoked ARN | `arn:aws:lambda:us-east-1:123456789012:function:test-function` (unqualified) | `aws.lambda.invoked_arn`, `cloud.resource_id` | [`Invocation::invoked_function_arn`] |
//! | request id | `00000000-0000-4000-8000-000000000001`, counting up | `faas.invocation_id` | [`Invocation::request_id`] |
//! | deadline | 3 s after the invocation starts | a handler still running then is recorded as a timeout | [`Invocation::timeout`] |
//! | trace context | none: each invocation starts a trace | the invocation span's parent | [`Invocation::xray_trace_id`], [`Invocation::client_context`] |
//! | memory, version | 128 MB, `$LATEST` | the Lambda context the handler gets | — |
//! | configuration | the defaults of [`Config`]: every trace recorded (`parentbased_always_on`), `tracecontext,baggage` propagation, FaaS metrics kept in memory, exported with every flush (`OTEL_METRIC_EXPORT_INTERVAL` is taken as `0`) | | [`TestKit::with_config`] |
//! | cold start | the kit's first invocation is `faas.coldstart=true`, the next ones `false` | | a new kit |
//!
//! ```
//! use otel_faas_runtime::opentelemetry::Key;
//! use otel_faas_runtime::testing::{Invocation, SpanDataExt, TestKit};
//! use otel_faas_runtime::{lambda::LambdaEvent, traced_function, Error};
//!
//! #[traced_function(trigger = "other")]
//! async fn handler(event: LambdaEvent<serde_json::Value>) -> Result<i32, Error> {
//!     Ok(event.context.env_config.memory)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let kit = TestKit::new();
//! assert_eq!(kit.invoke(handler, serde_json::json!({})).await.unwrap(), 128);
//! let spans = kit.spans();
//! let invocation = spans.named("test-function");
//! let arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function";
//! assert_eq!(invocation.attr("cloud.account.id").as_deref(), Some("123456789012"));
//! assert_eq!(invocation.attr("aws.lambda.invoked_arn").as_deref(), Some(arn));
//! assert_eq!(invocation.attr("cloud.resource_id").as_deref(), Some(arn));
//! assert_eq!(invocation.attr("faas.invocation_id").map(|id| id.len()), Some(36));
//! assert_eq!(invocation.attr("faas.coldstart").as_deref(), Some("true"));
//! assert_eq!(invocation.parent_span_id, otel_faas_runtime::opentelemetry::trace::SpanId::INVALID);
//! let resource = kit.telemetry().resource();
//! for (key, value) in [
//!     ("service.name", "test-function"),
//!     ("faas.name", "test-function"),
//!     ("cloud.region", "us-east-1"),
//!     ("cloud.provider", "aws"),
//!     ("cloud.platform", "aws_lambda"),
//! ] {
//!     assert_eq!(resource.get(&Key::new(key)).map(|v| v.to_string()).as_deref(), Some(value));
//! }
//! let context = kit.context(Invocation::default());
//! assert_eq!(context.env_config.version, "$LATEST");
//! assert_eq!(context.env_config.log_group, "/aws/lambda/test-function");
//! assert!(context.request_id.starts_with("00000000-0000-4000-8000-"));
//!
//! kit.invoke(handler, serde_json::json!({})).await.unwrap();
//! let second = kit.spans().all_named("test-function")[1].clone();
//! assert_eq!(second.attr("faas.coldstart").as_deref(), Some("false"));
//! # }
//! ```
//!
//! # What the kit covers, and what it leaves out
//!
//! Covered, as [`crate::lambda::run`] does it: the event read into the handler's type (one
//! that does not deserialize fails with `lambda_runtime`'s error and message, and its
//! invocation span is exported with `error.type`); an `http` handler's event converted by
//! `lambda_http`; the incoming trace context (client context, X-Ray header); the glue's
//! spans and attributes; a panic caught and reported as Lambda reports it; the deadline
//! watchdog and the timeout; the sampler and the keep rules; each invocation's own span
//! buffer and its export; the FaaS metrics; concurrent invocations.
//!
//! Left out: the Runtime API client and its poll loop (the `Lambda-Runtime-*` headers as
//! Lambda sends them), the `init` span of the process's start, export over OTLP/HTTP with
//! its flush timeout, the after-response flush extension (`OTEL_FAAS_FLUSH=after_response`),
//! SIGTERM, and the resource read from Lambda's environment. Those run only under
//! [`crate::lambda::run`], against Lambda or an emulator of its Runtime API.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::tower::{Layer as _, Service};
use lambda_runtime::{Diagnostic, LambdaEvent, LambdaInvocation};
use opentelemetry::trace::SpanId;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_semantic_conventions::attribute::{
    CLOUD_PLATFORM, CLOUD_PROVIDER, CLOUD_REGION, FAAS_NAME,
};
use serde::Serialize;
use tracing::instrument::WithSubscriber as _;
use tracing_subscriber::layer::SubscriberExt as _;

use crate::config::Config;
use crate::export::MemoryExporter;
use crate::invocation::{Invocation as Running, Supervision};
use crate::lambda::Handler;
use crate::lambda::diagnostic::Delivered;
use crate::lambda::handler::deliver;
use crate::lambda::layer::{InvocationLayer, deadline_of};
use crate::metrics::{MemoryMetricExporter, MetricPoint};
use crate::render::{SpanView, render_trees};
use crate::telemetry::Telemetry;
use crate::watchdog::Watchdog;

/// Invokes handlers in process and captures their spans.
pub struct TestKit {
    telemetry: Telemetry,
    exporter: MemoryExporter,
    metrics: MemoryMetricExporter,
    dispatch: tracing::Dispatch,
    watchdog: Arc<Watchdog>,
    function: Arc<lambda_runtime::Config>,
    region: String,
    account_id: String,
}

impl std::fmt::Debug for TestKit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKit")
            .field("function", &self.function.function_name)
            .finish_non_exhaustive()
    }
}

impl Default for TestKit {
    fn default() -> Self {
        TestKit::new()
    }
}

impl TestKit {
    /// A kit for a function named `test-function`, with the default configuration (every
    /// trace recorded, W3C propagation), whatever the process environment says.
    pub fn new() -> Self {
        TestKit::with_config(Config::from_lookup(|_| None))
    }

    /// A kit with `config`, for tests of sampling or propagation:
    ///
    /// ```
    /// # use otel_faas_runtime::{config::Config, testing::TestKit};
    /// let kit = TestKit::with_config(Config::from_lookup(|key| match key {
    ///     "OTEL_TRACES_SAMPLER" => Some("always_off".into()),
    ///     _ => None,
    /// }));
    /// ```
    pub fn with_config(config: Config) -> Self {
        TestKit::build(config, "test-function")
    }

    /// The same kit for a function with another name.
    pub fn function_name(self, name: &str) -> Self {
        TestKit::build(self.telemetry.config().clone(), name)
    }

    /// A kit whose spans go to `exporter` instead of memory ([`TestKit::spans`] then stays
    /// empty): for benchmarks, with an exporter that discards.
    pub fn with_exporter(
        config: Config,
        function_name: &str,
        exporter: impl SpanExporter + 'static,
    ) -> Self {
        TestKit::build_with(config, function_name, exporter, MemoryExporter::default())
    }

    fn build(config: Config, function_name: &str) -> Self {
        let memory = MemoryExporter::default();
        TestKit::build_with(config, function_name, memory.clone(), memory)
    }

    fn build_with(
        config: Config,
        function_name: &str,
        exporter: impl SpanExporter + 'static,
        memory: MemoryExporter,
    ) -> Self {
        let region = "us-east-1".to_owned();
        let resource = Resource::builder_empty()
            .with_service_name(function_name.to_owned())
            .with_attributes([
                KeyValue::new(CLOUD_PROVIDER, "aws"),
                KeyValue::new(CLOUD_PLATFORM, "aws_lambda"),
                KeyValue::new(CLOUD_REGION, region.clone()),
                KeyValue::new(FAAS_NAME, function_name.to_owned()),
            ])
            .build();
        let (telemetry, metrics, subscriber) = pipeline(config, resource, exporter);
        TestKit {
            dispatch: subscriber,
            watchdog: Arc::default(),
            telemetry,
            exporter: memory,
            metrics,
            function: Arc::new(lambda_runtime::Config {
                function_name: function_name.to_owned(),
                memory: 128,
                version: "$LATEST".to_owned(),
                log_stream: "2026/11/21/[$LATEST]0123456789abcdef".to_owned(),
                log_group: format!("/aws/lambda/{function_name}"),
            }),
            region,
            account_id: "123456789012".to_owned(),
        }
    }

    /// The FaaS metric points exported so far (delta: each flush's increase), unless the
    /// kit's configuration says `OTEL_METRICS_EXPORTER=none`.
    pub fn metrics(&self) -> Vec<MetricPoint> {
        self.metrics.points()
    }

    /// The kit's telemetry pipeline.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Invokes `handler` with `event` serialized to JSON, as Lambda would deliver it, and
    /// returns what the handler produced or the error Lambda would report.
    pub async fn invoke<H, M>(
        &self,
        handler: H,
        event: impl Serialize,
    ) -> Result<H::Output, Diagnostic>
    where
        H: Handler<M>,
        M: 'static,
    {
        self.invoke_with(handler, event, Invocation::default())
            .await
    }

    /// [`TestKit::invoke`] with a chosen request id, client context, trace header or timeout.
    pub async fn invoke_with<H, M>(
        &self,
        handler: H,
        event: impl Serialize,
        invocation: Invocation,
    ) -> Result<H::Output, Diagnostic>
    where
        H: Handler<M>,
        M: 'static,
    {
        let payload = serde_json::to_vec(&event).map_err(|error| Diagnostic {
            error_type: "serde_json::Error".to_owned(),
            error_message: format!("the test event does not serialize: {error}"),
        })?;
        self.invoke_raw(handler, &payload, invocation).await
    }

    /// Invokes `handler` with raw payload bytes — malformed ones included, to test how a bad
    /// event is reported.
    pub async fn invoke_raw<H, M>(
        &self,
        handler: H,
        payload: &[u8],
        invocation: Invocation,
    ) -> Result<H::Output, Diagnostic>
    where
        H: Handler<M>,
        M: 'static,
    {
        let context = self.context(invocation);
        let answer = Arc::new(Mutex::new(None));
        let handler = HandlerService {
            handler: Arc::new(handler),
            answer: answer.clone(),
            marker: std::marker::PhantomData,
        };
        let mut service =
            InvocationLayer::new::<H::Payload>(Some(self.telemetry.clone()), H::TRIGGER)
                .with_watchdog(self.watchdog.clone())
                .layer(handler);
        let request = LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: bytes::Bytes::copy_from_slice(payload),
            context,
        };
        let served = service
            .call(request)
            .with_subscriber(self.dispatch.clone())
            .await;
        let answer = answer.lock().unwrap_or_else(|p| p.into_inner()).take();
        match (served, answer) {
            (_, Some(answer)) => answer,
            (Err(error), None) => Err(Diagnostic {
                error_type: "otel_faas_runtime::testing::ServiceError".to_owned(),
                error_message: error.to_string(),
            }),
            (Ok(()), None) => unreachable!("the handler's service always answers"),
        }
    }

    /// Invokes `handler` with an event already deserialized, as `lambda_runtime` hands it
    /// over: no JSON on the way in or out. The invocation is begun as the layer begins it
    /// (its own spans, the deadline watchdog), but the layer's check for an event the
    /// handler never saw is left out.
    pub async fn invoke_event<H, M>(
        &self,
        handler: H,
        event: LambdaEvent<H::Payload>,
    ) -> Result<H::Output, Diagnostic>
    where
        H: Handler<M>,
        M: 'static,
    {
        let invocation = Running::begin(
            self.telemetry.clone(),
            event.context.request_id.clone(),
            deadline_of(&event.context),
            Supervision {
                watchdog: Some(self.watchdog.clone()),
                after_response: false,
            },
        );
        invocation
            .run(handler.call(event))
            .with_subscriber(self.dispatch.clone())
            .await
    }

    /// The Lambda context the Runtime API would give `invocation` of this kit's function.
    pub fn context(&self, invocation: Invocation) -> lambda_runtime::Context {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let deadline = SystemTime::now() + invocation.timeout.unwrap_or(Duration::from_secs(3));
        let mut context = lambda_runtime::Context::default();
        context.request_id = invocation
            .request_id
            .unwrap_or_else(|| format!("00000000-0000-4000-8000-{n:012x}"));
        context.deadline = deadline
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        context.invoked_function_arn = invocation.invoked_function_arn.unwrap_or_else(|| {
            format!(
                "arn:aws:lambda:{}:{}:function:{}",
                self.region, self.account_id, self.function.function_name
            )
        });
        context.xray_trace_id = invocation.xray_trace_id;
        // `lambda_runtime` does not export the client context type; build it as the runtime does.
        context.client_context = invocation.client_context.and_then(|custom| {
            serde_json::from_value(serde_json::json!({ "custom": custom })).ok()
        });
        context.env_config = self.function.clone();
        context
    }

    /// The spans exported so far, in the order they ended.
    pub fn spans(&self) -> Spans {
        Spans(self.exporter.spans())
    }

    /// The spans exported so far as a printable trace tree.
    pub fn tree(&self) -> String {
        self.spans().tree()
    }

    /// Forgets the spans and metric points exported so far.
    pub fn clear(&self) {
        self.exporter.clear();
        self.metrics.clear();
    }
}

/// A kit's pipeline: `config` and `resource`, spans to `exporter`, FaaS metric points to
/// memory (unless `OTEL_METRICS_EXPORTER=none`), and the `tracing` subscriber of its
/// invocations.
fn pipeline(
    config: Config,
    resource: Resource,
    exporter: impl SpanExporter + 'static,
) -> (Telemetry, MemoryMetricExporter, tracing::Dispatch) {
    let metrics = MemoryMetricExporter::default();
    // A test reads each invocation's points at once: they leave with every flush.
    let mut config = config;
    config.metric_export_interval = Duration::ZERO;
    let mut builder = Telemetry::builder();
    if config.metrics_exporter != crate::config::ExporterKind::None {
        builder = builder.with_metrics_exporter(metrics.clone());
    }
    let telemetry = builder
        .config(config)
        .with_exporter(exporter)
        .with_resource(resource)
        .build();
    // The level `lambda::run` exports by default: `debug` spans — a dependency's, such
    // as the AWS SDK's per-attempt spans — are not in a deployed function's traces, so
    // they are not in the kit's either.
    use tracing_subscriber::Layer as _;
    let subscriber = tracing_subscriber::registry().with(
        telemetry
            .tracing_layer()
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
    );
    (telemetry, metrics, tracing::Dispatch::new(subscriber))
}

/// How to invoke: what the Runtime API would say about the invocation.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`; a fresh id by default.
    pub request_id: Option<String>,
    /// `Lambda-Runtime-Invoked-Function-Arn`; the unqualified function ARN by default.
    pub invoked_function_arn: Option<String>,
    /// `Lambda-Runtime-Trace-Id`.
    pub xray_trace_id: Option<String>,
    /// The `custom` part of `Lambda-Runtime-Client-Context`, where callers put `traceparent`.
    pub client_context: Option<HashMap<String, String>>,
    /// Time until the deadline; 3 s by default.
    pub timeout: Option<Duration>,
}

/// Captured spans, with lookups that fail with a readable message.
#[derive(Clone, Debug)]
pub struct Spans(pub Vec<SpanData>);

impl Spans {
    /// The only span named `name`; panics listing the names present otherwise.
    pub fn named(&self, name: &str) -> &SpanData {
        let matching: Vec<&SpanData> = self.0.iter().filter(|s| s.name == name).collect();
        match matching.as_slice() {
            [one] => one,
            [] => panic!("no span named {name:?}; spans: {:?}", self.names()),
            _ => panic!("{} spans named {name:?}; use `all_named`", matching.len()),
        }
    }

    /// Every span named `name`, in end order.
    pub fn all_named(&self, name: &str) -> Vec<&SpanData> {
        self.0.iter().filter(|s| s.name == name).collect()
    }

    /// The names, in end order.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|s| s.name.to_string()).collect()
    }

    /// The parent of `span`, if it was captured.
    pub fn parent_of(&self, span: &SpanData) -> Option<&SpanData> {
        (span.parent_span_id != SpanId::INVALID)
            .then(|| {
                self.0
                    .iter()
                    .find(|s| s.span_context.span_id() == span.parent_span_id)
            })
            .flatten()
    }

    /// The captured children of `span`, in end order.
    pub fn children_of(&self, span: &SpanData) -> Vec<&SpanData> {
        self.0
            .iter()
            .filter(|s| s.parent_span_id == span.span_context.span_id())
            .collect()
    }

    /// The spans as a printable trace tree.
    pub fn tree(&self) -> String {
        let views: Vec<SpanView> = self.0.iter().map(SpanView::from).collect();
        render_trees(&views)
    }

    /// Number of spans.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no span was captured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Attribute lookups on a captured span.
pub trait SpanDataExt {
    /// The value of attribute `key`.
    fn attribute(&self, key: &str) -> Option<&Value>;
    /// The value of attribute `key`, rendered as a string.
    fn attr(&self, key: &str) -> Option<String> {
        self.attribute(key).map(|v| v.to_string())
    }
    /// The events named `name`.
    fn events_named(&self, name: &str) -> Vec<&opentelemetry::trace::Event>;
}

impl SpanDataExt for SpanData {
    fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }

    fn events_named(&self, name: &str) -> Vec<&opentelemetry::trace::Event> {
        self.events.iter().filter(|e| e.name == name).collect()
    }
}

/// Where the kit's handler service leaves what the handler answered.
type Answer<T> = Arc<Mutex<Option<Result<T, Diagnostic>>>>;

/// The handler's service under the kit's [`InvocationLayer`]: what `lambda_runtime`'s
/// private services and `lambda::run`'s own do with an invocation, the Runtime API client
/// aside — read the event (a malformed one reported as `lambda::run` reports it), call the
/// handler, turn its error or panic into the `Diagnostic` Lambda records — keeping the
/// answer for the kit instead of posting it.
struct HandlerService<H: Handler<M>, M> {
    handler: Arc<H>,
    answer: Answer<H::Output>,
    marker: std::marker::PhantomData<fn() -> M>,
}

impl<H, M> Service<LambdaInvocation> for HandlerService<H, M>
where
    H: Handler<M>,
    H::Output: Send + 'static,
    M: 'static,
{
    type Response = ();
    type Error = lambda_runtime::Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), lambda_runtime::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: LambdaInvocation) -> Self::Future {
        let handler = self.handler.clone();
        let answer = self.answer.clone();
        Box::pin(async move {
            let event = Delivered::<H::Payload>::read(&request.body);
            let result = deliver(&*handler, LambdaEvent::new(event, request.context)).await;
            *answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            Ok(())
        })
    }
}

#[cfg(feature = "azure")]
#[cfg_attr(docsrs, doc(cfg(feature = "azure")))]
pub use azure_kit::{AzureAnswer, AzureTestKit};

/// The test kit for Azure Functions custom handlers.
#[cfg(feature = "azure")]
mod azure_kit {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use bytes::Bytes;
    use http::{HeaderValue, Method, Request, StatusCode};
    use http_body_util::{BodyExt as _, Full};
    use tracing::instrument::WithSubscriber as _;

    use super::{MemoryExporter, MemoryMetricExporter, MetricPoint, Spans, pipeline};
    use crate::azure::FunctionApp;
    use crate::azure::server::{INVOCATION_ID, Routes, handle};
    use crate::config::Config;
    use crate::telemetry::Telemetry;

    /// Invokes the functions of a [`FunctionApp`] in process, as the Functions host invokes
    /// a custom handler, and captures their spans.
    ///
    /// A request goes through the custom handler's own request handling — routing, the
    /// host's payload read into the trigger's type (or refused with a readable 400 and an
    /// error span), the invocation with its own spans and export, the answer in the host's
    /// protocol — with only the listening socket left out. Requests may run concurrently,
    /// as the host sends them.
    ///
    /// ```
    /// use otel_faas_runtime::azure::{AzureEvent, FunctionApp, FunctionBindings, QueueMessage};
    /// use otel_faas_runtime::testing::{AzureTestKit, SpanDataExt};
    /// use otel_faas_runtime::{traced_function, Error};
    ///
    /// #[traced_function(trigger = "queue")]
    /// async fn resize(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    ///     Ok(())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let bindings = FunctionBindings::default().with_trigger("myQueueItem", Some("images"));
    /// let kit = AzureTestKit::new(FunctionApp::new().function_with("Resize", bindings, resize));
    /// let payload = serde_json::json!({
    ///     "Data": { "myQueueItem": "photo.jpg" },
    ///     "Metadata": { "DequeueCount": 1, "Id": "7d2f0a6e-0000-4000-8000-000000000001" }
    /// });
    /// let answer = kit.invoke("Resize", &payload).await;
    /// assert_eq!(answer.status, otel_faas_runtime::http::StatusCode::OK);
    /// let spans = kit.spans();
    /// let consumer = spans.named("process images");
    /// assert_eq!(consumer.attr("messaging.system").as_deref(), Some("azure.storage.queue"));
    /// # }
    /// ```
    pub struct AzureTestKit {
        routes: Arc<Routes>,
        telemetry: Telemetry,
        exporter: MemoryExporter,
        metrics: MemoryMetricExporter,
        dispatch: tracing::Dispatch,
        next: AtomicU64,
    }

    impl std::fmt::Debug for AzureTestKit {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("AzureTestKit").finish_non_exhaustive()
        }
    }

    /// What the custom handler answered the host.
    #[derive(Clone, Debug)]
    pub struct AzureAnswer {
        /// The HTTP status.
        pub status: StatusCode,
        /// The body: the host's response JSON, or a forwarded request's answer.
        pub body: Bytes,
    }

    impl AzureAnswer {
        /// The body as JSON, if it is.
        pub fn json(&self) -> Option<serde_json::Value> {
            serde_json::from_slice(&self.body).ok()
        }

        /// The body as text.
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.body).into_owned()
        }
    }

    impl AzureTestKit {
        /// A kit for `app`, with the default configuration (every trace recorded, W3C
        /// propagation), whatever the process environment says.
        pub fn new(app: FunctionApp) -> Self {
            AzureTestKit::with_config(app, Config::from_lookup(|_| None))
        }

        /// A kit for `app` with `config`, for tests of sampling or propagation.
        pub fn with_config(app: FunctionApp, config: Config) -> Self {
            let exporter = MemoryExporter::default();
            let resource = app.app_identity().resource(&config);
            let (telemetry, metrics, dispatch) = pipeline(config, resource, exporter.clone());
            let routes = Arc::new(app.routes(Some(telemetry.clone())));
            AzureTestKit {
                routes,
                telemetry,
                exporter,
                metrics,
                dispatch,
                next: AtomicU64::new(1),
            }
        }

        /// Invokes `function` with the host's invocation JSON (`{"Data": …, "Metadata": …}`)
        /// and a fresh invocation id.
        pub async fn invoke(&self, function: &str, payload: &serde_json::Value) -> AzureAnswer {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let id = format!("8f6a2c1e-4b7d-4e2a-9c3f-{n:012x}");
            self.invoke_with_id(function, &id, payload).await
        }

        /// Invokes `function` as invocation `invocation_id` (the host's
        /// `x-azure-functions-invocationid`).
        pub async fn invoke_with_id(
            &self,
            function: &str,
            invocation_id: &str,
            payload: &serde_json::Value,
        ) -> AzureAnswer {
            let body = serde_json::to_vec(payload).unwrap_or_default();
            self.post_raw(&format!("/{function}"), invocation_id, Bytes::from(body))
                .await
        }

        /// Posts `body` to `path` as the host posts an invocation, whatever it holds — a
        /// malformed payload included, or `/api/…` for a forwarded HTTP request.
        pub async fn post_raw(&self, path: &str, invocation_id: &str, body: Bytes) -> AzureAnswer {
            let mut request = Request::new(Full::new(body));
            *request.method_mut() = Method::POST;
            *request.uri_mut() = path.parse().unwrap_or_default();
            let headers = request.headers_mut();
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(id) = HeaderValue::from_str(invocation_id) {
                headers.insert(INVOCATION_ID, id);
            }
            let response = handle(self.routes.clone(), request)
                .with_subscriber(self.dispatch.clone())
                .await;
            let response = match response {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let status = response.status();
            let body = match response.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(never) => match never {},
            };
            AzureAnswer { status, body }
        }

        /// The spans exported so far, in the order they ended.
        pub fn spans(&self) -> Spans {
            Spans(self.exporter.spans())
        }

        /// The spans exported so far as a printable trace tree.
        pub fn tree(&self) -> String {
            self.spans().tree()
        }

        /// The FaaS metric points exported so far.
        pub fn metrics(&self) -> Vec<MetricPoint> {
            self.metrics.points()
        }

        /// The kit's telemetry pipeline.
        pub fn telemetry(&self) -> &Telemetry {
            &self.telemetry
        }

        /// Forgets the spans and metric points exported so far.
        pub fn clear(&self) {
            self.exporter.clear();
            self.metrics.clear();
        }
    }
}
