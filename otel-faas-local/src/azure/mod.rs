//! The Azure Functions host, played on 127.0.0.1, derived from the host's own source
//! (Azure/azure-functions-host; each module cites the files it follows):
//!
//! - [`HostInvocation`]: the invocation JSON, encoded as the host encodes it;
//! - [`FunctionsHost`]: the requests the host sends a custom handler, concurrently, and what
//!   it makes of the answers;
//! - [`WorkerProcess`]: the handler as a process of its own, started with the host's
//!   environment and killed with SIGKILL when an invocation outlives `functionTimeout`;
//! - [`LocalHost`]: the three together for `cargo run --example azure_…`.

mod encode;
pub(crate) mod host;
mod local;
mod worker;

pub use encode::{HostInvocation, host_encode};
pub use host::{FunctionsHost, HostAnswer};
pub use local::LocalHost;
pub use worker::WorkerProcess;
