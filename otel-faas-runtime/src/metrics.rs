//! FaaS metrics, as the semantic conventions define them, exported by the flush that ends
//! each invocation — no collector-side receiver, no background thread.
//!
//! | instrument | kind | unit | recorded |
//! |---|---|---|---|
//! | `faas.invocations` | counter | `{invocation}` | a successful invocation ("Number of successful invocations", `model/faas/metrics.yaml`) |
//! | `faas.errors` | counter | `{error}` | an invocation that failed, panicked, timed out or could not be read |
//! | `faas.timeouts` | counter | `{timeout}` | an invocation still running a margin before its deadline |
//! | `faas.coldstarts` | counter | `{coldstart}` | the first invocation of an on-demand process |
//! | `faas.invoke_duration` | histogram | `s` | every invocation: the handler's run, from the event to its result, or the time taken to find its event unreadable |
//! | `faas.init_duration` | histogram | `s` | process start to ready for the first event, once |
//!
//! Every point carries `faas.trigger`. Histograms use the conventions' advisory buckets for
//! durations. The reader is a manual one with delta temporality: each export collects what
//! changed since the previous one, and the collector adds them up. `OTEL_METRICS_EXPORTER=none`
//! turns them off; `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` (else `OTEL_EXPORTER_OTLP_ENDPOINT` +
//! `/v1/metrics`) says where they go, and every other `OTEL_EXPORTER_OTLP_METRICS_*`
//! variable how (see the `otlp` module).
//!
//! # When they leave
//!
//! Not with every invocation: collecting, encoding and posting them cost as much as the
//! invocation's trace export (issue 17). They leave with the flush that ends an invocation
//! once `OTEL_METRIC_EXPORT_INTERVAL` (the specification's variable, default 60000 ms) has
//! passed since they last left — there is no background timer, which a frozen environment
//! would not run anyway — and always at once when the process is about to stop: with the
//! last flush on SIGTERM, and with the flush of an invocation that timed out, was cut off
//! or aborted the process. `OTEL_METRIC_EXPORT_INTERVAL=0` exports
//! them with every invocation.
//!
//! On Lambda, the runtime gets SIGTERM only when an extension is registered;
//! [`crate::lambda::run`] registers an internal one for that ([`crate::lambda::extension`]).
//! What remains at risk is what the platform ends without a signal, up to one interval of
//! points: a process killed outright (out of memory, a crash outside Rust's unwinding), or a
//! shutdown whose last flush takes longer than the time Lambda allows between SIGTERM and
//! SIGKILL.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};
use opentelemetry_semantic_conventions::attribute::FAAS_TRIGGER;
use opentelemetry_semantic_conventions::metric::{
    FAAS_COLDSTARTS, FAAS_ERRORS, FAAS_INIT_DURATION, FAAS_INVOCATIONS, FAAS_INVOKE_DURATION,
    FAAS_TIMEOUTS,
};

use crate::trigger::FaasTrigger;

/// The conventions' advisory bucket boundaries for durations in seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// How one invocation went, for the metrics.
#[derive(Clone, Copy, Debug)]
pub(crate) struct InvocationFacts {
    pub(crate) trigger: FaasTrigger,
    pub(crate) coldstart: bool,
    pub(crate) failed: bool,
    pub(crate) timed_out: bool,
    pub(crate) duration: Option<Duration>,
}

impl InvocationFacts {
    /// An invocation of `trigger` whose handler is starting.
    pub(crate) fn started(trigger: FaasTrigger, coldstart: bool) -> Self {
        InvocationFacts {
            trigger,
            coldstart,
            failed: false,
            timed_out: false,
            duration: None,
        }
    }

    /// An invocation of `trigger` that failed before any handler ran, after `took`: its
    /// event could not be read.
    pub(crate) fn unreadable(trigger: FaasTrigger, coldstart: bool, took: Duration) -> Self {
        InvocationFacts {
            failed: true,
            duration: Some(took),
            ..InvocationFacts::started(trigger, coldstart)
        }
    }
}

