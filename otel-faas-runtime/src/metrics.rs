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
//! durations. Temporality is delta: each export carries what changed since the previous
//! one, and the collector adds them up. The six instruments are aggregated here, not by the
//! OpenTelemetry SDK's metrics pipeline: its every instrument kind and aggregation, compiled
//! for `u64`, `i64` and `f64`, was 0.47 MiB of a stripped function binary for six
//! instruments with one attribute. `OTEL_METRICS_EXPORTER=none`
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
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::InstrumentationScope;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ScopeMetrics,
    Sum, metric, number_data_point,
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

/// Where collected metrics go: the OTLP exporter ([`crate::otlp`]), or a test's sink. They
/// come as OTLP's `ScopeMetrics`, the one scope (`otel-faas`) of the process's resource.
pub(crate) trait DynMetricExporter: Send + Sync {
    /// Exports `metrics`; retries, if any, end by `deadline` (the flush budget).
    fn export<'a>(
        &'a self,
        metrics: &'a ScopeMetrics,
        deadline: tokio::time::Instant,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// Whether a flush exports the FaaS metrics; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MetricsDue {
    /// When the export interval has passed since they last left: an invocation that ended.
    IfDue,
    /// Whatever the interval: the process is about to stop (SIGTERM, a timeout, an abort).
    Now,
}

/// A histogram's recordings since the last export: explicit buckets, sum, min and max, as
/// the SDK's default histogram aggregation keeps them.
#[derive(Clone, Copy, Debug, Default)]
struct Recordings {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// One count per bucket; bucket `i` holds values in `(bounds[i-1], bounds[i]]`.
    buckets: [u64; DURATION_BUCKETS.len() + 1],
}

impl Recordings {
    fn record(&mut self, value: f64) {
        if self.count == 0 {
            (self.min, self.max) = (value, value);
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
        self.buckets[DURATION_BUCKETS.partition_point(|&bound| bound < value)] += 1;
    }
}

/// What one trigger's invocations recorded since the last export.
#[derive(Clone, Copy, Debug)]
struct Points {
    trigger: FaasTrigger,
    invocations: u64,
    errors: u64,
    timeouts: u64,
    coldstarts: u64,
    invoke_duration: Recordings,
    init_duration: Recordings,
}

/// The points recorded since `since` (the last export, or when the instruments were made).
#[derive(Debug)]
struct Window {
    since: SystemTime,
    /// One entry per trigger seen, in order of first recording (a process has one or two).
    points: Vec<Points>,
}

impl Window {
    fn of(&mut self, trigger: FaasTrigger) -> &mut Points {
        let index = match self.points.iter().position(|p| p.trigger == trigger) {
            Some(index) => index,
            None => {
                self.points.push(Points {
                    trigger,
                    invocations: 0,
                    errors: 0,
                    timeouts: 0,
                    coldstarts: 0,
                    invoke_duration: Recordings::default(),
                    init_duration: Recordings::default(),
                });
                self.points.len() - 1
            }
        };
        &mut self.points[index]
    }
}

/// The instruments, aggregated here with delta temporality, and where they are exported.
///
/// An export carries what the SDK's manual reader collected for them before the SDK's
/// pipeline was dropped (see the module documentation): a monotonic delta sum per counter,
/// an explicit-bucket histogram with sum, min and max per histogram, one point per
/// `faas.trigger`, and no metric that recorded nothing.
pub(crate) struct FaasMetrics {
    window: Mutex<Window>,
    exporter: Box<dyn DynMetricExporter>,
    /// The instrumentation scope every export names.
    scope: opentelemetry_proto::tonic::common::v1::InstrumentationScope,
    /// Set by [`FaasMetrics::shutdown`]: nothing is exported after it.
    shut_down: AtomicBool,
    /// `OTEL_METRIC_EXPORT_INTERVAL`, in milliseconds; `0` when the process may be stopped
    /// without a signal ([`FaasMetrics::export_with_every_flush`]).
    interval_ms: AtomicU64,
    /// When the instruments were made: the origin of [`FaasMetrics::last_export_ms`].
    origin: Instant,
    /// When the metrics last left (or were made), in milliseconds since `origin`.
    last_export_ms: AtomicU64,
}

impl fmt::Debug for FaasMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaasMetrics").finish_non_exhaustive()
    }
}

