//! `trigger = "kinesis"`: a batch of Amazon Kinesis Data Streams records.
//!
//! ```text
//! {function}          SERVER    faas.trigger=pubsub, faas.invocation_id, faas.coldstart, cloud.*
//! └─ process {stream} CONSUMER  messaging.system=aws.kinesis, messaging.operation.{type,name}=process,
//!    │                          messaging.destination.name and aws.kinesis.stream_name (the
//!    │                          stream), messaging.destination.partition.id (the shard, when
//!    │                          every record agrees), messaging.batch.message_count (> 1)
//!    └─ process {stream} CONSUMER  (per_record mode, or `process_record`) one per record:
//!                                  messaging.message.id (the sequence number), the shard
//! ```
//!
//! `aws.kinesis` is not a registered `messaging.system` value; it is named as `aws.sns` is.
//! The stream name comes from the event source ARN (`…:stream/clickstream`, also for an
//! enhanced fan-out consumer), the shard from the record's `eventID` (`shardId-…:seq`).
//!
//! Kinesis gives a record no attributes, so a producer that wants its trace continued puts
//! the context in the record's data; `links_from = "data"` reads it from a JSON object
//! (`traceparent`/`tracestate` at its top level or in a `traceContext` object, or an X-Ray
//! header under `AWSTraceHeader`) and links the spans to it. Data that is not JSON, or
//! carries nothing valid, gives no link; data over 256 KiB is not searched.
//!
//! In `per_record` mode the glue answers with `KinesisEventResponse`: a failed record, and
//! the records after it (a shard is ordered), are reported by sequence number, so Lambda
//! retries from the first failure.

use std::marker::PhantomData;

use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::LambdaEvent;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanKind};
use opentelemetry_semantic_conventions::attribute::{
    AWS_KINESIS_STREAM_NAME, MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_DESTINATION_PARTITION_ID,
    MESSAGING_MESSAGE_ID,
};

use super::RecordsFailed;
use super::messaging::{MAX_LINKS, common, consumer_attributes, span_name};
use super::records::{batch_verdict, sealed};
use super::{FaasTrigger, LinksFrom, Spec, Trigger, TriggerSpan};
use crate::outcome::{Outcome, Verdict};
use crate::propagation::json::Carried;
use crate::redact::bounded;
use crate::telemetry::Telemetry;

/// Seals the input trait: only the event types this crate knows implement it.
mod seal {
    pub trait Sealed {}
}

/// `messaging.system` for Kinesis.
const SYSTEM: &str = "aws.kinesis";

/// The stream an event source ARN names: `arn:aws:kinesis:…:stream/clickstream` (or
/// `…:stream/clickstream/consumer/app:1`) → `clickstream`.
pub(crate) fn stream_of(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":stream/")?;
    rest.split('/').next().filter(|s| !s.is_empty())
}

/// The shard of a record's `eventID`: `shardId-000000000000:4954…` → `shardId-000000000000`.
pub(crate) fn shard_of(event_id: &str) -> Option<&str> {
    event_id
        .split_once(':')
        .map(|(shard, _)| shard)
        .filter(|s| !s.is_empty())
}

fn stream(record: &KinesisEventRecord) -> Option<&str> {
    record.event_source_arn.as_deref().and_then(stream_of)
}

fn shard(record: &KinesisEventRecord) -> Option<&str> {
    record.event_id.as_deref().and_then(shard_of)
}

fn link(record: &KinesisEventRecord, spec: &Spec, telemetry: &Telemetry) -> Option<Link> {
    if spec.links_from != LinksFrom::Data {
        return None;
    }
    let id = KeyValue::new(
        MESSAGING_MESSAGE_ID,
        bounded(&record.kinesis.sequence_number, telemetry.value_limit()),
    );
    Carried::from_slice(&record.kinesis.data).link(telemetry, vec![id])
}

/// An event the `kinesis` trigger accepts: `LambdaEvent<KinesisEvent>`.
#[diagnostic::on_unimplemented(
    message = "the `kinesis` trigger takes `LambdaEvent<KinesisEvent>`, not `{Self}`",
    label = "expected `lambda_runtime::LambdaEvent<aws_lambda_events::kinesis::KinesisEvent>` here",
    note = "to handle one record at a time, add `per_record` and take one `KinesisEventRecord`"
)]
pub trait KinesisEventInput: seal::Sealed {
    /// The invocation's Lambda context.
    fn context(&self) -> &lambda_runtime::Context;
    /// The records.
    fn records(&self) -> &[KinesisEventRecord];
}

impl seal::Sealed for LambdaEvent<KinesisEvent> {}

impl KinesisEventInput for LambdaEvent<KinesisEvent> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn records(&self) -> &[KinesisEventRecord] {
        &self.payload.records
    }
}

/// One record as a `per_record` handler of the `kinesis` trigger takes it: `KinesisEventRecord`.
#[diagnostic::on_unimplemented(
    message = "`per_record` handlers of the `kinesis` trigger take one `KinesisEventRecord`, not `{Self}`",
    label = "expected `aws_lambda_events::kinesis::KinesisEventRecord` here",
    note = "without `per_record`, the `kinesis` trigger takes the whole batch: `LambdaEvent<KinesisEvent>`"
)]
pub trait KinesisRecordInput: sealed::Record {}

