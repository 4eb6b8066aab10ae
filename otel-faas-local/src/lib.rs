//! The local runner of otel-faas: the platform emulated on 127.0.0.1 so a function runs, and
//! shows its trace, on a laptop or in CI.
//!
//! A dev tool, never linked into a deployed function: the workspace's examples, end-to-end
//! tests and benchmarks use it, and a function's own tests may too.
//!
//! - [`emulator`]: the Lambda Runtime API and Extensions API, as the real `lambda_runtime`
//!   loop and extensions speak them;
//! - [`collector`]: an OTLP/HTTP and OTLP/gRPC receiver that decodes the exported spans and metrics;
//! - [`process`]: the function started as a real process against them;
//! - [`sqs`]: Amazon SQS queues an AWS SDK client sends to, delivered as Lambda delivers them;
//! - [`runner`]: [`LocalRunner`], which puts the three together for `cargo run --example …`;
//! - [`pipeline`]: [`LocalPipeline`], several functions and the queues between them;
//! - [`azure`]: the Azure Functions host, sending a custom handler the requests it would;
//! - [`app_insights`]: an Application Insights ingestion endpoint that records what it is sent;
//! - [`render`]: the trace-tree printer the runner prints with.
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

pub mod app_insights;
pub mod azure;
pub mod collector;
pub mod dynamodb;
pub mod emulator;

pub mod pipeline;
pub mod process;
pub mod runner;
mod server;
pub mod sqs;

pub use pipeline::LocalPipeline;
pub use runner::LocalRunner;

/// The trace-tree printer: spans as an indented tree, one per trace, with their attributes,
/// events, links and errors.
///
/// It lives in `otel-faas-runtime`, which prints the same trees itself (the `console`
/// exporter, `TestKit::tree`); this is its one public path.
pub mod render {
    pub use otel_faas_runtime::render::{Attributes, SpanView, render_connected, render_trees};
}