impl FaasMetrics {
    /// The instruments, exporting to `exporter` at most once per `interval` unless a flush
    /// says [`MetricsDue::Now`].
    pub(crate) fn new(exporter: Box<dyn DynMetricExporter>, interval: Duration) -> Self {
        let scope = InstrumentationScope::builder("otel-faas")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        FaasMetrics {
            window: Mutex::new(Window {
                since: SystemTime::now(),
                points: Vec::new(),
            }),
            exporter,
            scope: (&scope, None).into(),
            shut_down: AtomicBool::new(false),
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

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one invocation.
    pub(crate) fn record(&self, facts: &InvocationFacts) {
        let mut window = self.window();
        let points = window.of(facts.trigger);
        if facts.failed || facts.timed_out {
            points.errors += 1;
        } else {
            points.invocations += 1;
        }
        if facts.timed_out {
            points.timeouts += 1;
        }
        if facts.coldstart {
            points.coldstarts += 1;
        }
        if let Some(duration) = facts.duration {
            points.invoke_duration.record(duration.as_secs_f64());
        }
    }

    /// Records the process's initialisation, once.
    pub(crate) fn record_init(&self, trigger: FaasTrigger, duration: Duration) {
        self.window()
            .of(trigger)
            .init_duration
            .record(duration.as_secs_f64());
    }

    /// Exports with every flush, whatever the interval: nothing would export the metrics
    /// before the process is stopped.
    pub(crate) fn export_with_every_flush(&self) {
        self.interval_ms.store(0, Ordering::Relaxed);
    }

    /// What was recorded since the last collection, as OTLP metrics, and a new window.
    fn collect(&self) -> ScopeMetrics {
        let now = SystemTime::now();
        let window = std::mem::replace(
            &mut *self.window(),
            Window {
                since: now,
                points: Vec::new(),
            },
        );
        let times = (nanos(window.since), nanos(now));
        let counter = |name: &str, unit: &str, description: &str, value: fn(&Points) -> u64| {
            let data_points: Vec<NumberDataPoint> = window
                .points
                .iter()
                .filter(|p| value(p) > 0)
                .map(|p| NumberDataPoint {
                    attributes: vec![trigger_attribute(p.trigger)],
                    start_time_unix_nano: times.0,
                    time_unix_nano: times.1,
                    exemplars: Vec::new(),
                    flags: 0,
                    value: Some(number_data_point::Value::AsInt(
                        i64::try_from(value(p)).unwrap_or(i64::MAX),
                    )),
                })
                .collect();
            (!data_points.is_empty()).then(|| Metric {
                name: name.to_owned(),
                description: description.to_owned(),
                unit: unit.to_owned(),
                metadata: Vec::new(),
                data: Some(metric::Data::Sum(Sum {
                    data_points,
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                    is_monotonic: true,
                })),
            })
        };
        let seconds = |name: &str, description: &str, value: fn(&Points) -> &Recordings| {
            let data_points: Vec<HistogramDataPoint> = window
                .points
                .iter()
                .filter(|p| value(p).count > 0)
                .map(|p| {
                    let r = value(p);
                    HistogramDataPoint {
                        attributes: vec![trigger_attribute(p.trigger)],
                        start_time_unix_nano: times.0,
                        time_unix_nano: times.1,
                        count: r.count,
                        sum: Some(r.sum),
                        bucket_counts: r.buckets.to_vec(),
                        explicit_bounds: DURATION_BUCKETS.to_vec(),
                        exemplars: Vec::new(),
                        flags: 0,
                        min: Some(r.min),
                        max: Some(r.max),
                    }
                })
                .collect();
            (!data_points.is_empty()).then(|| Metric {
                name: name.to_owned(),
                description: description.to_owned(),
                unit: "s".to_owned(),
                metadata: Vec::new(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points,
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                })),
            })
        };
        let metrics = [
            counter(
                FAAS_INVOCATIONS,
                "{invocation}",
                "Successful invocations",
                |p| p.invocations,
            ),
            counter(FAAS_ERRORS, "{error}", "Invocations that failed", |p| {
                p.errors
            }),
            counter(
                FAAS_TIMEOUTS,
                "{timeout}",
                "Invocations that timed out",
                |p| p.timeouts,
            ),
            counter(FAAS_COLDSTARTS, "{coldstart}", "Cold starts", |p| {
                p.coldstarts
            }),
            seconds(FAAS_INVOKE_DURATION, "Duration of the handler's run", |p| {
                &p.invoke_duration
            }),
            seconds(
                FAAS_INIT_DURATION,
                "Duration of the process's initialisation",
                |p| &p.init_duration,
            ),
        ];
        ScopeMetrics {
            scope: Some(self.scope.clone()),
            metrics: metrics.into_iter().flatten().collect(),
            schema_url: opentelemetry_semantic_conventions::SCHEMA_URL.to_owned(),
        }
    }

