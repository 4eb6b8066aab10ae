//! Spans to Azure Monitor Application Insights, from `APPLICATIONINSIGHTS_CONNECTION_STRING`
//! (the `azure-monitor` feature).
//!
//! | part | job |
//! |---|---|
//! | [`settings`] | the connection string's grammar, checked at start-up; the key never printed in full |
//! | `exporter` | `opentelemetry-application-insights`' exporter, held to the flush budget |
//! | `client` | its HTTP client: pooled Hyper on rustls, requests bounded by the budget |
//!
//! # Why the field's exporter, and not Azure Monitor's OTLP ingestion
//!
//! - `opentelemetry-application-insights` 0.46 is built on `opentelemetry` and
//!   `opentelemetry_sdk` 0.33, ours. It maps spans as Microsoft's own exporters do: a
//!   SERVER or CONSUMER span becomes a `RequestData` envelope, CLIENT, PRODUCER and INTERNAL
//!   spans `RemoteDependencyData`; `ai.operation.id` is the trace id, `ai.operation.parentId`
//!   the parent span id, the item's id the span id; `success` is false for an Error status,
//!   `responseCode` is `http.response.status_code` when there is one; `exception` events
//!   become `ExceptionData`; the resource's `service.name` is the cloud role. It posts
//!   gzip JSON to `{IngestionEndpoint}/v2/track` and retries `408`, `429`, `439`, `500`,
//!   `503` and a `206`'s retryable items alone.
//! - Azure Monitor's OTLP ingestion (learn.microsoft.com, "Ingest OTLP data into Azure
//!   Monitor", `azure-monitor/containers/opentelemetry-protocol-ingestion`) is in preview,
//!   is authenticated with Microsoft Entra ID tokens (the Collector's Azure Authentication
//!   extension) against a data collection endpoint and rule, not with the connection
//!   string, and the Functions host does not set it up: a function would need a token
//!   client and resources the platform does not give it.
//!
//! # What is wrapped, and why
//!
//! - The HTTP client is ours (the crate takes any `opentelemetry_http::HttpClient`): the
//!   Hyper stack and rustls the runtime already links, no second client. It trusts the
//!   Mozilla roots and the authorities of `SSL_CERT_FILE`.
//! - Retries are held to the flush budget (see `exporter`): the crate's backoff starts at
//!   500 ms and knows no deadline, so an export gives up as soon as no retry can start in
//!   time, and after one gave up on an unavailable endpoint each export makes one attempt
//!   until one gets through.
//! - `502` and `504` are retried, as Microsoft's exporters do, by handing them to the crate
//!   as `503`.
//! - The crate's `Debug` prints the instrumentation key; ours does not.

#[cfg(feature = "azure-monitor")]
mod client;
#[cfg(feature = "azure-monitor")]
mod exporter;
pub(crate) mod settings;

#[cfg(feature = "azure-monitor")]
pub(crate) use exporter::span_exporter;
