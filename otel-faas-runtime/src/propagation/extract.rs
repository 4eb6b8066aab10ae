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

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

use crate::config::PropagatorKind;

/// Header carrying the X-Ray trace context.
pub(crate) const XRAY_HEADER: &str = "x-amzn-trace-id";
/// Environment variable in which the Lambda runtime publishes the invocation's X-Ray context.
const XRAY_ENV: &str = "_X_AMZN_TRACE_ID";
/// Carrier key under which [`LambdaCarrier`] answers the invocation's `Lambda-Runtime-Trace-Id`.
const LAMBDA_TRACE_KEY: &str = "lambda-runtime-trace-id";

/// Longest value accepted for a carrier key, in bytes; longer values are ignored whole.
fn max_len(key: &str) -> usize {
    match key {
        "traceparent" => 128, // version 00 is 55 bytes; later versions may append fields
        "tracestate" => 512,
        "baggage" => 8192,
        XRAY_HEADER | LAMBDA_TRACE_KEY => 1024,
        _ => 1024,
    }
}

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
                    PropagatorKind::Xray => Box::new(XrayPropagator::new()),
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

/// Parses an X-Ray trace header (the SQS `AWSTraceHeader` system attribute) into a span
/// context usable as a link; `None` when the value is malformed or oversized.
///
/// Headers with only `Root`, `Parent` and `Sampled` — what AWS services write — are read in
/// one pass without allocating: a batch reads one per message, and the X-Ray crate's parser
/// (which collects the fields and formats the trace id) was a quarter of an SQS batch's
/// instructions. Any other header goes to that parser, which keeps extra fields in the trace
/// state; the two agree on every header the fast path takes (tested against each other).
pub(crate) fn xray_span_context(value: &str) -> Option<SpanContext> {
    if value.len() > max_len(XRAY_HEADER) || !is_xray_header(value) {
        return None;
    }
    let value = value.trim();
    plain_xray(value)
        .or_else(|| opentelemetry_aws::trace::xray_propagator::span_context_from_str(value))
        .filter(SpanContext::is_valid)
}

/// The X-Ray crate's flag for `Sampled=?` or a missing decision.
const XRAY_DEFERRED: TraceFlags = TraceFlags::new(0x02);

/// The span context of a header made of `Root`, `Parent` and `Sampled` fields only, read as
/// the X-Ray propagator reads it (the last occurrence wins); `None` for anything else.
fn plain_xray(value: &str) -> Option<SpanContext> {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (mut trace_id, mut span_id, mut flags) = (None, None, XRAY_DEFERRED);
    for field in value.split_terminator(';') {
        let (key, field) = field.split_once('=')?;
        match key {
            "Root" => {
                let (time, id) = field.strip_prefix("1-")?.split_once('-')?;
                if time.len() != 8 || id.len() != 24 || !hex(time) || !hex(id) {
                    return None;
                }
                let time = u128::from_str_radix(time, 16).ok()?;
                let id = u128::from_str_radix(id, 16).ok()?;
                trace_id = Some(TraceId::from(time << 96 | id));
            }
            "Parent" if field.len() == 16 && hex(field) => {
                span_id = Some(SpanId::from(u64::from_str_radix(field, 16).ok()?));
            }
            "Sampled" => {
                flags = match field {
                    "0" => TraceFlags::default(),
                    "1" => TraceFlags::SAMPLED,
                    _ => XRAY_DEFERRED,
                }
            }
            _ => return None,
        }
    }
    Some(SpanContext::new(
        trace_id?,
        span_id?,
        flags,
        true,
        TraceState::default(),
    ))
}

/// A `traceparent` as W3C Trace Context §3.2 defines it: a two-digit version other than
/// `ff`, a 32-digit trace id, a 16-digit parent id and two-digit flags, all lower-case hex;
/// version `00` is exactly that, a later version may continue after a `-`. (All-zero ids are
/// refused by the propagator itself.)
fn is_w3c_traceparent(value: &str) -> bool {
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

/// An X-Ray trace header that names a parent: a well-formed `Root=1-{8 hex}-{24 hex}` and
/// `Parent={16 hex}` (fields as the X-Ray propagator reads them: exact keys, the last
/// occurrence wins). A header with a root but no parent — what API Gateway sends when X-Ray
/// is off on the stage — gives no parent: taken as one, the SDK's parent-based sampler would
/// read it as "not sampled" and drop the request's trace.
fn is_xray_header(value: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|c| c.is_ascii_hexdigit());
    let mut root = false;
    let mut parent = false;
    for (key, field) in value
        .trim()
        .split_terminator(';')
        .filter_map(|f| f.split_once('='))
    {
        match key {
            "Root" => {
                let parts = field.strip_prefix("1-").and_then(|r| r.split_once('-'));
                root = matches!(parts, Some((time, id)) if time.len() == 8 && hex(time) && id.len() == 24 && hex(id));
            }
            "Parent" => parent = field.len() == 16 && hex(field),
            _ => {}
        }
    }
    root && parent
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
                "traceparent" => is_w3c_traceparent(v),
                XRAY_HEADER | LAMBDA_TRACE_KEY => is_xray_header(v),
                _ => true,
            })
    }

    fn keys(&self) -> Vec<&str> {
        self.inner.keys()
    }
}

