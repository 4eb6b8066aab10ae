//! X-Ray's `Sampled=?`: a caller asking this function to make the sampling decision, and
//! the head sampler that makes it.
//!
//! In X-Ray, `Sampled=?` (or a header without `Sampled`) means the caller has not decided
//! and "requests" a decision from the receiver: the AWS X-Ray SDKs apply their local
//! sampling rules to such a request (aws/aws-xray-sdk-node,
//! `packages/core/lib/middleware/mw_utils.js`, `resolveSampling`: anything but `1` or `0`
//! goes to `sampler.shouldSample`), and `aws-xray-sdk-java`'s `TraceHeader` names the value
//! `SampleDecision.REQUESTED`. The W3C Trace Context has no such state, and the OpenTelemetry
//! specification leaves the mapping open: the Python and Java propagators reject the whole
//! header (the trace is lost), and `opentelemetry-aws` turns it into a flag the parent-based
//! sampler reads as "not sampled" (the trace is dropped).
//!
//! What this crate does: the parent is kept (same trace, same parent span) and the decision
//! is the configured sampler's as if there were no parent — the root sampler of a
//! `parentbased_*` sampler (`always_on` by default: the trace is recorded), the sampler
//! itself otherwise (`traceidratio`, `always_on`, `always_off` ignore the parent anyway).
//! Every header written downstream then carries that decision, `Sampled=1` or `Sampled=0`
//! (and the W3C flags `01` or `00`), never `?`: the receiver made the decision and passes
//! it on, as an X-Ray SDK does.

use opentelemetry::trace::{Link, SpanId, SpanKind, TraceContextExt as _, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingResult, ShouldSample};

use crate::config::SamplerConfig;

/// In a context continued from an X-Ray header that asked for a decision: the remote
/// parent it names (so a context whose span is another one is not taken for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DecisionRequested {
    trace_id: TraceId,
    parent: SpanId,
}

impl DecisionRequested {
    pub(crate) fn of(trace_id: TraceId, parent: SpanId) -> Self {
        DecisionRequested { trace_id, parent }
    }

    /// Whether `cx`'s span is a remote parent that asked this function to decide.
    fn asked_by(cx: &Context) -> bool {
        let span = cx.span();
        let sc = span.span_context();
        sc.is_remote()
            && cx.get::<DecisionRequested>()
                == Some(&DecisionRequested::of(sc.trace_id(), sc.span_id()))
    }
}

/// The configured head sampler (`OTEL_TRACES_SAMPLER`), which decides by itself — as if
/// there were no parent — when the parent asked it to (see the module documentation).
#[derive(Clone, Debug)]
pub(crate) struct HeadSampler {
    configured: Sampler,
    on_request: Sampler,
}

impl HeadSampler {
    pub(crate) fn new(config: &SamplerConfig) -> Self {
        let on_request = match config {
            SamplerConfig::ParentBased(root) => sampler(root),
            other => sampler(other),
        };
        HeadSampler {
            configured: sampler(config),
            on_request,
        }
    }
}

fn sampler(config: &SamplerConfig) -> Sampler {
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(*ratio),
        SamplerConfig::ParentBased(root) => Sampler::ParentBased(Box::new(sampler(root))),
    }
}

impl ShouldSample for HeadSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let sampler = match parent_context.is_some_and(DecisionRequested::asked_by) {
            true => &self.on_request,
            false => &self.configured,
        };
        sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
    }
}
