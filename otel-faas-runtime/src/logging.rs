//! The process's `tracing` subscriber: Lambda-style log lines on standard output, and the
//! handler's own `tracing` spans turned into OpenTelemetry spans under the invocation span.
//!
//! Level: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` directives, else `INFO`. Format: JSON when
//! `AWS_LAMBDA_LOG_FORMAT=JSON` (Lambda's advanced logging controls), else text without
//! timestamps (CloudWatch adds them) — the same choices as `lambda_runtime`'s own subscriber —
//! and without colour codes unless standard output is a terminal.

use std::io::IsTerminal as _;
use std::str::FromStr;

use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt as _;
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
    let text = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(std::io::stdout().is_terminal());
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![if json {
        text.json().boxed()
    } else {
        text.boxed()
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