/// The `xray-lambda` propagator of the AWS Lambda semantic conventions: the X-Ray propagator,
/// except that when no valid parent was found before it, the Lambda runtime's own trace header
/// (`Lambda-Runtime-Trace-Id`, also published as `_X_AMZN_TRACE_ID`) is applied on top.
#[derive(Debug, Default)]
struct XrayLambdaPropagator {
    xray: XrayPropagator,
}

impl TextMapPropagator for XrayLambdaPropagator {
    fn inject_context(
        &self,
        cx: &Context,
        injector: &mut dyn opentelemetry::propagation::Injector,
    ) {
        self.xray.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let xray_cx = self.xray.extract_with_context(cx, extractor);
        if cx.span().span_context().is_valid() {
            return xray_cx;
        }
        let env_header;
        let lambda_header = match extractor.get(LAMBDA_TRACE_KEY) {
            Some(header) => header,
            None => {
                env_header = std::env::var(XRAY_ENV).ok();
                match env_header.as_deref() {
                    Some(h) if h.len() <= max_len(XRAY_HEADER) => h,
                    _ => return xray_cx,
                }
            }
        };
        if lambda_header.trim().is_empty() {
            return xray_cx;
        }
        self.xray
            .extract_with_context(&xray_cx, &SingleHeader(lambda_header))
    }

    fn fields(&self) -> FieldIter<'_> {
        self.xray.fields()
    }
}

/// A carrier holding only an `X-Amzn-Trace-Id` value.
struct SingleHeader<'a>(&'a str);

impl Extractor for SingleHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        key.eq_ignore_ascii_case(XRAY_HEADER).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![XRAY_HEADER]
    }
}

/// A carrier with nothing in it: extraction from it finds only the Lambda trace header.
pub(crate) const NO_CARRIER: NoCarrier = NoCarrier;

/// See [`NO_CARRIER`].
pub(crate) struct NoCarrier;

impl Extractor for NoCarrier {
    fn get(&self, _key: &str) -> Option<&str> {
        None
    }

    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// Reads HTTP request headers; a header that is not visible ASCII is absent.
pub(crate) struct HeaderCarrier<'a>(pub(crate) &'a http::HeaderMap);

impl Extractor for HeaderCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Reads a string map, such as the `custom` part of a Lambda client context.
pub(crate) struct MapCarrier<'a>(pub(crate) &'a HashMap<String, String>);

