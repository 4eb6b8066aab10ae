//! `cargo run --example azure_…`: a function app that runs, and shows its traces, with no
//! Azure subscription.
//!
//! The same `main` serves both worlds. Started by the Functions host (or by this double),
//! `FUNCTIONS_CUSTOMHANDLER_PORT` is set and [`LocalHost::run`] serves the app with
//! [`FunctionApp::run`]. Started by hand, it plays the host: it starts an OTLP collector on
//! 127.0.0.1, starts this very executable again as the custom handler
//! ([`WorkerProcess`]: the host's environment, the app root, `host.json`'s working
//! directory), sends the planned invocations in the host's encoding ([`HostInvocation`]),
//! and prints, for each, what the host would log, the trace tree the collector received and
//! the FaaS metric points exported with it. An invocation that outlives `host.json`'s
//! `functionTimeout` has its worker killed with SIGKILL and restarted, as the host does.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;

use otel_faas_runtime::Error;
use otel_faas_runtime::azure::FunctionApp;
use otel_faas_runtime::render::{SpanView, render_trees};

use super::{FunctionsHost, HostAnswer, HostInvocation, WorkerProcess};
use crate::collector::Collector;
use crate::process::Output;
use crate::runner::{MetricsCursor, Signals, print_metrics};

/// One request [`LocalHost`] sends.
#[derive(Debug)]
enum Planned {
    Invoke(HostInvocation),
    Raw { function: String, body: Bytes },
    Forward { request: Request<Bytes> },
}

/// Runs a function app locally against the Functions host double and an OTLP collector on
/// 127.0.0.1; see the module documentation.
///
/// ```no_run
/// use otel_faas_local::azure::{HostInvocation, LocalHost};
/// use otel_faas_runtime::azure::{AzureEvent, FunctionApp, TimerInfo};
/// use otel_faas_runtime::{traced_function, Error};
///
/// #[traced_function(trigger = "timer")]
/// async fn cleanup(event: AzureEvent<TimerInfo>) -> Result<(), Error> {
///     Ok(())
/// }
///
/// fn main() -> Result<(), Error> {
///     let on_time = HostInvocation::new("cleanup").data("timer", serde_json::json!({ "IsPastDue": false }));
///     LocalHost::new(FunctionApp::new().function("cleanup", cleanup))
///         .app_root("examples/azure")
///         .invoke("on time", on_time)
///         .run()
/// }
/// ```
#[derive(Debug)]
pub struct LocalHost {
    app: FunctionApp,
    root: Option<PathBuf>,
    env: Vec<(String, String)>,
    planned: Vec<(String, Planned)>,
}

/// How long to wait for an invocation's spans after its answer.
const SPANS_GRACE: Duration = Duration::from_secs(3);

impl LocalHost {
    /// A host for `app`.
    pub fn new(app: FunctionApp) -> Self {
        LocalHost {
            app,
            root: None,
            env: Vec::new(),
            planned: Vec::new(),
        }
    }

    /// The app root: where `host.json` and each function's `function.json` are (the current
    /// directory when not given). The handler is told it in `FUNCTIONS_APP_ROOT_PATH`.
    pub fn app_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Sets an app setting (an environment variable of the handler process).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sends `invocation`, as the host encodes it; `label` describes it.
    pub fn invoke(mut self, label: &str, invocation: HostInvocation) -> Self {
        self.planned
            .push((label.to_owned(), Planned::Invoke(invocation)));
        self
    }

    /// Posts `body` to `function` as it is (a malformed request, say).
    pub fn invoke_raw(mut self, label: &str, function: &str, body: &'static [u8]) -> Self {
        let function = function.to_owned();
        let body = Bytes::from_static(body);
        self.planned
            .push((label.to_owned(), Planned::Raw { function, body }));
        self
    }

    /// Forwards an HTTP request as the host does with `enableForwardingHttpRequest` (sent only
    /// when the app's `host.json` sets it).
    pub fn forward(mut self, label: &str, request: Request<Bytes>) -> Self {
        self.planned
            .push((label.to_owned(), Planned::Forward { request }));
        self
    }

