//! Configuration read from the OpenTelemetry environment variables, then otel-faas's own.
//!
//! Every value is read once, when telemetry starts. A value that cannot be parsed never
//! stops the function: it is reported in [`Config::warnings`] (and logged by
//! [`crate::lambda::run`]) and its default is used, as the OpenTelemetry specification asks.
//! An OTLP setting this build cannot honour (a protocol, compression, `https` or SigV4
//! whose feature is off) is not replaced by a default: [`Config::otlp_traces`] or
//! [`Config::otlp_metrics`] holds the error, which names the variable and the feature, and
//! that signal is not exported.

use std::time::Duration;

pub use crate::azure_monitor::settings::{ApplicationInsightsSettings, CONNECTION_STRING_VAR};
pub use crate::otlp::settings::{
    Compression, DEFAULT_OTLP_TIMEOUT, OtlpSettings, Protocol, SigV4, Signal,
};
use crate::sampling::KeepRules;

/// Which head sampler decides whether a new trace is recorded (`OTEL_TRACES_SAMPLER`).
#[derive(Clone, Debug, PartialEq)]
pub enum SamplerConfig {
    /// `always_on`: record every trace.
    AlwaysOn,
    /// `always_off`: record nothing.
    AlwaysOff,
    /// `traceidratio`: record this fraction of traces, decided from the trace id.
    TraceIdRatio(f64),
    /// `parentbased_*`: follow the caller's sampled flag; use the inner sampler for new traces.
    ParentBased(Box<SamplerConfig>),
}

/// A context propagation format (`OTEL_PROPAGATORS`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropagatorKind {
    /// W3C `traceparent` / `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
    /// AWS X-Ray `X-Amzn-Trace-Id`.
    Xray,
    /// AWS X-Ray, preferring the Lambda runtime's own trace header (`Lambda-Runtime-Trace-Id`,
    /// `_X_AMZN_TRACE_ID`) as the semantic conventions for AWS Lambda define.
    XrayLambda,
}

/// Where finished spans go (`OTEL_TRACES_EXPORTER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExporterKind {
    /// OTLP over HTTP/protobuf to `OTEL_EXPORTER_OTLP_ENDPOINT`.
    Otlp,
    /// A readable trace tree on standard output.
    Console,
    /// Azure Monitor Application Insights, as `APPLICATIONINSIGHTS_CONNECTION_STRING` says
    /// (the `azure-monitor` feature): `OTEL_TRACES_EXPORTER=azure_monitor`, and the default
    /// when that variable is set in a build with the feature.
    AzureMonitor,
    /// Nowhere: spans are created (trace ids still reach logs and outgoing calls) but not kept.
    None,
}

/// When an invocation's telemetry is exported (`OTEL_FAAS_FLUSH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushMode {
    /// Before the response is posted (`sync`): the caller waits for the export (bounded by
    /// `OTEL_FAAS_FLUSH_TIMEOUT`), and nothing else is needed.
    BeforeResponse,
    /// After the response is posted: an internal Lambda extension keeps the environment
    /// from freezing until the export is done, so the caller never waits for it.
    AfterResponse,
}

/// How the Lambda execution environment was started (`AWS_LAMBDA_INITIALIZATION_TYPE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitializationType {
    /// Started for the invocation that is waiting: its first invocation is a cold start.
    OnDemand,
    /// Started ahead of traffic by provisioned concurrency: no invocation is a cold start.
    ProvisionedConcurrency,
    /// Restored from a SnapStart snapshot: no invocation is a cold start.
    SnapStart,
    /// Started by Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY` set above 1), which
    /// initialise environments before routing traffic to them: no invocation is a cold
    /// start.
    ManagedInstances,
}

