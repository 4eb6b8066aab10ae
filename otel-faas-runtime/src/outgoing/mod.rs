//! Passing the trace on: the context of the current span written into what the handler
//! sends — HTTP headers, SQS and SNS message attributes, SQS's `AWSTraceHeader`, an
//! EventBridge `detail`, a Lambda client context — and PRODUCER or CLIENT spans for the
//! sends and calls themselves.
//!
//! With the official AWS SDK, one interceptor on the client does it all (feature `aws-sdk`
//! for a CLIENT span of every operation of any service; `aws-sdk-sqs`, `aws-sdk-sns`,
//! `aws-sdk-eventbridge` or `aws-sdk-lambda` to pass the trace on in sends and invokes; see
//! `outgoing::aws_sdk` (feature `aws-sdk`)):
//!
//! ```ignore
//! let config = aws_sdk_sqs::config::Builder::from(&sdk_config)
//!     .interceptor(otel_faas_runtime::outgoing::aws_sdk::TraceInterceptor::new());
//! let sqs = aws_sdk_sqs::Client::from_conf(config.build());
//! sqs.send_message().queue_url(url).message_body(body).send().await?; // traced, context passed on
//! ```
//!
//! With `reqwest` (feature `reqwest`), [`reqwest::SendTraced::send_traced`] sends a request with a CLIENT span
//! and the trace headers. Anything else takes the building blocks: an [`OutgoingSpan`] for the
//! call and its [`TraceContext`] for the carrier.
//!
//! # What reaches the other side
//!
//! | carrier | written | read back by |
//! |---|---|---|
//! | HTTP headers | the configured propagators' (`traceparent`, `tracestate`, `baggage`; `X-Amzn-Trace-Id` with X-Ray) | the `http` trigger, any OpenTelemetry service |
//! | SQS | `AWSTraceHeader` system attribute (X-Ray form), and the propagators' keys as message attributes as far as the 10-attribute limit allows | the `sqs` trigger (`links_from`) |
//! | SNS | the propagators' keys as message attributes, as far as the limit allows | the `sns` trigger |
//! | EventBridge | `TraceHeader` (X-Ray form) on each entry, and `traceContext` inside a JSON `detail` | the `eventbridge` trigger (`parent_from`/`links_from = "detail"`) |
//! | Lambda `Invoke` | the client context's `custom` map (synchronous invokes); the request's `X-Amzn-Trace-Id` (with the AWS SDK; Lambda passes it on as the invocation's trace header) | the `other` trigger; `xray-lambda` for the header |
//!
//! Only the trace keys are ever written: a caller's own headers and attributes are kept, a
//! caller's `baggage` entries win over the context's, and when a message has no room left the
//! trace gives way (what was left out is recorded on the span as [`LEFT_OUT`]). A trace that
//! was not sampled is passed on as not sampled.

mod span;

#[cfg(feature = "aws-sdk")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
pub mod aws_sdk;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod reqwest;

pub use crate::propagation::JSON_KEY;
pub use crate::propagation::inject::{
    ClientContextError, Fitted, MAX_CLIENT_CONTEXT, MAX_MESSAGE_ATTRIBUTES, TraceContext,
};
pub use span::{LEFT_OUT, OutgoingSpan};

use crate::telemetry::Telemetry;

/// The pipeline of the running invocation (the test kit's in a test), else the process's.
pub(crate) fn pipeline() -> Option<Telemetry> {
    crate::invocation::current()
        .map(|invocation| invocation.telemetry().clone())
        .or_else(|| Telemetry::global().cloned())
}
