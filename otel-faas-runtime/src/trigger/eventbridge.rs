//! `trigger = "eventbridge"`: an Amazon EventBridge event delivered by a rule.
//!
//! ```text
//! {function}  SERVER    faas.trigger=pubsub, faas.invocation_id, faas.coldstart, cloud.*
//! └─ process  CONSUMER  messaging.system=aws.eventbridge,
//!                       messaging.operation.{type,name}=process,
//!                       messaging.message.id and cloudevents.event_id (the event id),
//!                       cloudevents.event_source (source),
//!                       cloudevents.event_type (detail-type)
//! ```
//!
//! Where the conventions cannot be met: the messaging conventions name a consumer span
//! `{operation} {destination}` and require `messaging.destination.name` when it applies to
//! the whole batch, but the event Lambda receives does not say which bus it came through.
//! So the span is named `process` alone (the conventions' form without a destination) and
//! has no destination; a detail-type is what happened, not where it went, and is recorded
//! as `cloudevents.event_type` instead. The source and detail-type go in the CloudEvents
//! attributes, the conventions' names for an event's producer and type (EventBridge events
//! map onto CloudEvents one to one).
//!
//! EventBridge carries no trace context of its own, only the X-Ray trace header when the
//! rule's target has active tracing (that one arrives as the Lambda trace header and is
//! honoured by the `xray-lambda` propagator). A producer can put its context in the event's
//! `detail` — `traceparent`/`tracestate`/`baggage` at its top level or in a `traceContext`
//! object, or an X-Ray header under `AWSTraceHeader` — and the handler asks for it:
//! `links_from = "detail"` links the consumer span to it, `parent_from = "detail"` makes it
//! the invocation span's parent (one trace from producer to consumer). A typed detail is
//! serialized to be searched, so the context must be one of its fields; with
//! `serde_json::Value` (the default) nothing is lost. A malformed context is ignored.

use std::marker::PhantomData;

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use opentelemetry::trace::{Link, SpanKind};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    CLOUDEVENTS_EVENT_ID, CLOUDEVENTS_EVENT_SOURCE, CLOUDEVENTS_EVENT_TYPE, MESSAGING_MESSAGE_ID,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::messaging::{consumer_attributes, span_name};
use super::{FaasTrigger, InvocationSpan, LinksFrom, ParentFrom, Spec, Trigger, TriggerSpan};
use crate::propagation::json::Carried;
use crate::redact::bounded;
use crate::telemetry::Telemetry;

/// Seals the input trait: only the event types this crate knows implement it.
mod sealed {
    pub trait Sealed {}
}

/// `messaging.system` for EventBridge (not a registered value; named as `aws.sns` is).
const SYSTEM: &str = "aws.eventbridge";

/// The parts of an EventBridge event the trace uses.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    id: Option<&'a str>,
    source: Option<&'a str>,
    detail_type: Option<&'a str>,
    time: Option<&'a DateTime<Utc>>,
    resources: &'a [String],
}

impl<'a> EventView<'a> {
    /// The event id.
    pub fn id(&self) -> Option<&'a str> {
        self.id.filter(|s| !s.is_empty())
    }

    /// Who sent it (`aws.ec2`, `com.example.orders`).
    pub fn source(&self) -> Option<&'a str> {
        self.source.filter(|s| !s.is_empty())
    }

    /// What happened (`Order Placed`, `Scheduled Event`).
    pub fn detail_type(&self) -> Option<&'a str> {
        self.detail_type.filter(|s| !s.is_empty())
    }

    /// When it happened.
    pub fn time(&self) -> Option<&'a DateTime<Utc>> {
        self.time
    }

    /// The ARNs of the resources involved (for a schedule, the rule or schedule).
    pub fn resources(&self) -> &'a [String] {
        self.resources
    }
}

