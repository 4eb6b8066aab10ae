//! `cargo run --example pipeline`: several functions and the SQS queues between them, run
//! locally, and the trace that crosses them printed as one.
//!
//! One executable hosts every function, as one binary deployed under several function names
//! would. Started by Lambda (or by this pipeline), [`LocalPipeline::run`] serves the handler
//! registered under `AWS_LAMBDA_FUNCTION_NAME`. Started by hand, it plays the platform: one
//! Runtime API emulator per function, one OTLP collector they all export to, and the
//! [`SqsQueues`] double; it starts this executable once per function, sends each event to its
//! function, then delivers what was sent to the queues to the functions mapped to them (as
//! the SQS event source mapping does, up to ten messages a batch) until the queues are empty.
//! Every function process gets `AWS_ENDPOINT_URL_SQS` (the double's endpoint, the variable
//! the AWS SDKs read for a service's endpoint) and each queue's URL in the variable named for
//! it; with tables, the [`DynamoDbTables`] double's `AWS_ENDPOINT_URL_DYNAMODB` and each
//! table's name in the variable named for it.
//!
//! After each event it prints every response, and the traces of all the invocations the
//! event set off with [`render_connected`]: a consumer's trace nested under the PRODUCER span
//! its messages link to. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans go to that endpoint
//! instead (with `OTEL_TRACES_EXPORTER=console`, the functions print them) and only the
//! responses are printed.
//!
//! ```no_run
//! use otel_faas_runtime::aws_lambda_events::event::sqs::SqsEvent;
//! use otel_faas_local::LocalPipeline;
//! use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
//!
//! #[traced_function(trigger = "other")]
//! async fn api(event: LambdaEvent<serde_json::Value>) -> Result<(), Error> {
//!     // … sends `event.payload` to the queue at `std::env::var("ORDERS_QUEUE_URL")` …
//!     Ok(())
//! }
//!
//! #[traced_function(trigger = "sqs")]
//! async fn worker(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
//!     Ok(())
//! }
//!
//! fn main() -> Result<(), Error> {
//!     LocalPipeline::new()
//!         .function("orders-api", api)
//!         .function("orders-worker", worker)
//!         .queue("orders", "ORDERS_QUEUE_URL")
//!         .event_source("orders", "orders-worker")
//!         .event("orders-api", "an order", serde_json::json!({ "order": 1 }))
//!         .run()
//! }
//! ```

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

use crate::collector::{Collector, ReceivedSpan};
use crate::dynamodb::DynamoDbTables;
use crate::emulator::{FunctionConfig, Invocation, RuntimeApi};
use crate::process::{FunctionProcess, Output};
use crate::runner::print_outcome;
use crate::sqs::SqsQueues;
use otel_faas_runtime::Error;
use otel_faas_runtime::lambda::Handler;
use otel_faas_runtime::render::{SpanView, render_connected};

/// How long to wait for an invocation's spans after its response.
const SPANS_GRACE: Duration = Duration::from_secs(3);

/// Most messages in one batch, as the event source mapping's default batch size.
const BATCH_SIZE: usize = 10;

/// Most deliveries after one event: a function that feeds its own queue stops here.
const MAX_DELIVERIES: usize = 100;

/// Serves one function's handler with the Lambda runtime loop.
type Serve = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Result<(), Error>>>>>;

/// One function of the pipeline.
struct Function {
    config: FunctionConfig,
    serve: Serve,
}

/// Runs several functions and the queues between them locally; see the
/// [module](self).
pub struct LocalPipeline {
    region: String,
    account_id: String,
    functions: Vec<Function>,
    /// Queue names, each with the variable that carries its URL.
    queues: Vec<(String, String)>,
    /// DynamoDB tables: name, partition key, the variable that carries the name.
    tables: Vec<(String, String, String)>,
    /// Event source mappings: queue → function.
    mappings: Vec<(String, String)>,
    /// Events: function, label, invocation.
    events: Vec<(String, String, Invocation)>,
    env: Vec<(String, String)>,
}

