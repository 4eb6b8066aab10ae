//! `cargo run --example …`: a function that runs, and shows its traces, with no AWS account.
//!
//! The same `main` serves both worlds. Started by Lambda (or by this runner),
//! `AWS_LAMBDA_RUNTIME_API` is set and [`LocalRunner::run`] serves the handler with
//! [`otel_faas_runtime::lambda::run`]. Started by hand, it plays the platform: it starts the Runtime API
//! emulator and an OTLP collector on 127.0.0.1, starts this very executable again as the
//! function process (as Lambda starts a `bootstrap`), sends the sample events one by one,
//! and prints each invocation's response, its trace tree as the collector received it, and
//! one line with the FaaS metric points exported with it:
//!
//! ```text
//!   metrics  faas.invocations=1  faas.coldstarts=1  faas.invoke_duration=1×812 µs  faas.init_duration=1×12.30 ms  (faas.trigger=pubsub)
//! ```
//!
//! With the function configured for Lambda Managed Instances
//! (`configure(|f| f.max_concurrency = 4)`), the events are handed out all at once instead,
//! as the platform hands one process several invocations, and each invocation's own trace is
//! printed after they all answered.
//!
//! Counters show what they grew by; duration histograms show how many values were recorded
//! and their mean. The function exports them with every invocation here
//! (`OTEL_METRIC_EXPORT_INTERVAL=0`, unless the environment sets it). With `OTEL_METRICS_EXPORTER=none` the line is left out, and so is the
//! wait for it.
//!
//! Each signal the function sends somewhere else is left alone there, and not waited for:
//! `OTEL_EXPORTER_OTLP_ENDPOINT` sends both elsewhere (only the responses are printed);
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (or `OTEL_TRACES_EXPORTER=console`) sends the spans
//! elsewhere, and the metrics line is still printed from the embedded collector;
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` the other way round. The embedded collector starts
//! only for a signal that stays local, and the runner says where each one goes.
//!
//! ```no_run
//! use otel_faas_local::LocalRunner;
//! use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
//!
//! #[traced_function(trigger = "other")]
//! async fn handler(event: LambdaEvent<serde_json::Value>) -> Result<serde_json::Value, Error> {
//!     Ok(event.payload)
//! }
//!
//! fn main() -> Result<(), Error> {
//!     LocalRunner::new("echo").event("hello", serde_json::json!({ "hello": "world" })).run(handler)
//! }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::collector::{Collector, MetricValue, ReceivedMetric};
use crate::emulator::{
    FunctionConfig, Invocation, InvocationOutcome, InvocationResult, RuntimeApi,
};
use crate::process::{FunctionProcess, Output};
use otel_faas_runtime::Error;
use otel_faas_runtime::config::{Config, ExporterKind};
use otel_faas_runtime::lambda::Handler;
use otel_faas_runtime::render::{SpanView, render_trees};

/// How long to wait for an invocation's spans after its response (the export happens before
/// the response; a malformed event's span is exported just after).
const SPANS_GRACE: Duration = Duration::from_secs(3);

/// How long to wait for an invocation's metric points once its trace is in: the function
/// exports both in the same flush, so they arrive together.
const METRICS_GRACE: Duration = Duration::from_millis(500);

/// The FaaS instruments, in the order the metrics line shows them; other instruments follow,
/// by name.
const FAAS_METRICS: [&str; 6] = [
    "faas.invocations",
    "faas.errors",
    "faas.timeouts",
    "faas.coldstarts",
    "faas.invoke_duration",
    "faas.init_duration",
];

/// Runs a function locally against the emulated platform; see the module documentation.
#[derive(Debug)]
pub struct LocalRunner {
    function: FunctionConfig,
    events: Vec<(String, Invocation)>,
    env: Vec<(String, String)>,
}