/// Telemetry configuration; [`Config::from_env`] reads it from the process environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// `OTEL_SDK_DISABLED=true`: no spans, no export; the glue calls the handler directly.
    pub sdk_disabled: bool,
    /// `OTEL_SERVICE_NAME`; when absent, `service.name` from `OTEL_RESOURCE_ATTRIBUTES`, then
    /// the function name.
    pub service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES` as parsed key/value pairs.
    pub resource_attributes: Vec<(String, String)>,
    /// `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`; default `parentbased_always_on`.
    pub sampler: SamplerConfig,
    /// `OTEL_PROPAGATORS`; default `tracecontext,baggage`.
    pub propagators: Vec<PropagatorKind>,
    /// `OTEL_TRACES_EXPORTER`; default `otlp`.
    pub exporter: ExporterKind,
    /// How spans are sent over OTLP: the `OTEL_EXPORTER_OTLP_*` and
    /// `OTEL_EXPORTER_OTLP_TRACES_*` variables (see [`OtlpSettings`]), or why this build
    /// cannot honour them — then spans are not exported, and the error is logged at start.
    pub otlp_traces: Result<OtlpSettings, String>,
    /// How FaaS metrics are sent over OTLP: the `OTEL_EXPORTER_OTLP_*` and
    /// `OTEL_EXPORTER_OTLP_METRICS_*` variables, or why this build cannot honour them.
    pub otlp_metrics: Result<OtlpSettings, String>,
    /// Where spans go in Application Insights: `APPLICATIONINSIGHTS_CONNECTION_STRING`
    /// (see [`ApplicationInsightsSettings`]), when [`Config::exporter`] is
    /// [`ExporterKind::AzureMonitor`]; else, or when it is malformed or the build lacks the
    /// `azure-monitor` feature, why spans do not go there (logged at start when they
    /// should).
    pub application_insights: Result<ApplicationInsightsSettings, String>,
    /// `OTEL_METRICS_EXPORTER`: `otlp` or `none`; when unset, `otlp` if spans go over OTLP,
    /// else `none` (a function printing its spans has no collector for its metrics).
    pub metrics_exporter: ExporterKind,
    /// `OTEL_LOGS_EXPORTER`: `otlp` exports the handler's `tracing` events as OpenTelemetry
    /// log records with their invocation's spans; `none`, the default,
    /// leaves them to the log lines on standard output.
    pub logs_exporter: ExporterKind,
    /// How log records are sent over OTLP: the `OTEL_EXPORTER_OTLP_*` and
    /// `OTEL_EXPORTER_OTLP_LOGS_*` variables, or why this build cannot honour them.
    pub otlp_logs: Result<OtlpSettings, String>,
    /// `OTEL_BLRP_MAX_QUEUE_SIZE`: log records buffered per invocation (and, apart, for
    /// records of no invocation); more are dropped and counted; default 2048.
    pub max_queued_log_records: usize,
    /// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds): the least time between two exports of
    /// the FaaS metrics; default 60000. They leave with the flush that ends an invocation
    /// once this much time has passed since the last time they left, and always with the
    /// last flush before the process stops. `0` exports them with every invocation.
    pub metric_export_interval: Duration,
    /// `OTEL_FAAS_FLUSH`: `sync` (the default) or `after_response`; see [`FlushMode`].
    pub flush_mode: FlushMode,
    /// `OTEL_FAAS_FLUSH_TIMEOUT` (milliseconds): the longest an invocation waits for its spans
    /// to be exported; default 1000 ms. The invocation's deadline bounds it further.
    pub flush_timeout: Duration,
    /// `OTEL_FAAS_AFTER_RESPONSE_FLUSH_TIMEOUT` (milliseconds): the longest an export after
    /// the response (`OTEL_FAAS_FLUSH=after_response`) may run, retries included; default
    /// [`Config::flush_timeout`]. The caller never waits for it, but the environment stays
    /// billed and busy until it ends, and the invocation's deadline still bounds it: on
    /// Lambda the function's timeout covers the extensions' work after the response.
    pub after_response_flush_timeout: Duration,
    /// `OTEL_FAAS_DEADLINE_MARGIN` (milliseconds): time kept free before the invocation's
    /// deadline so the response is posted in time whatever the collector does; default 100 ms.
    pub deadline_margin: Duration,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`: spans buffered per invocation (and, apart, for spans of no
    /// invocation); more are dropped and counted; default 2048.
    pub max_queued_spans: usize,
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`: longest string attribute taken from an event or a
    /// header, in bytes; default 4096.
    pub attribute_value_length_limit: usize,
    /// `OTEL_FAAS_REDACT_QUERY_KEYS` (comma-separated): query keys whose values are
    /// redacted in `url.query` and `url.full`, beside the ones always redacted (see
    /// [`crate::redact`]); default none.
    pub redact_query_keys: Vec<String>,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`; default on-demand.
    pub initialization_type: InitializationType,
    /// `OTEL_FAAS_KEEP` (`errors`, `coldstarts`, `slow`, comma-separated, or `none`) and
    /// `OTEL_FAAS_KEEP_SLOWER_THAN` (milliseconds): the traces kept even when the head
    /// sampler dropped them; default all three, slow meaning 1000 ms or more. See
    /// [`crate::sampling`].
    pub keep: KeepRules,
    /// What could not be parsed, and the default used instead.
    pub warnings: Vec<String>,
}