impl KinesisRecordInput for KinesisEventRecord {}
impl KinesisRecordInput for &KinesisEventRecord {}

impl sealed::Record for KinesisEventRecord {
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn span(&self, spec: &Spec, telemetry: &Telemetry) -> TriggerSpan {
        let limit = telemetry.value_limit();
        let stream = stream(self);
        let mut attributes = consumer_attributes(SYSTEM, stream, limit);
        if let Some(shard) = shard(self) {
            attributes.push(KeyValue::new(
                MESSAGING_DESTINATION_PARTITION_ID,
                bounded(shard, limit),
            ));
        }
        attributes.push(KeyValue::new(
            MESSAGING_MESSAGE_ID,
            bounded(&self.kinesis.sequence_number, limit),
        ));
        TriggerSpan {
            name: span_name(stream, limit),
            kind: SpanKind::Consumer,
            attributes,
            links: link(self, spec, telemetry).into_iter().collect(),
            batch_size: 0,
        }
    }

    fn item_id(&self) -> Option<&str> {
        Some(&self.kinesis.sequence_number)
    }

    fn keeps_order(&self) -> bool {
        true
    }
}

impl sealed::BatchResponse for KinesisEventResponse {
    fn failed_items(&self) -> Vec<String> {
        self.batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.clone())
            .collect()
    }
}

impl sealed::Batched for KinesisEventRecord {
    type Batch = KinesisEvent;
    type Response = KinesisEventResponse;
    type BatchTrigger = Kinesis<LambdaEvent<KinesisEvent>>;

    fn into_records(batch: KinesisEvent) -> Vec<Self> {
        batch.records
    }

    fn respond(failed: Vec<String>, _total: usize) -> Result<KinesisEventResponse, RecordsFailed> {
        let mut response = KinesisEventResponse::default();
        response.set_failures(failed);
        Ok(response)
    }
}

/// The `kinesis` trigger for a whole batch.
#[doc(hidden)]
pub struct Kinesis<I>(PhantomData<I>);

impl<I: KinesisEventInput> Trigger for Kinesis<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn trigger_span(input: &I, spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let records = input.records();
        let stream = common(records.iter().map(stream));
        let mut attributes = consumer_attributes(SYSTEM, stream, limit);
        if let Some(stream) = stream {
            attributes.push(KeyValue::new(
                AWS_KINESIS_STREAM_NAME,
                bounded(stream, limit),
            ));
        }
        if let Some(shard) = common(records.iter().map(shard)) {
            attributes.push(KeyValue::new(
                MESSAGING_DESTINATION_PARTITION_ID,
                bounded(shard, limit),
            ));
        }
        if records.len() > 1 {
            attributes.push(KeyValue::new(
                MESSAGING_BATCH_MESSAGE_COUNT,
                records.len() as i64,
            ));
        }
        let links = records
            .iter()
            .filter_map(|r| link(r, spec, telemetry))
            .take(MAX_LINKS)
            .collect();
        Some(TriggerSpan {
            name: span_name(stream, limit),
            kind: SpanKind::Consumer,
            attributes,
            links,
            batch_size: records.len(),
        })
    }
}

/// What a `kinesis` handler returns: `Result<(), E>`, or `Result<KinesisEventResponse, E>` to
/// report partial batch failures.
#[diagnostic::on_unimplemented(
    message = "a `kinesis` handler returns `Result<(), E>` or `Result<KinesisEventResponse, E>`, not `{Self}`",
    label = "the handler's return type",
    note = "return `KinesisEventResponse` to report the records that failed, or add `per_record` to have them collected for you"
)]
pub trait KinesisOutcome: Outcome {
    /// The verdict on the value.
    #[doc(hidden)]
    fn verdict(&self) -> Verdict;
}

impl<E> KinesisOutcome for Result<(), E>
where
    Self: Outcome,
{
    fn verdict(&self) -> Verdict {
        batch_verdict(self)
    }
}

impl<E> KinesisOutcome for Result<KinesisEventResponse, E>
where
    Self: Outcome,
{
    fn verdict(&self) -> Verdict {
        batch_verdict(self)
    }
}

/// Whether an event looks like a Kinesis batch.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    super::first_record_source(event) == Some("aws:kinesis")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_and_shard_come_from_the_arn_and_the_event_id() {
        let arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/clickstream";
        assert_eq!(stream_of(arn), Some("clickstream"));
        assert_eq!(
            stream_of("arn:aws:kinesis:eu-west-1:1:stream/clickstream/consumer/app:1"),
            Some("clickstream")
        );
        assert_eq!(stream_of("garbage"), None);
        assert_eq!(
            shard_of("shardId-000000000000:4954"),
            Some("shardId-000000000000")
        );
        assert_eq!(shard_of("no-colon"), None);
    }
}
