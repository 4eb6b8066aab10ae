//! `opentelemetry-application-insights`' span exporter, held to the flush budget.
//!
//! The crate retries on its own schedule (its `uploader.rs`: `backon`'s exponential backoff
//! from 500 ms, doubled up to 5 s, each wait stretched by up to as much again in jitter, for
//! up to 35 s), blind to the invocation's budget. The span buffer already cancels an export
//! at its budget, but an export that sleeps into that cancellation holds the response for
//! the whole budget and says only "gave up after N ms". So each export runs in a scope
//! ([`CURRENT_EXPORT`]) that the HTTP client reads after every attempt the crate will retry:
//!
//! - when the shortest wait before the next attempt (the backoff's floor, or `Retry-After`)
//!   ends past the budget, the export gives up at once and says why;
//! - after an export gave up on an endpoint that failed that way, each export makes one
//!   attempt until one gets an answer the crate does not retry — so an outage costs each
//!   invocation one attempt, not its whole budget (as the OTLP pipeline does).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_application_insights::Exporter;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::client::IngestionClient;
use super::settings::{ApplicationInsightsSettings, CONNECTION_STRING_VAR};
use crate::processor::DynExporter;

/// The crate's first backoff (`uploader.rs`, `RETRY_MIN_DELAY`), and its longest
/// (`RETRY_MAX_DELAY`); jitter only lengthens a wait.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

tokio::task_local! {
    /// The export the crate's requests are made for.
    pub(super) static CURRENT_EXPORT: Arc<Attempt>;
}

/// One export as the HTTP client sees it: its deadline, its failed attempts, and whether it
/// gave up.
#[derive(Debug)]
pub(super) struct Attempt {
    deadline: Instant,
    /// The previous export gave up on an unavailable endpoint: make one attempt.
    single: bool,
    failures: AtomicU32,
    gave_up: Notify,
    why: Mutex<Option<String>>,
}

impl Attempt {
    /// Time left before the export's deadline.
    pub(super) fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// An attempt failed in a way the crate retries: give up now when no retry can start
    /// in time.
    pub(super) fn failed(&self, problem: String, retry_after: Option<Duration>) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let plural = if failures == 1 { "" } else { "s" };
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << (failures - 1).min(4))
            .min(MAX_BACKOFF);
        let wait = retry_after.map_or(backoff, |asked| asked.max(backoff));
        let left = self.left();
        let why = if self.single {
            format!(
                "{problem}; not retried: the previous export could not get through either (one \
                 attempt per export until one does)"
            )
        } else if wait >= left {
            format!(
                "{problem}; the next attempt could not start within the flush budget ({} ms \
                 left, {} ms to wait): gave up after {failures} attempt{plural}",
                left.as_millis(),
                wait.as_millis()
            )
        } else {
            return;
        };
        *self.why.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
        self.gave_up.notify_one();
    }
}

/// Spans to Application Insights.
pub(crate) struct AzureMonitorExporter {
    inner: Exporter<IngestionClient>,
    unavailable: Arc<AtomicBool>,
    endpoint: String,
    key: String,
}

impl std::fmt::Debug for AzureMonitorExporter {
    // The crate's own `Debug` prints the instrumentation key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureMonitorExporter")
            .field("endpoint", &self.endpoint)
            .field("instrumentation_key", &self.key)
            .finish_non_exhaustive()
    }
}

impl DynExporter for AzureMonitorExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = OTelSdkResult> + Send + '_>> {
        Box::pin(async move {
            let attempt = Arc::new(Attempt {
                deadline,
                single: self.unavailable.load(Ordering::Relaxed),
                failures: AtomicU32::new(0),
                gave_up: Notify::new(),
                why: Mutex::new(None),
            });
            let export = CURRENT_EXPORT.scope(
                Arc::clone(&attempt),
                SpanExporter::export(&self.inner, batch),
            );
            tokio::select! {
                // The crate's own answer first: a failure it does not retry ends it at once.
                biased;
                result = export => result.map_err(|error| {
                    OTelSdkError::InternalFailure(format!("Application Insights: {error}"))
                }),
                () = attempt.gave_up.notified() => {
                    let why = attempt.why.lock().unwrap_or_else(PoisonError::into_inner).take();
                    Err(OTelSdkError::InternalFailure(format!(
                        "Application Insights: {}",
                        why.unwrap_or_default()
                    )))
                }
            }
        })
    }

    fn shutdown(&self) -> OTelSdkResult {
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        SpanExporter::set_resource(&mut self.inner, resource);
    }
}

/// The exporter `settings` describe, for `resource`.
pub(crate) fn span_exporter(
    settings: &ApplicationInsightsSettings,
    resource: &Resource,
) -> Result<AzureMonitorExporter, String> {
    let unavailable = Arc::new(AtomicBool::new(false));
    let client = IngestionClient::new(settings, Arc::clone(&unavailable))?;
    let mut inner = Exporter::new_from_connection_string(settings.canonical(), client)
        .map_err(|error| format!("{CONNECTION_STRING_VAR}: {error}"))?;
    SpanExporter::set_resource(&mut inner, resource);
    Ok(AzureMonitorExporter {
        inner,
        unavailable,
        endpoint: settings.ingestion_endpoint.clone(),
        key: settings.redacted_key(),
    })
}
