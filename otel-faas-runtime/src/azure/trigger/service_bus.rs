//! `trigger = "service_bus"` (Azure Functions): a message of a Service Bus queue or topic
//! subscription, or a batch of them (`"cardinality": "many"`).
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
//!
//! A batch (`AzureEvent<ServiceBusBatch>`) has many producers: it starts a new trace, and its
//! CONSUMER span has `messaging.batch.message_count` (> 1 only) and a link per message that
//! carries a context (with the message's `messaging.message.id`), at most 128.

use std::marker::PhantomData;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _};
use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_MESSAGE_CONVERSATION_ID, MESSAGING_MESSAGE_ID,
    MESSAGING_SERVICEBUS_MESSAGE_DELIVERY_COUNT,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::azure::payload::{
    FromInvocation, PayloadError, RawInvocation, host_i64, host_i64s, host_string, host_strings,
    host_u64, host_u64s, lenient_object, lenient_objects, message_bodies, message_body,
};
use crate::azure::{AzureEvent, Context, FunctionBindings};
use crate::propagation::PropertiesCarrier;
use crate::redact::bounded;
use crate::telemetry::Telemetry;
use crate::trigger::messaging::{MAX_LINKS, consumer_attributes, span_name};
use crate::trigger::{FaasTrigger, InvocationContext, InvocationSpan, Spec, Trigger, TriggerSpan};

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

/// One message's metadata, each value in the host's encoding (strings as JSON text, counts as
/// `"2"`; see [`crate::azure::payload`]) or natively.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    #[serde(default, deserialize_with = "host_string")]
    message_id: Option<String>,
    #[serde(default, deserialize_with = "host_u64")]
    delivery_count: Option<u64>,
    #[serde(default, deserialize_with = "host_string")]
    correlation_id: Option<String>,
    #[serde(default, deserialize_with = "host_string")]
    session_id: Option<String>,
    #[serde(default, deserialize_with = "host_string")]
    content_type: Option<String>,
    #[serde(default, deserialize_with = "host_string")]
    subject: Option<String>,
    #[serde(default, deserialize_with = "host_string")]
    label: Option<String>,
    #[serde(default, deserialize_with = "host_i64")]
    sequence_number: Option<i64>,
    #[serde(default, deserialize_with = "host_string")]
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
        let data = host.take_trigger_data(bindings)?;
        if bindings.cardinality_many() == Some(true) {
            return Err(PayloadError(
                "function.json says `\"cardinality\": \"many\"`: this function receives batches of messages; \
                 take `AzureEvent<ServiceBusBatch>`"
                    .to_owned(),
            ));
        }
        let body = message_body(data, bindings.binary());
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

/// The messages of a Service Bus trigger with `"cardinality": "many"`.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ServiceBusBatch {
    /// The messages, in delivery order (`destination` and `subscription` are the batch's).
    pub messages: Vec<ServiceBusMessage>,
    /// The queue or topic, when the function's `function.json` names it.
    pub destination: Option<String>,
    /// The topic subscription, when the function's `function.json` names it.
    pub subscription: Option<String>,
}

/// A batch's metadata: each `*Array` a string holding a JSON array, as the host writes
/// `string[]`, `long[]` and `IDictionary[]` (see [`crate::azure::payload`]), or an array.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchMetadata {
    #[serde(default, deserialize_with = "host_strings")]
    message_id_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "host_u64s")]
    delivery_count_array: Vec<Option<u64>>,
    #[serde(default, deserialize_with = "host_strings")]
    correlation_id_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "host_strings")]
    content_type_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "host_strings")]
    subject_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "host_strings")]
    label_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "host_i64s")]
    sequence_number_array: Vec<Option<i64>>,
    #[serde(default, deserialize_with = "host_strings")]
    enqueued_time_utc_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "lenient_objects")]
    application_properties_array: Vec<Map<String, Value>>,
    #[serde(default, deserialize_with = "lenient_objects")]
    user_properties_array: Vec<Map<String, Value>>,
}

