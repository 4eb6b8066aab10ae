//! OpenTelemetry traces for Rust serverless functions, with one attribute.
//!
//! ```no_run
//! use otel_faas_runtime::aws_lambda_events::event::sqs::SqsEvent;
//! use otel_faas_runtime::{lambda::LambdaEvent, traced_function, Error};
//!
//! #[traced_function(trigger = "sqs")]
//! async fn handler(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
//!     // business logic; `tracing` spans made here nest under the invocation's spans
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     otel_faas_runtime::lambda::run(handler).await
//! }
//! ```
//!
//! [`traced_function`] keeps the handler an ordinary async fn — a unit test can call it —
//! and wraps its body in glue that extracts the incoming trace context, opens the
//! invocation span (SERVER) and the trigger's span (CONSUMER for messaging) with the
//! OpenTelemetry semantic-convention attributes, and records errors and panics. A wrong
//! trigger name, option or event type is a compile error that says how to fix it.
//!
//! [`lambda::run`] owns the rest: telemetry set up from the standard `OTEL_*` variables
//! before the first invocation, the `lambda_runtime` loop, an export of each invocation's
//! spans before its response is posted — bounded by a flush timeout and by the invocation's
//! deadline, so a slow or dead collector never makes the function time out — and a final
//! flush on SIGTERM.
//!
//! # The crates a handler names
//!
//! A handler's event types, an HTTP handler's request and response, and a test's span
//! types come from other crates, at the versions this crate is built with. They are
//! re-exported, so a function depends on this crate alone (plus `tokio` for `main`):
//! [`aws_lambda_events`] (`SqsEvent`, `S3Event`, …), [`lambda_http`] (`Request`,
//! `Response`, `Body`), [`http`] (Azure's HTTP request and response), [`opentelemetry`]
//! (`SpanKind`, `Status`, `KeyValue`) and [`opentelemetry_sdk`] (`SpanData`, the span type
//! the test kit returns).
//!
//! # Triggers
//!
//! | `trigger =` | handler argument | spans |
//! |---|---|---|
//! | `"http"` | `lambda_http::Request` (API Gateway v1/v2, Function URL, ALB) | SERVER `{method} {route}` |
//! | `"sqs"` | `LambdaEvent<SqsEvent>` | SERVER → CONSUMER `process {queue}` linked to each producer |
//! | `"sqs", per_message` | `SqsMessage` | … → CONSUMER `process {queue}` per message; failures reported for you |
//! | `"sns"` | `LambdaEvent<SnsEvent>` | SERVER → CONSUMER `process {topic}` linked to each publisher |
//! | `"eventbridge"` | `LambdaEvent<EventBridgeEvent<T>>` | SERVER → CONSUMER `process` (no bus in the event); context from `detail` on request |
//! | `"schedule"` | `LambdaEvent<EventBridgeEvent>` | SERVER, `faas.trigger=timer`, always a new root |
//! | `"s3"` | `LambdaEvent<S3Event>` | SERVER with `faas.document.*` |
//! | `"dynamodb"` | `LambdaEvent<dynamodb::Event>` | SERVER with `faas.document.*` |
//! | `"kinesis"` | `LambdaEvent<KinesisEvent>` | SERVER → CONSUMER `process {stream}` |
//! | `"kafka"` | `LambdaEvent<KafkaEvent>` (MSK, self-managed Kafka) | SERVER → CONSUMER `process {topic}` linked to each record's `traceparent` header |
//! | `"s3"`/`"dynamodb"`/`"kinesis"`/`"kafka"`, `per_record` | one record | … → a span per record; failures reported for you |
//! | `"other"` | `LambdaEvent<T>`, any `T` | SERVER, parent from the client context |
//!
//! See [`trigger`] for the attributes of each.
//!
//! # Configuration
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OTEL_SDK_DISABLED` | `false` | `true`: no telemetry; the glue calls the handler directly |
//! | `OTEL_SERVICE_NAME` | function name | `service.name` |
//! | `OTEL_RESOURCE_ATTRIBUTES` | | extra resource attributes, `k=v,k2=v2` |
//! | `OTEL_TRACES_SAMPLER` / `_ARG` | `parentbased_always_on` | `always_on`, `always_off`, `traceidratio`, `parentbased_*` |
//! | `OTEL_PROPAGATORS` | `tracecontext,baggage` | also `xray`, `xray-lambda`, `none` |
//! | `OTEL_TRACES_EXPORTER` | `otlp`; `azure_monitor` when `APPLICATIONINSIGHTS_CONNECTION_STRING` is set and the `azure-monitor` feature built | `otlp`, `azure_monitor` (Application Insights), `console` (trace tree on stdout), `none` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318` (`grpc`: `http://localhost:4317`) | OTLP endpoint, `http://` or `https://` (`/v1/traces`, `/v1/metrics`, `/v1/logs` appended; nothing with `grpc`) |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` | also `http/json` (the `http-json` feature) and `grpc` (the `grpc` feature); one not built is a start-up error |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION` | none | `gzip` (the `gzip` feature, on by default) |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | | `k=v,…` headers sent with every export (values percent-decoded) |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` | `10000` | per-request timeout (ms); the flush timeout bounds every export further, retries included |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE` | | PEM file of CAs trusted beside the built-in roots (`https` only; the `tls` feature, on by default) |
//! | `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `_CLIENT_KEY` | | PEM client certificate chain and key, for mTLS |
//! | `OTEL_EXPORTER_OTLP_TRACES_*`, `_METRICS_*`, `_LOGS_*` | | each of the above for one signal; a signal's `_ENDPOINT` is the full URL |
//! | `OTEL_FAAS_SIGV4` | `auto` | SigV4-sign exports with the function's credentials (the `aws-sigv4` feature): `auto` for `*.amazonaws.com` endpoints, `on`, `off` |
//! | `OTEL_FAAS_SIGV4_SERVICE`, `OTEL_FAAS_SIGV4_<SIGNAL>_SERVICE` | from the host, else `logs` for logs and `xray` for the rest | the signing name, when the endpoint's host does not say it |
//! | `OTEL_METRICS_EXPORTER` | `otlp` when spans go over OTLP, else `none` | FaaS metrics ([`metrics`]): `otlp`, `none` |
//! | `OTEL_LOGS_EXPORTER` | `none` | `otlp`: the handler's `tracing` events as OpenTelemetry log records, flushed with the invocation's spans |
//! | `OTEL_METRIC_EXPORT_INTERVAL` | `60000` | least time (ms) between two exports of the FaaS metrics; always exported on SIGTERM; `0`: with every invocation ([`metrics`]) |
//! | `OTEL_FAAS_FLUSH` | `sync` | `after_response`: export after the response, through an internal extension ([`lambda::extension`]); on Managed Instances right after the response |
//! | `OTEL_FAAS_FLUSH_TIMEOUT` | `1000` | longest wait (ms) for an invocation's export |
//! | `OTEL_FAAS_AFTER_RESPONSE_FLUSH_TIMEOUT` | `OTEL_FAAS_FLUSH_TIMEOUT` | with `after_response`: longest (ms) the export after the response runs; the deadline still bounds it |
//! | `OTEL_FAAS_DEADLINE_MARGIN` | `100` | time (ms) kept free before the deadline; a handler still running then is recorded as a timeout |
//! | `OTEL_FAAS_KEEP` | `errors,coldstarts,slow` | traces kept even when the head sampler dropped them ([`sampling`]); `none` |
//! | `OTEL_FAAS_KEEP_SLOWER_THAN` | `1000` | what `slow` means (ms) |
//! | `OTEL_BSP_MAX_QUEUE_SIZE` | `2048` | spans buffered per invocation; more leaf spans are dropped, counted on the invocation span and logged (the invocation's own spans are always kept) |
//! | `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` | `4096` | longest attribute value taken from an event |
//! | `AWS_LAMBDA_MAX_CONCURRENCY` | set by Lambda Managed Instances | above 1: that many invocations at once ([`lambda`]) |
//!
//! Export failures never fail an invocation: `429`, `502`, `503`, `504` and connection
//! failures are retried with backoff or the server's `Retry-After` while the flush budget
//! lasts, then the spans are dropped, counted and logged (at most once a minute), as are the
//! spans an endpoint rejects in a partial success ([`telemetry::Telemetry::rejected_spans`]).
//! A value the build cannot honour (`http/json` without its feature, `grpc`, `https`
//! without `tls`, an unreadable certificate) is logged as an error at start-up naming the
//! variable and the feature, and that signal is not exported.
//!
//! # Passing the trace on
//!
//! [`outgoing`] writes the current trace context into what the handler sends — HTTP headers,
//! SQS and SNS message attributes, SQS's `AWSTraceHeader`, an EventBridge `detail`, a Lambda
//! client context — with PRODUCER/CLIENT spans for the calls; with the `aws-sdk-*` features
//! one interceptor on an AWS SDK client does it for every send, and with `reqwest`,
//! `send_traced` for every request.
//!
//! # Azure Functions
//!
//! With the `azure` feature, [`azure::FunctionApp`] serves annotated handlers as an Azure
//! Functions custom handler, with the `http`, `queue`, `service_bus`, `event_hubs` and
//! `timer` triggers; see [`azure`].
//!
//! # Testing handlers
//!
//! With the `testing` feature, [`testing::TestKit`] invokes an annotated handler in process,
//! with a synthetic Lambda context, and captures its spans and FaaS metric points for
//! assertions.
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod arn;
#[cfg(feature = "azure")]
#[cfg_attr(docsrs, doc(cfg(feature = "azure")))]
pub mod azure;
mod azure_monitor;
pub mod config;
pub(crate) mod events;
pub mod export;
mod init;
mod invocation;
pub mod lambda;
mod logging;
mod logs;
pub mod metrics;
mod otlp;
pub mod outcome;
pub mod outgoing;
mod platform;
mod processor;
mod propagation;
pub mod redact;
// The trace-tree printer: the console exporter and `TestKit::tree` print with it here, and
// `otel-faas-local` (the local runner) re-exports it. Not part of this crate's API.
#[doc(hidden)]
pub mod render;
mod resource;
pub mod sampling;
pub mod telemetry;
pub mod trigger;
mod watchdog;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