/// Default for [`Config::flush_timeout`].
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default for [`Config::metric_export_interval`] (the specification's).
pub const DEFAULT_METRIC_EXPORT_INTERVAL: Duration = Duration::from_millis(60_000);
/// Default for [`Config::deadline_margin`].
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_millis(100);
/// Default for [`Config::max_queued_spans`].
pub const DEFAULT_MAX_QUEUED_SPANS: usize = 2048;
/// Default slow threshold of [`Config::keep`].
pub const DEFAULT_KEEP_SLOWER_THAN: Duration = Duration::from_millis(1000);
/// Default for [`Config::attribute_value_length_limit`].
pub const DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT: usize = 4096;

impl Default for Config {
    fn default() -> Self {
        Config::from_lookup(|_| None)
    }
}

impl Config {
    /// Reads the configuration from the process environment.
    ///
    /// ```
    /// let config = otel_faas_runtime::config::Config::from_env();
    /// assert!(config.flush_timeout > std::time::Duration::ZERO);
    /// ```
    pub fn from_env() -> Self {
        Config::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the configuration through `lookup`, which answers an environment variable's
    /// value; tests use it instead of mutating the process environment.
    ///
    /// ```
    /// use otel_faas_runtime::config::{Config, ExporterKind};
    /// let config = Config::from_lookup(|key| (key == "OTEL_TRACES_EXPORTER").then(|| "console".into()));
    /// assert_eq!(config.exporter, ExporterKind::Console);
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut warnings = Vec::new();
        let var = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let sdk_disabled = match var("OTEL_SDK_DISABLED") {
            Some(v) => parse_bool(&v).unwrap_or_else(|| {
                warnings.push(format!(
                    "OTEL_SDK_DISABLED={v:?} is not true or false; using false"
                ));
                false
            }),
            None => false,
        };
        let resource_attributes = var("OTEL_RESOURCE_ATTRIBUTES")
            .map(|raw| parse_resource_attributes(&raw, &mut warnings))
            .unwrap_or_default();
        let service_name = var("OTEL_SERVICE_NAME");
        let sampler = parse_sampler(
            var("OTEL_TRACES_SAMPLER"),
            var("OTEL_TRACES_SAMPLER_ARG"),
            &mut warnings,
        );
        let propagators = match var("OTEL_PROPAGATORS") {
            Some(raw) => parse_propagators(&raw, &mut warnings),
            None => vec![PropagatorKind::TraceContext, PropagatorKind::Baggage],
        };
        let connection_string = var(CONNECTION_STRING_VAR).is_some();
        let exporter = match var("OTEL_TRACES_EXPORTER").map(|v| v.to_ascii_lowercase()) {
            // The Functions host sets the connection string of the app's Application
            // Insights resource: a build that can export there does.
            None if connection_string && cfg!(feature = "azure-monitor") => {
                ExporterKind::AzureMonitor
            }
            None => {
                if connection_string {
                    warnings.push(format!(
                        "{CONNECTION_STRING_VAR} is set, but this build cannot export to \
                         Application Insights (the `azure-monitor` feature of \
                         otel-faas-runtime): spans go over OTLP"
                    ));
                }
                ExporterKind::Otlp
            }
            Some(v) if v == "azure_monitor" => ExporterKind::AzureMonitor,
            Some(v) if v == "otlp" => ExporterKind::Otlp,
            Some(v) if v == "console" => ExporterKind::Console,
            Some(v) if v == "none" => ExporterKind::None,
            Some(v) => {
                warnings.push(format!(
                    "OTEL_TRACES_EXPORTER={v:?} is not supported (otlp, azure_monitor, console, \
                     none); using otlp"
                ));
                ExporterKind::Otlp
            }
        };
        let metrics_exporter = match var("OTEL_METRICS_EXPORTER").map(|v| v.to_ascii_lowercase()) {
            None if exporter == ExporterKind::Otlp => ExporterKind::Otlp,
            None => ExporterKind::None,
            Some(v) if v == "otlp" => ExporterKind::Otlp,
            Some(v) if v == "none" => ExporterKind::None,
            Some(v) => {
                warnings.push(format!(
                    "OTEL_METRICS_EXPORTER={v:?} is not supported (otlp, none); using otlp"
                ));
                ExporterKind::Otlp
            }
        };
        // Read only for a signal that goes over OTLP: the others' values are not ours to judge.
        let otlp = |signal: Signal, kind: ExporterKind, warnings: &mut Vec<String>| match kind {
            ExporterKind::Otlp => OtlpSettings::read(signal, &var, warnings),
            _ => Err(format!(
                "{} are not exported over OTLP",
                signal.infix().to_ascii_lowercase()
            )),
        };
        let otlp_traces = otlp(Signal::Traces, exporter, &mut warnings);
        let application_insights = match exporter {
            ExporterKind::AzureMonitor if !cfg!(feature = "azure-monitor") => Err(
                "OTEL_TRACES_EXPORTER=azure_monitor needs the `azure-monitor` feature of \
                 otel-faas-runtime"
                    .to_owned(),
            ),
            ExporterKind::AzureMonitor => ApplicationInsightsSettings::read(&var),
            _ => Err("spans are not exported to Application Insights".to_owned()),
        };
        let otlp_metrics = otlp(Signal::Metrics, metrics_exporter, &mut warnings);
        let logs_exporter = match var("OTEL_LOGS_EXPORTER").map(|v| v.to_ascii_lowercase()) {
            None => ExporterKind::None,
            Some(v) if v == "otlp" => ExporterKind::Otlp,
            Some(v) if v == "none" => ExporterKind::None,
            Some(v) if v == "console" => {
                warnings.push(
                    "OTEL_LOGS_EXPORTER=\"console\": the log lines on standard output are the \
                     console's; no log records are exported"
                        .to_owned(),
                );
                ExporterKind::None
            }
            Some(v) => {
                warnings.push(format!(
                    "OTEL_LOGS_EXPORTER={v:?} is not supported (otlp, none); no log records are \
                     exported"
                ));
                ExporterKind::None
            }
        };
        let otlp_logs = otlp(Signal::Logs, logs_exporter, &mut warnings);
        let millis = |key: &str, default: Duration, warnings: &mut Vec<String>| match var(key) {
            None => default,
            Some(v) => v
                .parse::<u64>()
                .map(Duration::from_millis)
                .unwrap_or_else(|_| {
                    warnings.push(format!(
                        "{key}={v:?} is not a number of milliseconds; using {}",
                        default.as_millis()
                    ));
                    default
                }),
        };
        let metric_export_interval = millis(
            "OTEL_METRIC_EXPORT_INTERVAL",
            DEFAULT_METRIC_EXPORT_INTERVAL,
            &mut warnings,
        );
        let flush_mode = match var("OTEL_FAAS_FLUSH").map(|v| v.to_ascii_lowercase()) {
            None => FlushMode::BeforeResponse,
            Some(v) if v == "sync" => FlushMode::BeforeResponse,
            Some(v) if v == "after_response" || v == "after-response" => FlushMode::AfterResponse,
            Some(v) => {
                warnings.push(format!(
                    "OTEL_FAAS_FLUSH={v:?} is not sync or after_response; using sync"
                ));
                FlushMode::BeforeResponse
            }
        };
        let flush_timeout = millis(
            "OTEL_FAAS_FLUSH_TIMEOUT",
            DEFAULT_FLUSH_TIMEOUT,
            &mut warnings,
        );
        let after_response_flush_timeout = millis(
            "OTEL_FAAS_AFTER_RESPONSE_FLUSH_TIMEOUT",
            flush_timeout,
            &mut warnings,
        );
        let deadline_margin = millis(
            "OTEL_FAAS_DEADLINE_MARGIN",
            DEFAULT_DEADLINE_MARGIN,
            &mut warnings,
        );
        let count = |key: &str, default: usize, warnings: &mut Vec<String>| match var(key) {
            None => default,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => {
                    warnings.push(format!(
                        "{key}={v:?} is not a positive integer; using {default}"
                    ));
                    default
                }
            },
        };
        let max_queued_spans = count(
            "OTEL_BSP_MAX_QUEUE_SIZE",
            DEFAULT_MAX_QUEUED_SPANS,
            &mut warnings,
        );
        let max_queued_log_records = count(
            "OTEL_BLRP_MAX_QUEUE_SIZE",
            crate::logs::DEFAULT_MAX_QUEUED_LOG_RECORDS,
            &mut warnings,
        );
        let attribute_value_length_limit = count(
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            DEFAULT_ATTRIBUTE_VALUE_LENGTH_LIMIT,
            &mut warnings,
        );
        let slower_than = millis(
            "OTEL_FAAS_KEEP_SLOWER_THAN",
            DEFAULT_KEEP_SLOWER_THAN,
            &mut warnings,
        );
        let keep = match var("OTEL_FAAS_KEEP") {
            Some(raw) => parse_keep(&raw, slower_than, &mut warnings),
            None => KeepRules::all(slower_than),
        };
        let redact_query_keys = var("OTEL_FAAS_REDACT_QUERY_KEYS")
            .map(|keys| {
                keys.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let initialization_type = match var("AWS_LAMBDA_INITIALIZATION_TYPE").as_deref() {
            Some("provisioned-concurrency") => InitializationType::ProvisionedConcurrency,
            Some("snap-start") => InitializationType::SnapStart,
            _ if var("AWS_LAMBDA_MAX_CONCURRENCY")
                .and_then(|v| v.trim().parse::<u32>().ok())
                .is_some_and(|n| n > 1) =>
            {
                InitializationType::ManagedInstances
            }
            _ => InitializationType::OnDemand,
        };

        Config {
            sdk_disabled,
            service_name,
            resource_attributes,
            sampler,
            propagators,
            exporter,
            metrics_exporter,
            metric_export_interval,
            otlp_traces,
            otlp_metrics,
            application_insights,
            logs_exporter,
            otlp_logs,
            max_queued_log_records,
            flush_mode,
            flush_timeout,
            after_response_flush_timeout,
            deadline_margin,
            max_queued_spans,
            attribute_value_length_limit,
            redact_query_keys,
            initialization_type,
            keep,
            warnings,
        }
    }
}

fn parse_keep(raw: &str, slower_than: Duration, warnings: &mut Vec<String>) -> KeepRules {
    let mut rules = KeepRules::NONE;
    for rule in raw.split(',').map(|r| r.trim().to_ascii_lowercase()) {
        match rule.as_str() {
            "errors" => rules.errors = true,
            "coldstarts" => rules.coldstarts = true,
            "slow" => rules.slower_than = Some(slower_than),
            "none" | "" => {}
            other => warnings.push(format!(
                "OTEL_FAAS_KEEP: {other:?} is not a keep rule (errors, coldstarts, slow, none); ignored"
            )),
        }
    }
    rules
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn parse_resource_attributes(raw: &str, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    raw.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .filter_map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Some((percent_decode(key.trim()), percent_decode(value.trim())))
            }
            _ => {
                warnings.push(format!(
                    "OTEL_RESOURCE_ATTRIBUTES: {pair:?} is not key=value; ignored"
                ));
                None
            }
        })
        .collect()
}

