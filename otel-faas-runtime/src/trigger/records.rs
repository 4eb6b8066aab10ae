//! Batches handled one record at a time: SQS messages, Kinesis and DynamoDB stream records,
//! Kafka records, S3 notifications.
//!
//! The same three pieces serve every batch trigger:
//! - a record traced on its own gets a span of its own ([`TracedRecord`]), opened by the
//!   `per_message`/`per_record` glue or by [`process_record`] for a handler that walks the
//!   batch itself;
//! - `lambda::run` serves a per-record handler ([`BatchedRecord`]): it traces the batch as the
//!   batch trigger does, calls the handler once per record, and answers with the platform's
//!   partial batch failure response (`batchItemFailures`), so only failed records are retried;
//! - the batch span (or, for triggers without one, the invocation span) records the failed
//!   items: `otel_faas.batch.failed_count`, the first 100 `otel_faas.batch.failed_ids`, and
//!   status Error (`n of m records failed`).
//!
//! Records of an ordered source — a FIFO queue, a Kinesis or DynamoDB stream shard, a Kafka
//! partition — stop at the first failure: the records after it are not processed and are
//! reported failed too, so the retry sees them in order. S3 has no partial batch response, and
//! Kafka's is not answered (see the `kafka` trigger): a failed record fails the invocation
//! with [`RecordsFailed`], and Lambda retries the whole event.

use std::future::Future;
use std::marker::PhantomData;

use lambda_runtime::LambdaEvent;

use super::{FaasTrigger, RecordsFailed, Spec, Trigger, TriggerSpan};
use crate::outcome::{Outcome, Verdict};
use crate::telemetry::Telemetry;

pub(crate) mod sealed {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use super::{FaasTrigger, LambdaEvent, RecordsFailed, Spec, Telemetry, Trigger, TriggerSpan};

    /// A record that can be traced on its own.
    pub trait Record {
        /// `faas.trigger` of its span.
        const FAAS_TRIGGER: FaasTrigger;
        /// The record's own span, under the batch span (or the invocation span).
        fn span(&self, spec: &Spec, telemetry: &Telemetry) -> TriggerSpan;
        /// The id the platform's batch failure response names the record by.
        fn item_id(&self) -> Option<&str>;
        /// Whether the records after a failed one must wait for it (ordered sources).
        fn keeps_order(&self) -> bool;
    }

    impl<R: Record> Record for &R {
        const FAAS_TRIGGER: FaasTrigger = R::FAAS_TRIGGER;

        fn span(&self, spec: &Spec, telemetry: &Telemetry) -> TriggerSpan {
            (**self).span(spec, telemetry)
        }

        fn item_id(&self) -> Option<&str> {
            (**self).item_id()
        }

        fn keeps_order(&self) -> bool {
            (**self).keeps_order()
        }
    }

    /// A record type and the batch it arrives in.
    pub trait Batched: Record + Sized + 'static {
        /// The batch payload.
        type Batch: DeserializeOwned + 'static;
        /// What the invocation answers.
        type Response: Serialize + BatchResponse + 'static;
        /// The trigger of the whole batch.
        type BatchTrigger: Trigger<Input = LambdaEvent<Self::Batch>>;
        /// The records of a batch.
        fn into_records(batch: Self::Batch) -> Vec<Self>;
        /// The answer for a batch whose `failed` records failed.
        fn respond(failed: Vec<String>, total: usize) -> Result<Self::Response, RecordsFailed>;
    }

    /// A partial batch failure response.
    pub trait BatchResponse {
        /// The ids of the items reported failed.
        fn failed_items(&self) -> Vec<String>;
    }
}

use sealed::BatchResponse;

/// A record that can be traced on its own: one SQS message, Kinesis record, DynamoDB stream
/// record, Kafka record or S3 notification record. Implemented by this crate's event types only.
pub trait TracedRecord: sealed::Record {}

impl<R: sealed::Record> TracedRecord for R {}

/// A record type whose batches [`lambda::run`](crate::lambda::run) can hand to a per-record
/// handler one record at a time.
pub trait BatchedRecord: sealed::Batched {}

impl<R: sealed::Batched> BatchedRecord for R {}

/// The `per_message`/`per_record` trigger: one record, traced under the current span.
pub(crate) struct RecordTrigger<I>(PhantomData<I>);

impl<I: sealed::Record> Trigger for RecordTrigger<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = I::FAAS_TRIGGER;

    fn lambda_context(_input: &I) -> Option<&lambda_runtime::Context> {
        None
    }

    fn trigger_span(input: &I, spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        Some(input.span(spec, telemetry))
    }
}

/// Runs `work` as the processing of one record of a batch: inside the record's own span
/// (CONSUMER `process {queue}` for a message, `insert Orders` for a DynamoDB insert, …),
/// child of the current span, linked to the record's producer when it carries one, and marked
/// Error when `work` fails — the spans `per_message`/`per_record` mode makes, for a handler
/// that walks the batch itself (the semantic conventions ask instrumentations to offer this).
///
/// ```no_run
/// use otel_faas_runtime::aws_lambda_events::event::kinesis::KinesisEvent;
/// use otel_faas_runtime::{lambda::LambdaEvent, trigger::process_record, traced_function, Error};
///
/// #[traced_function(trigger = "kinesis")]
/// async fn handler(event: LambdaEvent<KinesisEvent>) -> Result<(), Error> {
///     for record in &event.payload.records {
///         process_record(record, async { Ok::<_, Error>(()) }).await?;
///     }
///     Ok(())
/// }
/// ```
pub async fn process_record<R, F>(record: &R, work: F) -> F::Output
where
    R: TracedRecord,
    F: Future,
    F::Output: Outcome,
{
    static SPEC: Spec = Spec::DEFAULT;
    let read = crate::outcome::read_outcome::<F::Output>;
    crate::invocation::instrument::<RecordTrigger<&R>, _, _>(&SPEC, record, |_| work, read).await
}

impl BatchResponse for () {
    fn failed_items(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The verdict on a batch handler's return value: its error, and the items its partial batch
/// response reported failed.
pub(crate) fn batch_verdict<R: BatchResponse, E>(output: &Result<R, E>) -> Verdict
where
    Result<R, E>: Outcome,
{
    Verdict {
        failure: output.failure(),
        failed_items: output
            .as_ref()
            .map(BatchResponse::failed_items)
            .unwrap_or_default(),
    }
}

/// The verdict on the per-record glue's answer: failed records come back either in the
/// response or, where the platform has none, in [`RecordsFailed`].
pub(crate) fn records_verdict<R: BatchResponse>(output: &Result<R, RecordsFailed>) -> Verdict {
    match output {
        Ok(response) => Verdict {
            failure: None,
            failed_items: response.failed_items(),
        },
        Err(failed) => Verdict {
            failure: output.failure(),
            failed_items: failed.failed.clone(),
        },
    }
}