/// Where collected metrics go: the OTLP exporter ([`crate::otlp`]), or a test's sink.
pub(crate) trait DynMetricExporter: Send + Sync {
    /// Exports `metrics`; retries, if any, end by `deadline` (the flush budget).
    fn export<'a>(
        &'a self,
        metrics: &'a ResourceMetrics,
        deadline: tokio::time::Instant,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = OTelSdkResult> + Send + 'a>>;
}

impl<E: PushMetricExporter> DynMetricExporter for E {
    fn export<'a>(
        &'a self,
        metrics: &'a ResourceMetrics,
        _deadline: tokio::time::Instant,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = OTelSdkResult> + Send + 'a>> {
        Box::pin(PushMetricExporter::export(self, metrics))
    }
}

/// Whether a flush exports the FaaS metrics; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricsDue {
    /// When the export interval has passed since they last left: an invocation that ended.
    IfDue,
    /// Whatever the interval: the process is about to stop (SIGTERM, a timeout, an abort).
    Now,
}

/// The instruments, their provider and the reader the flush collects.
pub(crate) struct FaasMetrics {
    provider: SdkMeterProvider,
    reader: Arc<ManualReader>,
    exporter: Box<dyn DynMetricExporter>,
    /// `OTEL_METRIC_EXPORT_INTERVAL`, in milliseconds; `0` when the process may be stopped
    /// without a signal ([`FaasMetrics::export_with_every_flush`]).
    interval_ms: AtomicU64,
    /// When the instruments were made: the origin of [`FaasMetrics::last_export_ms`].
    origin: Instant,
    /// When the metrics last left (or were made), in milliseconds since `origin`.
    last_export_ms: AtomicU64,
    invocations: Counter<u64>,
    errors: Counter<u64>,
    timeouts: Counter<u64>,
    coldstarts: Counter<u64>,
    invoke_duration: Histogram<f64>,
    init_duration: Histogram<f64>,
}

impl fmt::Debug for FaasMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaasMetrics").finish_non_exhaustive()
    }
}

