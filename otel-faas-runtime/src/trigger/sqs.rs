//! `trigger = "sqs"`: a batch of Amazon SQS messages.
//!
//! Spans, following the AWS Lambda and messaging semantic conventions:
//!
//! ```text
//! {function}         SERVER    faas.trigger=pubsub, faas.invocation_id, faas.coldstart, cloud.*
//! └─ process {queue} CONSUMER  messaging.system=aws_sqs, messaging.operation.{type,name}=process,
//!    │                         messaging.destination.name, messaging.batch.message_count (> 1 only),
//!    │                         one link per message that carries a trace context
//!    └─ process {queue} CONSUMER   (per_message mode) messaging.message.id, link to its producer
//! ```
//!
//! Span names follow the current messaging conventions, `{operation} {destination}`
//! (`process orders`), rather than the older `{destination} process`. When a batch mixes
//! queues, the batch span is named `process` and has no destination.
//!
//! A message's producer context is its `AWSTraceHeader` system attribute (X-Ray format),
//! which the conventions name as the one source; `links_from = "message_attributes"` (or
//! `"both"`) also reads a W3C `traceparent` message attribute with the configured
//! propagators. A context that does not parse is skipped; at most 128 links are kept on the
//! batch span (the SDK's default limit).
//!
//! When the handler returns `SqsBatchResponse` with failures (or, in `per_message` mode, when
//! messages fail), the batch span records `otel_faas.batch.failed_count`, the first 100
//! `otel_faas.batch.failed_ids`, and status Error (`n of m messages failed`).

use std::collections::HashMap;
use std::marker::PhantomData;

use aws_lambda_events::event::sqs::{
    SqsBatchResponse, SqsEvent, SqsEventObj, SqsMessage, SqsMessageAttribute, SqsMessageObj,
};
use lambda_runtime::LambdaEvent;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt};
use opentelemetry_semantic_conventions::attribute::{
    MESSAGING_BATCH_MESSAGE_COUNT, MESSAGING_MESSAGE_ID,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RecordsFailed;
use super::messaging::{MAX_LINKS, consumer_attributes, span_name};
use super::records::{self, batch_verdict};
use super::{FaasTrigger, Spec, Trigger, TriggerSpan};
use crate::outcome::{Outcome, Verdict};
use crate::propagation::wire::AWS_TRACE_HEADER;
use crate::propagation::{SqsAttributes, xray_span_context};
use crate::redact::bounded;
use crate::telemetry::Telemetry;

/// Seals the input trait: only the event types this crate knows implement it.
mod sealed {
    pub trait Sealed {}
}

/// `messaging.system` for SQS.
const SYSTEM: &str = "aws_sqs";

/// The parts of an SQS message the trace uses.
#[derive(Clone, Copy, Debug)]
pub struct MessageView<'a> {
    id: Option<&'a str>,
    source_arn: Option<&'a str>,
    attributes: &'a HashMap<String, String>,
    message_attributes: &'a HashMap<String, SqsMessageAttribute>,
}

impl<'a> MessageView<'a> {
    /// The message id.
    pub fn id(&self) -> Option<&'a str> {
        self.id
    }

    /// The queue name: the last field of the event source ARN.
    pub fn queue(&self) -> Option<&'a str> {
        self.source_arn
            .and_then(|arn| arn.rsplit(':').next())
            .filter(|q| !q.is_empty())
    }

    /// Whether the message comes from a FIFO queue, where order must be kept.
    pub fn is_fifo(&self) -> bool {
        self.queue().is_some_and(|q| q.ends_with(".fifo"))
    }

    /// The producer's span context, read where `links_from` says.
    fn producer(&self, spec: &Spec, telemetry: &Telemetry) -> Option<SpanContext> {
        let from_header = || {
            spec.links_from
                .aws_trace_header()
                .then(|| self.attributes.get(AWS_TRACE_HEADER))
                .flatten()
                .and_then(|h| xray_span_context(h))
        };
        let from_attributes = || {
            spec.links_from
                .message_attributes()
                .then(|| {
                    telemetry
                        .propagation()
                        .extract(&SqsAttributes(self.message_attributes), None)
                })
                .map(|cx| cx.span().span_context().clone())
                .filter(SpanContext::is_valid)
        };
        from_header().or_else(from_attributes)
    }

    fn link(&self, spec: &Spec, telemetry: &Telemetry) -> Option<Link> {
        let producer = self.producer(spec, telemetry)?;
        let attributes = self
            .id
            .map(|id| {
                vec![KeyValue::new(
                    MESSAGING_MESSAGE_ID,
                    bounded(id, telemetry.value_limit()),
                )]
            })
            .unwrap_or_default();
        Some(Link::new(producer, attributes, 0))
    }
}

