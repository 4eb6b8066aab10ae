//! Triggers: what each kind of event tells the trace.
//!
//! One file per trigger. Each implements the crate's `Trigger` trait: the invocation span's name, parent and
//! attributes, and the span it opens inside the invocation (the SQS batch span, for example),
//! with its kind, attributes and links. The glue around the handler is the same for
//! all of them. Each trigger also has an input trait (`HttpInput`, `SqsEventInput`, …) that
//! the accepted event types implement: a handler whose argument does not fit its trigger is
//! a compile error on that argument, naming the type the trigger expects.
//!
//! | trigger | input | spans | parent | links |
//! |---|---|---|---|---|
//! | `http` | `lambda_http::Request` | SERVER `{method} {http.route}` | `traceparent`/`tracestate`/`baggage` headers | — |
//! | `sqs` | `LambdaEvent<SqsEvent>` | SERVER *function* → CONSUMER `process {queue}` | — | one per message with an `AWSTraceHeader` |
//! | `sqs`, `per_message` | `SqsMessage` | CONSUMER `process {queue}` per message | the batch span | the message's `AWSTraceHeader` |
//! | `sns` | `LambdaEvent<SnsEvent>` | SERVER *function* → CONSUMER `process {topic}` | — | one per notification whose message attributes carry a context |
//! | `eventbridge` | `LambdaEvent<EventBridgeEvent<T>>` | SERVER *function* → CONSUMER `process` (no bus in the event) | `detail` with `parent_from = "detail"` | `detail` with `links_from = "detail"` |
//! | `schedule` | `LambdaEvent<EventBridgeEvent>` | SERVER *function*, `faas.trigger=timer` | none: a new root | — |
//! | `s3` | `LambdaEvent<S3Event>` | SERVER *function* with `faas.document.*` | — | — |
//! | `dynamodb` | `LambdaEvent<dynamodb::Event>` | SERVER *function* with `faas.document.*` | — | — |
//! | `kinesis` | `LambdaEvent<KinesisEvent>` | SERVER *function* → CONSUMER `process {stream}` | — | records' JSON data with `links_from = "data"` |
//! | `s3`/`dynamodb`, `per_record` | one record | INTERNAL `{operation} {collection}` per record | the invocation span | — |
//! | `kinesis`, `per_record` | `KinesisEventRecord` | CONSUMER `process {stream}` per record | the batch span | the record's data |
//! | `kafka` | `LambdaEvent<KafkaEvent>` | SERVER *function* → CONSUMER `process {topic}` | — | one per record with a `traceparent` header |
//! | `kafka`, `per_record` | `KafkaRecord` | CONSUMER `process {topic}` per record | the batch span | the record's `traceparent` header |
//! | `other` | `LambdaEvent<T>` | SERVER *function* | client context `custom.traceparent` | — |
//!
//! Batches handled one record at a time share one mechanism, described in [`process_record`]
//! and [`BatchedRecord`].
//!
//! The Azure Functions triggers (`http`, `queue`, `service_bus`, `event_hubs`, `timer`) live
//! beside the rest of the Azure code, in `azure/trigger/`; see [`crate::azure`].

mod document;
pub mod dynamodb;
pub mod eventbridge;
pub mod http;
pub mod kafka;
pub mod kinesis;
pub(crate) mod messaging;
pub mod other;
mod plan;
pub(crate) mod records;
pub mod s3;
pub mod schedule;
pub mod sns;
pub mod sqs;

pub(crate) use plan::{InvocationContext, InvocationSpan, Response, Trigger, TriggerSpan};
pub(crate) use records::RecordTrigger;
pub use records::{BatchedRecord, TracedRecord, process_record};

/// How each trigger recognises its event by shape, in the order they are asked: what an
/// invocation whose event did not deserialize is recorded as. A trigger's recogniser lives in
/// its own file; this list names each once.
pub(crate) const RECOGNISERS: &[(FaasTrigger, Recogniser)] = &[
    (FaasTrigger::Http, http::recognises),
    (FaasTrigger::Timer, schedule::recognises),
    (FaasTrigger::PubSub, eventbridge::recognises),
    (FaasTrigger::PubSub, kafka::recognises),
    (FaasTrigger::PubSub, sqs::recognises),
    (FaasTrigger::PubSub, sns::recognises),
    (FaasTrigger::PubSub, kinesis::recognises),
    (FaasTrigger::Datasource, s3::recognises),
    (FaasTrigger::Datasource, dynamodb::recognises),
];

/// Whether an event has a trigger's shape.
pub(crate) type Recogniser = fn(&serde_json::Value) -> bool;

/// The trigger an event's shape suggests, if any.
pub(crate) fn recognise(event: &serde_json::Value) -> Option<FaasTrigger> {
    RECOGNISERS
        .iter()
        .find(|(_, recognises)| recognises(event))
        .map(|(trigger, _)| *trigger)
}