/// Lets the provider own a reader the flush also holds.
#[derive(Debug)]
pub(crate) struct SharedReader(pub(crate) Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

impl FaasMetrics {
    /// The instruments, exporting to `exporter` at most once per `interval` unless a flush
    /// says [`MetricsDue::Now`].
    pub(crate) fn new(
        resource: Resource,
        exporter: Box<dyn DynMetricExporter>,
        interval: Duration,
    ) -> Self {
        let reader = Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Delta)
                .build(),
        );
        let provider = SdkMeterProvider::builder()
            .with_reader(SharedReader(reader.clone()))
            .with_resource(resource)
            .build();
        let scope = InstrumentationScope::builder("otel-faas")
            .with_version(env!("CARGO_PKG_VERSION"))
            .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
            .build();
        let meter = provider.meter_with_scope(scope);
        let counter = |name: &'static str, unit: &'static str, description: &'static str| {
            meter
                .u64_counter(name)
                .with_unit(unit)
                .with_description(description)
                .build()
        };
        let seconds = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        FaasMetrics {
            invocations: counter(FAAS_INVOCATIONS, "{invocation}", "Successful invocations"),
            errors: counter(FAAS_ERRORS, "{error}", "Invocations that failed"),
            timeouts: counter(FAAS_TIMEOUTS, "{timeout}", "Invocations that timed out"),
            coldstarts: counter(FAAS_COLDSTARTS, "{coldstart}", "Cold starts"),
            invoke_duration: seconds(FAAS_INVOKE_DURATION, "Duration of the handler's run"),
            init_duration: seconds(
                FAAS_INIT_DURATION,
                "Duration of the process's initialisation",
            ),
            provider,
            reader,
            exporter,
            interval_ms: AtomicU64::new(u64::try_from(interval.as_millis()).unwrap_or(u64::MAX)),
            origin: Instant::now(),
            last_export_ms: AtomicU64::new(0),
        }
    }

    /// Whether the metrics leave with this flush; when they do, the interval starts again.
    /// Of concurrent invocations finding them due, one takes them.
    fn claim(&self, due: MetricsDue) -> bool {
        let interval_ms = self.interval_ms.load(Ordering::Relaxed);
        if interval_ms == 0 {
            return true;
        }
        let now = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_export_ms.load(Ordering::Relaxed);
        if due == MetricsDue::IfDue && now.saturating_sub(last) < interval_ms {
            return false;
        }
        self.last_export_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
            || due == MetricsDue::Now
    }

    /// Records one invocation.
    pub(crate) fn record(&self, facts: &InvocationFacts) {
        let attributes = [KeyValue::new(FAAS_TRIGGER, facts.trigger.as_str())];
        if facts.failed || facts.timed_out {
            self.errors.add(1, &attributes);
        } else {
            self.invocations.add(1, &attributes);
        }
        if facts.timed_out {
            self.timeouts.add(1, &attributes);
        }
        if facts.coldstart {
            self.coldstarts.add(1, &attributes);
        }
        if let Some(duration) = facts.duration {
            self.invoke_duration
                .record(duration.as_secs_f64(), &attributes);
        }
    }

    /// Records the process's initialisation, once.
    pub(crate) fn record_init(&self, trigger: FaasTrigger, duration: Duration) {
        let attributes = [KeyValue::new(FAAS_TRIGGER, trigger.as_str())];
        self.init_duration
            .record(duration.as_secs_f64(), &attributes);
    }

    /// Exports with every flush, whatever the interval: nothing would export the metrics
    /// before the process is stopped.
    pub(crate) fn export_with_every_flush(&self) {
        self.interval_ms.store(0, Ordering::Relaxed);
    }

    /// Collects what changed since the last export and exports it within `budget`, when
    /// `due` and the interval say so; `Ok(0)` when they do not or nothing changed.
    pub(crate) async fn flush(&self, budget: Duration, due: MetricsDue) -> Result<usize, String> {
        if !self.claim(due) {
            return Ok(0);
        }
        let mut metrics = ResourceMetrics::default();
        self.reader
            .collect(&mut metrics)
            .map_err(|e| e.to_string())?;
        let points: usize = metrics
            .scope_metrics()
            .map(|scope| scope.metrics().count())
            .sum();
        if points == 0 {
            return Ok(0);
        }
        if budget.is_zero() {
            return Err("no time left before the invocation's deadline".to_owned());
        }
        let deadline = tokio::time::Instant::now() + budget;
        match crate::processor::within(budget, self.exporter.export(&metrics, deadline)).await {
            Some(Ok(())) => Ok(points),
            Some(Err(error)) => Err(error.to_string()),
            None => Err(format!("gave up after {} ms", budget.as_millis())),
        }
    }

    pub(crate) fn shutdown(&self) {
        let _ = self.provider.shutdown();
    }
}

#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use memory::{MemoryMetricExporter, MetricPoint, PointValue};

/// FaaS metric points kept in memory, for tests (the `testing` feature).
#[cfg(any(test, feature = "testing"))]
mod memory {
    use super::*;

    /// One exported data point, as a test reads it.
    #[derive(Clone, Debug, PartialEq)]
    pub struct MetricPoint {
        /// The instrument, such as `faas.invocations`.
        pub name: String,
        /// The point's attributes, as strings.
        pub attributes: Vec<(String, String)>,
        /// Its value.
        pub value: PointValue,
    }

    impl MetricPoint {
        /// The value of attribute `key`.
        pub fn attr(&self, key: &str) -> Option<&str> {
            self.attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        }
    }

    /// The value of a [`MetricPoint`].
    #[derive(Clone, Debug, PartialEq)]
    pub enum PointValue {
        /// A counter's increase since the previous export (delta temporality).
        Sum(f64),
        /// A histogram's recordings since the previous export.
        Histogram {
            /// How many.
            count: u64,
            /// Their sum.
            sum: f64,
        },
    }

    /// Keeps exported metric points in memory, for tests; clones share the points.
    #[derive(Clone, Debug, Default)]
    pub struct MemoryMetricExporter {
        points: Arc<std::sync::Mutex<Vec<MetricPoint>>>,
    }

    impl MemoryMetricExporter {
        /// The points exported so far, in export order.
        pub fn points(&self) -> Vec<MetricPoint> {
            self.points
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        }

        /// Forgets the points exported so far.
        pub fn clear(&self) {
            self.points
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
    }

    impl PushMetricExporter for MemoryMetricExporter {
        async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
            let points = metrics
                .scope_metrics()
                .flat_map(|scope| scope.metrics())
                .flat_map(points_of);
            self.points
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(points);
            Ok(())
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }

        fn temporality(&self) -> Temporality {
            Temporality::Delta
        }
    }

    fn points_of(metric: &opentelemetry_sdk::metrics::data::Metric) -> Vec<MetricPoint> {
        use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
        let name = metric.name().to_owned();
        let attributes = |kvs: &mut dyn Iterator<Item = &KeyValue>| -> Vec<(String, String)> {
            kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                .collect()
        };
        let point = |attributes, value| MetricPoint {
            name: name.clone(),
            attributes,
            value,
        };
        match metric.data() {
            AggregatedMetrics::U64(MetricData::Sum(sum)) => sum
                .data_points()
                .map(|p| {
                    point(
                        attributes(&mut p.attributes()),
                        PointValue::Sum(p.value() as f64),
                    )
                })
                .collect(),
            AggregatedMetrics::F64(MetricData::Histogram(histogram)) => histogram
                .data_points()
                .map(|p| {
                    let value = PointValue::Histogram {
                        count: p.count(),
                        sum: p.sum(),
                    };
                    point(attributes(&mut p.attributes()), value)
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! The runtime's half of what `otel-faas-local`'s collector tests check over OTLP/HTTP
    //! (`metrics_from_the_real_exporter_round_trip` there): the points [`FaasMetrics`] hands
    //! its exporter, read as the SDK gives them.

    use std::collections::HashSet;
    use std::sync::Mutex;

    use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};

    use super::*;

    /// One exported point, with what the OTLP request would carry about it.
    #[derive(Clone, Debug, PartialEq)]
    struct Point {
        scope: String,
        name: String,
        unit: String,
        trigger: Option<String>,
        value: Value,
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Value {
        Sum {
            value: f64,
            monotonic: bool,
            delta: bool,
        },
        Histogram {
            count: u64,
            sum: f64,
            delta: bool,
        },
    }

    /// Keeps every exported point.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<Point>>>);

    impl PushMetricExporter for Capture {
        async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
            let mut points = self.0.lock().unwrap();
            for scope in metrics.scope_metrics() {
                for metric in scope.metrics() {
                    let point = |trigger: Option<String>, value| Point {
                        scope: scope.scope().name().to_owned(),
                        name: metric.name().to_owned(),
                        unit: metric.unit().to_owned(),
                        trigger,
                        value,
                    };
                    match metric.data() {
                        AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                            for p in sum.data_points() {
                                points.push(point(
                                    trigger(p.attributes()),
                                    Value::Sum {
                                        value: p.value() as f64,
                                        monotonic: sum.is_monotonic(),
                                        delta: sum.temporality() == Temporality::Delta,
                                    },
                                ));
                            }
                        }
                        AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                            for p in histogram.data_points() {
                                points.push(point(
                                    trigger(p.attributes()),
                                    Value::Histogram {
                                        count: p.count(),
                                        sum: p.sum(),
                                        delta: histogram.temporality() == Temporality::Delta,
                                    },
                                ));
                            }
                        }
                        other => panic!("unexpected data for {}: {other:?}", metric.name()),
                    }
                }
            }
            Ok(())
        }

        fn force_flush(&self) -> OTelSdkResult {
            Ok(())
        }

        fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
            Ok(())
        }

        fn temporality(&self) -> Temporality {
            Temporality::Delta
        }
    }