impl LocalRunner {
    /// A runner for a function named `function_name`.
    pub fn new(function_name: &str) -> Self {
        LocalRunner {
            function: FunctionConfig::new(function_name),
            events: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Sets an environment variable of the function process (a sampler, a flush mode, …),
    /// over what it inherits from this one.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sends `payload` as the next invocation, described by `label` in the output.
    pub fn event(self, label: &str, payload: Value) -> Self {
        self.invocation(label, Invocation::json(&payload))
    }

    /// Sends a payload given as JSON text (such as an `include_str!` sample).
    ///
    /// # Panics
    /// When `json` is not valid JSON: the sample is part of the program.
    pub fn event_json(self, label: &str, json: &str) -> Self {
        let payload: Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("sample event {label:?}: {e}"));
        self.event(label, payload)
    }

    /// Sends an invocation with its own request id, trace header, client context or timeout.
    pub fn invocation(mut self, label: &str, invocation: Invocation) -> Self {
        self.events.push((label.to_owned(), invocation));
        self
    }

    /// Changes the platform's view of the function (memory, region, timeout, …).
    pub fn configure(mut self, configure: impl FnOnce(&mut FunctionConfig)) -> Self {
        configure(&mut self.function);
        self
    }

    /// Serves `handler` when this process is a Lambda function; otherwise emulates the
    /// platform, runs this executable as the function, and prints what happened.
    pub fn run<H, M>(self, handler: H) -> Result<(), Error>
    where
        H: Handler<M>,
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            return runtime.block_on(otel_faas_runtime::lambda::run(handler));
        }
        runtime.block_on(self.emulate())
    }

    async fn emulate(self) -> Result<(), Error> {
        let api = RuntimeApi::start(self.function.clone()).await?;
        let signals = Signals::from_env();
        let collector = match signals.any_local() {
            true => Some(Collector::start().await?),
            false => None,
        };
        let mut env = vec![("OTEL_FAAS_LOCAL_RUNNER".to_owned(), "1".to_owned())];
        env.extend(metrics_with_every_invocation());
        if let Some(collector) = &collector {
            // The generic endpoint: a signal with an endpoint of its own keeps it.
            env.push((
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                collector.endpoint(),
            ));
        }
        env.extend(self.env.iter().cloned());
        let program = std::env::current_exe()?;
        let args = std::env::args_os().skip(1);

        println!(
            "otel-faas local runner · function {}",
            self.function.function_name
        );
        println!("  Runtime API emulator  http://{}", api.endpoint());
        signals.print(collector.as_ref());
        let collector = collector.as_ref();
        let traces_from = collector.filter(|_| signals.traces.is_local());
        let metrics_from = collector.filter(|_| signals.metrics.is_local());
        let mut function = FunctionProcess::spawn(
            &program,
            args,
            &api,
            &env,
            Output::Prefixed("  │ ".to_owned()),
        )?;
        let mut metrics = MetricsCursor::new(signals.metrics.is_local());
        let total = self.events.len();
        if self.function.max_concurrency > 1 {
            // Lambda Managed Instances: every event handed out at once, as the platform hands
            // one process up to `AWS_LAMBDA_MAX_CONCURRENCY` invocations.
            println!(
                "\n▶ {total} invocations at once (AWS_LAMBDA_MAX_CONCURRENCY={})",
                self.function.max_concurrency
            );
            let started = std::time::Instant::now();
            let outcomes = futures_util::future::join_all(
                self.events
                    .iter()
                    .map(|(_, invocation)| api.invoke(invocation.clone())),
            )
            .await;
            println!(
                "◀ all {total} answered in {:.0} ms",
                started.elapsed().as_secs_f64() * 1000.0
            );
            for ((label, _), outcome) in self.events.iter().zip(&outcomes) {
                println!("\n▶ {label}");
                print_outcome(outcome);
                if let Some(collector) = traces_from {
                    print_trace(collector, &outcome.request_id).await;
                }
            }
            if let Some(collector) = metrics_from {
                print_metrics(collector, &mut metrics).await;
            }
        }
        let sequential = match self.function.max_concurrency > 1 {
            true => Vec::new(),
            false => self.events,
        };
        for (n, (label, invocation)) in sequential.into_iter().enumerate() {
            println!("\n▶ invocation {}/{total} · {label}", n + 1);
            let outcome = api.invoke(invocation).await;
            print_outcome(&outcome);
            if let Some(collector) = traces_from {
                print_trace(collector, &outcome.request_id).await;
            }
            if let Some(collector) = metrics_from {
                print_metrics(collector, &mut metrics).await;
            }
            if let Some(status) = function.try_exit_status() {
                println!("\nthe function process exited ({status}); stopping");
                break;
            }
        }
        // Lambda stops an environment only once it is idle: every invocation answered, and
        // each worker back at `/next` (what a function does after its response, such as the
        // export of an event it could not read, happens before that). Stopping at the last
        // response instead would cut that work off.
        let idle = total as u64 + u64::from(self.function.max_concurrency.max(1));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while api.next_calls() < idle && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let status = function.terminate(Duration::from_secs(2)).await?;
        println!("\nfunction process stopped ({status})");
        if let Some(error) = api.init_error() {
            return Err(format!(
                "the function failed to start: {}: {}",
                error.error_type, error.error_message
            )
            .into());
        }
        Ok(())
    }
}

