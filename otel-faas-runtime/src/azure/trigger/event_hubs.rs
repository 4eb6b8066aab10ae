//! `trigger = "event_hubs"` (Azure Functions): a batch of events from one partition of an
//! event hub (`"cardinality": "many"`, or one event with `"one"`).
//!
//! ```text
//! {function}             SERVER    faas.trigger=pubsub, faas.invocation_id, faas.name=<app>/<function>, …
//! └─ process {event hub} CONSUMER  messaging.system=eventhubs, messaging.operation.{type,name}=process,
//!                                  messaging.destination.name, messaging.destination.partition.id,
//!                                  messaging.consumer.group.name, messaging.batch.message_count (> 1 only),
//!                                  one link per event that carries a trace context
//! ```
//!
//! An event's producer context is its `traceparent` property, else its `Diagnostic-Id`
//! (what the Azure SDKs set); a malformed value gives no link. At most 128 links are kept,
//! each with the event's `messaging.eventhubs.message.enqueued_time` (the registry's one Event
//! Hubs attribute; it has none for the sequence number or the offset).
//! The event hub is the host's `PartitionContext.EventHubName`, else `function.json`'s
//! `eventHubName`.

use std::marker::PhantomData;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt as _};
use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_CONSUMER_GROUP_NAME,
    MESSAGING_DESTINATION_PARTITION_ID,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::azure::payload::{
    FromInvocation, PayloadError, RawInvocation, host_i64, host_i64s, host_string, host_strings,
    lenient_object, lenient_objects, message_bodies, message_body,
};
use crate::azure::{AzureEvent, FunctionBindings};
use crate::propagation::PropertiesCarrier;
use crate::redact::bounded;
use crate::telemetry::Telemetry;
use crate::trigger::messaging::{MAX_LINKS, consumer_attributes, span_name};
use crate::trigger::{FaasTrigger, InvocationContext, Spec, Trigger, TriggerSpan};

/// `messaging.system` for Event Hubs.
const SYSTEM: &str = "eventhubs";
/// `messaging.eventhubs.message.enqueued_time`: UTC epoch seconds.
const ENQUEUED_TIME: &str = "messaging.eventhubs.message.enqueued_time";

/// The events of one invocation, and the partition they come from.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct EventHubsBatch {
    /// The events, in partition order.
    pub events: Vec<EventHubsEvent>,
    /// `PartitionContext.EventHubName`, else `function.json`'s `eventHubName`.
    pub event_hub_name: Option<String>,
    /// `PartitionContext.ConsumerGroup`.
    pub consumer_group: Option<String>,
    /// `PartitionContext.PartitionId`.
    pub partition_id: Option<String>,
}

/// One event of an event hub.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct EventHubsEvent {
    /// The body: a JSON value when it is JSON, else a string.
    pub body: Value,
    /// The application properties.
    pub properties: Map<String, Value>,
    /// The partition key.
    pub partition_key: Option<String>,
    /// The offset in the partition.
    pub offset: Option<String>,
    /// The sequence number in the partition.
    pub sequence_number: Option<i64>,
    /// When the event was enqueued.
    pub enqueued_time_utc: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PartitionContext {
    event_hub_name: Option<String>,
    consumer_group: Option<String>,
    partition_id: Option<String>,
}

/// The trigger's metadata, each value in the host's encoding (see [`crate::azure::payload`]):
/// a batch's `*Array` a string holding a JSON array, one event's strings as JSON text and
/// its sequence number as `"7"`; or natively.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    #[serde(default, deserialize_with = "lenient_object")]
    partition_context: Map<String, Value>,
    #[serde(default, deserialize_with = "lenient_objects")]
    properties_array: Vec<Map<String, Value>>,
    #[serde(default, deserialize_with = "host_strings")]
    partition_key_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "host_strings")]
    offset_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "host_i64s")]
    sequence_number_array: Vec<Option<i64>>,
    #[serde(default, deserialize_with = "host_strings")]
    enqueued_time_utc_array: Vec<Option<String>>,
    #[serde(default, deserialize_with = "lenient_object")]
    properties: Map<String, Value>,
    #[serde(default, deserialize_with = "host_string")]
    partition_key: Option<String>,
    #[serde(default, deserialize_with = "host_string")]
    offset: Option<String>,
    #[serde(default, deserialize_with = "host_i64")]
    sequence_number: Option<i64>,
    #[serde(default, deserialize_with = "host_string")]
    enqueued_time_utc: Option<String>,
}

/// Item `i` of a metadata array.
fn nth<T: Clone>(array: &[Option<T>], i: usize) -> Option<T> {
    array.get(i).cloned().flatten()
}

