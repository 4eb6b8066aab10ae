//! Where spans go: the exporter `OTEL_TRACES_EXPORTER` names, built once at start-up.
//!
//! `azure_monitor` sends them to Application Insights (the `azure-monitor` feature; see
//! `crate::azure_monitor`).
//!
//! `otlp` is this crate's OTLP pipeline (the `otlp` module): `http/protobuf` or `http/json`,
//! gzip, TLS and retries inside the flush budget, configured by the standard
//! `OTEL_EXPORTER_OTLP_*` variables. `console` prints each flushed batch as a trace tree.

use std::sync::Arc;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::config::{Config, ExporterKind};
use crate::otlp::Rejections;
use crate::otlp::encode::Encoder;
use crate::processor::DynExporter;
use crate::render::{SpanView, render_trees};

/// Builds the configured exporter, or says why spans cannot be exported as configured
/// (then none is built, and the caller logs the error at start-up).
pub(crate) fn from_config(
    config: &Config,
    resource: &Resource,
    encoder: &Arc<Encoder>,
    rejections: &Arc<Rejections>,
) -> Result<Option<Box<dyn DynExporter>>, String> {
    Ok(match config.exporter {
        ExporterKind::None => None,
        ExporterKind::Console => Some(Box::new(ConsoleExporter)),
        ExporterKind::Otlp => {
            let settings = config.otlp_traces.as_ref().map_err(Clone::clone)?;
            let exporter =
                crate::otlp::span_exporter(settings, encoder.clone(), rejections.clone())
                    .map_err(|error| format!("spans cannot be exported over OTLP: {error}"))?;
            Some(Box::new(exporter))
        }
        ExporterKind::AzureMonitor => {
            let settings = config.application_insights.as_ref().map_err(Clone::clone)?;
            Some(azure_monitor(settings, resource)?)
        }
    })
}

#[cfg(feature = "azure-monitor")]
fn azure_monitor(
    settings: &crate::config::ApplicationInsightsSettings,
    resource: &Resource,
) -> Result<Box<dyn DynExporter>, String> {
    let exporter = crate::azure_monitor::span_exporter(settings, resource)
        .map_err(|error| format!("spans cannot be exported to Application Insights: {error}"))?;
    Ok(Box::new(exporter))
}

/// Without the feature, `Config` never holds Application Insights settings.
#[cfg(not(feature = "azure-monitor"))]
fn azure_monitor(
    _: &crate::config::ApplicationInsightsSettings,
    _: &Resource,
) -> Result<Box<dyn DynExporter>, String> {
    Err(
        "exporting to Application Insights needs the `azure-monitor` feature of \
         otel-faas-runtime"
            .to_owned(),
    )
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