/// One SQS message as a handler in `per_message` mode takes it: `SqsMessage`, or
/// `SqsMessageObj<T>` for a JSON body deserialized into `T`.
#[diagnostic::on_unimplemented(
    message = "`per_message` handlers of the `sqs` trigger take one `SqsMessage`, not `{Self}`",
    label = "expected `aws_lambda_events::sqs::SqsMessage` (or `SqsMessageObj<T>`) here",
    note = "without `per_message`, the `sqs` trigger takes the whole batch: `LambdaEvent<SqsEvent>`"
)]
pub trait SqsMessageInput: sealed::Sealed + records::sealed::Record {
    /// The parts the trace uses.
    fn view(&self) -> MessageView<'_>;
}

impl sealed::Sealed for SqsMessage {}

impl SqsMessageInput for SqsMessage {
    fn view(&self) -> MessageView<'_> {
        MessageView {
            id: self.message_id.as_deref(),
            source_arn: self.event_source_arn.as_deref(),
            attributes: &self.attributes,
            message_attributes: &self.message_attributes,
        }
    }
}

impl<T: Serialize> sealed::Sealed for SqsMessageObj<T> {}

impl<T: Serialize> SqsMessageInput for SqsMessageObj<T> {
    fn view(&self) -> MessageView<'_> {
        MessageView {
            id: self.message_id.as_deref(),
            source_arn: self.event_source_arn.as_deref(),
            attributes: &self.attributes,
            message_attributes: &self.message_attributes,
        }
    }
}

impl<M: SqsMessageInput> sealed::Sealed for &M {}

impl<M: SqsMessageInput> SqsMessageInput for &M {
    fn view(&self) -> MessageView<'_> {
        (**self).view()
    }
}

/// Runs `work` as the processing of one message of a batch: inside a CONSUMER
/// `process {queue}` span, child of the batch span, linked to the message's producer, and
/// marked Error when `work` fails — [`process_record`](super::process_record) for SQS.
///
/// ```no_run
/// use otel_faas_runtime::aws_lambda_events::event::sqs::SqsEvent;
/// use otel_faas_runtime::{lambda::LambdaEvent, trigger::sqs::process_message, traced_function, Error};
///
/// #[traced_function(trigger = "sqs")]
/// async fn handler(event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
///     for message in &event.payload.records {
///         process_message(message, async { Ok::<_, Error>(()) }).await?;
///     }
///     Ok(())
/// }
/// ```
pub async fn process_message<M, F>(message: &M, work: F) -> F::Output
where
    M: SqsMessageInput,
    F: std::future::Future,
    F::Output: Outcome,
{
    super::process_record(message, work).await
}

/// A batch of SQS messages as an `sqs` handler takes it: `LambdaEvent<SqsEvent>`, or
/// `LambdaEvent<SqsEventObj<T>>` for JSON bodies deserialized into `T`.
#[diagnostic::on_unimplemented(
    message = "the `sqs` trigger takes `LambdaEvent<SqsEvent>`, not `{Self}`",
    label = "expected `lambda_runtime::LambdaEvent<aws_lambda_events::sqs::SqsEvent>` here",
    note = "to handle one message at a time, add `per_message` and take one `SqsMessage`; \
            for another payload use `trigger = \"other\"`"
)]
pub trait SqsEventInput: sealed::Sealed {
    /// The message type of the batch.
    type Message: SqsMessageInput;
    /// The invocation's Lambda context.
    fn context(&self) -> &lambda_runtime::Context;
    /// The messages.
    fn messages(&self) -> &[Self::Message];
}

impl sealed::Sealed for LambdaEvent<SqsEvent> {}

impl SqsEventInput for LambdaEvent<SqsEvent> {
    type Message = SqsMessage;

    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn messages(&self) -> &[SqsMessage] {
        &self.payload.records
    }
}

impl<T: Serialize> sealed::Sealed for LambdaEvent<SqsEventObj<T>> {}

impl<T: Serialize> SqsEventInput for LambdaEvent<SqsEventObj<T>> {
    type Message = SqsMessageObj<T>;

    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }

    fn messages(&self) -> &[SqsMessageObj<T>] {
        &self.payload.records
    }
}

/// The `sqs` trigger for a whole batch.
#[doc(hidden)]
pub struct Sqs<I>(PhantomData<I>);