/// An event the `eventbridge` and `schedule` triggers accept: `LambdaEvent<EventBridgeEvent<T>>`
/// or `LambdaEvent<CloudWatchEvent<T>>`, with `T` the detail (`serde_json::Value` by default).
#[diagnostic::on_unimplemented(
    message = "the `eventbridge` and `schedule` triggers take `LambdaEvent<EventBridgeEvent>`, not `{Self}`",
    label = "expected `lambda_runtime::LambdaEvent<aws_lambda_events::eventbridge::EventBridgeEvent>` here",
    note = "`CloudWatchEvent` works too; the detail type is yours to choose, `serde_json::Value` by default"
)]
pub trait EventBridgeInput: sealed::Sealed {
    /// The invocation's Lambda context.
    fn context(&self) -> &lambda_runtime::Context;
    /// The event's envelope.
    fn event(&self) -> EventView<'_>;
    /// The trace context carried in the detail, if any.
    fn detail_context(&self, telemetry: &Telemetry) -> Option<Context>;
}

fn context_in<T: Serialize>(detail: &T, telemetry: &Telemetry) -> Option<Context> {
    let value = serde_json::to_value(detail).ok()?;
    Carried::from_value(&value).context(telemetry)
}

impl<T: Serialize + DeserializeOwned> sealed::Sealed for LambdaEvent<EventBridgeEvent<T>> {}

impl<T: Serialize + DeserializeOwned> EventBridgeInput for LambdaEvent<EventBridgeEvent<T>> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn event(&self) -> EventView<'_> {
        let event = &self.payload;
        EventView {
            id: event.id.as_deref(),
            source: Some(&event.source),
            detail_type: Some(&event.detail_type),
            time: event.time.as_ref(),
            resources: event.resources.as_deref().unwrap_or_default(),
        }
    }

    fn detail_context(&self, telemetry: &Telemetry) -> Option<Context> {
        context_in(&self.payload.detail, telemetry)
    }
}

impl<T: Serialize + DeserializeOwned> sealed::Sealed for LambdaEvent<CloudWatchEvent<T>> {}

impl<T: Serialize + DeserializeOwned> EventBridgeInput for LambdaEvent<CloudWatchEvent<T>> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn event(&self) -> EventView<'_> {
        let event = &self.payload;
        EventView {
            id: event.id.as_deref(),
            source: event.source.as_deref(),
            detail_type: event.detail_type.as_deref(),
            time: Some(&event.time),
            resources: &event.resources,
        }
    }

    fn detail_context(&self, telemetry: &Telemetry) -> Option<Context> {
        context_in(self.payload.detail.as_ref()?, telemetry)
    }
}

/// The `eventbridge` trigger.
pub(crate) struct EventBridge<I>(PhantomData<I>);

impl<I: EventBridgeInput> Trigger for EventBridge<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn invocation(input: &I, spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        if spec.parent_from == ParentFrom::Detail {
            span.parent = input.detail_context(telemetry);
        }
    }

    fn trigger_span(input: &I, spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let event = input.event();
        let mut attributes = consumer_attributes(SYSTEM, None, limit);
        let fields = [
            (MESSAGING_MESSAGE_ID, event.id()),
            // Required beside `cloudevents.event_source` by the CloudEvents conventions
            // (`model/cloudevents/spans.yaml`).
            (CLOUDEVENTS_EVENT_ID, event.id()),
            (CLOUDEVENTS_EVENT_SOURCE, event.source()),
            (CLOUDEVENTS_EVENT_TYPE, event.detail_type()),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                attributes.push(KeyValue::new(key, bounded(value, limit)));
            }
        }
        let links = match spec.links_from {
            LinksFrom::Detail => input
                .detail_context(telemetry)
                .map(|cx| {
                    use opentelemetry::trace::TraceContextExt as _;
                    Link::new(cx.span().span_context().clone(), Vec::new(), 0)
                })
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        Some(TriggerSpan {
            name: span_name(None, limit),
            kind: SpanKind::Consumer,
            attributes,
            links,
            batch_size: 0,
        })
    }
}

/// Whether an event looks like an EventBridge (CloudWatch Events) event: `source` and
/// `detail`.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    event.get("source").is_some() && event.get("detail").is_some()
}
