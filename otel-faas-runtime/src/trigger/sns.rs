//! `trigger = "sns"`: Amazon SNS notifications.
//!
//! ```text
//! {function}         SERVER    faas.trigger=pubsub, faas.invocation_id, faas.coldstart, cloud.*
//! └─ process {topic} CONSUMER  messaging.system=aws.sns, messaging.operation.{type,name}=process,
//!                              messaging.destination.name (the topic name from its ARN),
//!                              aws.sns.topic.arn, messaging.message.id (one notification) or
//!                              messaging.batch.message_count (> 1), a link per notification
//!                              that carries a trace context
//! ```
//!
//! SNS gives a notification no system attribute for the producer's trace, so the context is
//! read from its message attributes: `traceparent`/`tracestate`/`baggage` (String attributes,
//! read with the configured propagators), or else an X-Ray header under `AWSTraceHeader` or
//! `X-Amzn-Trace-Id`. With SNS active tracing on, the producer's X-Ray trace also arrives as
//! the invocation's Lambda trace header, which the `xray-lambda` propagator turns into the
//! invocation span's parent. Lambda delivers one notification per invocation today; a batch
//! of several is traced as the SQS batch is (count, and a link each), and a batch mixing
//! topics has no destination.

use std::collections::HashMap;
use std::marker::PhantomData;

use aws_lambda_events::event::sns::{MessageAttribute, SnsEvent, SnsEventObj, SnsMessage};
use lambda_runtime::LambdaEvent;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt};
use opentelemetry_semantic_conventions::attribute::{
    AWS_SNS_TOPIC_ARN, MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_MESSAGE_ID,
};
use serde::Serialize;

use super::messaging::{MAX_LINKS, common, consumer_attributes, span_name};
use super::{FaasTrigger, Spec, Trigger, TriggerSpan};
use crate::propagation::wire::{AWS_TRACE_HEADER, XRAY_ATTRIBUTE};
use crate::propagation::{SnsAttributes, xray_span_context};
use crate::redact::bounded;
use crate::telemetry::Telemetry;

/// Seals the input trait: only the event types this crate knows implement it.
mod sealed {
    pub trait Sealed {}
}

/// `messaging.system` for SNS.
const SYSTEM: &str = "aws.sns";
/// Message attributes that may carry an X-Ray header.
const XRAY_ATTRIBUTES: [&str; 2] = [AWS_TRACE_HEADER, XRAY_ATTRIBUTE];

/// The parts of an SNS notification the trace uses.
#[derive(Clone, Copy, Debug)]
pub struct NotificationView<'a> {
    id: &'a str,
    topic_arn: &'a str,
    attributes: &'a HashMap<String, MessageAttribute>,
}

impl<'a> NotificationView<'a> {
    /// The notification's message id.
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// The topic name: the last field of the topic ARN.
    pub fn topic(&self) -> Option<&'a str> {
        self.topic_arn.rsplit(':').next().filter(|t| !t.is_empty())
    }

    /// The producer's span context, from the message attributes.
    fn producer(&self, telemetry: &Telemetry) -> Option<SpanContext> {
        let cx = telemetry
            .propagation()
            .extract(&SnsAttributes(self.attributes), None);
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            return Some(sc);
        }
        XRAY_ATTRIBUTES
            .iter()
            .filter_map(|name| self.attributes.get(*name))
            .find_map(|a| xray_span_context(&a.value))
    }

    fn link(&self, telemetry: &Telemetry) -> Option<Link> {
        let producer = self.producer(telemetry)?;
        let id = KeyValue::new(
            MESSAGING_MESSAGE_ID,
            bounded(self.id, telemetry.value_limit()),
        );
        Some(Link::new(producer, vec![id], 0))
    }
}

/// An event the `sns` trigger accepts: `LambdaEvent<SnsEvent>`, or `LambdaEvent<SnsEventObj<T>>`
/// for JSON messages deserialized into `T`.
#[diagnostic::on_unimplemented(
    message = "the `sns` trigger takes `LambdaEvent<SnsEvent>`, not `{Self}`",
    label = "expected `lambda_runtime::LambdaEvent<aws_lambda_events::sns::SnsEvent>` here",
    note = "for another payload use `trigger = \"other\"`"
)]
pub trait SnsEventInput: sealed::Sealed {
    /// The invocation's Lambda context.
    fn context(&self) -> &lambda_runtime::Context;
    /// The notifications.
    fn notifications(&self) -> Vec<NotificationView<'_>>;
}

impl sealed::Sealed for LambdaEvent<SnsEvent> {}

impl SnsEventInput for LambdaEvent<SnsEvent> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn notifications(&self) -> Vec<NotificationView<'_>> {
        self.payload.records.iter().map(|r| view(&r.sns)).collect()
    }
}

impl<T: Serialize> sealed::Sealed for LambdaEvent<SnsEventObj<T>> {}

impl<T: Serialize> SnsEventInput for LambdaEvent<SnsEventObj<T>> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn notifications(&self) -> Vec<NotificationView<'_>> {
        self.payload
            .records
            .iter()
            .map(|r| NotificationView {
                id: &r.sns.message_id,
                topic_arn: &r.sns.topic_arn,
                attributes: &r.sns.message_attributes,
            })
            .collect()
    }
}

fn view(message: &SnsMessage) -> NotificationView<'_> {
    NotificationView {
        id: &message.message_id,
        topic_arn: &message.topic_arn,
        attributes: &message.message_attributes,
    }
}

/// The `sns` trigger.
pub(crate) struct Sns<I>(PhantomData<I>);

impl<I: SnsEventInput> Trigger for Sns<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;
    const ITEMS: &'static str = "messages";

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn trigger_span(input: &I, _spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let notifications = input.notifications();
        let topic = common(notifications.iter().map(NotificationView::topic));
        let mut attributes = consumer_attributes(SYSTEM, topic, limit);
        let arn = common(notifications.iter().map(|n| Some(n.topic_arn)));
        if let Some(arn) = arn.filter(|a| !a.is_empty()) {
            attributes.push(KeyValue::new(AWS_SNS_TOPIC_ARN, bounded(arn, limit)));
        }
        match notifications.as_slice() {
            [one] => attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, bounded(one.id, limit))),
            [] => {}
            many => attributes.push(KeyValue::new(
                MESSAGING_BATCH_MESSAGE_COUNT,
                many.len() as i64,
            )),
        }
        let links = notifications
            .iter()
            .filter_map(|n| n.link(telemetry))
            .take(MAX_LINKS)
            .collect();
        Some(TriggerSpan {
            name: span_name(topic, limit),
            kind: SpanKind::Consumer,
            attributes,
            links,
            batch_size: 0,
        })
    }
}

/// Whether an event looks like an SNS delivery.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    super::first_record_source(event) == Some("aws:sns")
}