    /// Serves the app when the Functions host (or this double) started this process;
    /// otherwise plays the host and prints what happened.
    pub fn run(self) -> Result<(), Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        if std::env::var_os("FUNCTIONS_CUSTOMHANDLER_PORT").is_some() {
            return runtime.block_on(self.app.run());
        }
        runtime.block_on(self.emulate())
    }

    async fn emulate(self) -> Result<(), Error> {
        // Each signal sent elsewhere is left there, as the Lambda runner does.
        let signals = Signals::from_env();
        let collector = match signals.any_local() {
            true => Some(Collector::start().await?),
            false => None,
        };
        let mut env: Vec<(String, String)> = crate::runner::metrics_with_every_invocation()
            .into_iter()
            .collect();
        env.extend(self.env.iter().cloned());
        if let Some(collector) = &collector {
            env.push((
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                collector.endpoint(),
            ));
        }
        let root = match self.root {
            Some(root) => root,
            None => std::env::current_dir()?,
        };
        let program = std::env::current_exe()?;
        let args = std::env::args_os().skip(1).collect();
        let mut worker = WorkerProcess::start(
            &program,
            args,
            &root,
            &env,
            Output::Prefixed("  │ ".to_owned()),
        )
        .await?;
        let timeout = worker.function_timeout();
        let forwarding = worker.host_json().enable_forwarding_http_request;
        let host = FunctionsHost::new(worker.addr()).with_function_timeout(timeout);
        println!("otel-faas local Functions host");
        println!("  app root              {}", root.display());
        println!(
            "  custom handler        http://{} (pid {})",
            worker.addr(),
            worker.id().unwrap_or_default()
        );
        if let Some(timeout) = timeout {
            println!("  functionTimeout       {}", super::host::timespan(timeout));
        }
        signals.print(collector.as_ref());
        let traces_from = collector.as_ref().filter(|_| signals.traces.is_local());
        let metrics_from = collector.as_ref().filter(|_| signals.metrics.is_local());
        let mut metrics = MetricsCursor::new(signals.metrics.is_local());
        let total = self.planned.len();
        for (n, (label, planned)) in self.planned.into_iter().enumerate() {
            let id = host.next_invocation_id();
            println!("\n▶ invocation {}/{total} · {label}", n + 1);
            let started = Instant::now();
            let (what, answer) = match planned {
                Planned::Invoke(invocation) => (
                    format!("POST /{}", invocation.function()),
                    host.invoke(&id, &invocation).await,
                ),
                Planned::Raw { function, body } => (
                    format!("POST /{function}"),
                    host.post_raw(&format!("/{function}"), &id, body).await,
                ),
                Planned::Forward { request } if !forwarding => {
                    println!(
                        "◀ not sent: host.json does not set customHandler.enableForwardingHttpRequest, \
                         so the host sends {} {} in its JSON",
                        request.method(),
                        request.uri().path()
                    );
                    continue;
                }
                Planned::Forward { request } => (
                    format!("{} {} (forwarded)", request.method(), request.uri().path()),
                    host.forward(&id, request).await,
                ),
            };
            let took = started.elapsed().as_secs_f64() * 1000.0;
            println!("  {what} · {took:.1} ms · invocation id {id}");
            match answer {
                Ok(answer) => print_answer(&answer),
                Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {
                    println!("◀ {error}: the host kills the custom handler (SIGKILL)");
                    let status = worker.kill_and_restart().await?;
                    println!(
                        "  worker stopped ({status}); a new one listens (pid {})",
                        worker.id().unwrap_or_default()
                    );
                }
                Err(error) => println!("◀ request failed: {error}"),
            }
            if let Some(collector) = traces_from {
                print_trace(collector, &id).await;
            }
            if let Some(collector) = metrics_from {
                print_metrics(collector, &mut metrics).await;
            }
        }
        let status = worker.terminate(Duration::from_secs(2)).await?;
        println!("\ncustom handler stopped ({status})");
        Ok(())
    }
}

/// Prints an answer as the host takes it: the `Logs` of a success, the exception message of a
/// failure (its reason phrase; the body is not read).
fn print_answer(answer: &HostAnswer) {
    match answer.host_failure() {
        Some(failure) => println!("◀ {}: the host records {failure:?}", answer.status),
        None => {
            let body: String = answer.text().chars().take(300).collect();
            println!("◀ {}: {body}", answer.status);
        }
    }
}

/// Prints the traces invocation `id` took part in.
async fn print_trace(collector: &Collector, id: &str) {
    let Some(spans) = collector.invocation_traces(id, SPANS_GRACE).await else {
        println!("  (no span received for this invocation)");
        return;
    };
    let views: Vec<SpanView> = spans.into_iter().map(|s| s.view).collect();
    for line in render_trees(&views).lines() {
        println!("  {line}");
    }
}
