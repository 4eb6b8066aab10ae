//! The telemetry pipeline of a process: tracer provider, sampler, propagators, resource and
//! the invocation-scoped span buffer, built once from [`Config`].
//!
//! [`crate::lambda::run`] builds one from the environment and installs it as the process's
//! pipeline; the test kit builds its own, scoped to the invocations it drives, so tests in
//! parallel never see each other's spans.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{RandomIdGenerator, SdkTracer, SdkTracerProvider, SpanExporter};
use opentelemetry_semantic_conventions::SCHEMA_URL;

use crate::arn::ArnCache;
use crate::config::{Config, ExporterKind, InitializationType, SamplerConfig};
use crate::logs::{InvocationLogs, LogFlushOutcome, Logs};
use crate::metrics::{DynMetricExporter, FaasMetrics, MetricsDue};
use crate::otlp::Rejections;
use crate::otlp::encode::Encoder;
pub use crate::processor::FlushOutcome;
use crate::processor::{DynExporter, InvocationProcessor, InvocationSpans, SpanBuffer};
use crate::propagation::{HeadSampler, Propagation};
use crate::sampling::KeepingSampler;

/// The attribute of an invocation span that counts the spans of the invocation its full
/// buffer (`OTEL_BSP_MAX_QUEUE_SIZE`) dropped. Only leaf spans are dropped: the invocation,
/// trigger and batch spans are always kept.
pub const DROPPED_SPANS: &str = "otel_faas.spans.dropped_count";

/// Time kept free after the last flush of an invocation that is about to be stopped.
const LAST_FLUSH_SPARE: Duration = Duration::from_millis(10);

/// An export's budget: `timeout`, cut to what is left before `until` less `reserve`.
fn budget_before(
    timeout: Duration,
    until: SystemTime,
    reserve: Duration,
    now: SystemTime,
) -> Duration {
    timeout.min(
        until
            .duration_since(now)
            .unwrap_or_default()
            .saturating_sub(reserve),
    )
}

/// [`budget_before`] the invocation's `deadline` when one is known and sane, else `timeout`.
fn budget_for(
    timeout: Duration,
    deadline: Option<SystemTime>,
    reserve: Duration,
    now: SystemTime,
) -> Duration {
    deadline
        .filter(|d| *d > UNIX_EPOCH)
        .map_or(timeout, |deadline| {
            budget_before(timeout, deadline, reserve, now)
        })
}

/// The process's pipeline, once [`Telemetry::install_global`] ran.
static GLOBAL: OnceLock<Telemetry> = OnceLock::new();

/// A telemetry pipeline: where the spans of invocations are created, buffered and exported.
///
/// Cloning is cheap (a reference count).
///
/// ```
/// use otel_faas_runtime::{config::Config, telemetry::Telemetry};
///
/// let config = Config::from_lookup(|key| (key == "OTEL_TRACES_EXPORTER").then(|| "none".into()));
/// let telemetry = Telemetry::builder().config(config).build();
/// assert_eq!(telemetry.dropped_spans(), 0);
/// ```
#[derive(Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

struct Inner {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    buffer: Arc<SpanBuffer>,
    propagation: Propagation,
    config: Config,
    resource: Resource,
    coldstart_pending: AtomicBool,
    metrics: Option<FaasMetrics>,
    /// The OpenTelemetry logs pipeline, when `OTEL_LOGS_EXPORTER=otlp`.
    logs: Option<Logs>,
    /// When the process started (the kernel's record, else when this pipeline was built).
    process_start: SystemTime,
    /// When the process was ready for its first event ([`Telemetry::mark_ready`]).
    ready: OnceLock<SystemTime>,
    arns: ArnCache,
    warnings: Vec<String>,
    /// What the configuration asks and this build cannot do.
    errors: Vec<String>,
    last_flush_warning: AtomicU64,
    /// What collectors rejected in partial successes.
    rejections: Arc<Rejections>,
    /// Flushes under way, for a shutdown to wait for.
    flushing: Flushing,
}

/// Counts the flushes under way, and wakes who waits for none to be.
#[derive(Default)]
struct Flushing {
    count: AtomicUsize,
    idle: tokio::sync::Notify,
}

