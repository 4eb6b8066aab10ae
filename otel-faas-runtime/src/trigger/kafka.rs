//! `trigger = "kafka"`: a batch of Apache Kafka records, from an Amazon MSK or a
//! self-managed Kafka event source mapping.
//!
//! ```text
//! {function}         SERVER    faas.trigger=pubsub, faas.invocation_id, faas.coldstart, cloud.*
//! └─ process {topic} CONSUMER  messaging.system=kafka, messaging.operation.{type,name}=process,
//!    │                         messaging.destination.name (the topic, when every record agrees),
//!    │                         messaging.destination.partition.id (when every record is of one
//!    │                         partition of that topic), messaging.batch.message_count (> 1);
//!    │                         with one record, also that record's attributes below
//!    └─ process {topic} CONSUMER  (per_record mode, or `process_record`) one per record:
//!                                 messaging.destination.{name,partition.id},
//!                                 messaging.kafka.offset, messaging.kafka.message.key (when the
//!                                 key is UTF-8), messaging.kafka.message.tombstone (no value)
//! ```
//!
//! The event, as Lambda delivers it for both sources (`eventSource` `aws:kafka` for MSK,
//! `SelfManagedKafka` for a self-managed cluster), is described in AWS's "Using Lambda with
//! Amazon MSK" and "Using Lambda with self-managed Apache Kafka" guides
//! (<https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html>,
//! <https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html>, "Example event"):
//! `records` maps `{topic}-{partition}` to that partition's records, in offset order; a
//! record's `key` and `value` are base64, and its `headers` are a list of one-key maps whose
//! values are the header's bytes as JSON numbers — Java's signed bytes, so a byte over 127
//! arrives negative, which is why `aws_lambda_events` reads them as `i8`.
//!
//! Batches with records of several topics (one event source mapping can subscribe to more
//! than one) get the span name `process` and no destination, as the messaging conventions
//! ask when a batch has no single destination; the records' own spans name theirs. Records
//! are traced topic by topic, partition by partition, in offset order, whatever the order of
//! the JSON object. The conventions' `messaging.consumer.group.name` is not recorded: Lambda
//! does not put the consumer group in the event. (Newer conventions rename
//! `messaging.kafka.offset` and `messaging.kafka.message.key` to `kafka.offset` and
//! `kafka.message.key`; the names here are those of `opentelemetry-semantic-conventions`,
//! which the rest of the crate follows.)
//!
//! Links: a record whose `traceparent` header (with `tracestate`, if any) holds a valid W3C
//! trace context, read with the configured propagators, gives one link, carrying the record's
//! partition and offset. A header that is not UTF-8, too long, or not a valid context gives
//! no link; it never fails the invocation.
//!
//! In `per_record` mode the records are handled in order, and a failed record stops the
//! batch: the invocation fails with [`super::RecordsFailed`], which counts that record and
//! the ones after it, and Lambda retries the whole batch from its first record. That is the
//! behaviour of a Kafka event source mapping under every configuration ("Configuring error
//! handling controls for Kafka event sources",
//! <https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html>): a
//! function error retries the batch, and the records after a failure in a partition must not
//! be committed before it. Kafka's partial batch response exists only for mappings in
//! provisioned mode with `ReportBatchItemFailures` turned on, names a record by topic,
//! partition and offset rather than by one string, and has no type in `aws_lambda_events`
//! 1.2 yet; failing the invocation is correct whether or not a mapping has it on.

use std::cmp::Ordering;
use std::marker::PhantomData;

use aws_lambda_events::event::kafka::{KafkaEvent, KafkaRecord};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lambda_runtime::LambdaEvent;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt as _};
use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_DESTINATION_PARTITION_ID, MESSAGING_KAFKA_MESSAGE_KEY,
    MESSAGING_KAFKA_MESSAGE_TOMBSTONE, MESSAGING_KAFKA_OFFSET,
};

use super::RecordsFailed;
use super::messaging::{MAX_LINKS, common, consumer_attributes, span_name};
use super::records::sealed;
use super::{FaasTrigger, Spec, Trigger, TriggerSpan};
use crate::propagation::{CONTEXT_HEADERS, ContextHeaders};
use crate::redact::bounded;
use crate::telemetry::Telemetry;

/// Seals the input traits: only the event types this crate knows implement them.
mod seal {
    pub trait Sealed {}
}

/// `messaging.system` for Kafka, as the semantic conventions register it.
const SYSTEM: &str = "kafka";

/// The partition of a record as the attribute writes it.
fn partition(record: &KafkaRecord) -> String {
    record.partition.to_string()
}

/// The order records are traced in: by topic, then partition. Sorted stably, the records
/// of a partition keep the order Lambda delivered them in (offset order), whatever the order
/// of the event's JSON object.
fn trace_order(a: &KafkaRecord, b: &KafkaRecord) -> Ordering {
    (&a.topic, a.partition).cmp(&(&b.topic, b.partition))
}

