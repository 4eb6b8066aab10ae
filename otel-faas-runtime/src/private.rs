//! What `#[traced_function]` expands to, and the few insides the local runner
//! (`otel-faas-local`) reaches. Not a stable API: only the macro and the local runner of the
//! same version may use it.
//!
//! The macro maps the trigger named in the attribute to one module here and calls its
//! `instrument` with the handler's event, its body, and the reader of its return value.
//! Each `instrument` bounds the event by its trigger's input trait, and each reader bounds
//! the return type; their `#[diagnostic::on_unimplemented]` messages are what a user sees,
//! on the argument or on the return type, when the handler does not fit its trigger.

pub use crate::outcome::{Outcome, ReadOutcome, Verdict, read_outcome};
pub use crate::trigger::{LinksFrom, ParentFrom, Spec};

/// One trigger's entry point: `$module::instrument` bounds the handler's argument by the
/// trigger's input trait and traces the call as `$trigger<I>`; `$reader`, when given, is the
/// trait that reads the handler's return value (partial batch failures). One invocation per
/// trigger, so a compile error's note names the trait on the invocation's line.
macro_rules! entry_point {
    ($(#[$attr:meta])* $module:ident: $input:ident => $trigger:ident $(, reads $reader:ident)?) => {
        $(#[$attr])*
        pub mod $module {
            use std::future::Future;

            use super::*;
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
        }
    };
}

use crate::trigger::RecordTrigger;
use crate::trigger::dynamodb::{
    DynamoDb, DynamoDbEventInput, DynamoDbOutcome, DynamoDbRecordInput,
};
use crate::trigger::eventbridge::{EventBridge, EventBridgeInput};
use crate::trigger::http::{Http, HttpInput};
use crate::trigger::kafka::{Kafka, KafkaEventInput, KafkaRecordInput};
use crate::trigger::kinesis::{Kinesis, KinesisEventInput, KinesisOutcome, KinesisRecordInput};
use crate::trigger::other::{Other, OtherInput};
use crate::trigger::s3::{S3, S3EventInput, S3RecordInput};
use crate::trigger::schedule::Schedule;
use crate::trigger::sns::{Sns, SnsEventInput};
use crate::trigger::sqs::{Sqs, SqsEventInput, SqsMessageInput, SqsOutcome};

entry_point!(/** `trigger = "http"`. */ http: HttpInput => Http);
entry_point!(/** `trigger = "sqs"`. */ sqs: SqsEventInput => Sqs, reads SqsOutcome);
entry_point!(/** `trigger = "sqs", per_message`. */ sqs_message: SqsMessageInput => RecordTrigger);
entry_point!(/** `trigger = "sns"`. */ sns: SnsEventInput => Sns);
entry_point!(/** `trigger = "eventbridge"`. */ eventbridge: EventBridgeInput => EventBridge);
entry_point!(/** `trigger = "schedule"`. */ schedule: EventBridgeInput => Schedule);
entry_point!(/** `trigger = "s3"`. */ s3: S3EventInput => S3);
entry_point!(/** `trigger = "s3", per_record`. */ s3_record: S3RecordInput => RecordTrigger);
entry_point!(/** `trigger = "dynamodb"`. */ dynamodb: DynamoDbEventInput => DynamoDb, reads DynamoDbOutcome);
entry_point!(/** `trigger = "dynamodb", per_record`. */ dynamodb_record: DynamoDbRecordInput => RecordTrigger);
entry_point!(/** `trigger = "kinesis"`. */ kinesis: KinesisEventInput => Kinesis, reads KinesisOutcome);
entry_point!(/** `trigger = "kinesis", per_record`. */ kinesis_record: KinesisRecordInput => RecordTrigger);
entry_point!(/** `trigger = "kafka"`. */ kafka: KafkaEventInput => Kafka);
entry_point!(/** `trigger = "kafka", per_record`. */ kafka_record: KafkaRecordInput => RecordTrigger);
entry_point!(/** `trigger = "other"`. */ other: OtherInput => Other);

#[cfg(feature = "azure")]
use crate::azure::trigger::{
    event_hubs::{AzureEventHubs, EventHubsInput},
    http::{AzureHttp, AzureHttpInput},
    queue::{AzureQueue, QueueInput},
    service_bus::{AzureServiceBus, ServiceBusInput},
    timer::{AzureTimer, TimerInput},
};

#[cfg(feature = "azure")]
entry_point!(/** `trigger = "http"` on Azure Functions. */ azure_http: AzureHttpInput => AzureHttp);
#[cfg(feature = "azure")]
entry_point!(/** `trigger = "queue"`. */ azure_queue: QueueInput => AzureQueue);
#[cfg(feature = "azure")]
entry_point!(/** `trigger = "service_bus"`. */ azure_service_bus: ServiceBusInput => AzureServiceBus);
#[cfg(feature = "azure")]
entry_point!(/** `trigger = "event_hubs"`. */ azure_event_hubs: EventHubsInput => AzureEventHubs);
#[cfg(feature = "azure")]
entry_point!(/** `trigger = "timer"`. */ azure_timer: TimerInput => AzureTimer);

/// What `otel-faas-local`, the local runner of this workspace, needs from the runtime's
/// insides to play the platform in process.
pub mod local {
    /// The header that carries the Functions host's invocation id
    /// (`X-Azure-Functions-InvocationId`).
    #[cfg(feature = "azure")]
    pub const AZURE_INVOCATION_ID: &str = crate::azure::INVOCATION_ID;

    /// What a function app's `host.json` says about running its custom handler, for the host
    /// double (`functionTimeout`, `workingDirectory`).
    #[cfg(feature = "azure")]
    pub use crate::azure::host_json::HostJson;
}