/// Traces an AWS Lambda or Azure Functions handler; see the crate documentation.
///
/// ```ignore
/// #[traced_function(trigger = "http")]
/// #[traced_function(trigger = "sqs", name = "orders", links_from = "both")]
/// #[traced_function(trigger = "sqs", per_message)]
/// #[traced_function(trigger = "kinesis", per_record, links_from = "data")]
/// #[traced_function(trigger = "kafka", per_record)]
/// #[traced_function(trigger = "eventbridge", parent_from = "detail")]
/// #[traced_function(trigger = "schedule", cron = "0 9 * * ? *")]
/// #[traced_function(trigger = "other")]
/// ```
///
/// | option | triggers | meaning |
/// |---|---|---|
/// | `trigger = "…"` | required | AWS: `http`, `sqs`, `sns`, `eventbridge`, `schedule`, `s3`, `dynamodb`, `kinesis`, `kafka`, `other`; Azure: `http`, `queue`, `service_bus`, `event_hubs`, `timer` |
/// | `name = "…"` | all | span name instead of the trigger's (the invocation span; the record span with `per_message`/`per_record`) |
/// | `per_message` | `sqs` | the handler takes one `SqsMessage`; failures are returned as `SqsBatchResponse` |
/// | `per_record` | `kinesis`, `dynamodb`, `s3`, `kafka` | the handler takes one record; failures are returned as the platform's batch response (S3, Kafka: the invocation fails) |
/// | `links_from = "…"` | `sqs`, `kinesis`, `eventbridge` | sqs: `aws_trace_header` (default), `message_attributes`, `both`; kinesis: `data`; eventbridge: `detail` |
/// | `parent_from = "detail"` | `eventbridge` | continue the trace carried in the event's `detail` |
/// | `cron = "…"` | `schedule` | the schedule's cron expression, recorded as `faas.cron` |
/// | `provider = "…"` | all | `aws` or `azure`; by default the trigger's platform, and for `http` the argument type's |
pub use otel_faas_macros::traced_function;

/// AWS's event types for Lambda (`event::sqs::SqsEvent`, `event::s3::S3Event`, …), with
/// the features of every trigger this crate supports enabled: a handler names its event
/// type through this re-export.
pub use aws_lambda_events;
/// The `http` crate: the request of an Azure `http` handler (`azure::HttpRequest`) and the
/// `http::Response` it may return.
pub use http;
/// The crate behind the `http` trigger: an HTTP handler takes a `lambda_http::Request` and
/// returns a `lambda_http::Response` (or anything that converts into one).
pub use lambda_http;
/// The OpenTelemetry API this crate records with (`trace::SpanKind`, `trace::Status`,
/// `KeyValue`): what a test compares a captured span's fields against.
pub use opentelemetry;
/// The OpenTelemetry SDK this crate exports with: `trace::SpanData`, the spans the test kit
/// captures, and the exporter and resource types [`Telemetry`]'s builder takes.
pub use opentelemetry_sdk;

/// The error type handlers usually return (`lambda_runtime::Error`).
pub type Error = lambda_runtime::Error;

pub use telemetry::Telemetry;
