//! The process's `tracing` subscriber: Lambda-style log lines on standard output, and the
//! handler's own `tracing` spans turned into OpenTelemetry spans under the invocation span.
//!
//! Level: `RUST_LOG`'s directives (`debug`, `my_function=debug,hyper=warn`), else
//! `AWS_LAMBDA_LOG_LEVEL`, else `INFO` — as `lambda_runtime`'s own subscriber chooses. The
//! directives are `tracing-subscriber`'s target directives (its `Targets` filter); span and
//! field-value directives (`[span]=debug`, `[{user=alice}]=trace`), which need the
//! regex-based `EnvFilter` and about 0.4 MiB of code in every function binary, are ignored
//! with a message on standard error: an application that wants them installs its own
//! subscriber with an `EnvFilter` and adds [`Telemetry::tracing_layer`]. Format: JSON when
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

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::{Format, Full, Json, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer, Registry};

use crate::telemetry::Telemetry;

/// Installs the subscriber, unless one is installed already.
pub(crate) fn install(telemetry: Option<&Telemetry>) {
    let filter = log_filter(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
        |ignored| eprintln!("ignoring RUST_LOG directive {ignored}"),
    );
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
        // After the span layer: an event's record takes the context of the span it is in.
        if let Some(logs) = telemetry.logs_layer() {
            layers.push(logs.boxed());
        }
    }
    // A subscriber set by the application wins; it can add `Telemetry::tracing_layer` itself.
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
}

/// Which events and spans are logged: the target directives of `rust_log`, or when it has
/// none, `lambda_level` (`AWS_LAMBDA_LOG_LEVEL`), else `INFO`. A directive that is not a
/// target directive is passed to `ignored` (with the reason) and left out, as
/// `EnvFilter::from_env_lossy` leaves out directives it cannot parse.
fn log_filter(
    rust_log: Option<&str>,
    lambda_level: Option<&str>,
    mut ignored: impl FnMut(String),
) -> Targets {
    let mut directives = Vec::new();
    for directive in rust_log.unwrap_or_default().split(',') {
        let directive = directive.trim();
        if directive.is_empty() {
            continue;
        }
        // `target[{field}]=level` is a target directive; `[span]`, `target[span{…}]` are not.
        if directive.contains('[') && !directive.contains("[{") {
            ignored(format!(
                "`{directive}`: span directives need an EnvFilter (install your own subscriber)"
            ));
            continue;
        }
        match Targets::from_str(directive) {
            Ok(_) => directives.push(directive),
            Err(error) => ignored(format!("`{directive}`: {error}")),
        }
    }
    match directives.is_empty() {
        true => {
            let level = lambda_level.and_then(|l| LevelFilter::from_str(l).ok());
            Targets::new().with_default(level.unwrap_or(LevelFilter::INFO))
        }
        // Every directive parsed alone, so together they parse too.
        false => Targets::from_str(&directives.join(",")).unwrap_or_default(),
    }
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
            request_id: crate::invocation::current().map(|i| i.request_id().to_owned()),
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

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    fn filter(rust_log: Option<&str>, lambda_level: Option<&str>) -> (Targets, Vec<String>) {
        let mut ignored = Vec::new();
        let targets = log_filter(rust_log, lambda_level, |i| ignored.push(i));
        (targets, ignored)
    }

    #[test]
    fn without_any_setting_the_level_is_info() {
        let (targets, ignored) = filter(None, None);
        assert!(targets.would_enable("my_function", &Level::INFO));
        assert!(!targets.would_enable("my_function", &Level::DEBUG));
        assert!(ignored.is_empty());
    }

    #[test]
    fn aws_lambda_log_level_applies_when_rust_log_has_no_directive() {
        for rust_log in [None, Some(""), Some(" , ")] {
            let (targets, _) = filter(rust_log, Some("debug"));
            assert!(targets.would_enable("my_function", &Level::DEBUG));
            assert!(!targets.would_enable("my_function", &Level::TRACE));
        }
        let (targets, _) = filter(None, Some("WARN"));
        assert!(!targets.would_enable("my_function", &Level::INFO));
        assert!(targets.would_enable("my_function", &Level::WARN));
    }

    #[test]
    fn an_unknown_aws_lambda_log_level_falls_back_to_info() {
        let (targets, _) = filter(None, Some("loud"));
        assert!(targets.would_enable("my_function", &Level::INFO));
        assert!(!targets.would_enable("my_function", &Level::DEBUG));
    }

    #[test]
    fn rust_log_directives_win_over_aws_lambda_log_level() {
        let (targets, ignored) = filter(Some("warn,my_function=trace,hyper=off"), Some("debug"));
        assert!(targets.would_enable("my_function", &Level::TRACE));
        assert!(targets.would_enable("my_function::orders", &Level::TRACE));
        assert!(!targets.would_enable("other", &Level::INFO));
        assert!(targets.would_enable("other", &Level::WARN));
        assert!(!targets.would_enable("hyper", &Level::ERROR));
        assert!(ignored.is_empty());
    }

    #[test]
    fn only_target_directives_leave_the_rest_off() {
        // As with EnvFilter: a directive for one target alone sets no default level.
        let (targets, _) = filter(Some("my_function=debug"), None);
        assert!(targets.would_enable("my_function", &Level::DEBUG));
        assert!(!targets.would_enable("other", &Level::ERROR));
    }

    #[test]
    fn span_and_malformed_directives_are_ignored_and_reported() {
        let (targets, ignored) = filter(
            Some("info,[handler]=trace,my_function[span{id=1}]=debug,a=b=c,x=loud"),
            None,
        );
        assert!(targets.would_enable("my_function", &Level::INFO));
        assert!(!targets.would_enable("my_function", &Level::DEBUG));
        assert_eq!(ignored.len(), 4, "{ignored:?}");
        assert!(ignored[0].contains("[handler]=trace"), "{ignored:?}");
    }

    #[test]
    fn only_unusable_directives_fall_back_to_the_default_level() {
        let (targets, ignored) = filter(Some("[handler]=trace"), Some("error"));
        assert!(targets.would_enable("my_function", &Level::ERROR));
        assert!(!targets.would_enable("my_function", &Level::WARN));
        assert_eq!(ignored.len(), 1);
    }
}