/// Decodes `%XX` escapes (the W3C Baggage octet encoding `OTEL_RESOURCE_ATTRIBUTES` uses);
/// a malformed escape is kept as written.
pub(crate) fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_sampler(
    name: Option<String>,
    arg: Option<String>,
    warnings: &mut Vec<String>,
) -> SamplerConfig {
    let default = || SamplerConfig::ParentBased(Box::new(SamplerConfig::AlwaysOn));
    let mut ratio = || match arg.as_deref().map(str::parse::<f64>) {
        Some(Ok(r)) if (0.0..=1.0).contains(&r) => r,
        Some(_) => {
            warnings.push(format!(
                "OTEL_TRACES_SAMPLER_ARG={:?} is not a ratio between 0 and 1; using 1.0",
                arg.as_deref().unwrap_or_default()
            ));
            1.0
        }
        None => 1.0,
    };
    let Some(name) = name else { return default() };
    match name.to_ascii_lowercase().as_str() {
        "always_on" => SamplerConfig::AlwaysOn,
        "always_off" => SamplerConfig::AlwaysOff,
        "traceidratio" => SamplerConfig::TraceIdRatio(ratio()),
        "parentbased_always_on" => SamplerConfig::ParentBased(Box::new(SamplerConfig::AlwaysOn)),
        "parentbased_always_off" => SamplerConfig::ParentBased(Box::new(SamplerConfig::AlwaysOff)),
        "parentbased_traceidratio" => {
            SamplerConfig::ParentBased(Box::new(SamplerConfig::TraceIdRatio(ratio())))
        }
        other => {
            warnings.push(format!(
                "OTEL_TRACES_SAMPLER={other:?} is not supported (always_on, always_off, traceidratio, \
                 parentbased_always_on, parentbased_always_off, parentbased_traceidratio); using parentbased_always_on"
            ));
            default()
        }
    }
}

