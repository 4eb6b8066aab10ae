//! `cargo run --example …`: a function that runs, and shows its traces, with no AWS account.
//!
//! The same `main` serves both worlds. Started by Lambda (or by this runner),
//! `AWS_LAMBDA_RUNTIME_API` is set and [`LocalRunner::run`] serves the handler with
//! [`crate::lambda::run`]. Started by hand, it plays the platform: it starts the Runtime API
//! emulator and an OTLP collector on 127.0.0.1, starts this very executable again as the
//! function process (as Lambda starts a `bootstrap`), sends the sample events one by one,
//! and prints each invocation's response and trace tree as the collector received it.
//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans go to that endpoint instead and only the
//! responses are printed.
//!
//! ```no_run
//! use otel_faas_runtime::{Error, lambda::LambdaEvent, local::LocalRunner, traced_function};
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

use std::time::Duration;

use serde_json::Value;

use super::collector::Collector;
use super::emulator::{
    FunctionConfig, Invocation, InvocationOutcome, InvocationResult, RuntimeApi,
};
use super::process::{FunctionProcess, Output};
use crate::Error;
use crate::lambda::Handler;
use crate::render::{SpanView, render_trees};

/// How long to wait for an invocation's spans after its response (the export happens before
/// the response; a malformed event's span is exported just after).
const SPANS_GRACE: Duration = Duration::from_secs(3);

/// Runs a function locally against the emulated platform; see the module documentation.
#[derive(Debug)]
pub struct LocalRunner {
    function: FunctionConfig,
    events: Vec<(String, Invocation)>,
}

impl LocalRunner {
    /// A runner for a function named `function_name`.
    pub fn new(function_name: &str) -> Self {
        LocalRunner {
            function: FunctionConfig::new(function_name),
            events: Vec::new(),
        }
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
            return runtime.block_on(crate::lambda::run(handler));
        }
        runtime.block_on(self.emulate())
    }

    async fn emulate(self) -> Result<(), Error> {
        let api = RuntimeApi::start(self.function.clone()).await?;
        let user_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        let console = std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|e| e == "console");
        let collector = match (&user_endpoint, console) {
            (None, false) => Some(Collector::start().await?),
            _ => None,
        };
        let mut env = vec![("OTEL_FAAS_LOCAL_RUNNER".to_owned(), "1".to_owned())];
        if let Some(collector) = &collector {
            env.push((
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                collector.endpoint(),
            ));
        }
        let program = std::env::current_exe()?;
        let args = std::env::args_os().skip(1);

        println!(
            "otel-faas local runner · function {}",
            self.function.function_name
        );
        println!("  Runtime API emulator  http://{}", api.endpoint());
        match (&collector, &user_endpoint) {
            (Some(collector), _) => println!(
                "  OTLP collector        {} (embedded)",
                collector.endpoint()
            ),
            (None, Some(endpoint)) => println!("  OTLP export to        {endpoint}"),
            (None, None) => {
                println!("  spans printed by the function (OTEL_TRACES_EXPORTER=console)")
            }
        }
        let mut function = FunctionProcess::spawn(
            &program,
            args,
            &api,
            &env,
            Output::Prefixed("  │ ".to_owned()),
        )?;
        let total = self.events.len();
        for (n, (label, invocation)) in self.events.into_iter().enumerate() {
            println!("\n▶ invocation {}/{total} · {label}", n + 1);
            let outcome = api.invoke(invocation).await;
            print_outcome(&outcome);
            if let Some(collector) = &collector {
                print_trace(collector, &outcome.request_id).await;
            }
            if let Some(status) = function.try_exit_status() {
                println!("\nthe function process exited ({status}); stopping");
                break;
            }
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

fn print_outcome(outcome: &InvocationOutcome) {
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
