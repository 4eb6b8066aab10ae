//! The X-Ray trace header (`Root=1-…;Parent=…;Sampled=…`): its grammar, its reader and its
//! writer, and the `xray` and `xray-lambda` propagators built on them.
//!
//! # The header
//!
//! Followed: the AWS X-Ray developer guide, "Tracing header"
//! (<https://docs.aws.amazon.com/xray/latest/devguide/xray-concepts.html#xray-concepts-tracingheader>),
//! and two independent implementations of it: the OpenTelemetry Python propagator
//! (open-telemetry/opentelemetry-python-contrib,
//! `propagator/opentelemetry-propagator-aws-xray/src/opentelemetry/propagators/aws/aws_xray_propagator.py`)
//! and the OpenTelemetry Java one (open-telemetry/opentelemetry-java-contrib,
//! `aws-xray-propagator/src/main/java/io/opentelemetry/contrib/awsxray/propagator/AwsXrayPropagator.java`).
//!
//! - Fields are `key=value`, separated by `;` (a trailing `;` is allowed). A field without
//!   `=` makes the header malformed, as in both implementations.
//! - `Root=1-{8 hex}-{24 hex}` and `Parent={16 hex}`, neither all zero, are required: a
//!   header without a parent (what API Gateway sends when X-Ray is off on the stage) gives no
//!   parent, since taken as one it would read as "not sampled" and drop the request's trace.
//! - `Sampled` is `1`, `0` or `?`; any other value makes the header malformed, as in both
//!   implementations. `?` — or no `Sampled` field — asks the receiver to decide: see
//!   [`super::requested`].
//! - `Lineage` (Lambda's recursive-loop detection) is kept as received, for the X-Ray
//!   headers this function writes, and nowhere else. Its format has changed over time
//!   (`a87bd80c:1|68fd508a:5`, `1:fe460cdd:0` in the events Lambda delivers; Java checks the
//!   latter), so it is passed on opaque, but only when it is 1 to [`MAX_LINEAGE`] letters,
//!   digits, `:` and `|`: a value that could break another reader is dropped, not the trace.
//! - Any other field (`Self`, which ALB adds, or one from a later version) is ignored.
//! - When a key appears twice, the last occurrence wins.
//!
//! # Why not `opentelemetry-aws`'s propagator
//!
//! Its `XrayPropagator` is what this module replaced, for three reasons:
//!
//! - It copies every field besides `Root`, `Parent` and `Sampled` into the W3C trace state
//!   (lower-cased), so `Lineage` and `Self` went out again in `tracestate` on every HTTP
//!   header, message attribute, EventBridge `detail` and client context written downstream.
//! - It writes the W3C trace state into every X-Ray header, with capitalised keys
//!   (`Root=…;Sampled=1;Dd=s:2;O:rum`): a `tracestate` value holding `;` or `:` makes a header
//!   the Python propagator rejects (the consumer loses the trace), and a 32-member
//!   `tracestate` made a 310-character `AWSTraceHeader`. The headers written here carry
//!   `Root`, `Parent`, `Sampled` and `Lineage` only, as the Python and Java propagators write.
//! - It reads `Sampled=?` as trace flag `0x02`: the SDK's parent-based sampler reads that
//!   as "not sampled" and drops the trace, and every child span inherits the flag, so
//!   `Sampled=?` went out again on every X-Ray header written.
//!
//! Reading is one pass over the header without allocating: a batch reads one per message.

use std::sync::{Arc, OnceLock};

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use super::requested::DecisionRequested;
use super::wire::{LAMBDA_TRACE_KEY, XRAY_ENV, XRAY_HEADER, max_len};

/// Longest `Lineage` value passed on, in bytes (the whole header written then stays under
/// the 256 characters the Java propagator truncates to).
pub(crate) const MAX_LINEAGE: usize = 128;

/// What an X-Ray trace header says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct XrayHeader<'a> {
    trace_id: TraceId,
    parent: SpanId,
    sampled: Sampled,
    lineage: Option<&'a str>,
}

/// The header's sampling decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sampled {
    Yes,
    No,
    /// `Sampled=?` or no `Sampled` field: the receiver decides.
    Requested,
}

