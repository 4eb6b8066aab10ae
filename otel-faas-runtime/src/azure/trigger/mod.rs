//! The Azure Functions triggers, one file each: what the host's payload of each holds, and
//! the spans and attributes an invocation of it gets.

pub mod event_hubs;
pub mod http;
pub mod queue;
pub mod service_bus;
pub mod timer;