    /// The point's `faas.trigger`.
    fn trigger<'a>(mut attributes: impl Iterator<Item = &'a KeyValue>) -> Option<String> {
        attributes
            .find(|kv| kv.key.as_str() == FAAS_TRIGGER)
            .map(|kv| kv.value.to_string())
    }

    fn find<'a>(points: &'a [Point], name: &str) -> &'a Point {
        points
            .iter()
            .find(|point| point.name == name)
            .unwrap_or_else(|| panic!("no point named {name} in {points:#?}"))
    }

    #[tokio::test]
    async fn the_runtimes_faas_metrics_arrive_as_it_records_them() {
        let capture = Capture::default();
        let metrics = FaasMetrics::new(
            Resource::builder_empty()
                .with_service_name("orders")
                .build(),
            Box::new(capture.clone()),
            Duration::ZERO,
        );
        metrics.record_init(FaasTrigger::PubSub, Duration::from_millis(12));
        metrics.record(&InvocationFacts {
            trigger: FaasTrigger::PubSub,
            coldstart: true,
            failed: true,
            timed_out: false,
            duration: Some(Duration::from_millis(800)),
        });
        metrics.record(&InvocationFacts {
            trigger: FaasTrigger::PubSub,
            coldstart: false,
            failed: false,
            timed_out: false,
            duration: Some(Duration::from_millis(200)),
        });
        let exported = metrics
            .flush(Duration::from_secs(5), MetricsDue::IfDue)
            .await
            .expect("flush");
        assert!(exported > 0);
        let points = capture.0.lock().unwrap().clone();
        let names: HashSet<&str> = points.iter().map(|point| point.name.as_str()).collect();
        assert_eq!(
            names,
            HashSet::from([
                "faas.invocations",
                "faas.errors",
                "faas.coldstarts",
                "faas.invoke_duration",
                "faas.init_duration"
            ]),
            "no timeout, no faas.timeouts point"
        );
        for point in &points {
            assert_eq!(point.trigger.as_deref(), Some("pubsub"), "{point:?}");
            assert_eq!(point.scope, "otel-faas");
        }
        // One failed, one succeeded: `faas.invocations` counts the successful ones only.
        for counter in ["faas.invocations", "faas.errors", "faas.coldstarts"] {
            assert_eq!(
                find(&points, counter).value,
                Value::Sum {
                    value: 1.0,
                    monotonic: true,
                    delta: true
                }
            );
        }
        let init = find(&points, "faas.init_duration");
        assert_eq!(init.unit, "s");
        assert_eq!(
            init.value,
            Value::Histogram {
                count: 1,
                sum: 0.012,
                delta: true
            }
        );
        let invoke = find(&points, "faas.invoke_duration");
        assert_eq!(
            invoke.value,
            Value::Histogram {
                count: 2,
                sum: 1.0,
                delta: true
            }
        );
    }
    fn one_invocation() -> InvocationFacts {
        InvocationFacts {
            trigger: FaasTrigger::Other,
            coldstart: false,
            failed: false,
            timed_out: false,
            duration: Some(Duration::from_millis(5)),
        }
    }

    fn invocations(points: &[Point]) -> f64 {
        points
            .iter()
            .filter(|point| point.name == "faas.invocations")
            .map(|point| match point.value {
                Value::Sum { value, .. } => value,
                _ => 0.0,
            })
            .sum()
    }

    #[tokio::test]
    async fn invocations_leave_the_metrics_until_the_interval_is_due_and_a_stop_takes_them() {
        let capture = Capture::default();
        let day = Duration::from_secs(24 * 3600);
        let metrics = FaasMetrics::new(
            Resource::builder_empty().build(),
            Box::new(capture.clone()),
            day,
        );
        let budget = Duration::from_secs(5);
        for _ in 0..3 {
            metrics.record(&one_invocation());
            let exported = metrics
                .flush(budget, MetricsDue::IfDue)
                .await
                .expect("flush");
            assert_eq!(exported, 0, "not due for a day");
        }
        assert!(capture.0.lock().unwrap().is_empty());
        let exported = metrics.flush(budget, MetricsDue::Now).await.expect("flush");
        assert!(exported > 0);
        assert_eq!(
            invocations(&capture.0.lock().unwrap()),
            3.0,
            "all three, at once"
        );
        metrics.record(&one_invocation());
        let exported = metrics
            .flush(budget, MetricsDue::IfDue)
            .await
            .expect("flush");
        assert_eq!(exported, 0, "the interval starts again at each export");
    }

    #[tokio::test]
    async fn an_interval_of_zero_exports_with_every_invocation() {
        let capture = Capture::default();
        let metrics = FaasMetrics::new(
            Resource::builder_empty().build(),
            Box::new(capture.clone()),
            Duration::ZERO,
        );
        for n in 1..=3 {
            metrics.record(&one_invocation());
            let exported = metrics
                .flush(Duration::from_secs(5), MetricsDue::IfDue)
                .await
                .expect("flush");
            assert!(exported > 0);
            assert_eq!(invocations(&capture.0.lock().unwrap()), f64::from(n));
        }
    }
}