    /// Collects what changed since the last export and exports it within `budget`, when
    /// `due` and the interval say so; `Ok(0)` when they do not or nothing changed.
    pub(crate) async fn flush(&self, budget: Duration, due: MetricsDue) -> Result<usize, String> {
        if self.shut_down.load(Ordering::Relaxed) || !self.claim(due) {
            return Ok(0);
        }
        let metrics = self.collect();
        let points = metrics.metrics.len();
        if points == 0 {
            return Ok(0);
        }
        if budget.is_zero() {
            return Err("no time left before the invocation's deadline".to_owned());
        }
        let deadline = tokio::time::Instant::now() + budget;
        match crate::processor::within(budget, self.exporter.export(&metrics, deadline)).await {
            Some(Ok(())) => Ok(points),
            Some(Err(error)) => Err(error),
            None => Err(format!("gave up after {} ms", budget.as_millis())),
        }
    }

    /// Stops the metrics: later flushes export nothing.
    pub(crate) fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Relaxed);
    }
}

/// `faas.trigger` as an OTLP attribute.
fn trigger_attribute(trigger: FaasTrigger) -> KeyValue {
    KeyValue {
        key: FAAS_TRIGGER.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(trigger.as_str().to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// Nanoseconds since the Unix epoch.
fn nanos(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use memory::{MemoryMetricExporter, MetricPoint, PointValue};

/// FaaS metric points kept in memory, for tests (the `testing` feature).
#[cfg(any(test, feature = "testing"))]
mod memory {
    use std::sync::Arc;

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

    impl DynMetricExporter for MemoryMetricExporter {
        fn export<'a>(
            &'a self,
            metrics: &'a ScopeMetrics,
            _deadline: tokio::time::Instant,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>
        {
            let points = metrics.metrics.iter().flat_map(points_of);
            self.points
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(points);
            Box::pin(std::future::ready(Ok(())))
        }
    }

    fn points_of(metric: &Metric) -> Vec<MetricPoint> {
        let attributes = |kvs: &[KeyValue]| -> Vec<(String, String)> {
            kvs.iter()
                .map(|kv| {
                    let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::StringValue(s)) => s.clone(),
                        other => format!("{other:?}"),
                    };
                    (kv.key.clone(), value)
                })
                .collect()
        };
        let point = |attributes, value| MetricPoint {
            name: metric.name.clone(),
            attributes,
            value,
        };
        match &metric.data {
            Some(metric::Data::Sum(sum)) => sum
                .data_points
                .iter()
                .map(|p| {
                    let value = match p.value {
                        Some(number_data_point::Value::AsInt(v)) => v as f64,
                        Some(number_data_point::Value::AsDouble(v)) => v,
                        None => 0.0,
                    };
                    point(attributes(&p.attributes), PointValue::Sum(value))
                })
                .collect(),
            Some(metric::Data::Histogram(histogram)) => histogram
                .data_points
                .iter()
                .map(|p| {
                    let value = PointValue::Histogram {
                        count: p.count,
                        sum: p.sum.unwrap_or_default(),
                    };
                    point(attributes(&p.attributes), value)
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
    //! its exporter, read as the OTLP messages it hands over.

    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

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

    impl DynMetricExporter for Capture {
        fn export<'a>(
            &'a self,
            metrics: &'a ScopeMetrics,
            _deadline: tokio::time::Instant,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>
        {
            let mut points = self.0.lock().unwrap();
            let scope = metrics
                .scope
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            for metric in &metrics.metrics {
                let point = |trigger: Option<String>, value| Point {
                    scope: scope.clone(),
                    name: metric.name.clone(),
                    unit: metric.unit.clone(),
                    trigger,
                    value,
                };
                let delta = AggregationTemporality::Delta as i32;
                match &metric.data {
                    Some(metric::Data::Sum(sum)) => {
                        for p in &sum.data_points {
                            let Some(number_data_point::Value::AsInt(value)) = p.value else {
                                panic!("{} is not an integer sum: {p:?}", metric.name);
                            };
                            points.push(point(
                                trigger(&p.attributes),
                                Value::Sum {
                                    value: value as f64,
                                    monotonic: sum.is_monotonic,
                                    delta: sum.aggregation_temporality == delta,
                                },
                            ));
                        }
                    }
                    Some(metric::Data::Histogram(histogram)) => {
                        for p in &histogram.data_points {
                            assert_eq!(p.explicit_bounds, DURATION_BUCKETS);
                            assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                            points.push(point(
                                trigger(&p.attributes),
                                Value::Histogram {
                                    count: p.count,
                                    sum: p.sum.unwrap_or_default(),
                                    delta: histogram.aggregation_temporality == delta,
                                },
                            ));
                        }
                    }
                    other => panic!("unexpected data for {}: {other:?}", metric.name),
                }
            }
            Box::pin(std::future::ready(Ok(())))
        }
    }

    /// The point's `faas.trigger`.
    fn trigger(attributes: &[KeyValue]) -> Option<String> {
        attributes
            .iter()
            .find(|kv| kv.key == FAAS_TRIGGER)
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(value) => Some(value.clone()),
                _ => None,
            })
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
        let metrics = FaasMetrics::new(Box::new(capture.clone()), Duration::ZERO);
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
        let metrics = FaasMetrics::new(Box::new(capture.clone()), day);
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
        let metrics = FaasMetrics::new(Box::new(capture.clone()), Duration::ZERO);
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

    #[test]
    fn recordings_fill_explicit_buckets_whose_upper_bound_is_inclusive() {
        let mut r = Recordings::default();
        for value in [0.005, 0.0051, 0.3, 10.0, 12.5] {
            r.record(value);
        }
        let mut expected = [0u64; DURATION_BUCKETS.len() + 1];
        // (−∞, 0.005], (0.005, 0.01], (0.25, 0.5], (7.5, 10], (10, +∞)
        for bucket in [0, 1, 7, 13, 14] {
            expected[bucket] += 1;
        }
        assert_eq!(r.buckets, expected);
        assert_eq!((r.count, r.min, r.max), (5, 0.005, 12.5));
        assert!((r.sum - 22.8101).abs() < 1e-9, "{}", r.sum);
    }

    #[tokio::test]
    async fn each_trigger_gets_its_own_point_and_a_metric_without_points_is_left_out() {
        let capture = Capture::default();
        let metrics = FaasMetrics::new(Box::new(capture.clone()), Duration::ZERO);
        metrics.record(&InvocationFacts::started(FaasTrigger::PubSub, false));
        metrics.record(&InvocationFacts::started(FaasTrigger::Http, false));
        metrics.record(&InvocationFacts::started(FaasTrigger::Http, false));
        let exported = metrics
            .flush(Duration::from_secs(5), MetricsDue::IfDue)
            .await
            .expect("flush");
        assert_eq!(
            exported, 1,
            "faas.invocations only: no duration, no failure"
        );
        let points = capture.0.lock().unwrap().clone();
        let by_trigger: Vec<(Option<&str>, &Value)> = points
            .iter()
            .map(|p| (p.trigger.as_deref(), &p.value))
            .collect();
        let sum = |value| Value::Sum {
            value,
            monotonic: true,
            delta: true,
        };
        assert_eq!(
            by_trigger,
            [(Some("pubsub"), &sum(1.0)), (Some("http"), &sum(2.0))]
        );
        // The window starts again: nothing recorded, nothing exported.
        let exported = metrics
            .flush(Duration::from_secs(5), MetricsDue::Now)
            .await
            .expect("flush");
        assert_eq!(exported, 0);
        assert_eq!(capture.0.lock().unwrap().len(), 2);
    }
}
