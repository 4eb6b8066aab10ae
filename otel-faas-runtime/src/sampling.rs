//! Invocation-level keep rules: head sampling decides at the first span, these decide when
//! the invocation has ended, and keep what head sampling would have thrown away.
//!
//! A head sampler at 5 % drops 95 % of traces before anything is known about them —
//! including the one invocation that failed. With keep rules on, spans the head sampler
//! drops are still *recorded* (the SDK's `RecordOnly`: not sampled, so the `sampled` flag
//! that goes downstream is the head sampler's), held in the invocation's buffer, and decided
//! per trace at the flush that ends the invocation:
//!
//! | rule (`OTEL_FAAS_KEEP`) | keeps a trace when |
//! |---|---|
//! | `errors` | any of its spans has status Error (a failed invocation, a failed record, a timeout, a malformed event) |
//! | `coldstarts` | its invocation span is a cold start (`faas.coldstart=true`) |
//! | `slow` | its invocation span lasted at least `OTEL_FAAS_KEEP_SLOWER_THAN` (ms, default 1000) |
//!
//! A kept trace is exported as if sampled, and its invocation span carries
//! `otel_faas.sampling.kept_by` (`error`, `coldstart` or `slow`); the others are discarded
//! and counted in [`crate::Telemetry::sampled_out_spans`]. The default is all three rules;
//! `OTEL_FAAS_KEEP=none` gives plain head sampling, where dropped spans are not even recorded.
//! `OTEL_TRACES_SAMPLER=always_off` means what it says: nothing is recorded, whatever the
//! rules.
//!
//! The trade-off: services called during the invocation saw the unsampled flag and did not
//! record their part, so a kept trace may show this function alone. And every invocation
//! costs what a sampled one costs in process (its spans are recorded); only the export is
//! saved. With the default `parentbased_always_on` sampler nothing is dropped and the rules
//! never apply.

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::trace::{Link, SpanContext, SpanKind, Status, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample, SpanData};
use opentelemetry_semantic_conventions::attribute::{FAAS_COLDSTART, FAAS_INVOCATION_ID};

use crate::propagation::HeadSampler;

/// The attribute a kept trace's invocation span carries: why it was kept.
pub const KEPT_BY: &str = "otel_faas.sampling.kept_by";

/// Which traces the head sampler dropped are kept anyway; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepRules {
    /// Keep traces with an error.
    pub errors: bool,
    /// Keep cold starts.
    pub coldstarts: bool,
    /// Keep invocations at least this slow.
    pub slower_than: Option<Duration>,
}

impl KeepRules {
    /// No rule: plain head sampling.
    pub const NONE: KeepRules = KeepRules {
        errors: false,
        coldstarts: false,
        slower_than: None,
    };

    /// Every rule, with `slower_than` as the slow threshold.
    pub const fn all(slower_than: Duration) -> KeepRules {
        KeepRules {
            errors: true,
            coldstarts: true,
            slower_than: Some(slower_than),
        }
    }

    /// Whether any rule is on (and dropped spans must be recorded).
    pub fn any(&self) -> bool {
        self.errors || self.coldstarts || self.slower_than.is_some()
    }

    /// Why `trace` is kept, if a rule keeps it.
    fn reason(&self, trace: &[SpanData]) -> Option<&'static str> {
        if self.errors
            && trace
                .iter()
                .any(|s| matches!(s.status, Status::Error { .. }))
        {
            return Some("error");
        }
        let invocation = trace.iter().find(|s| is_invocation(s));
        if self.coldstarts
            && invocation.is_some_and(|s| attribute(s, FAAS_COLDSTART) == Some(&Value::Bool(true)))
        {
            return Some("coldstart");
        }
        let slow = |threshold: Duration| {
            invocation.is_some_and(|s| {
                s.end_time
                    .duration_since(s.start_time)
                    .is_ok_and(|d| d >= threshold)
            })
        };
        if self.slower_than.is_some_and(slow) {
            return Some("slow");
        }
        None
    }
}

fn is_invocation(span: &SpanData) -> bool {
    span.span_kind == SpanKind::Server && attribute(span, FAAS_INVOCATION_ID).is_some()
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The head sampler, with what it drops recorded (not sampled) so a keep rule can still
/// keep it.
#[derive(Clone, Debug)]
pub(crate) struct KeepingSampler(pub(crate) HeadSampler);

impl ShouldSample for KeepingSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let mut result =
            self.0
                .should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        if result.decision == SamplingDecision::Drop {
            result.decision = SamplingDecision::RecordOnly;
        }
        result
    }
}

