//! Extraction from untrusted carriers: the configured propagators, behind a carrier wrapper
//! that bounds every value and checks `traceparent` and X-Ray headers against their exact
//! grammar before any propagator parses them.

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use super::wire::{LAMBDA_TRACE_KEY, TRACEPARENT, XRAY_HEADER, max_len};
use super::xray::{XrayLambdaPropagator, XrayPropagator, is_xray_header};
use crate::config::PropagatorKind;

/// The configured propagators, composed in `OTEL_PROPAGATORS` order.
pub(crate) struct Propagation {
    composite: TextMapCompositePropagator,
    uses_xray: bool,
}

impl std::fmt::Debug for Propagation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Propagation")
            .field("uses_xray", &self.uses_xray)
            .finish()
    }
}

impl Propagation {
    pub(crate) fn new(kinds: &[PropagatorKind]) -> Self {
        let propagators = kinds
            .iter()
            .map(|kind| -> Box<dyn TextMapPropagator + Send + Sync> {
                match kind {
                    PropagatorKind::TraceContext => Box::new(TraceContextPropagator::new()),
                    PropagatorKind::Baggage => Box::new(BaggagePropagator::new()),
                    PropagatorKind::Xray => Box::new(XrayPropagator),
                    PropagatorKind::XrayLambda => Box::new(XrayLambdaPropagator::default()),
                }
            })
            .collect();
        Propagation {
            composite: TextMapCompositePropagator::new(propagators),
            uses_xray: kinds
                .iter()
                .any(|k| matches!(k, PropagatorKind::Xray | PropagatorKind::XrayLambda)),
        }
    }

    /// Whether an X-Ray propagator is configured (then trace ids must be X-Ray compatible).
    pub(crate) fn uses_xray(&self) -> bool {
        self.uses_xray
    }

    /// Extracts the parent context from `carrier`; `lambda_trace_header` is the invocation's
    /// `Lambda-Runtime-Trace-Id`, which the `xray-lambda` propagator prefers.
    pub(crate) fn extract(
        &self,
        carrier: &dyn Extractor,
        lambda_trace_header: Option<&str>,
    ) -> Context {
        let bounded = LambdaCarrier {
            inner: carrier,
            lambda_trace_header,
        };
        self.composite
            .extract_with_context(&Context::new(), &bounded)
    }

    /// Writes `cx` into `carrier` with every configured propagator.
    pub(crate) fn inject(
        &self,
        cx: &Context,
        carrier: &mut dyn opentelemetry::propagation::Injector,
    ) {
        self.composite.inject_context(cx, carrier);
    }

    /// The propagators as one [`TextMapPropagator`], for injection into outgoing carriers.
    pub(crate) fn into_composite(self) -> TextMapCompositePropagator {
        self.composite
    }
}

/// A `traceparent` as W3C Trace Context §3.2 defines it: a two-digit version other than
/// `ff`, a 32-digit trace id, a 16-digit parent id and two-digit flags, all lower-case hex;
/// version `00` is exactly that, a later version may continue after a `-`. (All-zero ids are
/// refused by the propagator itself.)
pub(crate) fn is_w3c_traceparent(value: &str) -> bool {
    let b = value.trim().as_bytes();
    let hex = |s: &[u8]| s.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    b.len() >= 55
        && hex(&b[0..2])
        && &b[0..2] != b"ff"
        && b[2] == b'-'
        && hex(&b[3..35])
        && b[35] == b'-'
        && hex(&b[36..52])
        && b[52] == b'-'
        && hex(&b[53..55])
        && if &b[0..2] == b"00" {
            b.len() == 55
        } else {
            b.len() == 55 || b[55] == b'-'
        }
}

/// Bounds every value of the carrier it wraps, and answers the Lambda trace header.
struct LambdaCarrier<'a> {
    inner: &'a dyn Extractor,
    lambda_trace_header: Option<&'a str>,
}

impl Extractor for LambdaCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = if key == LAMBDA_TRACE_KEY {
            self.lambda_trace_header
        } else {
            self.inner.get(key)
        };
        value
            .filter(|v| v.len() <= max_len(key))
            .filter(|v| match key {
                TRACEPARENT => is_w3c_traceparent(v),
                XRAY_HEADER | LAMBDA_TRACE_KEY => is_xray_header(v),
                _ => true,
            })
    }

    fn keys(&self) -> Vec<&str> {
        self.inner.keys()
    }
}