/// Prints an invocation's response or error, and how long it took.
pub(crate) fn print_outcome(outcome: &InvocationOutcome) {
    let took = outcome
        .latency()
        .map(|d| format!(" in {:.1} ms", d.as_secs_f64() * 1000.0))
        .unwrap_or_default();
    match &outcome.result {
        InvocationResult::Response(body) => {
            let body = String::from_utf8_lossy(body);
            let shown: String = body.chars().take(300).collect();
            println!("◀ response{took}: {shown}");
        }
        InvocationResult::Error(error) => {
            println!(
                "◀ error{took}: {}: {}",
                error.error_type,
                error.error_message.trim_end()
            );
        }
        InvocationResult::TimedOut => println!("◀ timed out: no response before the deadline"),
    }
}

/// Prints the traces the invocation `request_id` took part in.
async fn print_trace(collector: &Collector, request_id: &str) {
    let Some(spans) = collector.invocation_traces(request_id, SPANS_GRACE).await else {
        println!("  (no span received for this invocation)");
        return;
    };
    let views: Vec<SpanView> = spans.into_iter().map(|s| s.view).collect();
    for line in render_trees(&views).lines() {
        println!("  {line}");
    }
}

/// `OTEL_METRIC_EXPORT_INTERVAL=0` unless the environment sets it: each invocation's metric
/// points are printed with it, where a deployed function exports them once a minute.
pub(crate) fn metrics_with_every_invocation() -> Option<(String, String)> {
    std::env::var_os("OTEL_METRIC_EXPORT_INTERVAL")
        .is_none()
        .then(|| ("OTEL_METRIC_EXPORT_INTERVAL".to_owned(), "0".to_owned()))
}

/// Where the function sends each signal, as it reads the environment it inherits.
#[derive(Debug, PartialEq)]
pub(crate) struct Signals {
    pub(crate) traces: Destination,
    pub(crate) metrics: Destination,
}

/// Where one signal goes.
#[derive(Debug, PartialEq)]
pub(crate) enum Destination {
    /// To the embedded collector, and printed.
    Local,
    /// To an endpoint the user set.
    Endpoint(String),
    /// Printed by the function itself (`OTEL_TRACES_EXPORTER=console`).
    Console,
    /// Nowhere: the SDK or the signal is off.
    Off,
}

impl Destination {
    pub(crate) fn is_local(&self) -> bool {
        *self == Destination::Local
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Local => f.write_str("→ the embedded collector, printed below"),
            Destination::Endpoint(endpoint) => write!(f, "→ {endpoint} (not printed here)"),
            Destination::Console => f.write_str("printed by the function (console exporter)"),
            Destination::Off => f.write_str("off"),
        }
    }
}

