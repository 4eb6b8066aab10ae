//! Trace-context extraction from untrusted carriers: HTTP headers, Lambda client context,
//! message attributes and the X-Ray `AWSTraceHeader`.
//!
//! Every value comes from the caller and is treated as hostile. A carrier value longer than
//! its format allows is ignored before any propagator parses it (W3C limits: `tracestate` 512
//! bytes, `baggage` 8192 bytes), and a value a propagator cannot parse leaves the context
//! empty, so the invocation starts a new trace. Nothing here panics on any input.
//!
//! `traceparent` and X-Ray headers are also checked against their exact formats first: the
//! SDK's parsers accept short ids (`00-1-2-01`) and a one-digit flags field, which the W3C
//! specification says must restart the trace — and which would let a caller pick the trace
//! id or switch sampling off with a malformed header.

//!
//! | file | what |
//! |---|---|
//! | `wire.rs` | every wire name (headers, attributes, JSON keys) and the bound on its value |
//! | `extract.rs` | the configured propagators, and the bounded, checked extraction |
//! | `xray.rs` | the X-Ray header's grammar, reader and writer; the `xray` and `xray-lambda` propagators |
//! | `requested.rs` | X-Ray's `Sampled=?`: the head sampler that makes the decision the caller asked for |
//! | `carriers.rs` | headers, string maps, message attributes, application properties, record headers |
//! | `json.rs` | a context carried inside a JSON payload (EventBridge `detail`, Kinesis data) |
//! | `inject.rs` | the context a handler passes on, written into each kind of outgoing carrier |

mod carriers;
mod extract;
pub(crate) mod inject;
pub(crate) mod json;
mod requested;
pub(crate) mod wire;
mod xray;

pub(crate) use carriers::*;
pub(crate) use extract::Propagation;
pub(crate) use requested::HeadSampler;
pub use wire::JSON_KEY;
#[cfg(feature = "aws-sdk")]
pub(crate) use xray::lineage_of;
pub(crate) use xray::xray_span_context;

#[cfg(test)]
mod tests;