/// Item `i` of a metadata array.
fn nth<T: Clone>(array: &[Option<T>], i: usize) -> Option<T> {
    array.get(i).cloned().flatten()
}

impl FromInvocation for ServiceBusBatch {
    const TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn from_invocation(
        raw: RawInvocation,
        bindings: &FunctionBindings,
    ) -> Result<(Self, Map<String, Value>), PayloadError> {
        let mut host = raw.into_host("service_bus")?;
        let data = host.take_trigger_data(bindings)?;
        let bodies = match bindings.cardinality_many() {
            Some(false) => None,
            _ => message_bodies(&data, bindings.binary()),
        };
        let Some(bodies) = bodies else {
            return Err(PayloadError(
                "a Service Bus batch is an array of messages in Data; this function receives one \
                 message at a time (`\"cardinality\": \"one\"`): take `AzureEvent<ServiceBusMessage>`"
                    .to_owned(),
            ));
        };
        let meta: BatchMetadata = host.metadata_as()?;
        let properties = match meta.application_properties_array.is_empty() {
            true => &meta.user_properties_array,
            false => &meta.application_properties_array,
        };
        let messages = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| ServiceBusMessage {
                body,
                message_id: nth(&meta.message_id_array, i),
                delivery_count: nth(&meta.delivery_count_array, i),
                correlation_id: nth(&meta.correlation_id_array, i),
                session_id: None,
                content_type: nth(&meta.content_type_array, i),
                subject: nth(&meta.subject_array, i).or_else(|| nth(&meta.label_array, i)),
                sequence_number: nth(&meta.sequence_number_array, i),
                enqueued_time_utc: nth(&meta.enqueued_time_utc_array, i),
                application_properties: properties.get(i).cloned().unwrap_or_default(),
                destination: bindings.destination().map(str::to_owned),
                subscription: bindings.subscription().map(str::to_owned),
            })
            .collect();
        let batch = ServiceBusBatch {
            messages,
            destination: bindings.destination().map(str::to_owned),
            subscription: bindings.subscription().map(str::to_owned),
        };
        Ok((batch, host.metadata))
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An event the `service_bus` trigger accepts: `AzureEvent<ServiceBusMessage>`, or
/// `AzureEvent<ServiceBusBatch>` for `"cardinality": "many"`.
#[diagnostic::on_unimplemented(
    message = "the `service_bus` trigger (Azure Functions) takes `AzureEvent<ServiceBusMessage>` (or `AzureEvent<ServiceBusBatch>`), not `{Self}`",
    label = "expected `otel_faas_runtime::azure::AzureEvent<otel_faas_runtime::azure::ServiceBusMessage>` here",
    note = "for Amazon SQS or SNS on AWS Lambda use `trigger = \"sqs\"` or `trigger = \"sns\"`"
)]
pub trait ServiceBusInput: sealed::Sealed {
    /// The invocation.
    fn context(&self) -> &Context;
    /// The messages: one, or the batch's.
    fn messages(&self) -> &[ServiceBusMessage];
    /// The queue or topic.
    fn destination(&self) -> Option<&str>;
    /// The topic subscription.
    fn subscription(&self) -> Option<&str>;
    /// Whether the function takes batches (`"cardinality": "many"`).
    fn is_batch(&self) -> bool;
}

impl sealed::Sealed for AzureEvent<ServiceBusMessage> {}

impl ServiceBusInput for AzureEvent<ServiceBusMessage> {
    fn context(&self) -> &Context {
        &self.context
    }

    fn messages(&self) -> &[ServiceBusMessage] {
        std::slice::from_ref(&self.payload)
    }

    fn destination(&self) -> Option<&str> {
        self.payload.destination.as_deref()
    }

    fn subscription(&self) -> Option<&str> {
        self.payload.subscription.as_deref()
    }

