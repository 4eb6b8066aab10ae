//! `trigger = "schedule"`: a scheduled invocation, from an EventBridge rule
//! (`source: aws.events`) or EventBridge Scheduler (`source: aws.scheduler`).
//!
//! ```text
//! {function}  SERVER  faas.trigger=timer, faas.time (the scheduled time, ISO 8601 UTC),
//!                     faas.cron (the `cron` option), faas.invocation_id, faas.coldstart, cloud.*
//! ```
//!
//! Every scheduled invocation is the root of a new trace: nothing upstream caused it, so not
//! even the Lambda trace header is taken as its parent. The event names its rule or schedule
//! in `resources` but not its expression, so `faas.cron` comes from the attribute:
//! `cron = "0 9 * * ? *"` (or `"cron(0 9 * * ? *)"`; checked at compile time). A `rate(...)`
//! schedule has no cron expression and no `faas.cron`.
//!
//! Scheduler's default notification carries its `detail` as the string `"{}"`, not an
//! object: take the event as `EventBridgeEvent` (detail `serde_json::Value`) rather than
//! with a typed detail.

use std::marker::PhantomData;

use chrono::SecondsFormat;
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{FAAS_CRON, FAAS_TIME};

use super::eventbridge::EventBridgeInput;
use super::{FaasTrigger, InvocationSpan, Spec, Trigger};
use crate::telemetry::Telemetry;

/// The `schedule` trigger.
pub(crate) struct Schedule<I>(PhantomData<I>);

impl<I: EventBridgeInput> Trigger for Schedule<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Timer;

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn invocation(input: &I, spec: &Spec, _telemetry: &Telemetry, span: &mut InvocationSpan) {
        span.parent = Some(Context::new());
        if let Some(time) = input.event().time() {
            span.attributes.push(KeyValue::new(
                FAAS_TIME,
                time.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ));
        }
        if let Some(cron) = spec.cron {
            span.attributes.push(KeyValue::new(FAAS_CRON, cron));
        }
    }
}

/// Whether an event looks like a scheduled EventBridge event.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    super::eventbridge::recognises(event)
        && event.get("detail-type").and_then(|t| t.as_str()) == Some("Scheduled Event")
}
