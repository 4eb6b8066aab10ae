//! Where spans go: the exporter `OTEL_TRACES_EXPORTER` names, built once at start-up.
//!
//! `otlp` is the OpenTelemetry OTLP/HTTP exporter with protobuf bodies over Hyper (the HTTP
//! stack the Lambda runtime already links), configured by the standard
//! `OTEL_EXPORTER_OTLP_*` variables. It makes one attempt per flush, without retries: the
//! flush runs before the invocation's response, so a retry's backoff would be paid by every
//! request while the collector is down (about a second with the exporter's default policy);
//! a failed batch is dropped and counted instead, and the next invocation exports again.
//! A collector's partial success is read and logged (`export/partial_success.rs`).
//! `console` prints each flushed batch as a trace tree.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_http::hyper::HyperClient;
use opentelemetry_otlp::{Protocol, RetryPolicy, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::config::{Config, ExporterKind};
use crate::processor::DynExporter;
use crate::render::{SpanView, render_trees};
pub(crate) use partial_success::Rejections;
use partial_success::WatchedClient;

mod partial_success;

/// Builds the configured exporter; problems are returned as warnings and leave spans
/// unexported. What a collector's partial success rejects is kept in `rejections`.
pub(crate) fn from_config(
    config: &Config,
    resource: &Resource,
    rejections: &Arc<Rejections>,
) -> (Option<Box<dyn DynExporter>>, Vec<String>) {
    let mut warnings = Vec::new();
    let exporter: Option<Box<dyn DynExporter>> = match config.exporter {
        ExporterKind::None => None,
        ExporterKind::Console => Some(Box::new(ConsoleExporter)),
        ExporterKind::Otlp => {
            if config.otlp_endpoint.starts_with("https://") {
                warnings.push(format!(
                    "OTLP endpoint {} uses https, which this build cannot reach (no TLS); export to a collector \
                     on http://localhost:4318 (the OpenTelemetry collector Lambda layer) instead",
                    config.otlp_endpoint
                ));
            }
            // The client the exporter builds for itself (`hyper-client`), with the timeout it
            // would resolve, wrapped to read partial successes.
            let timeout = otlp_timeout();
            let client = WatchedClient::new(
                HyperClient::with_default_connector(timeout, None),
                rejections.clone(),
            );
            match opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(client)
                .with_timeout(timeout)
                .with_protocol(Protocol::HttpBinary)
                .with_retry_policy(RetryPolicy::disabled())
                .build()
            {
                Ok(mut exporter) => {
                    SpanExporter::set_resource(&mut exporter, resource);
                    Some(Box::new(exporter))
                }
                Err(error) => {
                    warnings.push(format!(
                        "the OTLP exporter could not be built ({error}); spans will not be exported"
                    ));
                    None
                }
            }
        }
    };
    (exporter, warnings)
}

/// The OTLP request timeout as the exporter resolves it from the environment:
/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), else
/// 10 s.
fn otlp_timeout() -> Duration {
    [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .into_iter()
    .find_map(|key| std::env::var(key).ok()?.trim().parse().ok())
    .map(Duration::from_millis)
    .unwrap_or(Duration::from_secs(10))
}

/// Prints every exported batch to standard output as a trace tree.
#[derive(Debug, Default)]
pub struct ConsoleExporter;

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let views: Vec<SpanView> = batch.iter().map(SpanView::from).collect();
        print!("{}", render_trees(&views));
        Ok(())
    }
}

#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use memory::MemoryExporter;

/// Spans kept in memory, for tests (the `testing` feature).
#[cfg(any(test, feature = "testing"))]
mod memory {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Keeps exported spans in memory, for tests and benchmarks; clones share the spans.
    #[derive(Clone, Debug, Default)]
    pub struct MemoryExporter {
        spans: Arc<Mutex<Vec<SpanData>>>,
    }

    impl MemoryExporter {
        /// The spans exported so far, in export order.
        pub fn spans(&self) -> Vec<SpanData> {
            self.spans.lock().unwrap_or_else(|p| p.into_inner()).clone()
        }

        /// Forgets the spans exported so far.
        pub fn clear(&self) {
            self.spans.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
    }

    impl SpanExporter for MemoryExporter {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.spans
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(batch);
            Ok(())
        }
    }
}