/// Decides the recorded-but-unsampled spans of the ended invocation: the traces a rule keeps,
/// marked sampled and with the reason on their invocation span, and how many spans were
/// discarded.
pub(crate) fn decide(rules: &KeepRules, pending: Vec<SpanData>) -> (Vec<SpanData>, usize) {
    if pending.is_empty() {
        return (pending, 0);
    }
    let mut traces: HashMap<TraceId, Vec<SpanData>> = HashMap::new();
    for span in pending {
        traces
            .entry(span.span_context.trace_id())
            .or_default()
            .push(span);
    }
    let mut kept = Vec::new();
    let mut discarded = 0;
    for (_, mut trace) in traces {
        let Some(reason) = rules.reason(&trace) else {
            discarded += trace.len();
            continue;
        };
        let marked = trace.iter().position(is_invocation).unwrap_or(0);
        trace[marked]
            .attributes
            .push(KeyValue::new(KEPT_BY, reason));
        for span in &mut trace {
            let sc = &span.span_context;
            span.span_context = SpanContext::new(
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().with_sampled(true),
                sc.is_remote(),
                sc.trace_state().clone(),
            );
        }
        kept.extend(trace);
    }
    (kept, discarded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceState};
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::SystemTime;

    fn span(
        trace: u128,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
        status: Status,
        ms: u64,
    ) -> SpanData {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(trace as u64 + 1),
                TraceFlags::default(),
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: kind,
            name: "s".into(),
            start_time: start,
            end_time: start + Duration::from_millis(ms),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: Default::default(),
        }
    }

    fn invocation(trace: u128, coldstart: bool, status: Status, ms: u64) -> SpanData {
        let attributes = vec![
            KeyValue::new(FAAS_INVOCATION_ID, "r"),
            KeyValue::new(FAAS_COLDSTART, coldstart),
        ];
        span(trace, SpanKind::Server, attributes, status, ms)
    }

    fn kept_reasons(rules: KeepRules, pending: Vec<SpanData>) -> Vec<(u128, String)> {
        let (kept, _) = decide(&rules, pending);
        let mut reasons: Vec<(u128, String)> = kept
            .iter()
            .filter_map(|s| {
                assert!(
                    s.span_context.is_sampled(),
                    "kept spans are exported as sampled"
                );
                attribute(s, KEPT_BY).map(|r| {
                    (
                        u128::from_be_bytes(s.span_context.trace_id().to_bytes()),
                        r.to_string(),
                    )
                })
            })
            .collect();
        reasons.sort();
        reasons
    }

    #[test]
    fn each_rule_keeps_its_traces_and_nothing_else() {
        let error = Status::error("boom");
        let pending = vec![
            invocation(1, false, Status::Unset, 5),
            invocation(2, true, Status::Unset, 5),
            invocation(3, false, Status::Unset, 1500),
            invocation(4, false, Status::Unset, 5),
            span(4, SpanKind::Internal, vec![], error, 1),
        ];
        let all = KeepRules::all(Duration::from_secs(1));
        assert_eq!(
            kept_reasons(all, pending.clone()),
            [
                (2, "coldstart".to_owned()),
                (3, "slow".to_owned()),
                (4, "error".to_owned())
            ]
        );
        let errors_only = KeepRules {
            errors: true,
            ..KeepRules::NONE
        };
        assert_eq!(
            kept_reasons(errors_only, pending.clone()),
            [(4, "error".to_owned())]
        );
        let (kept, discarded) = decide(&KeepRules::NONE, pending);
        assert!(kept.is_empty());
        assert_eq!(discarded, 5);
    }

    #[test]
    fn a_kept_trace_keeps_every_span_of_it() {
        let pending = vec![
            invocation(7, false, Status::Unset, 5),
            span(7, SpanKind::Internal, vec![], Status::error("x"), 1),
            span(7, SpanKind::Consumer, vec![], Status::Unset, 1),
        ];
        let (kept, discarded) = decide(&KeepRules::all(Duration::from_secs(1)), pending);
        assert_eq!((kept.len(), discarded), (3, 0));
    }
}