impl Signals {
    /// Reads the OTLP exporter variables as the OpenTelemetry exporter spec orders them: a
    /// signal's own endpoint (`OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT`) over the
    /// generic one (`OTEL_EXPORTER_OTLP_ENDPOINT`); an empty value is unset.
    pub(crate) fn from(config: &Config, var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |key: &str| var(key).filter(|v| !v.is_empty());
        let generic = var("OTEL_EXPORTER_OTLP_ENDPOINT");
        let elsewhere = |signal: &str| var(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"));
        let destination = |on: bool, signal: &str| match (on, elsewhere(signal)) {
            (false, _) => Destination::Off,
            (true, Some(endpoint)) => Destination::Endpoint(endpoint),
            (true, None) => match &generic {
                Some(endpoint) => Destination::Endpoint(endpoint.clone()),
                None => Destination::Local,
            },
        };
        let traces = match config.exporter {
            _ if config.sdk_disabled => Destination::Off,
            ExporterKind::Console => Destination::Console,
            ExporterKind::Otlp => destination(true, "TRACES"),
            // Application Insights: the endpoint of the connection string, not printed here.
            ExporterKind::AzureMonitor => match &config.application_insights {
                Ok(settings) => Destination::Endpoint(settings.ingestion_endpoint.clone()),
                Err(_) => Destination::Off,
            },
            ExporterKind::None => Destination::Off,
        };
        let metrics_on = !config.sdk_disabled && config.metrics_exporter == ExporterKind::Otlp;
        Signals {
            traces,
            metrics: destination(metrics_on, "METRICS"),
        }
    }

    /// As the function this process starts will read them.
    pub(crate) fn from_env() -> Self {
        Signals::from(&Config::from_env(), |key| std::env::var(key).ok())
    }

    /// Whether a signal stays local, so the embedded collector is needed.
    pub(crate) fn any_local(&self) -> bool {
        self.traces.is_local() || self.metrics.is_local()
    }

    /// Prints where each signal goes, under the runner's heading.
    pub(crate) fn print(&self, collector: Option<&Collector>) {
        if let Some(collector) = collector {
            println!(
                "  OTLP collector        {} (embedded)",
                collector.endpoint()
            );
        }
        println!("  spans                 {}", self.traces);
        println!("  metrics               {}", self.metrics);
    }
}

/// Which metric points the runner has shown, and whether to wait for more.
#[derive(Debug)]
pub(crate) struct MetricsCursor {
    /// Points received before the current invocation's (all shown already).
    shown: usize,
    /// Whether to wait for the current invocation's points. Turned off when none came for an
    /// invocation and none ever did, so a function that sends none costs one wait at most.
    wait: bool,
}

impl MetricsCursor {
    pub(crate) fn new(expected: bool) -> Self {
        MetricsCursor {
            shown: 0,
            wait: expected,
        }
    }
}

/// Prints the metric points that arrived since the previous invocation's, if any.
pub(crate) async fn print_metrics(collector: &Collector, cursor: &mut MetricsCursor) {
    if cursor.wait
        && !collector
            .wait_for_metric_count(cursor.shown + 1, METRICS_GRACE)
            .await
        && cursor.shown == 0
    {
        cursor.wait = false;
    }
    let points = collector.metrics();
    let new = points.get(cursor.shown..).unwrap_or_default();
    cursor.shown = points.len();
    for line in metrics_lines(new) {
        println!("  {line}");
    }
}

/// One line per attribute set: `metrics  name=value  …  (key=value, …)`, FaaS instruments
/// first, attributes by key. Sums are added up, histograms show `count×mean` (a mean in
/// seconds as the trace tree shows durations), gauges their last value.
fn metrics_lines(points: &[ReceivedMetric]) -> Vec<String> {
    // Attribute sets in order of first arrival, each with its instruments by display order.
    let mut groups: Vec<(String, Instruments<'_>)> = Vec::new();
    for point in points {
        // By key: exporters do not keep the order attributes were recorded in.
        let mut sorted: Vec<_> = point.attributes.iter().collect();
        sorted.sort_by(|(a, _), (b, _)| a.cmp(b));
        let attributes = sorted
            .iter()
            .map(|(key, value)| format!("{key}={value}"))
            .collect::<Vec<_>>()
            .join(", ");
        let index = match groups.iter().position(|(a, _)| *a == attributes) {
            Some(index) => index,
            None => {
                groups.push((attributes, BTreeMap::new()));
                groups.len() - 1
            }
        };
        let rank = FAAS_METRICS
            .iter()
            .position(|name| *name == point.name)
            .unwrap_or(FAAS_METRICS.len());
        let shown = groups[index]
            .1
            .entry((rank, point.name.as_str()))
            .or_insert(Shown {
                unit: &point.unit,
                value: Accumulated::None,
            });
        shown.value.add(point.value);
    }
    groups
        .into_iter()
        .map(|(attributes, instruments)| {
            let mut line = "metrics".to_owned();
            for ((_, name), shown) in &instruments {
                let _ = write!(line, "  {name}={}", shown.render());
            }
            if !attributes.is_empty() {
                let _ = write!(line, "  ({attributes})");
            }
            line
        })
        .collect()
}

/// The instruments of one attribute set, keyed by display rank and name.
type Instruments<'a> = BTreeMap<(usize, &'a str), Shown<'a>>;

/// One instrument's points of one attribute set, added up.
#[derive(Debug)]
struct Shown<'a> {
    unit: &'a str,
    value: Accumulated,
}

