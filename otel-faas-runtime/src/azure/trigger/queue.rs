//! `trigger = "queue"` (Azure Functions): a message of an Azure Storage queue.
//!
//! ```text
//! {function}         SERVER    faas.trigger=pubsub, faas.invocation_id, faas.name=<app>/<function>, faas.coldstart, cloud.resource_id
//! └─ process {queue} CONSUMER  messaging.system=azure.storage.queue, messaging.operation.{type,name}=process,
//!                              messaging.destination.name (function.json's queueName), messaging.message.id,
//!                              azure.storage.queue.message.dequeue_count
//! ```
//!
//! The messaging conventions name no system for Storage queues: `messaging.system` is
//! `azure.storage.queue`, and the dequeue count (how often the message was delivered, the
//! host's `DequeueCount`) is `azure.storage.queue.message.dequeue_count`. A Storage queue
//! message carries no trace context, so each invocation starts a new trace.

use std::marker::PhantomData;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_semantic_conventions::attribute::MESSAGING_MESSAGE_ID;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::azure::payload::{
    FromInvocation, PayloadError, RawInvocation, host_string, host_u64, message_body,
};
use crate::azure::{AzureEvent, FunctionBindings};
use crate::redact::bounded;
use crate::telemetry::Telemetry;
use crate::trigger::messaging::{consumer_attributes, span_name};
use crate::trigger::{FaasTrigger, InvocationContext, Spec, Trigger, TriggerSpan};

/// `messaging.system` for Azure Storage queues.
const SYSTEM: &str = "azure.storage.queue";
/// How many times the message was delivered.
const DEQUEUE_COUNT: &str = "azure.storage.queue.message.dequeue_count";

/// A message of an Azure Storage queue, as the Functions host delivers it.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct QueueMessage {
    /// The message: a JSON value when its text is JSON, else a string.
    pub body: Value,
    /// `Id`.
    pub id: Option<String>,
    /// `DequeueCount`: 1 on the first delivery.
    pub dequeue_count: Option<u64>,
    /// `InsertionTime`.
    pub insertion_time: Option<String>,
    /// `ExpirationTime`.
    pub expiration_time: Option<String>,
    /// `NextVisibleTime`.
    pub next_visible_time: Option<String>,
    /// `PopReceipt`.
    pub pop_receipt: Option<String>,
    /// The queue, when the function's `function.json` names it.
    pub queue_name: Option<String>,
}

/// The queue trigger's metadata, each value in the host's encoding (ids as JSON text, the
/// dequeue count as `"4"`; see [`crate::azure::payload`]) or natively.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueMetadata {
    #[serde(default, deserialize_with = "host_string")]
    id: Option<String>,
    #[serde(default, deserialize_with = "host_u64")]
    dequeue_count: Option<u64>,
    #[serde(default, deserialize_with = "host_string")]
    insertion_time: Option<String>,
    #[serde(default, deserialize_with = "host_string")]
    expiration_time: Option<String>,
    #[serde(default, deserialize_with = "host_string")]
    next_visible_time: Option<String>,
    #[serde(default, deserialize_with = "host_string")]
    pop_receipt: Option<String>,
}

impl FromInvocation for QueueMessage {
    const TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn from_invocation(
        raw: RawInvocation,
        bindings: &FunctionBindings,
    ) -> Result<(Self, Map<String, Value>), PayloadError> {
        let mut host = raw.into_host("queue")?;
        let body = message_body(host.take_trigger_data(bindings)?, bindings.binary());
        let meta: QueueMetadata = host.metadata_as()?;
        let message = QueueMessage {
            body,
            id: meta.id,
            dequeue_count: meta.dequeue_count,
            insertion_time: meta.insertion_time,
            expiration_time: meta.expiration_time,
            next_visible_time: meta.next_visible_time,
            pop_receipt: meta.pop_receipt,
            queue_name: bindings.destination().map(str::to_owned),
        };
        Ok((message, host.metadata))
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An event the `queue` trigger accepts: `AzureEvent<QueueMessage>`.
#[diagnostic::on_unimplemented(
    message = "the `queue` trigger (Azure Storage queues, on Azure Functions) takes `AzureEvent<QueueMessage>`, not `{Self}`",
    label = "expected `otel_faas_runtime::azure::AzureEvent<otel_faas_runtime::azure::QueueMessage>` here",
    note = "for Amazon SQS on AWS Lambda use `trigger = \"sqs\"` with `LambdaEvent<SqsEvent>`; for Service Bus queues use `trigger = \"service_bus\"`"
)]
pub trait QueueInput: sealed::Sealed {
    /// The event.
    fn event(&self) -> &AzureEvent<QueueMessage>;
}

impl sealed::Sealed for AzureEvent<QueueMessage> {}

impl QueueInput for AzureEvent<QueueMessage> {
    fn event(&self) -> &AzureEvent<QueueMessage> {
        self
    }
}

/// The `queue` trigger.
pub(crate) struct AzureQueue<I>(PhantomData<I>);

impl<I: QueueInput> Trigger for AzureQueue<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn lambda_context(_input: &I) -> Option<&lambda_runtime::Context> {
        None
    }

    fn invocation_context(input: &I) -> Option<InvocationContext<'_>> {
        Some(InvocationContext::Azure(&input.event().context))
    }

    fn trigger_span(input: &I, _spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let message = &input.event().payload;
        let queue = message.queue_name.as_deref();
        let mut attributes = consumer_attributes(SYSTEM, queue, limit);
        if let Some(id) = &message.id {
            attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, bounded(id, limit)));
        }
        if let Some(count) = message.dequeue_count {
            attributes.push(KeyValue::new(
                DEQUEUE_COUNT,
                i64::try_from(count).unwrap_or(i64::MAX),
            ));
        }
        Some(TriggerSpan {
            name: span_name(queue, limit),
            kind: SpanKind::Consumer,
            attributes,
            links: Vec::new(),
            batch_size: 0,
        })
    }
}