/// The records of an event, in [`trace_order`].
fn ordered(event: &KafkaEvent) -> Vec<&KafkaRecord> {
    let mut records: Vec<&KafkaRecord> = event.records.values().flatten().collect();
    records.sort_by(|a, b| trace_order(a, b));
    records
}

/// A record's key as text: base64-decoded, when it is UTF-8 and not empty. Only as much
/// as `limit` bytes need is decoded; a key cut there in the middle of a character keeps the
/// characters before it.
pub(crate) fn message_key(encoded: &str, limit: usize) -> Option<String> {
    let needed = (limit / 3 + 1) * 4;
    let cut = encoded.len() > needed;
    // A key that is not ASCII is not base64: `get` refuses to cut inside a character.
    let part = if cut { encoded.get(..needed)? } else { encoded };
    let bytes = BASE64.decode(part).ok()?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(text) => text,
        Err(error) if cut && error.error_len().is_none() => {
            std::str::from_utf8(&bytes[..error.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    (!text.is_empty()).then(|| bounded(text, limit))
}

/// The link to the producer whose context a record's headers carry.
fn link(record: &KafkaRecord, telemetry: &Telemetry) -> Option<Link> {
    let has_context = record
        .headers
        .iter()
        .any(|h| h.contains_key(CONTEXT_HEADERS[0]));
    if !has_context {
        return None;
    }
    let cx = telemetry
        .propagation()
        .extract(&ContextHeaders::of(record), None);
    let producer = cx.span().span_context().clone();
    if !producer.is_valid() {
        return None;
    }
    let attributes = vec![
        KeyValue::new(MESSAGING_DESTINATION_PARTITION_ID, partition(record)),
        KeyValue::new(MESSAGING_KAFKA_OFFSET, record.offset),
    ];
    Some(Link::new(producer, attributes, 0))
}

/// The attributes of one record: its partition, offset, key and whether it is a tombstone.
fn record_attributes(record: &KafkaRecord, limit: usize, attributes: &mut Vec<KeyValue>) {
    attributes.push(KeyValue::new(
        MESSAGING_DESTINATION_PARTITION_ID,
        partition(record),
    ));
    attributes.push(KeyValue::new(MESSAGING_KAFKA_OFFSET, record.offset));
    if let Some(key) = record.key.as_deref().and_then(|k| message_key(k, limit)) {
        attributes.push(KeyValue::new(MESSAGING_KAFKA_MESSAGE_KEY, key));
    }
    if record.value.is_none() {
        attributes.push(KeyValue::new(MESSAGING_KAFKA_MESSAGE_TOMBSTONE, true));
    }
}

/// An event the `kafka` trigger accepts: `LambdaEvent<KafkaEvent>`.
#[diagnostic::on_unimplemented(
    message = "the `kafka` trigger takes `LambdaEvent<KafkaEvent>`, not `{Self}`",
    label = "expected `lambda_runtime::LambdaEvent<aws_lambda_events::kafka::KafkaEvent>` here",
    note = "to handle one record at a time, add `per_record` and take one `KafkaRecord`"
)]
pub trait KafkaEventInput: seal::Sealed {
    /// The invocation's Lambda context.
    fn context(&self) -> &lambda_runtime::Context;
    /// The event.
    fn event(&self) -> &KafkaEvent;
}

impl seal::Sealed for LambdaEvent<KafkaEvent> {}

impl KafkaEventInput for LambdaEvent<KafkaEvent> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn event(&self) -> &KafkaEvent {
        &self.payload
    }
}

/// One record as a `per_record` handler of the `kafka` trigger takes it: `KafkaRecord`.
#[diagnostic::on_unimplemented(
    message = "`per_record` handlers of the `kafka` trigger take one `KafkaRecord`, not `{Self}`",
    label = "expected `aws_lambda_events::kafka::KafkaRecord` here",
    note = "without `per_record`, the `kafka` trigger takes the whole batch: `LambdaEvent<KafkaEvent>`"
)]
pub trait KafkaRecordInput: sealed::Record {}

impl KafkaRecordInput for KafkaRecord {}
impl KafkaRecordInput for &KafkaRecord {}

impl sealed::Record for KafkaRecord {
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn span(&self, _spec: &Spec, telemetry: &Telemetry) -> TriggerSpan {
        let limit = telemetry.value_limit();
        let topic = self.topic.as_deref();
        let mut attributes = consumer_attributes(SYSTEM, topic, limit);
        record_attributes(self, limit, &mut attributes);
        TriggerSpan {
            name: span_name(topic, limit),
            kind: SpanKind::Consumer,
            attributes,
            links: link(self, telemetry).into_iter().collect(),
            batch_size: 0,
        }
    }

