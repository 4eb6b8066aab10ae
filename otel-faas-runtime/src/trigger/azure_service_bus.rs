//! `trigger = "service_bus"` (Azure Functions): a message of a Service Bus queue or topic
//! subscription.
//!
//! ```text
//! {function}               SERVER    faas.trigger=pubsub, faas.invocation_id, faas.name=<app>/<function>, …
//! └─ process {destination} CONSUMER  messaging.system=servicebus, messaging.operation.{type,name}=process,
//!                                    messaging.destination.name (function.json's queueName or topicName),
//!                                    messaging.destination.subscription.name, messaging.message.id,
//!                                    messaging.message.conversation_id (CorrelationId),
//!                                    messaging.servicebus.message.delivery_count
//! ```
//!
//! The producer's trace context is the message's `traceparent` application property, else
//! its `Diagnostic-Id` (what the Azure SDKs set, W3C `traceparent` format), read from
//! `ApplicationProperties` (or `UserProperties`, the older name the host also sends). One
//! message is one producer, so its context is the invocation span's parent, as an HTTP
//! caller's would be. A `Diagnostic-Id` in the old hierarchical `Request-Id` format
//! (`|abc.1.`), or any malformed value, starts a new trace.

use std::marker::PhantomData;

use opentelemetry::KeyValue;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::SpanKind;
use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_MESSAGE_CONVERSATION_ID, MESSAGING_MESSAGE_ID,
    MESSAGING_SERVICEBUS_MESSAGE_DELIVERY_COUNT,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::messaging::{consumer_attributes, span_name};
use super::{FaasTrigger, InvocationContext, InvocationSpan, Spec, Trigger, TriggerSpan};
use crate::azure::payload::{
    FromInvocation, PayloadError, RawInvocation, lenient_object, string_property,
};
use crate::azure::{AzureEvent, FunctionBindings};
use crate::redact::bounded;
use crate::telemetry::Telemetry;

/// `messaging.system` for Service Bus.
const SYSTEM: &str = "servicebus";
/// `messaging.destination.subscription.name`.
const SUBSCRIPTION_NAME: &str = "messaging.destination.subscription.name";

/// A Service Bus message, as the Functions host delivers it.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ServiceBusMessage {
    /// The body: a JSON value when it is JSON, else a string.
    pub body: Value,
    /// `MessageId`.
    pub message_id: Option<String>,
    /// `DeliveryCount`: 1 on the first delivery.
    pub delivery_count: Option<u64>,
    /// `CorrelationId`.
    pub correlation_id: Option<String>,
    /// `SessionId`.
    pub session_id: Option<String>,
    /// `ContentType`.
    pub content_type: Option<String>,
    /// `Subject` (`Label` on older extensions).
    pub subject: Option<String>,
    /// `SequenceNumber`.
    pub sequence_number: Option<i64>,
    /// `EnqueuedTimeUtc`.
    pub enqueued_time_utc: Option<String>,
    /// `ApplicationProperties` (`UserProperties` on older extensions).
    pub application_properties: Map<String, Value>,
    /// The queue or topic, when the function's `function.json` names it.
    pub destination: Option<String>,
    /// The topic subscription, when the function's `function.json` names it.
    pub subscription: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    message_id: Option<String>,
    delivery_count: Option<u64>,
    correlation_id: Option<String>,
    session_id: Option<String>,
    content_type: Option<String>,
    subject: Option<String>,
    label: Option<String>,
    sequence_number: Option<i64>,
    enqueued_time_utc: Option<String>,
    #[serde(default, deserialize_with = "lenient_object")]
    application_properties: Map<String, Value>,
    #[serde(default, deserialize_with = "lenient_object")]
    user_properties: Map<String, Value>,
}