    fn is_batch(&self) -> bool {
        false
    }
}

impl sealed::Sealed for AzureEvent<ServiceBusBatch> {}

impl ServiceBusInput for AzureEvent<ServiceBusBatch> {
    fn context(&self) -> &Context {
        &self.context
    }

    fn messages(&self) -> &[ServiceBusMessage] {
        &self.payload.messages
    }

    fn destination(&self) -> Option<&str> {
        self.payload.destination.as_deref()
    }

    fn subscription(&self) -> Option<&str> {
        self.payload.subscription.as_deref()
    }

    fn is_batch(&self) -> bool {
        true
    }
}

/// The `service_bus` trigger.
pub(crate) struct AzureServiceBus<I>(PhantomData<I>);

impl<I: ServiceBusInput> Trigger for AzureServiceBus<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;
    const ITEMS: &'static str = "messages";

    fn lambda_context(_input: &I) -> Option<&lambda_runtime::Context> {
        None
    }

    fn invocation_context(input: &I) -> Option<InvocationContext<'_>> {
        Some(InvocationContext::Azure(input.context()))
    }

    fn invocation(input: &I, _spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        span.parent = Some(match (input.is_batch(), input.messages()) {
            (false, [message]) => telemetry
                .propagation()
                .extract(&PropertiesCarrier(&message.application_properties), None),
            _ => opentelemetry::Context::new(),
        });
    }

    fn trigger_span(input: &I, _spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let destination = input.destination();
        let mut attributes = consumer_attributes(SYSTEM, destination, limit);
        if let Some(subscription) = input.subscription() {
            attributes.push(KeyValue::new(
                SUBSCRIPTION_NAME,
                bounded(subscription, limit),
            ));
        }
        let mut links = Vec::new();
        match (input.is_batch(), input.messages()) {
            (false, [message]) => message_attributes(message, limit, &mut attributes),
            (_, messages) => {
                if messages.len() > 1 {
                    attributes.push(KeyValue::new(
                        MESSAGING_BATCH_MESSAGE_COUNT,
                        messages.len() as i64,
                    ));
                }
                links = messages
                    .iter()
                    .filter_map(|message| link(message, telemetry))
                    .take(MAX_LINKS)
                    .collect();
            }
        }
        Some(TriggerSpan {
            name: span_name(destination, limit),
            kind: SpanKind::Consumer,
            attributes,
            links,
            batch_size: 0,
        })
    }
}

/// The attributes of the one message an invocation processes.
fn message_attributes(message: &ServiceBusMessage, limit: usize, out: &mut Vec<KeyValue>) {
    if let Some(id) = &message.message_id {
        out.push(KeyValue::new(MESSAGING_MESSAGE_ID, bounded(id, limit)));
    }
    if let Some(correlation) = &message.correlation_id {
        out.push(KeyValue::new(
            MESSAGING_MESSAGE_CONVERSATION_ID,
            bounded(correlation, limit),
        ));
    }
    if let Some(count) = message.delivery_count {
        out.push(KeyValue::new(
            MESSAGING_SERVICEBUS_MESSAGE_DELIVERY_COUNT,
            i64::try_from(count).unwrap_or(i64::MAX),
        ));
    }
}

/// A link to the producer of a message of a batch, when it carries a valid context.
fn link(message: &ServiceBusMessage, telemetry: &Telemetry) -> Option<Link> {
    let cx = telemetry
        .propagation()
        .extract(&PropertiesCarrier(&message.application_properties), None);
    let producer = cx.span().span_context().clone();
    if !producer.is_valid() {
        return None;
    }
    let attributes = message
        .message_id
        .as_deref()
        .map(|id| {
            vec![KeyValue::new(
                MESSAGING_MESSAGE_ID,
                bounded(id, telemetry.value_limit()),
            )]
        })
        .unwrap_or_default();
    Some(Link::new(producer, attributes, 0))
}
