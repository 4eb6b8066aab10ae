//! Injection: the trace context a handler passes on, written into each kind of outgoing
//! carrier (re-exported as [`crate::outgoing`]'s carrier API).

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use opentelemetry::Context;
use opentelemetry::propagation::Injector;
use opentelemetry::trace::TraceContextExt as _;
use serde_json::{Map, Value};

use super::wire::{AWS_TRACE_HEADER, BAGGAGE, JSON_KEY, TRACEPARENT, TRACESTATE, XRAY_HEADER};
use crate::telemetry::Telemetry;

/// Message attributes an SQS message (and an SNS message delivered to SQS) may carry.
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// Longest client context Lambda's `Invoke` accepts, in bytes of base64.
pub const MAX_CLIENT_CONTEXT: usize = 3583;

/// Carrier keys in the order they are kept when a carrier has room for only some of them:
/// the two that carry the trace itself first, then the trace state, then baggage.
const PRIORITY: [&str; 4] = [TRACEPARENT, XRAY_HEADER, TRACESTATE, BAGGAGE];

/// The trace context to pass on to a downstream call: the current span's (see
/// [`TraceContext::current`]) or an [`OutgoingSpan`](crate::outgoing::OutgoingSpan)'s.
///
/// It is written with the propagators the pipeline was configured with (`OTEL_PROPAGATORS`;
/// W3C `traceparent`, `tracestate` and `baggage` by default, plus `X-Amzn-Trace-Id` when
/// an X-Ray propagator is on). Writing never replaces anything but those keys, and merges
/// `baggage` into a value the caller set. Outside a pipeline (`OTEL_SDK_DISABLED=true`, or no
/// handler running) nothing is written.
#[derive(Clone, Debug)]
pub struct TraceContext {
    cx: Context,
    telemetry: Option<Telemetry>,
}

impl TraceContext {
    /// The context of the current span: the innermost of the invocation's spans and the
    /// handler's own `tracing` spans.
    pub fn current() -> TraceContext {
        TraceContext::of(Context::current(), crate::outgoing::pipeline())
    }

    pub(crate) fn of(cx: Context, telemetry: Option<Telemetry>) -> TraceContext {
        TraceContext { cx, telemetry }
    }

    /// The OpenTelemetry context, for code that propagates by itself.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// Whether there is a trace to pass on.
    pub fn is_valid(&self) -> bool {
        self.telemetry.is_some() && self.cx.span().span_context().is_valid()
    }

    /// Whether the trace is sampled; a downstream service that honours its parent's decision
    /// records nothing when this is `false`.
    pub fn is_sampled(&self) -> bool {
        self.cx.span().span_context().is_sampled()
    }

    /// The carrier keys and values the configured propagators write, in their order.
    pub fn fields(&self) -> Vec<(String, String)> {
        let mut fields = Fields::default();
        if let (true, Some(telemetry)) = (self.is_valid(), &self.telemetry) {
            telemetry.propagation().inject(&self.cx, &mut fields);
        }
        fields.0
    }

    /// Writes the context into any [`Injector`], with the configured propagators.
    pub fn inject(&self, carrier: &mut dyn Injector) {
        for (key, value) in self.fields() {
            carrier.set(&key, value);
        }
    }

