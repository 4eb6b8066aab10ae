//! A trace context carried inside a JSON payload — an EventBridge `detail`, a Kinesis record's
//! data — where the platform gives the producer no attributes to put it in.
//!
//! Recognised, at the top level of a JSON object or inside its `traceContext` object:
//! `traceparent`, `tracestate` and `baggage` (read with the configured propagators) and an
//! X-Ray header under `AWSTraceHeader` or `X-Amzn-Trace-Id`. Only these keys are kept while
//! parsing (the rest is skipped without allocating); a payload that is not a JSON object, or
//! whose values are malformed, carries no context.

use std::borrow::Cow;

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use serde::Deserialize;

use super::wire::{BAGGAGE, TRACEPARENT, TRACESTATE, XRAY_HEADER, max_len};
use super::xray::XrayHeader;
use crate::telemetry::Telemetry;

/// Payloads larger than this are not searched for a context.
const MAX_PAYLOAD: usize = 256 * 1024;

/// The trace-context keys of a JSON object.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Carried<'a> {
    #[serde(borrow, default)]
    traceparent: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tracestate: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    baggage: Option<Cow<'a, str>>,
    // serde takes literals only: these are `wire::AWS_TRACE_HEADER`, `wire::XRAY_ATTRIBUTE`
    // and `wire::JSON_KEY`.
    #[serde(borrow, default, rename = "AWSTraceHeader", alias = "X-Amzn-Trace-Id")]
    xray: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "traceContext")]
    nested: Option<Box<Carried<'a>>>,
}

impl<'a> Carried<'a> {
    /// The keys of a JSON payload; empty when it is not an object or too large.
    pub(crate) fn from_slice(payload: &'a [u8]) -> Self {
        let starts_as_object = payload
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{');
        if !starts_as_object || payload.len() > MAX_PAYLOAD {
            return Carried::default();
        }
        serde_json::from_slice(payload).unwrap_or_default()
    }

    /// The keys of a JSON value; empty when it is not an object.
    pub(crate) fn from_value(value: &'a serde_json::Value) -> Self {
        if !value.is_object() {
            return Carried::default();
        }
        Carried::deserialize(value).unwrap_or_default()
    }

    /// The carried context, read with the configured propagators (or, failing that, from the
    /// X-Ray header); `None` when nothing valid is carried.
    pub(crate) fn context(&self, telemetry: &Telemetry) -> Option<Context> {
        let carriers = std::iter::once(self).chain(self.nested.as_deref());
        carriers.into_iter().find_map(|carried| {
            let cx = telemetry.propagation().extract(carried, None);
            if cx.span().span_context().is_valid() {
                return Some(cx);
            }
            let xray = carried
                .xray
                .as_deref()
                .filter(|header| header.len() <= max_len(XRAY_HEADER))
                .and_then(XrayHeader::parse)?;
            Some(xray.context(&cx))
        })
    }

    /// The carried span context, as a link.
    pub(crate) fn link(
        &self,
        telemetry: &Telemetry,
        attributes: Vec<KeyValue>,
    ) -> Option<opentelemetry::trace::Link> {
        let cx = self.context(telemetry)?;
        let sc: SpanContext = cx.span().span_context().clone();
        Some(opentelemetry::trace::Link::new(sc, attributes, 0))
    }
}

impl Extractor for Carried<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            TRACESTATE => self.tracestate.as_deref(),
            BAGGAGE => self.baggage.as_deref(),
            XRAY_HEADER => self.xray.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        let present = [
            (TRACEPARENT, self.traceparent.is_some()),
            (TRACESTATE, self.tracestate.is_some()),
            (BAGGAGE, self.baggage.is_some()),
            (XRAY_HEADER, self.xray.is_some()),
        ];
        present
            .into_iter()
            .filter_map(|(key, is)| is.then_some(key))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_context_keys_are_kept() {
        let payload = br#"{"order": {"id": 7}, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "a=b"}"#;
        let carried = Carried::from_slice(payload);
        assert_eq!(
            carried.get("traceparent"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(carried.get("tracestate"), Some("a=b"));
        assert_eq!(carried.keys(), vec!["traceparent", "tracestate"]);
    }

    #[test]
    fn a_nested_trace_context_object_is_read() {
        let value =
            serde_json::json!({"traceContext": {"traceparent": "x", "X-Amzn-Trace-Id": "y"}});
        let carried = Carried::from_value(&value);
        let nested = carried.nested.as_deref().expect("nested");
        assert_eq!(nested.get("traceparent"), Some("x"));
        assert_eq!(nested.get("x-amzn-trace-id"), Some("y"));
    }

    #[test]
    fn payloads_that_are_not_objects_carry_nothing() {
        for payload in [
            &b"hello"[..],
            b"[1,2]",
            b"{\"traceparent\": 5}",
            b"{truncated",
            b"\xff\xfe",
        ] {
            let carried = Carried::from_slice(payload);
            assert!(carried.keys().is_empty(), "{payload:?}");
        }
        let big = format!(
            "{{\"traceparent\":\"x\",\"pad\":\"{}\"}}",
            "a".repeat(MAX_PAYLOAD)
        );
        assert!(Carried::from_slice(big.as_bytes()).keys().is_empty());
    }
}
