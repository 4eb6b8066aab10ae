//! Running a traced handler on AWS Lambda.
//!
//! ```no_run
//! use otel_faas_runtime::aws_lambda_events::event::sqs::SqsEvent;
//! use otel_faas_runtime::{lambda::LambdaEvent, traced_function, Error};
//!
//! #[traced_function(trigger = "sqs")]
//! async fn handler(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
//!     for message in &event.payload.records {
//!         tracing::info!(id = ?message.message_id, "processing");
//!     }
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     otel_faas_runtime::lambda::run(handler).await
//! }
//! ```
//!
//! [`run`] starts telemetry from the environment before the first invocation, serves
//! invocations with `lambda_runtime`'s service stack (through `lambda_http` for HTTP
//! handlers), and on SIGTERM or SIGINT exports what is left and shuts telemetry down.
//!
//! The loop that polls the Runtime API is this crate's (`poll.rs`), not `lambda_runtime`'s:
//! there, a `Lambda-Runtime-Client-Context` or `Lambda-Runtime-Cognito-Identity` that is not
//! the JSON Lambda defines ends the process. Here it fails only its own invocation, with
//! `errorType` `Runtime.InvalidClientContext` or `Runtime.InvalidCognitoIdentity` posted to
//! Lambda and on the invocation span, and the handler is not called; a deadline that is not
//! a number is taken as unknown.
//!
//! # Concurrent invocations
//!
//! On Lambda Managed Instances the platform sets `AWS_LAMBDA_MAX_CONCURRENCY` and hands one
//! process that many invocations at once. [`run`] then serves them concurrently, as
//! `lambda_runtime`'s `Runtime::run_concurrent` does (one `/next` poll per slot, each
//! invocation on a task of its own), and one at a time otherwise. Handlers and
//! their futures are therefore `Send`, as `lambda_http` already requires. Each invocation
//! owns its spans, its keep-rule decision, its deadline watchdog entry and its flush, so
//! concurrent invocations never see, sample or export each other's spans. On Managed
//! Instances the platform does not stop an invocation at its timeout (it marks it failed
//! and lets the code run on); the watchdog still records and exports the timeout there,
//! and a handler that ends later only adds what it ends later.

mod abort;
pub(crate) mod diagnostic;
pub mod extension;
pub(crate) mod handler;
pub(crate) mod layer;
mod poll;

use std::time::Duration;

pub use handler::{EventHandler, Handler, HttpHandler, MessageHandler};
pub use lambda_runtime::{Context, Diagnostic, LambdaEvent};
#[doc(hidden)]
pub use layer::{InvocationLayer, InvocationService};

use crate::Error;
use crate::config::{Config, FlushMode};
use crate::sampling::KeepRules;
use crate::telemetry::Telemetry;
use layer::AfterResponse;

/// How long the final flush on SIGTERM may take: Lambda allows the runtime about 500 ms
/// between SIGTERM and SIGKILL.
const SHUTDOWN_FLUSH: Duration = Duration::from_millis(400);

/// Serves `handler` on AWS Lambda, traced.
///
/// Telemetry is configured from the environment (see the crate documentation for every
/// variable); with `OTEL_SDK_DISABLED=true` the handler runs untraced. Logs from `tracing`
/// are written to standard output as Lambda expects (JSON when `AWS_LAMBDA_LOG_FORMAT=JSON`,
/// level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`), unless a global subscriber was set
/// before — then add [`Telemetry::tracing_layer`] to it yourself.
pub async fn run<H, M>(handler: H) -> Result<(), Error>
where
    H: Handler<M>,
{
    run_with(handler, Options::default()).await
}

/// What [`run_with`] may set in code, over the environment.
///
/// ```no_run
/// # use otel_faas_runtime::{lambda::{LambdaEvent, Options}, traced_function, Error};
/// # use otel_faas_runtime::{config::FlushMode, sampling::KeepRules};
/// # #[traced_function(trigger = "other")]
/// # async fn handler(event: LambdaEvent<serde_json::Value>) -> Result<(), Error> { Ok(()) }
/// # async fn main_() -> Result<(), Error> {
/// let options = Options::default()
///     .flush(FlushMode::AfterResponse)
///     .keep(KeepRules::all(std::time::Duration::from_millis(500)));
/// otel_faas_runtime::lambda::run_with(handler, options).await
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Options {
    flush: Option<FlushMode>,
    keep: Option<KeepRules>,
}

