//! What `#[traced_function]` expands to. Not a stable API: only the macro of the same
//! version may use it.
//!
//! The macro maps the trigger named in the attribute to one module here and calls its
//! `instrument` with the handler's event, its body, and the reader of its return value.
//! Each `instrument` bounds the event by its trigger's input trait, and each reader bounds
//! the return type; their `#[diagnostic::on_unimplemented]` messages are what a user sees,
//! on the argument or on the return type, when the handler does not fit its trigger.

pub use crate::outcome::{Outcome, ReadOutcome, Verdict, read_outcome};
pub use crate::trigger::{LinksFrom, ParentFrom, Spec};

/// One entry point per trigger: `$module::instrument` bounds the handler's argument by the
/// trigger's input trait and traces the call as `$trigger<I>`; `$reader`, when given, is the
/// trait that reads the handler's return value (partial batch failures).
macro_rules! entry_points {
    ($(
        $(#[$attr:meta])*
        $module:ident: $input:path => $trigger:ident $(, reads $reader:path)?;
    )*) => {$(
        $(#[$attr])*
        pub mod $module {
            use std::future::Future;

            use crate::outcome::ReadOutcome;
            use crate::trigger::Spec;

            /// Traces one call of the handler.
            pub async fn instrument<I, F, Fut>(
                spec: &'static Spec,
                input: I,
                body: F,
                read: ReadOutcome<Fut::Output>,
            ) -> Fut::Output
            where
                I: $input,
                F: FnOnce(I) -> Fut,
                Fut: Future,
            {
                crate::invocation::instrument::<$trigger<I>, F, Fut>(spec, input, body, read)
                    .await
            }

            $(
                /// Reads the handler's return value, partial batch failures included.
                pub fn read_outcome<R: $reader>(output: &R) -> crate::outcome::Verdict {
                    output.verdict()
                }
            )?

            #[allow(unused_imports)]
            use super::*;
        }
    )*};
}

use crate::trigger::RecordTrigger;
use crate::trigger::dynamodb::DynamoDb;
use crate::trigger::eventbridge::EventBridge;
use crate::trigger::http::Http;
use crate::trigger::kafka::Kafka;
use crate::trigger::kinesis::Kinesis;
use crate::trigger::other::Other;
use crate::trigger::s3::S3;
use crate::trigger::schedule::Schedule;
use crate::trigger::sns::Sns;
use crate::trigger::sqs::Sqs;

entry_points! {
    /// `trigger = "http"`.
    http: crate::trigger::http::HttpInput => Http;
    /// `trigger = "sqs"`.
    sqs: crate::trigger::sqs::SqsEventInput => Sqs, reads crate::trigger::sqs::SqsOutcome;
    /// `trigger = "sqs", per_message`.
    sqs_message: crate::trigger::sqs::SqsMessageInput => RecordTrigger;
    /// `trigger = "sns"`.
    sns: crate::trigger::sns::SnsEventInput => Sns;
    /// `trigger = "eventbridge"`.
    eventbridge: crate::trigger::eventbridge::EventBridgeInput => EventBridge;
    /// `trigger = "schedule"`.
    schedule: crate::trigger::eventbridge::EventBridgeInput => Schedule;
    /// `trigger = "s3"`.
    s3: crate::trigger::s3::S3EventInput => S3;
    /// `trigger = "s3", per_record`.
    s3_record: crate::trigger::s3::S3RecordInput => RecordTrigger;
    /// `trigger = "dynamodb"`.
    dynamodb: crate::trigger::dynamodb::DynamoDbEventInput => DynamoDb,
        reads crate::trigger::dynamodb::DynamoDbOutcome;
    /// `trigger = "dynamodb", per_record`.
    dynamodb_record: crate::trigger::dynamodb::DynamoDbRecordInput => RecordTrigger;
    /// `trigger = "kinesis"`.
    kinesis: crate::trigger::kinesis::KinesisEventInput => Kinesis,
        reads crate::trigger::kinesis::KinesisOutcome;
    /// `trigger = "kinesis", per_record`.
    kinesis_record: crate::trigger::kinesis::KinesisRecordInput => RecordTrigger;
    /// `trigger = "kafka"`.
    kafka: crate::trigger::kafka::KafkaEventInput => Kafka;
    /// `trigger = "kafka", per_record`.
    kafka_record: crate::trigger::kafka::KafkaRecordInput => RecordTrigger;
    /// `trigger = "other"`.
    other: crate::trigger::other::OtherInput => Other;
}

#[cfg(feature = "azure")]
use crate::azure::trigger::{
    event_hubs::AzureEventHubs, http::AzureHttp, queue::AzureQueue, service_bus::AzureServiceBus,
    timer::AzureTimer,
};

#[cfg(feature = "azure")]
entry_points! {
    /// `trigger = "http"` on Azure Functions.
    #[cfg(feature = "azure")]
    azure_http: crate::azure::trigger::http::AzureHttpInput => AzureHttp;
    /// `trigger = "queue"`.
    #[cfg(feature = "azure")]
    azure_queue: crate::azure::trigger::queue::QueueInput => AzureQueue;
    /// `trigger = "service_bus"`.
    #[cfg(feature = "azure")]
    azure_service_bus: crate::azure::trigger::service_bus::ServiceBusInput => AzureServiceBus;
    /// `trigger = "event_hubs"`.
    #[cfg(feature = "azure")]
    azure_event_hubs: crate::azure::trigger::event_hubs::EventHubsInput => AzureEventHubs;
    /// `trigger = "timer"`.
    #[cfg(feature = "azure")]
    azure_timer: crate::azure::trigger::timer::TimerInput => AzureTimer;
}