#[derive(Clone, Copy, Debug)]
enum Accumulated {
    None,
    Sum(f64),
    Histogram { count: u64, sum: f64 },
    Gauge(f64),
}

impl Accumulated {
    fn add(&mut self, value: MetricValue) {
        *self = match (*self, value) {
            (Accumulated::Sum(total), MetricValue::Sum { value, .. }) => {
                Accumulated::Sum(total + value)
            }
            (
                Accumulated::Histogram { count, sum },
                MetricValue::Histogram {
                    count: n, sum: s, ..
                },
            ) => Accumulated::Histogram {
                count: count + n,
                sum: sum + s,
            },
            // A first point, a gauge's newer value, or (never with one instrument) a change
            // of kind: the latest point wins.
            (_, MetricValue::Sum { value, .. }) => Accumulated::Sum(value),
            (_, MetricValue::Histogram { count, sum, .. }) => Accumulated::Histogram { count, sum },
            (_, MetricValue::Gauge(value)) => Accumulated::Gauge(value),
        };
    }
}

impl Shown<'_> {
    fn render(&self) -> String {
        match self.value {
            Accumulated::None => String::new(),
            Accumulated::Sum(value) | Accumulated::Gauge(value) => {
                with_unit(number(value), self.unit)
            }
            Accumulated::Histogram { count: 0, .. } => "0".to_owned(),
            Accumulated::Histogram { count, sum } => {
                let mean = sum / count as f64;
                let mean = match self.unit {
                    "s" => Duration::try_from_secs_f64(mean)
                        .map_or_else(|_| format!("{mean} s"), format_duration),
                    unit => with_unit(number(mean), unit),
                };
                format!("{count}×{mean}")
            }
        }
    }
}

/// A number as short as it reads: whole numbers without a fraction, others with up to three
/// significant decimals.
fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// `value unit`, leaving out an annotation-only unit such as `{invocation}` and no unit.
fn with_unit(value: String, unit: &str) -> String {
    if unit.is_empty() || (unit.starts_with('{') && unit.ends_with('}')) || unit == "1" {
        value
    } else {
        format!("{value} {unit}")
    }
}

/// A duration as the trace tree shows one: `812 µs`, `12.30 ms`, `1.50 s`.
fn format_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 1_000_000 {
        format!("{:.2} ms", micros as f64 / 1_000.0)
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests;