impl FromInvocation for EventHubsBatch {
    const TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn from_invocation(
        raw: RawInvocation,
        bindings: &FunctionBindings,
    ) -> Result<(Self, Map<String, Value>), PayloadError> {
        let mut host = raw.into_host("event_hubs")?;
        let data = host.take_trigger_data(bindings)?;
        let meta: Metadata = host.metadata_as()?;
        let partition: PartitionContext = crate::azure::payload::from_value(
            Value::Object(meta.partition_context.clone()),
            "Metadata.PartitionContext",
        )?;
        let batch = match bindings.cardinality_many() {
            Some(false) => None,
            _ => message_bodies(&data, bindings.binary()),
        };
        let events = match batch {
            Some(bodies) => bodies
                .into_iter()
                .enumerate()
                .map(|(i, body)| EventHubsEvent {
                    body,
                    properties: meta.properties_array.get(i).cloned().unwrap_or_default(),
                    partition_key: nth(&meta.partition_key_array, i),
                    offset: nth(&meta.offset_array, i),
                    sequence_number: nth(&meta.sequence_number_array, i),
                    enqueued_time_utc: nth(&meta.enqueued_time_utc_array, i),
                })
                .collect(),
            None => vec![EventHubsEvent {
                body: message_body(data, bindings.binary()),
                properties: meta.properties.clone(),
                partition_key: meta.partition_key.clone(),
                offset: meta.offset.clone(),
                sequence_number: meta.sequence_number,
                enqueued_time_utc: meta.enqueued_time_utc.clone(),
            }],
        };
        let batch = EventHubsBatch {
            events,
            event_hub_name: partition
                .event_hub_name
                .or_else(|| bindings.destination().map(str::to_owned)),
            consumer_group: partition.consumer_group,
            partition_id: partition.partition_id,
        };
        Ok((batch, host.metadata))
    }
}

mod sealed {
    pub trait Sealed {}
}

/// An event the `event_hubs` trigger accepts: `AzureEvent<EventHubsBatch>`.
#[diagnostic::on_unimplemented(
    message = "the `event_hubs` trigger (Azure Functions) takes `AzureEvent<EventHubsBatch>`, not `{Self}`",
    label = "expected `otel_faas_runtime::azure::AzureEvent<otel_faas_runtime::azure::EventHubsBatch>` here",
    note = "for Kinesis on AWS Lambda use `trigger = \"kinesis\"` with `LambdaEvent<KinesisEvent>`"
)]
pub trait EventHubsInput: sealed::Sealed {
    /// The event.
    fn event(&self) -> &AzureEvent<EventHubsBatch>;
}

impl sealed::Sealed for AzureEvent<EventHubsBatch> {}

impl EventHubsInput for AzureEvent<EventHubsBatch> {
    fn event(&self) -> &AzureEvent<EventHubsBatch> {
        self
    }
}

/// The `event_hubs` trigger.
pub(crate) struct AzureEventHubs<I>(PhantomData<I>);

impl<I: EventHubsInput> Trigger for AzureEventHubs<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;
    const ITEMS: &'static str = "events";

    fn lambda_context(_input: &I) -> Option<&lambda_runtime::Context> {
        None
    }

    fn invocation_context(input: &I) -> Option<InvocationContext<'_>> {
        Some(InvocationContext::Azure(&input.event().context))
    }

    fn trigger_span(input: &I, _spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let batch = &input.event().payload;
        let hub = batch.event_hub_name.as_deref();
        let mut attributes = consumer_attributes(SYSTEM, hub, limit);
        if let Some(partition) = &batch.partition_id {
            attributes.push(KeyValue::new(
                MESSAGING_DESTINATION_PARTITION_ID,
                bounded(partition, limit),
            ));
        }
        if let Some(group) = &batch.consumer_group {
            attributes.push(KeyValue::new(
                MESSAGING_CONSUMER_GROUP_NAME,
                bounded(group, limit),
            ));
        }
        if batch.events.len() > 1 {
            attributes.push(KeyValue::new(
                MESSAGING_BATCH_MESSAGE_COUNT,
                batch.events.len() as i64,
            ));
        }
        let links = batch
            .events
            .iter()
            .filter_map(|event| {
                let cx = telemetry
                    .propagation()
                    .extract(&PropertiesCarrier(&event.properties), None);
                let producer = cx.span().span_context().clone();
                producer.is_valid().then(|| link(producer, event))
            })
            .take(MAX_LINKS)
            .collect();
        Some(TriggerSpan {
            name: span_name(hub, limit),
            kind: SpanKind::Consumer,
            attributes,
            links,
            batch_size: 0,
        })
    }
}

/// A link to the producer of `event`, with the time it was enqueued: the semantic
/// conventions' registry names no Event Hubs sequence number or offset attribute (only
/// `messaging.eventhubs.message.enqueued_time`, in `model/messaging/registry.yaml`), so none
/// is invented.
fn link(producer: SpanContext, event: &EventHubsEvent) -> Link {
    let attributes = event
        .enqueued_time_utc
        .as_deref()
        .and_then(epoch_seconds)
        .map(|seconds| vec![KeyValue::new(ENQUEUED_TIME, seconds)])
        .unwrap_or_default();
    Link::new(producer, attributes, 0)
}

/// `EnqueuedTimeUtc` as UTC epoch seconds. The host writes a `DateTime` without its kind
/// (`2026-11-21T08:59:58`), or with an offset; either is read as UTC.
fn epoch_seconds(time: &str) -> Option<i64> {
    let time = time.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(time) {
        return Some(at.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|at| at.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_enqueued_time_is_read_with_or_without_an_offset() {
        assert_eq!(epoch_seconds("2023-12-01T01:22:10Z"), Some(1_701_393_730));
        assert_eq!(
            epoch_seconds("2023-12-01T01:22:10.1234567"),
            Some(1_701_393_730)
        );
        assert_eq!(
            epoch_seconds("2023-12-01T02:22:10+01:00"),
            Some(1_701_393_730)
        );
        assert_eq!(epoch_seconds("yesterday"), None);
    }
}
