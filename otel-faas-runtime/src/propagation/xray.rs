//! The X-Ray trace header (`Root=1-…;Parent=…;Sampled=…`): its grammar, a fast reader for
//! the headers AWS services write, and the `xray-lambda` propagator of the AWS Lambda
//! semantic conventions.

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_aws::trace::XrayPropagator;

use super::wire::{LAMBDA_TRACE_KEY, XRAY_ENV, XRAY_HEADER, max_len};

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
pub(crate) fn plain_xray(value: &str) -> Option<SpanContext> {
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

/// An X-Ray trace header that names a parent: a well-formed `Root=1-{8 hex}-{24 hex}` and
/// `Parent={16 hex}` (fields as the X-Ray propagator reads them: exact keys, the last
/// occurrence wins). A header with a root but no parent — what API Gateway sends when X-Ray
/// is off on the stage — gives no parent: taken as one, the SDK's parent-based sampler would
/// read it as "not sampled" and drop the request's trace.
pub(crate) fn is_xray_header(value: &str) -> bool {
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

/// The `xray-lambda` propagator of the AWS Lambda semantic conventions: the X-Ray propagator,
/// except that when no valid parent was found before it, the Lambda runtime's own trace header
/// (`Lambda-Runtime-Trace-Id`, also published as `_X_AMZN_TRACE_ID`) is applied on top.
#[derive(Debug, Default)]
pub(crate) struct XrayLambdaPropagator {
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