    /// A Kafka record has no id of its own (it is a topic, a partition and an offset), and
    /// no partial batch response names it here: failures are counted, not listed.
    fn item_id(&self) -> Option<&str> {
        None
    }

    fn keeps_order(&self) -> bool {
        true
    }
}

impl sealed::Batched for KafkaRecord {
    type Batch = KafkaEvent;
    type Response = ();
    type BatchTrigger = Kafka<LambdaEvent<KafkaEvent>>;

    fn into_records(batch: KafkaEvent) -> Vec<Self> {
        let mut records: Vec<KafkaRecord> = batch.records.into_values().flatten().collect();
        records.sort_by(trace_order);
        records
    }

    fn respond(failed: Vec<String>, total: usize) -> Result<(), RecordsFailed> {
        match failed.is_empty() {
            true => Ok(()),
            false => Err(RecordsFailed { failed, total }),
        }
    }
}

/// The `kafka` trigger for a whole batch.
#[doc(hidden)]
pub struct Kafka<I>(PhantomData<I>);

impl<I: KafkaEventInput> Trigger for Kafka<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn trigger_span(input: &I, _spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let records = ordered(input.event());
        let topic = common(records.iter().map(|r| r.topic.as_deref()));
        let mut attributes = consumer_attributes(SYSTEM, topic, limit);
        match records.as_slice() {
            [one] => record_attributes(one, limit, &mut attributes),
            _ => {
                let partition = common(records.iter().map(|r| Some(&r.partition)));
                if let (Some(_), Some(partition)) = (topic, partition) {
                    attributes.push(KeyValue::new(
                        MESSAGING_DESTINATION_PARTITION_ID,
                        partition.to_string(),
                    ));
                }
            }
        }
        if records.len() > 1 {
            attributes.push(KeyValue::new(
                MESSAGING_BATCH_MESSAGE_COUNT,
                records.len() as i64,
            ));
        }
        let links = records
            .iter()
            .filter_map(|r| link(r, telemetry))
            .take(MAX_LINKS)
            .collect();
        Some(TriggerSpan {
            name: span_name(topic, limit),
            kind: SpanKind::Consumer,
            attributes,
            links,
            batch_size: records.len(),
        })
    }
}

/// Whether an event looks like a Kafka batch (Amazon MSK, self-managed): its event source
/// is at the top level, and its records are an object of arrays.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    matches!(
        event.get("eventSource").and_then(|s| s.as_str()),
        Some("aws:kafka" | "SelfManagedKafka")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::MAX_HEADER;
    use opentelemetry::propagation::Extractor as _;

    fn record(headers: serde_json::Value) -> KafkaRecord {
        serde_json::from_value(serde_json::json!({
            "topic": "orders", "partition": 0, "offset": 1, "timestamp": 0,
            "timestampType": "CREATE_TIME", "key": null, "value": "e30=",
            "headers": headers,
        }))
        .expect("a Kafka record")
    }

    #[test]
    fn keys_are_decoded_when_they_are_utf8() {
        assert_eq!(
            message_key("b3JkZXItNDI=", 100).as_deref(),
            Some("order-42")
        );
        assert_eq!(message_key("", 100), None, "empty");
        assert_eq!(message_key("/w==", 100), None, "0xff is not UTF-8");
        assert_eq!(message_key("%%%", 100), None, "not base64");
        assert_eq!(message_key("é", 100), None, "not ASCII");
        let long = BASE64.encode("é".repeat(100));
        let key = message_key(&long, 9).expect("a prefix");
        assert_eq!(key, "éééé", "cut at the limit, on a character boundary");
    }

    #[test]
    fn context_headers_are_bytes_back_to_text() {
        let traceparent: Vec<i8> = "00-ab".bytes().map(|b| b as i8).collect();
        let headers = ContextHeaders::of(&record(serde_json::json!([
            {"content-type": [97]},
            {"traceparent": [1]},
            {"traceparent": traceparent},
            {"tracestate": [-61, -87]},
        ])));
        assert_eq!(headers.get("traceparent"), Some("00-ab"), "the last one");
        assert_eq!(
            headers.get("tracestate"),
            Some("é"),
            "signed bytes of UTF-8"
        );
        assert_eq!(headers.keys(), ["traceparent", "tracestate"]);
        let invalid = ContextHeaders::of(&record(serde_json::json!([{"traceparent": [-1]}])));
        assert_eq!(invalid.get("traceparent"), None, "not UTF-8");
        let long = vec![48; MAX_HEADER + 1];
        let long = ContextHeaders::of(&record(serde_json::json!([{ "traceparent": long }])));
        assert_eq!(long.get("traceparent"), None, "too long");
    }
}