    /// Writes the context into HTTP request headers.
    ///
    /// ```
    /// # use otel_faas_runtime::outgoing::TraceContext;
    /// let mut headers = otel_faas_runtime::http::HeaderMap::new();
    /// headers.insert("x-request-id", "abc".parse().unwrap());
    /// TraceContext::current().inject_headers(&mut headers);
    /// assert_eq!(headers["x-request-id"], "abc"); // only trace headers are written
    /// ```
    pub fn inject_headers(&self, headers: &mut http::HeaderMap) {
        for (key, value) in self.fields() {
            let Ok(name) = http::HeaderName::from_bytes(key.as_bytes()) else {
                continue;
            };
            let value = match (key.as_str(), headers.get(&name)) {
                (BAGGAGE, Some(set)) => match set.to_str() {
                    Ok(set) => merge_baggage(set, &value),
                    Err(_) => continue,
                },
                _ => value,
            };
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }

    /// Writes the context into a string map, such as message attributes or the `custom`
    /// part of a Lambda client context.
    pub fn inject_map(&self, map: &mut HashMap<String, String>) {
        for (key, value) in self.fields() {
            let value = match (key.as_str(), map.get(&key)) {
                (BAGGAGE, Some(set)) => merge_baggage(set, &value),
                _ => value,
            };
            map.insert(key, value);
        }
    }

    /// The context as message attributes for a carrier that holds at most `limit`
    /// attributes and already holds the `taken` names (the caller's own attributes; the trace
    /// keys among them are replaced, so they do not count).
    ///
    /// SQS and SNS allow [`MAX_MESSAGE_ATTRIBUTES`]. When there is not room for every field,
    /// `traceparent` (or the X-Ray header) is kept first, then `tracestate`, then `baggage`;
    /// what did not fit is in [`Fitted::left_out`]. The caller's attributes are never dropped.
    pub fn message_attributes<'a>(
        &self,
        taken: impl IntoIterator<Item = &'a str>,
        limit: usize,
    ) -> Fitted {
        let mut fields = self.fields();
        fields.sort_by_key(|(key, _)| priority(key));
        let own = taken
            .into_iter()
            .filter(|name| !fields.iter().any(|(key, _)| key.eq_ignore_ascii_case(name)))
            .count();
        let room = limit.saturating_sub(own);
        let left_out = fields.split_off(room.min(fields.len()));
        Fitted {
            fields,
            left_out: left_out.into_iter().map(|(key, _)| key).collect(),
        }
    }

    /// The context as an X-Ray trace header (`Root=1-…;Parent=…;Sampled=…`, then the
    /// `Lineage` of the invocation's X-Ray header when it had one; nothing of the W3C
    /// `tracestate`), whichever propagators are configured (but none with
    /// `OTEL_PROPAGATORS=none`): the value of SQS's `AWSTraceHeader` system attribute, which
    /// the SQS trigger reads first, and of EventBridge's `TraceHeader`.
    pub fn xray_header(&self) -> Option<String> {
        let propagates = self
            .telemetry
            .as_ref()
            .is_some_and(|t| !t.config().propagators.is_empty());
        if !propagates || !self.is_valid() {
            return None;
        }
        super::xray::header_of(&self.cx)
    }

    /// Writes the context into a JSON object (an EventBridge `detail`, a Kinesis record) under
    /// `traceContext`, where the triggers' `parent_from`/`links_from` options read it. Returns
    /// `false`, leaving `value` as it is, when it is not an object or there is nothing to
    /// write. Other keys of `traceContext` are kept.
    pub fn inject_json(&self, value: &mut Value) -> bool {
        let Value::Object(object) = value else {
            return false;
        };
        let fields = self.fields();
        let xray = match fields.iter().any(|(key, _)| key == XRAY_HEADER) {
            true => None,
            false => self.xray_header(),
        };
        if fields.is_empty() && xray.is_none() {
            return false;
        }
        let carried = object
            .entry(JSON_KEY)
            .or_insert_with(|| Value::Object(Map::new()));
        if !carried.is_object() {
            *carried = Value::Object(Map::new());
        }
        let Value::Object(carried) = carried else {
            return false;
        };
        let xray = xray.map(|value| (XRAY_HEADER.to_owned(), value));
        for (key, value) in fields.into_iter().chain(xray) {
            let key = match key.as_str() {
                XRAY_HEADER => AWS_TRACE_HEADER.to_owned(),
                _ => key,
            };
            carried.insert(key, Value::String(value));
        }
        true
    }

    /// [`TraceContext::inject_json`] on a JSON document held as a string (the SDK's
    /// EventBridge `detail`); `None` when it is not a JSON object or nothing was written.
    pub fn inject_json_str(&self, json: &str) -> Option<String> {
        let mut value: Value = serde_json::from_str(json).ok()?;
        self.inject_json(&mut value)
            .then(|| serde_json::to_string(&value).ok())
            .flatten()
    }

