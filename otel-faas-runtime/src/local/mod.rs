//! The local runner: the platform emulated on 127.0.0.1 so a function runs, and shows its
//! trace, on a laptop or in CI.
//!
//! - [`emulator`]: the Lambda Runtime API, as the real `lambda_runtime` loop speaks it;
//! - [`collector`]: an OTLP/HTTP receiver that decodes the exported spans;
//! - [`process`]: the function started as a real process against them;
//! - [`sqs`]: Amazon SQS queues an AWS SDK client sends to, delivered as Lambda delivers them;
//! - [`runner`]: [`LocalRunner`], which puts the three together for `cargo run --example …`;
//! - [`pipeline`]: [`LocalPipeline`], several functions and the queues between them.

pub mod collector;
pub mod emulator;
mod extensions;
pub mod pipeline;
pub mod process;
pub mod runner;
mod server;
pub mod sqs;

pub use pipeline::LocalPipeline;
pub use runner::LocalRunner;