impl Options {
    /// When to export each invocation's telemetry, instead of `OTEL_FAAS_FLUSH`.
    pub fn flush(mut self, mode: FlushMode) -> Self {
        self.flush = Some(mode);
        self
    }

    /// Which traces to keep whatever the head sampler decided, instead of `OTEL_FAAS_KEEP`.
    pub fn keep(mut self, rules: KeepRules) -> Self {
        self.keep = Some(rules);
        self
    }

    fn apply(&self, config: &mut Config) {
        if let Some(flush) = self.flush {
            config.flush_mode = flush;
        }
        if let Some(keep) = self.keep {
            config.keep = keep;
        }
    }
}

/// [`run`] with [`Options`] set in code.
pub async fn run_with<H, M>(handler: H, options: Options) -> Result<(), Error>
where
    H: Handler<M>,
{
    let telemetry = init_with(&options);
    let mut layer = InvocationLayer::new::<H::Payload>(telemetry.clone(), H::TRIGGER);
    if let Some(telemetry) = &telemetry {
        let mut extension_registered = false;
        if telemetry.config().flush_mode == FlushMode::AfterResponse {
            // Managed Instances never freeze the environment between invocations, and
            // give extensions no INVOKE events: the layer exports after the response.
            let after = match max_concurrency() > 1 {
                true => Some(AfterResponse::Layer),
                false => extension::start().await.map(AfterResponse::Extension),
            };
            extension_registered = matches!(after, Some(AfterResponse::Extension(_)));
            layer = layer.flush_after_response(after);
        }
        // Without a registered extension Lambda stops the process with SIGKILL, and the
        // shutdown flush never runs (`extension`, "SIGTERM").
        if !extension_registered && let Err(error) = extension::register_for_sigterm().await {
            telemetry.without_shutdown_signal(&error);
        }
        telemetry.mark_ready();
    }
    let in_flight = layer.in_flight();
    abort::warn_at_start();
    abort::install(&in_flight);
    let mut serve = std::pin::pin!(handler.serve(layer));
    let result = tokio::select! {
        result = serve.as_mut() => result,
        signal = crate::platform::shutdown_signal() => {
            tracing::info!(target: "otel_faas", "{signal} received: flushing telemetry");
            // The invocations still running are cut off: their spans end as such, and
            // leave before the process does. An invocation's export in progress is part of
            // the serving future: it goes on being polled until that export is done, else
            // the spans it carries would be lost with it.
            let stop = async {
                in_flight.cut_off(signal, SHUTDOWN_FLUSH).await;
                if let Some(telemetry) = &telemetry {
                    telemetry.exports_done().await;
                }
            };
            let _ = tokio::time::timeout(SHUTDOWN_FLUSH, async {
                tokio::select! {
                    _ = serve.as_mut() => {}
                    () = stop => {}
                }
            })
            .await;
            Ok(())
        }
    };
    if let Some(telemetry) = telemetry {
        shutdown(&telemetry).await;
    }
    result
}

/// Starts telemetry from the environment, once per process: builds and installs the
/// pipeline and the `tracing` subscriber, and logs configuration problems. Returns `None`
/// when `OTEL_SDK_DISABLED=true`. [`run`] calls it; call it yourself only to serve
/// invocations some other way.
pub fn init() -> Option<Telemetry> {
    init_with(&Options::default())
}

fn init_with(options: &Options) -> Option<Telemetry> {
    let mut config = Config::from_env();
    options.apply(&mut config);
    crate::platform::start(config, |_| None)
}

async fn shutdown(telemetry: &Telemetry) {
    let _ = tokio::time::timeout(SHUTDOWN_FLUSH, telemetry.flush()).await;
    telemetry.shutdown();
}

/// How many invocations the platform hands this process at once: `AWS_LAMBDA_MAX_CONCURRENCY`,
/// read as `lambda_runtime` reads it (a positive whole number, else 1).
fn max_concurrency() -> u32 {
    std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|&c| c > 0)
        .unwrap_or(1)
}