    /// The base64 client context of a Lambda `Invoke` with the context added to its `custom`
    /// map, where the `other` trigger reads it; `existing` is the caller's own client context,
    /// whose other entries are kept.
    ///
    /// `Ok(None)` when there is nothing to write. Lambda passes the client context on
    /// synchronous invokes only (`RequestResponse`), and allows [`MAX_CLIENT_CONTEXT`] bytes.
    pub fn client_context(
        &self,
        existing: Option<&str>,
    ) -> Result<Option<String>, ClientContextError> {
        let mut fields = HashMap::new();
        self.inject_map(&mut fields);
        if fields.is_empty() {
            return Ok(None);
        }
        let mut document = match existing.filter(|e| !e.is_empty()) {
            None => Map::new(),
            Some(encoded) => {
                let decoded = BASE64
                    .decode(encoded.trim())
                    .map_err(|_| ClientContextError::Unreadable)?;
                match serde_json::from_slice(&decoded) {
                    Ok(Value::Object(document)) => document,
                    _ => return Err(ClientContextError::Unreadable),
                }
            }
        };
        let custom = document
            .entry("custom")
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(custom) = custom else {
            return Err(ClientContextError::Unreadable);
        };
        for (key, value) in fields {
            let value = match (key.as_str(), custom.get(&key).and_then(Value::as_str)) {
                (BAGGAGE, Some(set)) => merge_baggage(set, &value),
                _ => value,
            };
            custom.insert(key, Value::String(value));
        }
        let json = serde_json::to_vec(&document).map_err(|_| ClientContextError::Unreadable)?;
        let encoded = BASE64.encode(json);
        if encoded.len() > MAX_CLIENT_CONTEXT {
            return Err(ClientContextError::TooLarge(encoded.len()));
        }
        Ok(Some(encoded))
    }
}

/// Why a client context could not carry the trace; the caller's client context is then sent
/// as it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientContextError {
    /// The caller's client context is not base64 of a JSON object with an object `custom`.
    Unreadable,
    /// With the trace added it would be this many bytes, over [`MAX_CLIENT_CONTEXT`].
    TooLarge(usize),
}

impl std::fmt::Display for ClientContextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientContextError::Unreadable => f.write_str(
                "the client context is not base64-encoded JSON with a `custom` object; it is sent as it was, without the trace context",
            ),
            ClientContextError::TooLarge(len) => write!(
                f,
                "with the trace context the client context would be {len} bytes, over Lambda's {MAX_CLIENT_CONTEXT}; it is sent as it was"
            ),
        }
    }
}

impl std::error::Error for ClientContextError {}

/// What fits of the context in a carrier with limited room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fitted {
    /// The keys and values to write, most important first.
    pub fields: Vec<(String, String)>,
    /// The keys there was no room for.
    pub left_out: Vec<String>,
}

/// Collects what propagators write.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Injector for Fields {
    fn set(&mut self, key: &str, value: String) {
        // An empty `tracestate` or `baggage` carries nothing, and would take a message
        // attribute (which SQS refuses empty anyway).
        if value.is_empty() {
            return;
        }
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }
}

fn priority(key: &str) -> usize {
    PRIORITY
        .iter()
        .position(|p| p.eq_ignore_ascii_case(key))
        .unwrap_or(PRIORITY.len())
}

/// The caller's `baggage` value with the context's entries whose keys it does not set
/// appended: the caller's own entries win.
fn merge_baggage(set: &str, ours: &str) -> String {
    let key = |entry: &str| {
        entry
            .split(['=', ';'])
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let taken: Vec<String> = set.split(',').map(key).collect();
    let mut merged = set.trim().to_owned();
    for entry in ours.split(',') {
        if !entry.trim().is_empty() && !taken.contains(&key(entry)) {
            if !merged.is_empty() {
                merged.push(',');
            }
            merged.push_str(entry.trim());
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_baggage_entries_win() {
        assert_eq!(
            merge_baggage("tenant=a, user=1;prop", "tenant=b,region=eu"),
            "tenant=a, user=1;prop,region=eu"
        );
        assert_eq!(merge_baggage("", "region=eu"), "region=eu");
    }

    #[test]
    fn fields_are_ordered_trace_first() {
        let mut keys = vec!["baggage", "tracestate", "x-amzn-trace-id", "traceparent"];
        keys.sort_by_key(|k| priority(k));
        assert_eq!(
            keys,
            ["traceparent", "x-amzn-trace-id", "tracestate", "baggage"]
        );
    }
}
