//! `trigger = "dynamodb"`: a batch of DynamoDB stream records.
//!
//! ```text
//! {function}             SERVER    faas.trigger=datasource, faas.invocation_id, faas.coldstart,
//!                                  cloud.*, faas.document.collection (the table, when every
//!                                  record agrees), faas.document.operation (idem),
//!                                  faas.document.time (one record)
//! └─ {operation} {table} INTERNAL  (per_record mode, or `process_record`) one per record:
//!                                  faas.document.{collection,operation,time}
//! ```
//!
//! The table is the record's `tableName` when the stream sends it, else the table in the
//! stream ARN (`…:table/Orders/stream/…`). `INSERT` is `insert`, `MODIFY` is `edit`, `REMOVE`
//! is `delete`; `faas.document.time` is the record's `ApproximateCreationDateTime`.
//! `faas.document.name` is not set: an item's name is its key, and keys are often personal
//! data (an email, a user id) that must not leave the function.
//!
//! In `per_record` mode the glue answers with `DynamoDbEventResponse`: a failed record, and
//! the records after it in the batch (a shard is ordered), are reported by sequence number,
//! so Lambda retries from the first failure. A batch handler can return that response itself;
//! either way the invocation span records the failed sequence numbers.

use std::marker::PhantomData;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;

use super::RecordsFailed;
use super::document::{Document, Operation, batch_invocation};
use super::records::{batch_verdict, sealed};
use super::{FaasTrigger, InvocationSpan, Spec, Trigger, TriggerSpan};
use crate::outcome::{Outcome, Verdict};
use crate::telemetry::Telemetry;

/// Seals the input trait: only the event types this crate knows implement it.
mod seal {
    pub trait Sealed {}
}

/// The operation a stream record's `eventName` stands for.
pub(crate) fn operation(event_name: &str) -> Option<Operation> {
    match event_name {
        "INSERT" => Some(Operation::Insert),
        "MODIFY" => Some(Operation::Edit),
        "REMOVE" => Some(Operation::Delete),
        _ => None,
    }
}

/// The table a stream ARN belongs to: `arn:aws:dynamodb:…:table/Orders/stream/…` → `Orders`.
pub(crate) fn table_of_stream(arn: &str) -> Option<&str> {
    let (_, rest) = arn.split_once(":table/")?;
    rest.split('/').next().filter(|t| !t.is_empty())
}

fn document(record: &EventRecord) -> Document<'_> {
    let table = record
        .table_name
        .as_deref()
        .filter(|t| !t.is_empty())
        .or_else(|| record.event_source_arn.as_deref().and_then(table_of_stream));
    Document {
        collection: table,
        operation: operation(&record.event_name),
        name: None,
        // `aws_lambda_events` defaults a missing `ApproximateCreationDateTime` to the epoch
        // itself; any other instant, sub-second ones after it included, was sent.
        time: Some(record.change.approximate_creation_date_time)
            .filter(|t| *t != chrono::DateTime::UNIX_EPOCH),
    }
}

/// An event the `dynamodb` trigger accepts: `LambdaEvent<aws_lambda_events::dynamodb::Event>`.
#[diagnostic::on_unimplemented(
    message = "the `dynamodb` trigger takes `LambdaEvent<aws_lambda_events::dynamodb::Event>`, not `{Self}`",
    label = "expected `lambda_runtime::LambdaEvent<aws_lambda_events::dynamodb::Event>` here",
    note = "to handle one record at a time, add `per_record` and take one `aws_lambda_events::dynamodb::EventRecord`"
)]
pub trait DynamoDbEventInput: seal::Sealed {
    /// The invocation's Lambda context.
    fn context(&self) -> &lambda_runtime::Context;
    /// The records.
    fn records(&self) -> &[EventRecord];
}

impl seal::Sealed for LambdaEvent<Event> {}

impl DynamoDbEventInput for LambdaEvent<Event> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn records(&self) -> &[EventRecord] {
        &self.payload.records
    }
}