/// One flush under way, while it lives.
struct FlushGuard<'a>(&'a Flushing);

impl Flushing {
    fn enter(&self) -> FlushGuard<'_> {
        self.count.fetch_add(1, Ordering::AcqRel);
        FlushGuard(self)
    }
}

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("config", &self.inner.config)
            .field("buffer", &self.inner.buffer)
            .field("propagation", &self.inner.propagation)
            .finish_non_exhaustive()
    }
}

impl Telemetry {
    /// A builder starting from [`Config::from_env`].
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder {
            config: None,
            exporter: None,
            metrics_exporter: None,
            resource: None,
        }
    }

    /// Makes this the pipeline of the process: annotated handlers called outside a test kit
    /// use it, and so does `opentelemetry::global`. Returns `false` (and changes nothing) when
    /// a pipeline was installed before.
    pub fn install_global(&self) -> bool {
        if GLOBAL.set(self.clone()).is_err() {
            return false;
        }
        opentelemetry::global::set_tracer_provider(self.inner.provider.clone());
        opentelemetry::global::set_text_map_propagator(
            Propagation::new(&self.inner.config.propagators).into_composite(),
        );
        true
    }

    /// The process's pipeline, if one was installed.
    pub fn global() -> Option<&'static Telemetry> {
        GLOBAL.get()
    }

    /// The tracer invocation spans are created with.
    pub fn tracer(&self) -> &SdkTracer {
        &self.inner.tracer
    }

    /// The tracer provider, for code that wants its own tracers.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.inner.provider
    }

    /// The configuration this pipeline was built from.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The resource every span carries.
    pub fn resource(&self) -> &Resource {
        &self.inner.resource
    }

    /// Configuration problems found while building (also logged by [`crate::lambda::run`]).
    pub fn warnings(&self) -> &[String] {
        &self.inner.warnings
    }

    /// What the configuration asks and this build cannot do — an OTLP protocol, compression
    /// or `https` endpoint whose cargo feature is off, a TLS file that cannot be used — each
    /// naming the variable and the feature. The signal concerned is not exported; these are
    /// logged as errors at start-up by [`crate::lambda::run`].
    pub fn errors(&self) -> &[String] {
        &self.inner.errors
    }

    /// Spans that OTLP endpoints said they rejected (OTLP partial success).
    pub fn rejected_spans(&self) -> u64 {
        self.inner.rejections.spans()
    }

    /// FaaS metric data points that OTLP endpoints said they rejected (OTLP partial success).
    pub fn rejected_metric_points(&self) -> u64 {
        self.inner.rejections.points()
    }

    /// A `tracing` layer that turns the handler's own `tracing` spans into OpenTelemetry spans
    /// of this pipeline, nested under the invocation span, and its events into span events —
    /// also events logged outside any `tracing` span (see the `events` module). Spans keep their
    /// fields and source location (`code.file.path`, `code.line.number`); what the semantic
    /// conventions do not define is left out: busy/idle times, `target`, thread names and
    /// ids (meaningless in a function), and the module path.
    pub fn tracing_layer<S>(&self) -> impl tracing_subscriber::Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber
            + for<'span> tracing_subscriber::registry::LookupSpan<'span>
            + Send
            + Sync
            + 'static,
    {
        use tracing_subscriber::Layer as _;
        tracing_opentelemetry::layer()
            .with_tracer(self.inner.tracer.clone())
            .with_threads(false)
            .with_target(false)
            .with_tracked_inactivity(false)
            .and_then(crate::events::EventsOnCurrentSpan)
    }

    /// Spans dropped so far (buffer full, export failed or ran out of time).
    pub fn dropped_spans(&self) -> u64 {
        self.inner.buffer.dropped()
    }

    /// Spans the head sampler dropped, recorded for the keep rules, and discarded because no
    /// rule kept their trace.
    pub fn sampled_out_spans(&self) -> u64 {
        self.inner.buffer.sampled_out()
    }

    /// Spans exported so far.
    pub fn exported_spans(&self) -> u64 {
        self.inner.buffer.exported()
    }

    /// Log records exported so far (`OTEL_LOGS_EXPORTER=otlp`).
    pub fn exported_log_records(&self) -> u64 {
        self.inner
            .logs
            .as_ref()
            .map_or(0, |l| l.buffer().exported())
    }

    /// Log records dropped so far: buffer full (`OTEL_BLRP_MAX_QUEUE_SIZE`), export failed or
    /// ran out of time.
    pub fn dropped_log_records(&self) -> u64 {
        self.inner.logs.as_ref().map_or(0, |l| l.buffer().dropped())
    }

    /// Log records that OTLP endpoints said they rejected (OTLP partial success).
    pub fn rejected_log_records(&self) -> u64 {
        self.inner.rejections.log_records()
    }

    /// A `tracing` layer that turns events into OpenTelemetry log records of this pipeline
    /// (`opentelemetry-appender-tracing`'s bridge), exported with their invocation's spans;
    /// `None` unless `OTEL_LOGS_EXPORTER=otlp`. [`crate::lambda::run`] installs it; an
    /// application with a subscriber of its own adds it beside [`Telemetry::tracing_layer`]
    /// (after it, so that events see the span's context).
    pub fn logs_layer<S>(&self) -> Option<impl tracing_subscriber::Layer<S> + Send + Sync + 'static>
    where
        S: tracing::Subscriber
            + for<'span> tracing_subscriber::registry::LookupSpan<'span>
            + Send
            + Sync
            + 'static,
    {
        let logs = self.inner.logs.as_ref()?;
        Some(
            opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(logs.provider()),
        )
    }

    /// Metrics points exported so far are not counted; this tells whether metrics are on.
    pub fn metrics_enabled(&self) -> bool {
        self.inner.metrics.is_some()
    }

    /// Exports the finished spans that belong to no invocation in progress — those opened
    /// outside an invocation, or ended after theirs was flushed — and the FaaS metrics not
    /// exported yet, waiting at most the configured flush timeout. Each invocation exports
    /// its own spans when it ends.
    pub async fn flush(&self) -> FlushOutcome {
        self.flush_within(None, None, self.inner.config.flush_timeout, MetricsDue::Now)
            .await
    }

    /// Exports the spans of the invocation that owns `spans` (closing its buffer) with
    /// those of no invocation, bounded by the flush timeout and by `deadline` less the
    /// configured margin, so the invocation's response is still posted in time. The FaaS
    /// metrics go with them as `metrics` says.
    pub(crate) async fn flush_invocation(
        &self,
        spans: &InvocationSpans,
        logs: &InvocationLogs,
        deadline: Option<SystemTime>,
        metrics: MetricsDue,
    ) -> FlushOutcome {
        let config = &self.inner.config;
        let budget = budget_for(
            config.flush_timeout,
            deadline,
            config.deadline_margin,
            SystemTime::now(),
        );
        self.flush_within(Some(spans), Some(logs), budget, metrics)
            .await
    }

    /// Exports the spans and log records of an invocation whose response is already posted
    /// (`OTEL_FAAS_FLUSH=after_response`), bounded by the after-response flush timeout and
    /// by `deadline` (less a few milliseconds to spare, not the margin: no response is left
    /// to post, but the platform stops the environment at the deadline). The FaaS metrics
    /// go with them as `metrics` says.
    pub(crate) async fn flush_after_response(
        &self,
        spans: &InvocationSpans,
        logs: &InvocationLogs,
        deadline: Option<SystemTime>,
        metrics: MetricsDue,
    ) -> FlushOutcome {
        let budget = budget_for(
            self.inner.config.after_response_flush_timeout,
            deadline,
            LAST_FLUSH_SPARE,
            SystemTime::now(),
        );
        self.flush_within(Some(spans), Some(logs), budget, metrics)
            .await
    }

    /// Exports spans and log records, and metrics when `due`, together (one round trip's
    /// wait), within
    /// `budget`.
    async fn flush_within(
        &self,
        spans: Option<&InvocationSpans>,
        logs: Option<&InvocationLogs>,
        budget: Duration,
        due: MetricsDue,
    ) -> FlushOutcome {
        let _under_way = self.inner.flushing.enter();
        let log_records = async {
            match &self.inner.logs {
                Some(pipeline) => pipeline.buffer().flush(logs, budget).await,
                None => LogFlushOutcome::Empty,
            }
        };
        let metrics = async {
            match &self.inner.metrics {
                Some(metrics) => metrics.flush(budget, due).await,
                None => Ok(0),
            }
        };
        let (outcome, metrics, log_records) =
            tokio::join!(self.inner.buffer.flush(spans, budget), metrics, log_records);
        self.report(&outcome);
        if let LogFlushOutcome::Lost { records, error } = log_records {
            self.warn_rarely(&format!("export of {records} log records failed: {error}"));
        }
        if let Err(problem) = metrics {
            self.warn_rarely(&format!("export of FaaS metrics failed: {problem}"));
        }
        outcome
    }

    /// [`Telemetry::flush_invocation`] bounded by `until` (less a few milliseconds to spare)
    /// instead of the margin: the last flush of an invocation about to be stopped at `until`,
    /// with the FaaS metrics.
    pub(crate) async fn flush_until(
        &self,
        spans: &InvocationSpans,
        logs: &InvocationLogs,
        until: SystemTime,
    ) -> FlushOutcome {
        let budget = budget_before(
            self.inner.config.flush_timeout,
            until,
            LAST_FLUSH_SPARE,
            SystemTime::now(),
        );
        self.flush_within(Some(spans), Some(logs), budget, MetricsDue::Now)
            .await
    }

    /// Logs a flush that lost spans, or whose telemetry an endpoint rejected in part, at
    /// most once a minute so a collector that is down does not flood the function's logs.
    fn report(&self, outcome: &FlushOutcome) {
        if let Some(rejected) = self.inner.rejections.take_unreported() {
            self.warn_rarely(&rejected);
        }
        let problem = match outcome {
            FlushOutcome::Failed { spans, error } => {
                format!("export of {spans} spans failed: {error}")
            }
            FlushOutcome::TimedOut { spans, budget } => {
                format!(
                    "export of {spans} spans gave up after {} ms",
                    budget.as_millis()
                )
            }
            FlushOutcome::NoTimeLeft { spans } => {
                format!("{spans} spans dropped: no time left before the invocation's deadline")
            }
            _ => return,
        };
        self.warn_rarely(&problem);
    }

    /// Logs `problem`, at most once a minute across every kind of export problem.
    pub(crate) fn warn_rarely(&self, problem: &str) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let last = self.inner.last_flush_warning.load(Ordering::Relaxed);
        if (last == 0 || now >= last + 60)
            && self
                .inner
                .last_flush_warning
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                target: "otel_faas",
                dropped_total = self.dropped_spans(),
                "{problem} (further export problems are logged at most once a minute)"
            );
        }
    }

    /// Resolves once no flush is under way: a shutdown waits for an invocation's export in
    /// progress before its own.
    pub(crate) async fn exports_done(&self) {
        let flushing = &self.inner.flushing;
        loop {
            let idle = flushing.idle.notified();
            let mut idle = std::pin::pin!(idle);
            idle.as_mut().enable();
            if flushing.count.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Nothing tells this process before it is stopped (`reason`): the FaaS metrics are
    /// exported with every invocation's flush, whatever `OTEL_METRIC_EXPORT_INTERVAL` says.
    pub(crate) fn without_shutdown_signal(&self, reason: &str) {
        if let Some(metrics) = &self.inner.metrics {
            metrics.export_with_every_flush();
            tracing::warn!(
                target: "otel_faas",
                "{reason}: the process may be stopped without SIGTERM, so the FaaS metrics are \
                 exported with every invocation instead of every OTEL_METRIC_EXPORT_INTERVAL"
            );
        }
    }

    /// Stops the pipeline: later spans are not exported. Flush first to keep buffered spans.
    pub fn shutdown(&self) {
        if let Some(metrics) = &self.inner.metrics {
            metrics.shutdown();
        }
        if let Some(logs) = &self.inner.logs {
            logs.shutdown();
        }
        let _ = self
            .inner
            .provider
            .shutdown_with_timeout(Duration::from_millis(200));
    }

    /// `true` for the first invocation of an on-demand process, `false` afterwards, always
    /// under provisioned concurrency or after a SnapStart restore, and after a proactive
    /// initialisation (see [`crate::init`]).
    pub(crate) fn take_coldstart(&self) -> bool {
        let pending = &self.inner.coldstart_pending;
        if !(pending.load(Ordering::Relaxed) && pending.swap(false, Ordering::Relaxed)) {
            return false;
        }
        match self.inner.ready.get() {
            Some(ready) => crate::init::waited_on(*ready, SystemTime::now()),
            None => true,
        }
    }

    /// Marks the process ready for its first event: the end of its initialisation. Called by
    /// [`crate::lambda::run`] before it asks for the first event.
    pub(crate) fn mark_ready(&self) {
        let _ = self.inner.ready.set(SystemTime::now());
    }

    /// The process's initialisation, start to ready, once it was marked ready.
    pub(crate) fn init_window(&self) -> Option<(SystemTime, SystemTime)> {
        let ready = *self.inner.ready.get()?;
        Some((self.inner.process_start.min(ready), ready))
    }

    /// Counts one invocation in the FaaS metrics, when they are on.
    pub(crate) fn record_invocation(&self, facts: &crate::metrics::InvocationFacts) {
        if let Some(metrics) = &self.inner.metrics {
            metrics.record(facts);
        }
    }

    /// The FaaS metrics, when they are on.
    pub(crate) fn metrics(&self) -> Option<&FaasMetrics> {
        self.inner.metrics.as_ref()
    }

    pub(crate) fn propagation(&self) -> &Propagation {
        &self.inner.propagation
    }

    pub(crate) fn arns(&self) -> &ArnCache {
        &self.inner.arns
    }

    /// Longest string attribute value taken from untrusted input.
    pub(crate) fn value_limit(&self) -> usize {
        self.inner.config.attribute_value_length_limit
    }

    /// The query keys redacted beside the default ones (`OTEL_FAAS_REDACT_QUERY_KEYS`).
    pub(crate) fn redact_keys(&self) -> &[String] {
        &self.inner.config.redact_query_keys
    }
}

/// Builds a [`Telemetry`]; see [`Telemetry::builder`].
pub struct TelemetryBuilder {
    config: Option<Config>,
    exporter: Option<Box<dyn DynExporter>>,
    metrics_exporter: Option<Box<dyn DynMetricExporter>>,
    resource: Option<Resource>,
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    /// Uses `config` instead of [`Config::from_env`].
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Exports to `exporter` instead of the one `OTEL_TRACES_EXPORTER` names.
    pub fn with_exporter(mut self, exporter: impl SpanExporter + 'static) -> Self {
        self.exporter = Some(Box::new(exporter));
        self
    }

    /// Keeps FaaS metrics in `exporter` instead of exporting them where
    /// `OTEL_METRICS_EXPORTER` says (even when that is `none`); for tests (the `testing`
    /// feature). The metrics are aggregated without the OpenTelemetry SDK
    /// (`crate::metrics`), so an SDK `PushMetricExporter` cannot take them.
    #[cfg(feature = "testing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
    pub fn with_metrics_exporter(mut self, exporter: crate::metrics::MemoryMetricExporter) -> Self {
        self.metrics_exporter = Some(Box::new(exporter));
        self
    }

    /// Uses `resource` instead of detecting the Lambda resource.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// Builds the pipeline.
    pub fn build(self) -> Telemetry {
        let config = self.config.unwrap_or_else(Config::from_env);
        let warnings = config.warnings.clone();
        let resource = self
            .resource
            .unwrap_or_else(|| crate::resource::detect(&config));
        let mut errors = Vec::new();
        let rejections = Arc::new(Rejections::default());
        // The resource is encoded once, for every export of both signals.
        let encoder = Arc::new(Encoder::new(&resource));
        let exporter = match self.exporter {
            Some(mut exporter) => {
                exporter.set_resource(&resource);
                Some(exporter)
            }
            None => crate::export::from_config(&config, &resource, &encoder, &rejections)
                .unwrap_or_else(|error| {
                    errors.push(format!("{error}; spans are not exported"));
                    None
                }),
        };
        let metrics_exporter = match (self.metrics_exporter, config.metrics_exporter) {
            (Some(exporter), _) => Some(exporter),
            (None, ExporterKind::Otlp) if !config.sdk_disabled => {
                let exporter = config.otlp_metrics.clone().and_then(|settings| {
                    crate::otlp::metric_exporter(&settings, encoder.clone(), rejections.clone())
                });
                match exporter {
                    Ok(exporter) => Some(Box::new(exporter) as Box<dyn DynMetricExporter>),
                    Err(error) => {
                        errors.push(format!("{error}; FaaS metrics are not exported"));
                        None
                    }
                }
            }
            _ => None,
        };
        let metrics = metrics_exporter.map(|e| FaasMetrics::new(e, config.metric_export_interval));
        let logs = match (&config.otlp_logs, config.logs_exporter) {
            (Ok(settings), ExporterKind::Otlp) if !config.sdk_disabled => {
                match crate::otlp::logs::OtlpLogExporter::new(
                    settings,
                    &resource,
                    rejections.clone(),
                ) {
                    Ok(exporter) => Some(Logs::new(
                        exporter,
                        resource.clone(),
                        config.max_queued_log_records,
                    )),
                    Err(error) => {
                        errors.push(format!("{error}; log records are not exported"));
                        None
                    }
                }
            }
            (Err(error), ExporterKind::Otlp) if !config.sdk_disabled => {
                errors.push(format!("{error}; log records are not exported"));
                None
            }
            _ => None,
        };
        let buffer = Arc::new(SpanBuffer::new(
            config.max_queued_spans,
            exporter,
            config.keep,
        ));
        let propagation = Propagation::new(&config.propagators);
        let head = HeadSampler::new(&config.sampler);
        let builder =
            SdkTracerProvider::builder().with_span_processor(InvocationProcessor(buffer.clone()));
        let builder = match config.keep.any() && config.sampler != SamplerConfig::AlwaysOff {
            true => builder.with_sampler(KeepingSampler(head)),
            false => builder.with_sampler(head),
        };
        let builder = builder.with_resource(resource.clone());
        let provider = if propagation.uses_xray() {
            builder
                .with_id_generator(XrayIdGenerator::default())
                .build()
        } else {
            builder
                .with_id_generator(RandomIdGenerator::default())
                .build()
        };
        let scope = InstrumentationScope::builder("otel-faas")
            .with_version(env!("CARGO_PKG_VERSION"))
            .with_schema_url(SCHEMA_URL)
            .build();
        let tracer = provider.tracer_with_scope(scope);
        crate::outcome::install_panic_hook();
        Telemetry {
            inner: Arc::new(Inner {
                provider,
                tracer,
                buffer,
                propagation,
                coldstart_pending: AtomicBool::new(
                    config.initialization_type == InitializationType::OnDemand,
                ),
                metrics,
                logs,
                process_start: crate::init::process_start().unwrap_or_else(SystemTime::now),
                ready: OnceLock::new(),
                config,
                resource,
                arns: ArnCache::default(),
                warnings,
                errors,
                last_flush_warning: AtomicU64::new(0),
                rejections,
                flushing: Flushing::default(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_after_the_response_keeps_its_own_budget_inside_the_deadline() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let timeout = Duration::from_secs(3);
        assert_eq!(budget_for(timeout, None, LAST_FLUSH_SPARE, now), timeout);
        let far = now + Duration::from_secs(60);
        assert_eq!(
            budget_for(timeout, Some(far), LAST_FLUSH_SPARE, now),
            timeout
        );
        let near = now + Duration::from_millis(500);
        assert_eq!(
            budget_for(timeout, Some(near), LAST_FLUSH_SPARE, now),
            Duration::from_millis(500) - LAST_FLUSH_SPARE
        );
        let past = now - Duration::from_millis(1);
        assert_eq!(
            budget_for(timeout, Some(past), LAST_FLUSH_SPARE, now),
            Duration::ZERO
        );
        assert_eq!(
            budget_for(timeout, Some(UNIX_EPOCH), LAST_FLUSH_SPARE, now),
            timeout
        );
    }
}