impl fmt::Debug for LocalPipeline {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let functions: Vec<&str> = self
            .functions
            .iter()
            .map(|f| f.config.function_name.as_str())
            .collect();
        formatter
            .debug_struct("LocalPipeline")
            .field("region", &self.region)
            .field("functions", &functions)
            .field("queues", &self.queues)
            .field("mappings", &self.mappings)
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Default for LocalPipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalPipeline {
    /// An empty pipeline in the platform's default Region and account (see
    /// [`FunctionConfig::new`]).
    pub fn new() -> Self {
        let defaults = FunctionConfig::new("");
        LocalPipeline {
            region: defaults.region,
            account_id: defaults.account_id,
            functions: Vec::new(),
            queues: Vec::new(),
            tables: Vec::new(),
            mappings: Vec::new(),
            events: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Sets the Region of every function and queue.
    pub fn region(mut self, region: &str) -> Self {
        region.clone_into(&mut self.region);
        self
    }

    /// Adds the function `name`, served by `handler`.
    pub fn function<H, M>(self, name: &str, handler: H) -> Self
    where
        H: Handler<M>,
        M: 'static,
    {
        self.function_with(name, handler, |_| {})
    }

    /// Adds the function `name`, served by `handler`, with its own memory, timeout, ….
    pub fn function_with<H, M>(
        mut self,
        name: &str,
        handler: H,
        configure: impl FnOnce(&mut FunctionConfig),
    ) -> Self
    where
        H: Handler<M>,
        M: 'static,
    {
        let mut config = FunctionConfig::new(name);
        configure(&mut config);
        self.functions.push(Function {
            config,
            serve: Box::new(move || Box::pin(otel_faas_runtime::lambda::run(handler))),
        });
        self
    }

    /// Adds the standard queue `name`; every function gets its URL in the environment
    /// variable `url_variable`, as a deployment would pass it.
    pub fn queue(mut self, name: &str, url_variable: &str) -> Self {
        self.queues.push((name.to_owned(), url_variable.to_owned()));
        self
    }

    /// Adds the DynamoDB table `name`, keyed by the attribute `partition_key`; every function
    /// gets its name in the environment variable `name_variable`.
    pub fn table(mut self, name: &str, partition_key: &str, name_variable: &str) -> Self {
        self.tables.push((
            name.to_owned(),
            partition_key.to_owned(),
            name_variable.to_owned(),
        ));
        self
    }

    /// Delivers what is sent to `queue` to `function`, as an SQS event source mapping does.
    pub fn event_source(mut self, queue: &str, function: &str) -> Self {
        self.mappings.push((queue.to_owned(), function.to_owned()));
        self
    }

    /// Sends `payload` to `function` as the next event, described by `label` in the output.
    pub fn event(self, function: &str, label: &str, payload: Value) -> Self {
        self.invocation(function, label, Invocation::json(&payload))
    }

    /// Sends a payload given as JSON text (such as an `include_str!` sample) to `function`.
    ///
    /// # Panics
    /// When `json` is not valid JSON: the sample is part of the program.
    pub fn event_json(self, function: &str, label: &str, json: &str) -> Self {
        let payload: Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("sample event {label:?}: {e}"));
        self.event(function, label, payload)
    }

    /// Sends `invocation` to `function` as the next event.
    pub fn invocation(mut self, function: &str, label: &str, invocation: Invocation) -> Self {
        self.events
            .push((function.to_owned(), label.to_owned(), invocation));
        self
    }

    /// Sets an environment variable of every function process, over what it inherits.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Serves the function named by `AWS_LAMBDA_FUNCTION_NAME` when this process is a Lambda
    /// function; otherwise emulates the platform, runs this executable as every function,
    /// and prints what happened.
    pub fn run(mut self) -> Result<(), Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
            let name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
            let Some(index) = self
                .functions
                .iter()
                .position(|f| f.config.function_name == name)
            else {
                return Err(format!("this executable has no function named {name:?}").into());
            };
            let function = self.functions.swap_remove(index);
            return runtime.block_on((function.serve)());
        }
        runtime.block_on(self.emulate())
    }