/// One record as a `per_record` handler of the `dynamodb` trigger takes it: `EventRecord`.
#[diagnostic::on_unimplemented(
    message = "`per_record` handlers of the `dynamodb` trigger take one `EventRecord`, not `{Self}`",
    label = "expected `aws_lambda_events::dynamodb::EventRecord` here",
    note = "without `per_record`, the `dynamodb` trigger takes the whole batch: `LambdaEvent<aws_lambda_events::dynamodb::Event>`"
)]
pub trait DynamoDbRecordInput: sealed::Record {}

impl DynamoDbRecordInput for EventRecord {}
impl DynamoDbRecordInput for &EventRecord {}

impl sealed::Record for EventRecord {
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Datasource;

    fn span(&self, _spec: &Spec, telemetry: &Telemetry) -> TriggerSpan {
        document(self).record_span(telemetry.value_limit())
    }

    fn item_id(&self) -> Option<&str> {
        self.change.sequence_number.as_deref()
    }

    fn keeps_order(&self) -> bool {
        true
    }
}

impl sealed::BatchResponse for DynamoDbEventResponse {
    fn failed_items(&self) -> Vec<String> {
        self.batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.clone())
            .collect()
    }
}

impl sealed::Batched for EventRecord {
    type Batch = Event;
    type Response = DynamoDbEventResponse;
    type BatchTrigger = DynamoDb<LambdaEvent<Event>>;

    fn into_records(batch: Event) -> Vec<Self> {
        batch.records
    }

    fn respond(failed: Vec<String>, _total: usize) -> Result<DynamoDbEventResponse, RecordsFailed> {
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = failed
            .into_iter()
            .map(|id| {
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(id);
                failure
            })
            .collect();
        Ok(response)
    }
}

/// The `dynamodb` trigger for a whole batch.
#[doc(hidden)]
pub struct DynamoDb<I>(PhantomData<I>);

impl<I: DynamoDbEventInput> Trigger for DynamoDb<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Datasource;

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn invocation(input: &I, _spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        let documents: Vec<Document<'_>> = input.records().iter().map(document).collect();
        batch_invocation(&documents, telemetry.value_limit(), span);
    }
}

/// What a `dynamodb` handler returns: `Result<(), E>`, or `Result<DynamoDbEventResponse, E>`
/// to report partial batch failures.
#[diagnostic::on_unimplemented(
    message = "a `dynamodb` handler returns `Result<(), E>` or `Result<DynamoDbEventResponse, E>`, not `{Self}`",
    label = "the handler's return type",
    note = "return `DynamoDbEventResponse` to report the records that failed, or add `per_record` to have them collected for you"
)]
pub trait DynamoDbOutcome: Outcome {
    /// The verdict on the value.
    #[doc(hidden)]
    fn verdict(&self) -> Verdict;
}

impl<E> DynamoDbOutcome for Result<(), E>
where
    Self: Outcome,
{
    fn verdict(&self) -> Verdict {
        batch_verdict(self)
    }
}

impl<E> DynamoDbOutcome for Result<DynamoDbEventResponse, E>
where
    Self: Outcome,
{
    fn verdict(&self) -> Verdict {
        batch_verdict(self)
    }
}

/// Whether an event looks like a DynamoDB stream batch.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    super::first_record_source(event) == Some("aws:dynamodb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_comes_from_the_stream_arn() {
        let arn =
            "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000";
        assert_eq!(table_of_stream(arn), Some("Orders"));
        assert_eq!(table_of_stream("arn:aws:dynamodb:eu-west-1:1:table/"), None);
        assert_eq!(table_of_stream("not an arn"), None);
    }

    #[test]
    fn event_names_map_to_operations() {
        assert_eq!(operation("INSERT"), Some(Operation::Insert));
        assert_eq!(operation("MODIFY"), Some(Operation::Edit));
        assert_eq!(operation("REMOVE"), Some(Operation::Delete));
        assert_eq!(operation("insert"), None);
    }
}