impl Extractor for MapCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_xray_reader_agrees_with_the_xray_crate() {
        let root = "Root=1-5759e988-bd862e3fe1be46a994272793";
        let parent = "Parent=53995c3f42cd8ad8";
        let mut headers = vec![
            format!("{root};{parent};Sampled=1"),
            format!("{root};{parent};Sampled=0"),
            format!("{root};{parent};Sampled=?"),
            format!("{root};{parent};Sampled=yes"),
            format!("{root};{parent}"),
            format!("{parent};{root}"),
            format!("{root};{parent};Sampled=1;"),
            format!("Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=1"),
            format!("{root};{parent};Parent=0000000000000001;Sampled=1"),
            format!("{root};{parent};Sampled=1;Self=1-67891233-abcdef012345678912345678"),
            format!("{root};{parent};Lineage=a87bd80c:1|68fd508a:5"),
            format!("{root};{parent};junk"),
            format!("Root==1-5759e988-bd862e3fe1be46a994272793;{parent}"),
            format!("{root};Parent=53995c3f42cd8ad8z"),
            format!("Root=2-5759e988-bd862e3fe1be46a994272793;{parent}"),
            format!("Root=1-5759e98-bd862e3fe1be46a9942727930;{parent}"),
            format!("Root=1-+759e988-bd862e3fe1be46a994272793;{parent}"),
            format!("Root=1-00000000-000000000000000000000000;{parent}"),
            format!("{root};Parent=0000000000000000"),
        ];
        // Every header with a field cut short or doubled, too.
        let more: Vec<String> = headers
            .iter()
            .flat_map(|h| [h[..h.len() / 2].to_owned(), format!("{h};{h}")])
            .collect();
        headers.extend(more);
        for header in &headers {
            let theirs = is_xray_header(header)
                .then(|| {
                    opentelemetry_aws::trace::xray_propagator::span_context_from_str(header.trim())
                })
                .flatten()
                .filter(SpanContext::is_valid);
            assert_eq!(xray_span_context(header), theirs, "{header}");
        }
        assert!(
            plain_xray(&headers[0]).is_some(),
            "the common header takes the fast path"
        );
        assert!(
            plain_xray(&headers[9]).is_none(),
            "extra fields go to the crate"
        );
    }
    use opentelemetry::baggage::BaggageExt;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    http::HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    fn parent(
        kinds: &[PropagatorKind],
        pairs: &[(&str, &str)],
        lambda: Option<&str>,
    ) -> SpanContext {
        let h = headers(pairs);
        Propagation::new(kinds)
            .extract(&HeaderCarrier(&h), lambda)
            .span()
            .span_context()
            .clone()
    }

    #[test]
    fn w3c_parent_is_extracted() {
        let sc = parent(
            &[PropagatorKind::TraceContext],
            &[("traceparent", TRACEPARENT)],
            None,
        );
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_remote() && sc.is_sampled());
    }

    #[test]
    fn oversized_tracestate_is_dropped_but_the_parent_kept() {
        let long = format!("a={}", "x".repeat(600));
        let sc = parent(
            &[PropagatorKind::TraceContext],
            &[("traceparent", TRACEPARENT), ("tracestate", &long)],
            None,
        );
        assert!(sc.is_valid());
        assert_eq!(sc.trace_state().header(), "");
    }

    #[test]
    fn oversized_baggage_is_ignored() {
        let long = format!("k={}", "v".repeat(9000));
        let h = headers(&[("baggage", &long)]);
        let cx = Propagation::new(&[PropagatorKind::Baggage]).extract(&HeaderCarrier(&h), None);
        assert_eq!(cx.baggage().len(), 0);
        let h = headers(&[("baggage", "tenant=acme")]);
        let cx = Propagation::new(&[PropagatorKind::Baggage]).extract(&HeaderCarrier(&h), None);
        assert_eq!(
            cx.baggage().get("tenant").map(|v| v.as_str().to_owned()),
            Some("acme".into())
        );
    }

    #[test]
    fn xray_lambda_prefers_the_runtime_trace_header_over_the_request_header() {
        let runtime = "Root=1-5759e988-00000000000000000000abcd;Parent=1111111111111111;Sampled=1";
        let sc = parent(
            &[PropagatorKind::XrayLambda],
            &[(XRAY_HEADER, XRAY)],
            Some(runtime),
        );
        assert_eq!(
            sc.trace_id().to_string(),
            "5759e98800000000000000000000abcd"
        );
    }

    #[test]
    fn xray_lambda_keeps_a_w3c_parent_found_first() {
        let runtime = "Root=1-5759e988-00000000000000000000abcd;Parent=1111111111111111;Sampled=1";
        let sc = parent(
            &[PropagatorKind::TraceContext, PropagatorKind::XrayLambda],
            &[("traceparent", TRACEPARENT)],
            Some(runtime),
        );
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn plain_xray_ignores_the_runtime_trace_header() {
        let runtime = "Root=1-5759e988-00000000000000000000abcd;Parent=1111111111111111;Sampled=1";
        assert!(!parent(&[PropagatorKind::Xray], &[], Some(runtime)).is_valid());
    }

    #[test]
    fn traceparent_must_have_the_exact_w3c_format() {
        assert!(is_w3c_traceparent(TRACEPARENT));
        assert!(is_w3c_traceparent(&format!(
            "01{}-future-field",
            &TRACEPARENT[2..]
        )));
        for bad in [
            "00-1-2-01",
            &TRACEPARENT[..54],
            &format!("{TRACEPARENT}-extra"),
            &format!("ff{}", &TRACEPARENT[2..]),
            &TRACEPARENT.to_uppercase(),
            &format!("01{}x", &TRACEPARENT[2..]),
            "",
        ] {
            assert!(!is_w3c_traceparent(bad), "{bad}");
        }
    }

    #[test]
    fn a_lenient_traceparent_does_not_become_the_parent() {
        for bad in [
            "00-1-2-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
        ] {
            assert!(
                !parent(
                    &[PropagatorKind::TraceContext],
                    &[("traceparent", bad)],
                    None
                )
                .is_valid(),
                "{bad}"
            );
        }
    }

    #[test]
    fn xray_header_must_have_a_full_root_and_parent() {
        assert!(is_xray_header(XRAY));
        for bad in [
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd86;Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=5399",
            "Parent=53995c3f42cd8ad8",
        ] {
            assert!(!is_xray_header(bad), "{bad}");
        }
    }

    #[test]
    fn aws_trace_header_becomes_a_span_context() {
        let sc = xray_span_context(XRAY).expect("valid header");
        assert_eq!(
            sc.trace_id().to_string(),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(sc.span_id().to_string(), "53995c3f42cd8ad8");
        assert!(xray_span_context("Root=1-zz;Parent=;Sampled=1").is_none());
        assert!(xray_span_context(&"Root=".repeat(400)).is_none());
        assert!(xray_span_context("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1").is_none());
    }
}