/// The trigger a handler's payload type tells, for an event that did not deserialize into
/// it: `(certain, fallback)`. The attribute's `trigger` never reaches [`crate::lambda::run`]
/// (it sees only the handler), but each trigger's events have types of their own in
/// `aws_lambda_events`, so an SQS handler's failed event is `pubsub` whatever its shape. The
/// one type two triggers share, EventBridge's (`eventbridge` is `pubsub`, `schedule` is
/// `timer`), only falls back to `pubsub` when the event's shape does not say `timer`.
pub(crate) fn of_payload(type_name: &str) -> (Option<FaasTrigger>, Option<FaasTrigger>) {
    const EVENTS: &str = "aws_lambda_events::event::";
    let Some(module) = type_name.strip_prefix(EVENTS) else {
        return (None, None);
    };
    let module = module.split("::").next().unwrap_or_default();
    match module {
        "sqs" | "sns" | "kinesis" | "kafka" => (Some(FaasTrigger::PubSub), None),
        "s3" | "dynamodb" => (Some(FaasTrigger::Datasource), None),
        "eventbridge" | "cloudwatch_events" => (None, Some(FaasTrigger::PubSub)),
        _ => (None, None),
    }
}

/// The `eventSource` (or SNS's `EventSource`) of an event's first record.
pub(crate) fn first_record_source(event: &serde_json::Value) -> Option<&str> {
    event
        .get("Records")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
        .and_then(|s| s.as_str())
}

/// The `faas.trigger` values of the semantic conventions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaasTrigger {
    /// A response to a data source operation (S3, DynamoDB stream).
    Datasource,
    /// An HTTP request.
    Http,
    /// A message from a queue or topic.
    PubSub,
    /// A schedule.
    Timer,
    /// Anything else, such as a direct invocation.
    Other,
}

impl FaasTrigger {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            FaasTrigger::Datasource => "datasource",
            FaasTrigger::Http => "http",
            FaasTrigger::PubSub => "pubsub",
            FaasTrigger::Timer => "timer",
            FaasTrigger::Other => "other",
        }
    }
}

/// Where consumer spans take their links from (the `links_from` option).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinksFrom {
    /// SQS: the `AWSTraceHeader` system attribute (X-Ray format), as the semantic conventions
    /// ask.
    AwsTraceHeader,
    /// SQS: W3C `traceparent` in the message attributes, read with the configured
    /// propagators.
    MessageAttributes,
    /// SQS: both; the system attribute first.
    Both,
    /// EventBridge: a trace context in the event's `detail`.
    Detail,
    /// Kinesis: a trace context in a record's JSON data.
    Data,
    /// Nowhere.
    Nowhere,
}

/// Where the invocation span takes its parent from (the `parent_from` option), besides the
/// trigger's own carrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentFrom {
    /// The trigger's carrier (HTTP headers, client context), or the Lambda trace header.
    Trigger,
    /// EventBridge: a trace context in the event's `detail`.
    Detail,
}

impl LinksFrom {
    pub(crate) fn aws_trace_header(self) -> bool {
        matches!(self, LinksFrom::AwsTraceHeader | LinksFrom::Both)
    }

    pub(crate) fn message_attributes(self) -> bool {
        matches!(self, LinksFrom::MessageAttributes | LinksFrom::Both)
    }
}

/// What a `#[traced_function(...)]` attribute configured, as the macro emits it.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// `name = "…"`: the span name instead of the trigger's.
    pub name: Option<&'static str>,
    /// `links_from = "…"`.
    pub links_from: LinksFrom,
    /// `parent_from = "…"`.
    pub parent_from: ParentFrom,
    /// `cron = "…"`: the schedule's cron expression, for `faas.cron`.
    pub cron: Option<&'static str>,
}

impl Spec {
    /// No option set.
    pub const DEFAULT: Spec = Spec {
        name: None,
        links_from: LinksFrom::AwsTraceHeader,
        parent_from: ParentFrom::Trigger,
        cron: None,
    };
}

/// Records of a batch failed, and the platform has no partial batch response for this trigger
/// (S3; Kafka as this crate answers it): the invocation fails, so Lambda retries the event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordsFailed {
    /// The ids of the failed records, in batch order.
    pub failed: Vec<String>,
    /// Records in the batch.
    pub total: usize,
}

impl std::fmt::Display for RecordsFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {} records failed", self.failed.len(), self.total)
    }
}

impl std::error::Error for RecordsFailed {}

impl From<RecordsFailed> for lambda_runtime::Diagnostic {
    fn from(error: RecordsFailed) -> lambda_runtime::Diagnostic {
        lambda_runtime::Diagnostic {
            error_type: std::any::type_name::<RecordsFailed>().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::{eventbridge::EventBridgeEvent, s3::S3Event, sqs::SqsEventObj};
    use std::any::type_name;

    #[test]
    fn payload_types_tell_their_trigger_by_their_module() {
        let sqs = of_payload(type_name::<SqsEventObj<serde_json::Value>>());
        assert_eq!(sqs, (Some(FaasTrigger::PubSub), None));
        let s3 = of_payload(type_name::<S3Event>());
        assert_eq!(s3, (Some(FaasTrigger::Datasource), None));
        let eventbridge = of_payload(type_name::<EventBridgeEvent<String>>());
        assert_eq!(eventbridge, (None, Some(FaasTrigger::PubSub)));
        assert_eq!(of_payload(type_name::<serde_json::Value>()), (None, None));
    }
}