    async fn emulate(self) -> Result<(), Error> {
        self.check()?;
        let user_endpoint =
            std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|endpoint| !endpoint.is_empty());
        let console = std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|e| e == "console");
        let collector = if user_endpoint || console {
            None
        } else {
            Some(Collector::start().await?)
        };
        let sqs = SqsQueues::start(&self.region, &self.account_id).await?;
        let mut env = vec![
            ("OTEL_FAAS_LOCAL_RUNNER".to_owned(), "1".to_owned()),
            ("AWS_ENDPOINT_URL_SQS".to_owned(), sqs.endpoint()),
        ];
        if let Some(collector) = &collector {
            env.push((
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                collector.endpoint(),
            ));
        }
        for (queue, variable) in &self.queues {
            env.push((variable.clone(), sqs.create_queue(queue)));
        }
        let dynamodb = if self.tables.is_empty() {
            None
        } else {
            Some(DynamoDbTables::start().await?)
        };
        if let Some(dynamodb) = &dynamodb {
            env.push(("AWS_ENDPOINT_URL_DYNAMODB".to_owned(), dynamodb.endpoint()));
            for (table, key, variable) in &self.tables {
                dynamodb.create_table(table, key);
                env.push((variable.clone(), table.clone()));
            }
        }
        env.extend(self.env.iter().cloned());

        println!("otel-faas local pipeline");
        let mut running = Vec::new();
        for function in self.functions {
            let mut config = function.config;
            config.region.clone_from(&self.region);
            config.account_id.clone_from(&self.account_id);
            let api = RuntimeApi::start(config.clone()).await?;
            println!(
                "  function {:<20} Runtime API emulator http://{}",
                config.function_name,
                api.endpoint()
            );
            let process = FunctionProcess::spawn(
                &std::env::current_exe()?,
                std::env::args_os().skip(1),
                &api,
                &env,
                Output::Prefixed(format!("  │ {} │ ", config.function_name)),
            )?;
            running.push((config.function_name, api, process));
        }
        for (queue, _) in &self.queues {
            println!("  queue    {queue:<20} {}", sqs.queue_url(queue));
        }
        if let Some(dynamodb) = &dynamodb {
            for (table, _, _) in &self.tables {
                println!("  table    {table:<20} {} (DynamoDB)", dynamodb.endpoint());
            }
        }
        match &collector {
            Some(collector) => println!(
                "  OTLP collector                {} (embedded)",
                collector.endpoint()
            ),
            None if console => {
                println!("  spans printed by the functions (OTEL_TRACES_EXPORTER=console)")
            }
            None => println!("  OTLP export to the endpoint in OTEL_EXPORTER_OTLP_ENDPOINT"),
        }

        let total = self.events.len();
        'events: for (n, (function, label, invocation)) in self.events.into_iter().enumerate() {
            println!("\n▶ event {}/{total} · {function} · {label}", n + 1);
            let mut request_ids = Vec::new();
            let mut next = Some((function, invocation));
            let mut deliveries = 0;
            while let Some((function, invocation)) = next.take() {
                let Some((_, api, process)) =
                    running.iter_mut().find(|(name, _, _)| *name == function)
                else {
                    break;
                };
                let outcome = api.invoke(invocation).await;
                print_outcome(&outcome);
                request_ids.push(outcome.request_id);
                if let Some(status) = process.try_exit_status() {
                    println!("\nthe function process {function} exited ({status}); stopping");
                    break 'events;
                }
                next = self.mappings.iter().find_map(|(queue, function)| {
                    let event = sqs.receive(queue, BATCH_SIZE)?;
                    let count = event["Records"].as_array().map_or(0, Vec::len);
                    let plural = if count == 1 { "" } else { "s" };
                    println!(
                        "▶ {function} · {count} message{plural} from {queue} (SQS event source mapping)"
                    );
                    Some((function.clone(), Invocation::json(&event)))
                });
                deliveries += 1;
                if deliveries > MAX_DELIVERIES {
                    println!("  (stopping after {MAX_DELIVERIES} deliveries)");
                    break;
                }
            }
            if let Some(collector) = &collector {
                print_traces(collector, &request_ids).await;
            }
        }

        let mut init_errors = Vec::new();
        for (name, api, mut process) in running {
            let status = process.terminate(Duration::from_secs(2)).await?;
            println!("\nfunction process {name} stopped ({status})");
            if let Some(error) = api.init_error() {
                init_errors.push(format!(
                    "{name}: {}: {}",
                    error.error_type, error.error_message
                ));
            }
        }
        if !init_errors.is_empty() {
            return Err(format!("a function failed to start: {}", init_errors.join("; ")).into());
        }
        Ok(())
    }

    /// Checks that every event and mapping names a function and queue of the pipeline.
    fn check(&self) -> Result<(), Error> {
        let functions: HashSet<&str> = self
            .functions
            .iter()
            .map(|f| f.config.function_name.as_str())
            .collect();
        let queues: HashSet<&str> = self.queues.iter().map(|(q, _)| q.as_str()).collect();
        for (function, label, _) in &self.events {
            if !functions.contains(function.as_str()) {
                return Err(format!("event {label:?}: no function named {function:?}").into());
            }
        }
        for (queue, function) in &self.mappings {
            if !queues.contains(queue.as_str()) {
                return Err(format!("event source: no queue named {queue:?}").into());
            }
            if !functions.contains(function.as_str()) {
                return Err(format!("event source {queue}: no function named {function:?}").into());
            }
        }
        Ok(())
    }
}

/// Prints the traces the invocations `request_ids` took part in, connected by their links.
async fn print_traces(collector: &Collector, request_ids: &[String]) {
    let mut spans: Vec<ReceivedSpan> = Vec::new();
    let mut seen = HashSet::new();
    for request_id in request_ids {
        let Some(received) = collector.invocation_traces(request_id, SPANS_GRACE).await else {
            println!("  (no span received for invocation {request_id})");
            continue;
        };
        for span in received {
            if seen.insert((span.view.trace_id.clone(), span.view.span_id.clone())) {
                spans.push(span);
            }
        }
    }
    let views: Vec<SpanView> = spans.into_iter().map(|s| s.view).collect();
    println!();
    for line in render_connected(&views).lines() {
        println!("  {line}");
    }
}