impl<'a> XrayHeader<'a> {
    /// Reads a header (surrounding whitespace ignored); `None` when it is malformed or names
    /// no parent. See the module documentation for the grammar.
    pub(crate) fn parse(value: &'a str) -> Option<XrayHeader<'a>> {
        let (mut trace_id, mut parent) = (None, None);
        let (mut sampled, mut lineage) = (Sampled::Requested, None);
        // Byte by byte: a batch reads one header per message, and `str`'s splitting and
        // `from_str_radix` made it 2,500 instructions a header (issue 17).
        let mut rest = value.trim();
        while !rest.is_empty() {
            let (field, tail) = match rest.bytes().position(|b| b == b';') {
                Some(at) => (&rest[..at], &rest[at + 1..]),
                None => (rest, ""),
            };
            rest = tail;
            let at = field.bytes().position(|b| b == b'=')?;
            let (key, field) = (&field[..at], &field[at + 1..]);
            match key {
                "Root" => {
                    // `1-{8 hex}-{24 hex}`: the trace id is the 32 digits read as one number.
                    let root = field.as_bytes();
                    if root.len() != 35 || !root.starts_with(b"1-") || root[10] != b'-' {
                        return None;
                    }
                    let high = hex(&root[2..10])? << 32 | hex(&root[11..19])?;
                    let low = hex(&root[19..35])?;
                    trace_id = Some(TraceId::from(u128::from(high) << 64 | u128::from(low)));
                }
                "Parent" => {
                    if field.len() != 16 {
                        return None;
                    }
                    parent = Some(SpanId::from(hex(field.as_bytes())?));
                }
                "Sampled" => {
                    sampled = match field {
                        "1" => Sampled::Yes,
                        "0" => Sampled::No,
                        "?" => Sampled::Requested,
                        _ => return None,
                    }
                }
                "Lineage" => lineage = Some(field).filter(|l| is_lineage(l)),
                _ => {}
            }
        }
        let (trace_id, parent) = (trace_id?, parent?);
        (trace_id != TraceId::INVALID && parent != SpanId::INVALID).then_some(XrayHeader {
            trace_id,
            parent,
            sampled,
            lineage,
        })
    }

    /// The parent span context, without trace state; not sampled when the decision is
    /// requested (the requested decision travels beside it, see [`XrayHeader::context`]).
    pub(crate) fn span_context(&self) -> SpanContext {
        let flags = match self.sampled {
            Sampled::Yes => TraceFlags::SAMPLED,
            Sampled::No | Sampled::Requested => TraceFlags::default(),
        };
        SpanContext::new(
            self.trace_id,
            self.parent,
            flags,
            true,
            TraceState::default(),
        )
    }

    /// `cx` continued from this header: its parent, with the W3C trace state of a parent
    /// extracted before (as the Python and Java propagators keep it), its `Lineage` for the
    /// X-Ray headers written from it, and the request to decide sampling when it asks.
    pub(crate) fn context(&self, cx: &Context) -> Context {
        let upstream = cx.span().span_context().clone();
        let sc = self.span_context();
        let sc = match upstream.is_valid() {
            true => SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags(),
                true,
                upstream.trace_state().clone(),
            ),
            false => sc,
        };
        let cx = cx
            .with_remote_span_context(sc)
            .with_value(Lineage(self.lineage.map(Arc::from)));
        match self.sampled {
            Sampled::Requested => cx.with_value(DecisionRequested::of(self.trace_id, self.parent)),
            Sampled::Yes | Sampled::No => cx,
        }
    }
}

/// A `Lineage` value passed on opaque: see the module documentation.
/// Up to 16 hex digits (either case) as a number; `None` when one is not a hex digit.
fn hex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &digit| {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            b'A'..=b'F' => digit - b'A' + 10,
            _ => return None,
        };
        Some(value << 4 | u64::from(nibble))
    })
}

fn is_lineage(value: &str) -> bool {
    (1..=MAX_LINEAGE).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b':' || b == b'|')
}

/// The `Lineage` of the X-Ray header a context was continued from (`None`: the last header
/// read had none). It lives in the context, never in the W3C trace state.
#[derive(Clone, Debug)]
struct Lineage(Option<Arc<str>>);

/// Parses an X-Ray trace header (the SQS `AWSTraceHeader` system attribute) into a span
/// context usable as a link; `None` when the value is malformed or oversized.
pub(crate) fn xray_span_context(value: &str) -> Option<SpanContext> {
    if value.len() > max_len(XRAY_HEADER) {
        return None;
    }
    XrayHeader::parse(value).map(|header| header.span_context())
}

/// The `Lineage` of an X-Ray header, whatever its other fields, when it is one to pass on.
#[cfg(feature = "aws-sdk")]
pub(crate) fn lineage_of(header: &str) -> Option<&str> {
    header
        .trim()
        .split_terminator(';')
        .filter_map(|field| field.strip_prefix("Lineage="))
        .next_back()
        .filter(|lineage| is_lineage(lineage))
}

/// Whether `value` is an X-Ray header that names a parent (see [`XrayHeader::parse`]).
pub(crate) fn is_xray_header(value: &str) -> bool {
    XrayHeader::parse(value).is_some()
}

/// The X-Ray header for the span of `cx`: `Root`, `Parent` and `Sampled` (this function's
/// decision, `1` or `0`, never `?`), then `Lineage` as it was received; `None` without a
/// valid span.
pub(crate) fn header_of(cx: &Context) -> Option<String> {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return None;
    }
    let trace = sc.trace_id().to_string();
    let sampled = if sc.is_sampled() { '1' } else { '0' };
    let mut header = format!(
        "Root=1-{}-{};Parent={};Sampled={sampled}",
        &trace[..8],
        &trace[8..],
        sc.span_id()
    );
    if let Some(Lineage(Some(lineage))) = cx.get::<Lineage>() {
        header.push_str(";Lineage=");
        header.push_str(lineage);
    }
    Some(header)
}

fn fields() -> &'static [String] {
    static FIELDS: OnceLock<[String; 1]> = OnceLock::new();
    FIELDS.get_or_init(|| [XRAY_HEADER.to_owned()])
}

/// The `xray` propagator: the `X-Amzn-Trace-Id` header, read and written as the module
/// documentation says.
#[derive(Debug, Default)]
pub(crate) struct XrayPropagator;

impl TextMapPropagator for XrayPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        if let Some(header) = header_of(cx) {
            injector.set(XRAY_HEADER, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        extractor
            .get(XRAY_HEADER)
            .and_then(XrayHeader::parse)
            .map(|header| header.context(cx))
            .unwrap_or_else(|| cx.clone())
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}

/// The `xray-lambda` propagator of the AWS Lambda semantic conventions: the X-Ray propagator,
/// except that when no valid parent was found before it, the Lambda runtime's own trace header
/// (`Lambda-Runtime-Trace-Id`, also published as `_X_AMZN_TRACE_ID`) is applied on top.
#[derive(Debug, Default)]
pub(crate) struct XrayLambdaPropagator {
    xray: XrayPropagator,
}

impl TextMapPropagator for XrayLambdaPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
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