impl<I: SqsEventInput> Trigger for Sqs<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;
    const ITEMS: &'static str = "messages";

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn trigger_span(input: &I, spec: &Spec, telemetry: &Telemetry) -> Option<TriggerSpan> {
        let limit = telemetry.value_limit();
        let messages = input.messages();
        let first_queue = messages.first().and_then(|m| m.view().queue());
        let queue = first_queue.filter(|q| messages.iter().all(|m| m.view().queue() == Some(q)));
        let mut attributes = consumer_attributes(SYSTEM, queue, limit);
        if messages.len() > 1 {
            attributes.push(KeyValue::new(
                MESSAGING_BATCH_MESSAGE_COUNT,
                messages.len() as i64,
            ));
        }
        let links = messages
            .iter()
            .filter_map(|m| m.view().link(spec, telemetry))
            .take(MAX_LINKS)
            .collect();
        Some(TriggerSpan {
            name: span_name(queue, limit),
            kind: SpanKind::Consumer,
            attributes,
            links,
            batch_size: messages.len(),
        })
    }
}

/// A message's own span (`per_message` mode, `process_message`).
fn message_span(message: MessageView<'_>, spec: &Spec, telemetry: &Telemetry) -> TriggerSpan {
    let limit = telemetry.value_limit();
    let mut attributes = consumer_attributes(SYSTEM, message.queue(), limit);
    if let Some(id) = message.id() {
        attributes.push(KeyValue::new(MESSAGING_MESSAGE_ID, bounded(id, limit)));
    }
    TriggerSpan {
        name: span_name(message.queue(), limit),
        kind: SpanKind::Consumer,
        attributes,
        links: message.link(spec, telemetry).into_iter().collect(),
        batch_size: 0,
    }
}

impl records::sealed::Record for SqsMessage {
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn span(&self, spec: &Spec, telemetry: &Telemetry) -> TriggerSpan {
        message_span(self.view(), spec, telemetry)
    }

    fn item_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    fn keeps_order(&self) -> bool {
        self.view().is_fifo()
    }
}

impl<T: Serialize> records::sealed::Record for SqsMessageObj<T> {
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::PubSub;

    fn span(&self, spec: &Spec, telemetry: &Telemetry) -> TriggerSpan {
        message_span(self.view(), spec, telemetry)
    }

    fn item_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    fn keeps_order(&self) -> bool {
        self.view().is_fifo()
    }
}

impl records::sealed::BatchResponse for SqsBatchResponse {
    fn failed_items(&self) -> Vec<String> {
        self.batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect()
    }
}

impl records::sealed::Batched for SqsMessage {
    type Batch = SqsEvent;
    type Response = SqsBatchResponse;
    type BatchTrigger = Sqs<LambdaEvent<SqsEvent>>;

    fn into_records(batch: SqsEvent) -> Vec<Self> {
        batch.records
    }

    fn respond(failed: Vec<String>, _total: usize) -> Result<SqsBatchResponse, RecordsFailed> {
        Ok(failure_response(failed))
    }
}

impl<T: Serialize + DeserializeOwned + 'static> records::sealed::Batched for SqsMessageObj<T> {
    type Batch = SqsEventObj<T>;
    type Response = SqsBatchResponse;
    type BatchTrigger = Sqs<LambdaEvent<SqsEventObj<T>>>;

    fn into_records(batch: SqsEventObj<T>) -> Vec<Self> {
        batch.records
    }

    fn respond(failed: Vec<String>, _total: usize) -> Result<SqsBatchResponse, RecordsFailed> {
        Ok(failure_response(failed))
    }
}

fn failure_response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for id in failed {
        response.add_failure(id);
    }
    response
}

/// What an `sqs` handler returns: `Result<(), E>`, or `Result<SqsBatchResponse, E>` to report
/// partial batch failures.
#[diagnostic::on_unimplemented(
    message = "an `sqs` handler returns `Result<(), E>` or `Result<SqsBatchResponse, E>`, not `{Self}`",
    label = "the handler's return type",
    note = "return `SqsBatchResponse` to report the messages that failed, or add `per_message` to have them collected for you"
)]
pub trait SqsOutcome: Outcome {
    /// The verdict on the value.
    #[doc(hidden)]
    fn verdict(&self) -> Verdict;
}

impl<E> SqsOutcome for Result<(), E>
where
    Self: Outcome,
{
    fn verdict(&self) -> Verdict {
        batch_verdict(self)
    }
}

impl<E> SqsOutcome for Result<SqsBatchResponse, E>
where
    Self: Outcome,
{
    fn verdict(&self) -> Verdict {
        batch_verdict(self)
    }
}

/// Whether an event looks like an SQS batch.
pub(crate) fn recognises(event: &serde_json::Value) -> bool {
    super::first_record_source(event) == Some("aws:sqs")
}
