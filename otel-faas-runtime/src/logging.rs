//! The process's `tracing` subscriber: Lambda-style log lines on standard output, and the
//! handler's own `tracing` spans turned into OpenTelemetry spans under the invocation span.
//!
//! Level: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` directives, else `INFO`. Format: JSON when
//! `AWS_LAMBDA_LOG_FORMAT=JSON` (Lambda's advanced logging controls), else text without
//! timestamps (CloudWatch adds them) — the same choices as `lambda_runtime`'s own subscriber —
//! and without colour codes unless standard output is a terminal.
//!
//! Every line written during an invocation carries the trace it belongs to, so a log search
//! leads to the trace and back: in text, ` trace_id=… span_id=… request_id=…` at its end; in
//! JSON, the fields `trace_id`, `span_id` (the innermost span, the handler's own `tracing`
//! spans included) and `requestId` (the name Lambda's own JSON log lines use). Lines outside
//! an invocation, or of an unrecorded trace, carry what is known.

use std::io::IsTerminal as _;
use std::str::FromStr;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, Registry};

use crate::telemetry::Telemetry;

/// Installs the subscriber, unless one is installed already.
pub(crate) fn install(telemetry: Option<&Telemetry>) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|l| LevelFilter::from_str(&l).ok());
    let filter = EnvFilter::builder()
        .with_default_directive(level.unwrap_or(LevelFilter::INFO).into())
        .from_env_lossy();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let ansi = std::io::stdout().is_terminal();
    let text = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(ansi);
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![if json {
        let format = tracing_subscriber::fmt::format()
            .json()
            .with_target(false)
            .without_time();
        text.event_format(Correlated(format)).boxed()
    } else {
        let format = tracing_subscriber::fmt::format()
            .with_target(false)
            .without_time()
            .with_ansi(ansi);
        text.event_format(Correlated(format)).boxed()
    }];
    if let Some(telemetry) = telemetry {
        layers.push(telemetry.tracing_layer().boxed());
    }
    // A subscriber set by the application wins; it can add `Telemetry::tracing_layer` itself.
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
}

/// A log line format with the invocation's correlation ids added to what `F` writes.
struct Correlated<F>(F);

/// What ties a log line to its trace.
#[derive(Default)]
struct Ids {
    trace_id: Option<String>,
    span_id: Option<String>,
    request_id: Option<String>,
}

impl Ids {
    fn current() -> Ids {
        use opentelemetry::trace::TraceContextExt as _;
        let cx = opentelemetry::Context::current();
        let span = cx.span();
        let sc = span.span_context();
        let (trace_id, span_id) = match sc.is_valid() {
            true => (
                Some(sc.trace_id().to_string()),
                Some(sc.span_id().to_string()),
            ),
            false => (None, None),
        };
        Ids {
            trace_id,
            span_id,
            request_id: crate::invocation::current_scope().and_then(|s| s.request_id()),
        }
    }

    fn is_empty(&self) -> bool {
        self.trace_id.is_none() && self.span_id.is_none() && self.request_id.is_none()
    }
}

impl<S, N> FormatEvent<S, N> for Correlated<Format<Full, ()>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let ids = Ids::current();
        if ids.is_empty() {
            return self.0.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let line = line.trim_end_matches('\n');
        write!(writer, "{line}")?;
        for (key, value) in [
            ("trace_id", &ids.trace_id),
            ("span_id", &ids.span_id),
            ("request_id", &ids.request_id),
        ] {
            if let Some(value) = value {
                write!(writer, " {key}={value}")?;
            }
        }
        writeln!(writer)
    }
}

impl<S, N> FormatEvent<S, N> for Correlated<Format<Json, ()>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let ids = Ids::current();
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let Ok(serde_json::Value::Object(mut object)) = serde_json::from_str(&line) else {
            return write!(writer, "{line}");
        };
        for (key, value) in [
            ("trace_id", ids.trace_id),
            ("span_id", ids.span_id),
            ("requestId", ids.request_id),
        ] {
            if let Some(value) = value {
                object.insert(key.to_owned(), value.into());
            }
        }
        writeln!(writer, "{}", serde_json::Value::Object(object))
    }
}