impl FromInvocation for ServiceBusMessage {
    const TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn from_invocation(
        raw: RawInvocation,
        bindings: &FunctionBindings,
    ) -> Result<(Self, Map<String, Value>), PayloadError> {
        let mut host = raw.into_host("service_bus")?;
        let body = host.take_trigger_data(bindings)?;
        let meta: Metadata = host.metadata_as()?;
        let application_properties = match meta.application_properties.is_empty() {
            true => meta.user_properties,
            false => meta.application_properties,
        };
        let message = ServiceBusMessage {
            body,
            message_id: meta.message_id,
            delivery_count: meta.delivery_count,
            correlation_id: meta.correlation_id,
            session_id: meta.session_id,
            content_type: meta.content_type,
            subject: meta.subject.or(meta.label),
            sequence_number: meta.sequence_number,
            enqueued_time_utc: meta.enqueued_time_utc,
            application_properties,
            destination: bindings.destination().map(str::to_owned),
            subscription: bindings.subscription().map(str::to_owned),
        };
        Ok((message, host.metadata))
    }
}

/// Reads a message's (or an event's) application properties as a trace-context carrier:
/// `traceparent`, else `Diagnostic-Id`, and `tracestate`. Values that are not strings are
/// not there.
pub(crate) struct PropertiesCarrier<'a>(pub(crate) &'a Map<String, Value>);

impl Extractor for PropertiesCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => string_property(self.0, "traceparent")
                .or_else(|| string_property(self.0, "Diagnostic-Id")),
            _ => string_property(self.0, key),
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An event the `service_bus` trigger accepts: `AzureEvent<ServiceBusMessage>`.
#[diagnostic::on_unimplemented(
    message = "the `service_bus` trigger (Azure Functions) takes `AzureEvent<ServiceBusMessage>`, not `{Self}`",
    label = "expected `otel_faas_runtime::azure::AzureEvent<otel_faas_runtime::azure::ServiceBusMessage>` here",
    note = "for Amazon SQS or SNS on AWS Lambda use `trigger = \"sqs\"` or `trigger = \"sns\"`"
)]
pub trait ServiceBusInput: sealed::Sealed {
    /// The event.
    fn event(&self) -> &AzureEvent<ServiceBusMessage>;
}

impl sealed::Sealed for AzureEvent<ServiceBusMessage> {}

impl ServiceBusInput for AzureEvent<ServiceBusMessage> {
    fn event(&self) -> &AzureEvent<ServiceBusMessage> {
        self
    }
}

/// The `service_bus` trigger.
pub(crate) struct AzureServiceBus<I>(PhantomData<I>);

impl<I: ServiceBusInput> Trigger for AzureServiceBus<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn lambda_context(_input: &I) -> Option<&lambda_runtime::Context> {
        None
    }

    fn invocation_context(input: &I) -> Option<InvocationContext<'_>> {
        Some(InvocationContext::Azure(&input.event().context))
    }

    fn invocation(input: &I, _spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        let properties = &input.event().payload.application_properties;
        span.parent = Some(
            telemetry
                .propagation()
                .extract(&PropertiesCarrier(properties), None),
        );
    }

    fn trigger_span(input: &I, _spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let message = &input.event().payload;
        let destination = message.destination.as_deref();
        let mut attributes = consumer_attributes(SYSTEM, destination, limit);
        if let Some(subscription) = &message.subscription {
            attributes.push(KeyValue::new(
                SUBSCRIPTION_NAME,
                bounded(subscription, limit),
            ));
        }
        if let Some(id) = &message.message_id {
            attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, bounded(id, limit)));
        }
        if let Some(correlation) = &message.correlation_id {
            attributes.push(KeyValue::new(
                MESSAGING_MESSAGE_CONVERSATION_ID,
                bounded(correlation, limit),
            ));
        }
        if let Some(count) = message.delivery_count {
            attributes.push(KeyValue::new(
                MESSAGING_SERVICEBUS_MESSAGE_DELIVERY_COUNT,
                i64::try_from(count).unwrap_or(i64::MAX),
            ));
        }
        Some(TriggerSpan {
            name: span_name(destination, limit),
            kind: SpanKind::Consumer,
            attributes,
            links: Vec::new(),
            batch_size: 0,
        })
    }
}
