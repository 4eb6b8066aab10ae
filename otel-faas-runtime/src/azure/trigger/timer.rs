//! `trigger = "timer"` (Azure Functions): a scheduled invocation of a timer trigger.
//!
//! ```text
//! {function}  SERVER  faas.trigger=timer, faas.time (the host's UtcNow), faas.cron (function.json's
//!                     schedule, NCRONTAB), azure.functions.timer.is_past_due,
//!                     faas.invocation_id, faas.name=<app>/<function>, faas.coldstart, cloud.resource_id
//! ```
//!
//! Every timer invocation is the root of a new trace: nothing upstream caused it, and the
//! host puts no trace context in a custom handler's request. The conventions have no
//! attribute for a late run; `azure.functions.timer.is_past_due` records the host's
//! `IsPastDue` — true when the run is later than scheduled, such as after a restart.

use std::marker::PhantomData;

use opentelemetry::KeyValue;
use opentelemetry_semantic_conventions::attribute::{FAAS_CRON, FAAS_TIME};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::azure::payload::{FromInvocation, PayloadError, RawInvocation, from_value};
use crate::azure::{AzureEvent, FunctionBindings};
use crate::redact::bounded;
use crate::telemetry::Telemetry;
use crate::trigger::{FaasTrigger, InvocationContext, InvocationSpan, Spec, Trigger};

/// Whether the run is later than its schedule.
const IS_PAST_DUE: &str = "azure.functions.timer.is_past_due";

/// A timer trigger's run, as the Functions host delivers it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct TimerInfo {
    /// `IsPastDue`: the run is later than scheduled.
    #[serde(default)]
    pub is_past_due: bool,
    /// `ScheduleStatus`: the last and next runs, when the host keeps them.
    #[serde(default)]
    pub schedule_status: Option<ScheduleStatus>,
    /// `Metadata.sys.UtcNow`: when the host started the run.
    #[serde(skip)]
    pub utc_now: Option<String>,
    /// The schedule, when the function's `function.json` gives it (NCRONTAB, six fields).
    #[serde(skip)]
    pub schedule: Option<String>,
}

/// The last and next runs of a timer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ScheduleStatus {
    /// `Last`.
    pub last: Option<String>,
    /// `Next`.
    pub next: Option<String>,
    /// `LastUpdated`.
    pub last_updated: Option<String>,
}

impl FromInvocation for TimerInfo {
    const TRIGGER: FaasTrigger = FaasTrigger::Timer;

    fn from_invocation(
        raw: RawInvocation,
        bindings: &FunctionBindings,
    ) -> Result<(Self, Map<String, Value>), PayloadError> {
        let mut host = raw.into_host("timer")?;
        let data = host.take_trigger_data(bindings)?;
        let mut timer: TimerInfo = from_value(data, "the timer's Data")?;
        timer.utc_now = host
            .metadata
            .get("sys")
            .and_then(|sys| sys.get("UtcNow"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        timer.schedule = bindings.schedule().map(str::to_owned);
        Ok((timer, host.metadata))
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An event the `timer` trigger accepts: `AzureEvent<TimerInfo>`.
#[diagnostic::on_unimplemented(
    message = "the `timer` trigger (Azure Functions) takes `AzureEvent<TimerInfo>`, not `{Self}`",
    label = "expected `otel_faas_runtime::azure::AzureEvent<otel_faas_runtime::azure::TimerInfo>` here",
    note = "for a schedule on AWS Lambda use `trigger = \"schedule\"` with `LambdaEvent<EventBridgeEvent>`"
)]
pub trait TimerInput: sealed::Sealed {
    /// The event.
    fn event(&self) -> &AzureEvent<TimerInfo>;
}

impl sealed::Sealed for AzureEvent<TimerInfo> {}

impl TimerInput for AzureEvent<TimerInfo> {
    fn event(&self) -> &AzureEvent<TimerInfo> {
        self
    }
}

/// The `timer` trigger.
pub(crate) struct AzureTimer<I>(PhantomData<I>);

impl<I: TimerInput> Trigger for AzureTimer<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Timer;

    fn lambda_context(_input: &I) -> Option<&lambda_runtime::Context> {
        None
    }

    fn invocation_context(input: &I) -> Option<InvocationContext<'_>> {
        Some(InvocationContext::Azure(&input.event().context))
    }

    fn invocation(input: &I, _spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        let timer = &input.event().payload;
        span.parent = Some(opentelemetry::Context::new());
        if let Some(now) = &timer.utc_now {
            span.attributes.push(KeyValue::new(
                FAAS_TIME,
                bounded(now, telemetry.value_limit()),
            ));
        }
        if let Some(schedule) = &timer.schedule {
            span.attributes.push(KeyValue::new(
                FAAS_CRON,
                bounded(schedule, telemetry.value_limit()),
            ));
        }
        span.attributes
            .push(KeyValue::new(IS_PAST_DUE, timer.is_past_due));
    }
}