fn parse_propagators(raw: &str, warnings: &mut Vec<String>) -> Vec<PropagatorKind> {
    let mut kinds = Vec::new();
    for name in raw.split(',').map(|n| n.trim().to_ascii_lowercase()) {
        let kind = match name.as_str() {
            "tracecontext" => PropagatorKind::TraceContext,
            "baggage" => PropagatorKind::Baggage,
            "xray" => PropagatorKind::Xray,
            "xray-lambda" => PropagatorKind::XrayLambda,
            "none" | "" => continue,
            other => {
                warnings.push(format!(
                    "OTEL_PROPAGATORS: {other:?} is not supported (tracecontext, baggage, xray, xray-lambda, none); ignored"
                ));
                continue;
            }
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.contains(&PropagatorKind::Xray) && kinds.contains(&PropagatorKind::XrayLambda) {
        warnings.push(
            "OTEL_PROPAGATORS: xray and xray-lambda together stop xray-lambda from working; using xray-lambda".into(),
        );
        kinds.retain(|k| *k != PropagatorKind::Xray);
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|key| map.get(key).cloned())
    }

    #[test]
    fn a_connection_string_picks_application_insights_when_the_build_can() {
        let connection = (
            CONNECTION_STRING_VAR,
            "InstrumentationKey=0f3c1a2b-4d5e-4f60-8a1b-2c3d4e5f6a7b",
        );
        let implied = config(&[connection]);
        let asked = config(&[("OTEL_TRACES_EXPORTER", "azure_monitor"), connection]);
        let overridden = config(&[("OTEL_TRACES_EXPORTER", "otlp"), connection]);
        assert_eq!(overridden.exporter, ExporterKind::Otlp);
        assert!(overridden.warnings.is_empty(), "{:?}", overridden.warnings);
        assert_eq!(asked.exporter, ExporterKind::AzureMonitor);
        // FaaS metrics do not go to Application Insights.
        assert_eq!(asked.metrics_exporter, ExporterKind::None);
        match cfg!(feature = "azure-monitor") {
            true => {
                assert_eq!(implied.exporter, ExporterKind::AzureMonitor);
                assert_eq!(
                    implied
                        .application_insights
                        .expect("settings")
                        .ingestion_endpoint,
                    "https://dc.services.visualstudio.com"
                );
                assert!(asked.application_insights.is_ok());
            }
            false => {
                assert_eq!(implied.exporter, ExporterKind::Otlp);
                assert!(
                    implied.warnings[0].contains("`azure-monitor` feature"),
                    "{:?}",
                    implied.warnings
                );
                let error = asked.application_insights.expect_err("no feature");
                assert!(error.contains("`azure-monitor` feature"), "{error}");
            }
        }
    }

    #[test]
    fn defaults_follow_the_specification() {
        let c = config(&[]);
        assert!(!c.sdk_disabled);
        assert_eq!(
            c.sampler,
            SamplerConfig::ParentBased(Box::new(SamplerConfig::AlwaysOn))
        );
        assert_eq!(
            c.propagators,
            vec![PropagatorKind::TraceContext, PropagatorKind::Baggage]
        );
        assert_eq!(c.exporter, ExporterKind::Otlp);
        let traces = c.otlp_traces.as_ref().expect("OTLP traces");
        assert_eq!(traces.endpoint, "http://localhost:4318/v1/traces");
        assert_eq!(traces.protocol, Protocol::HttpProtobuf);
        assert_eq!(traces.compression, Compression::None);
        assert_eq!(traces.timeout, DEFAULT_OTLP_TIMEOUT);
        assert_eq!(c.flush_timeout, DEFAULT_FLUSH_TIMEOUT);
        assert_eq!(c.initialization_type, InitializationType::OnDemand);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn every_sampler_name_is_understood() {
        let s = |name: &str, arg: &str| {
            config(&[
                ("OTEL_TRACES_SAMPLER", name),
                ("OTEL_TRACES_SAMPLER_ARG", arg),
            ])
            .sampler
        };
        assert_eq!(s("always_on", ""), SamplerConfig::AlwaysOn);
        assert_eq!(s("always_off", ""), SamplerConfig::AlwaysOff);
        assert_eq!(s("traceidratio", "0.25"), SamplerConfig::TraceIdRatio(0.25));
        assert_eq!(
            s("parentbased_traceidratio", "0"),
            SamplerConfig::ParentBased(Box::new(SamplerConfig::TraceIdRatio(0.0)))
        );
        assert_eq!(
            s("parentbased_always_off", ""),
            SamplerConfig::ParentBased(Box::new(SamplerConfig::AlwaysOff))
        );
    }

    #[test]
    fn bad_values_warn_and_fall_back() {
        let c = config(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "7"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_FAAS_FLUSH_TIMEOUT", "soon"),
            ("OTEL_SDK_DISABLED", "maybe"),
        ]);
        assert_eq!(c.sampler, SamplerConfig::TraceIdRatio(1.0));
        assert_eq!(c.exporter, ExporterKind::Otlp);
        assert_eq!(c.flush_timeout, DEFAULT_FLUSH_TIMEOUT);
        assert!(!c.sdk_disabled);
        assert_eq!(c.warnings.len(), 4, "{:?}", c.warnings);
    }

    #[test]
    fn the_after_response_budget_defaults_to_the_sync_one_and_can_differ() {
        let c = config(&[("OTEL_FAAS_FLUSH_TIMEOUT", "300")]);
        assert_eq!(c.after_response_flush_timeout, Duration::from_millis(300));
        let c = config(&[
            ("OTEL_FAAS_FLUSH_TIMEOUT", "300"),
            ("OTEL_FAAS_AFTER_RESPONSE_FLUSH_TIMEOUT", "5000"),
        ]);
        assert_eq!(c.flush_timeout, Duration::from_millis(300));
        assert_eq!(c.after_response_flush_timeout, Duration::from_secs(5));
    }

    #[test]
    fn propagators_are_parsed_in_order_without_duplicates() {
        let c = config(&[(
            "OTEL_PROPAGATORS",
            "baggage, tracecontext,xray-lambda,baggage,b3",
        )]);
        assert_eq!(
            c.propagators,
            vec![
                PropagatorKind::Baggage,
                PropagatorKind::TraceContext,
                PropagatorKind::XrayLambda
            ]
        );
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(config(&[("OTEL_PROPAGATORS", "none")]).propagators, vec![]);
    }

    #[test]
    fn xray_beside_xray_lambda_keeps_xray_lambda() {
        let c = config(&[("OTEL_PROPAGATORS", "tracecontext,xray,xray-lambda")]);
        assert_eq!(
            c.propagators,
            vec![PropagatorKind::TraceContext, PropagatorKind::XrayLambda]
        );
    }

    #[test]
    fn resource_attributes_are_percent_decoded() {
        let c = config(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=pay%20ments,deployment.environment=prod,broken",
        )]);
        assert_eq!(
            c.resource_attributes,
            vec![
                ("team".into(), "pay ments".into()),
                ("deployment.environment".into(), "prod".into())
            ]
        );
        assert_eq!(c.warnings.len(), 1);
    }

    #[test]
    fn otlp_endpoint_follows_the_signal_specific_variable_first() {
        let endpoint = |c: &Config| c.otlp_traces.as_ref().expect("traces").endpoint.clone();
        let c = config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]);
        assert_eq!(endpoint(&c), "http://collector:4318/v1/traces");
        let c = config(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://traces:4318/custom",
            ),
        ]);
        assert_eq!(endpoint(&c), "http://traces:4318/custom");
    }

    #[test]
    fn initialization_type_is_read() {
        let c = config(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")]);
        assert_eq!(
            c.initialization_type,
            InitializationType::ProvisionedConcurrency
        );
        let c = config(&[("AWS_LAMBDA_INITIALIZATION_TYPE", "snap-start")]);
        assert_eq!(c.initialization_type, InitializationType::SnapStart);
    }

    #[test]
    fn managed_instances_have_no_cold_start() {
        let c = config(&[("AWS_LAMBDA_MAX_CONCURRENCY", "4")]);
        assert_eq!(c.initialization_type, InitializationType::ManagedInstances);
        let c = config(&[("AWS_LAMBDA_MAX_CONCURRENCY", "1")]);
        assert_eq!(c.initialization_type, InitializationType::OnDemand);
        let c = config(&[("AWS_LAMBDA_MAX_CONCURRENCY", "many")]);
        assert_eq!(c.initialization_type, InitializationType::OnDemand);
    }
}
