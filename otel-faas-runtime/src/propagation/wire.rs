//! Every wire name of trace propagation, once: the header, attribute, property and JSON
//! keys a context travels under, and the bounds on their values.

/// W3C Trace Context's parent header.
pub(crate) const TRACEPARENT: &str = "traceparent";
/// W3C Trace Context's vendor state header.
pub(crate) const TRACESTATE: &str = "tracestate";
/// W3C Baggage's header.
pub(crate) const BAGGAGE: &str = "baggage";
/// Header carrying the X-Ray trace context (lower case, as HTTP/2 and the propagators write it).
pub(crate) const XRAY_HEADER: &str = "x-amzn-trace-id";
/// The X-Ray header's name as message attributes and JSON payloads spell it (their keys
/// are case-sensitive).
pub(crate) const XRAY_ATTRIBUTE: &str = "X-Amzn-Trace-Id";
/// The SQS system attribute carrying the producer's X-Ray header, and the JSON key the
/// context carriers read it under beside `X-Amzn-Trace-Id`.
pub(crate) const AWS_TRACE_HEADER: &str = "AWSTraceHeader";
/// Environment variable in which the Lambda runtime publishes the invocation's X-Ray context.
pub(crate) const XRAY_ENV: &str = "_X_AMZN_TRACE_ID";
/// Carrier key under which the extractor answers the invocation's `Lambda-Runtime-Trace-Id`.
pub(crate) const LAMBDA_TRACE_KEY: &str = "lambda-runtime-trace-id";
/// The application property Azure Service Bus and Event Hubs SDKs carry a W3C
/// `traceparent` in (the .NET `Diagnostic-Id`).
#[cfg(feature = "azure")]
pub(crate) const DIAGNOSTIC_ID: &str = "Diagnostic-Id";
/// The key under which a JSON payload carries the context (read back by the triggers, see
/// [`crate::trigger::eventbridge`]).
pub const JSON_KEY: &str = "traceContext";

/// Longest value accepted for a carrier key, in bytes; longer values are ignored whole.
pub(crate) fn max_len(key: &str) -> usize {
    match key {
        TRACEPARENT => 128, // version 00 is 55 bytes; later versions may append fields
        TRACESTATE => 512,
        BAGGAGE => 8192,
        XRAY_HEADER | LAMBDA_TRACE_KEY => 1024,
        _ => 1024,
    }
}
