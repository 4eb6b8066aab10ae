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

#[cfg(feature = "azure")]
pub use crate::azure::glue::{
    azure_event_hubs, azure_http, azure_queue, azure_service_bus, azure_timer,
};

/// `trigger = "http"`.
pub mod http {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::http::{Http, HttpInput};

    /// Traces one HTTP request.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: HttpInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<Http<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "sqs"`.
pub mod sqs {
    use std::future::Future;

    use crate::outcome::{ReadOutcome, Verdict};
    use crate::trigger::Spec;
    use crate::trigger::sqs::{Sqs, SqsEventInput, SqsOutcome};

    /// Traces one batch of SQS messages.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: SqsEventInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<Sqs<I>, F, Fut>(spec, input, body, read).await
    }

    /// Reads an SQS handler's return value, partial batch failures included.
    pub fn read_outcome<R: SqsOutcome>(output: &R) -> Verdict {
        output.verdict()
    }
}

/// `trigger = "sqs", per_message`.
pub mod sqs_message {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::RecordTrigger;
    use crate::trigger::Spec;
    use crate::trigger::sqs::SqsMessageInput;

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: SqsMessageInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<RecordTrigger<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "sns"`.
pub mod sns {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::sns::{Sns, SnsEventInput};

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: SnsEventInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<Sns<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "eventbridge"`.
pub mod eventbridge {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::eventbridge::{EventBridge, EventBridgeInput};

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: EventBridgeInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<EventBridge<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "schedule"`.
pub mod schedule {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::eventbridge::EventBridgeInput;
    use crate::trigger::schedule::Schedule;

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: EventBridgeInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<Schedule<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "s3"`.
pub mod s3 {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::s3::{S3, S3EventInput};

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: S3EventInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<S3<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "s3", per_record`.
pub mod s3_record {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::RecordTrigger;
    use crate::trigger::Spec;
    use crate::trigger::s3::S3RecordInput;

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: S3RecordInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<RecordTrigger<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "dynamodb"`.
pub mod dynamodb {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::dynamodb::{DynamoDb, DynamoDbEventInput, DynamoDbOutcome};

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: DynamoDbEventInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<DynamoDb<I>, F, Fut>(spec, input, body, read).await
    }

    /// Reads the handler's return value, partial batch failures included.
    pub fn read_outcome<R: DynamoDbOutcome>(output: &R) -> crate::outcome::Verdict {
        output.verdict()
    }
}

/// `trigger = "dynamodb", per_record`.
pub mod dynamodb_record {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::RecordTrigger;
    use crate::trigger::Spec;
    use crate::trigger::dynamodb::DynamoDbRecordInput;

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: DynamoDbRecordInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<RecordTrigger<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "kinesis"`.
pub mod kinesis {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::kinesis::{Kinesis, KinesisEventInput, KinesisOutcome};

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: KinesisEventInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<Kinesis<I>, F, Fut>(spec, input, body, read).await
    }

    /// Reads the handler's return value, partial batch failures included.
    pub fn read_outcome<R: KinesisOutcome>(output: &R) -> crate::outcome::Verdict {
        output.verdict()
    }
}

/// `trigger = "kinesis", per_record`.
pub mod kinesis_record {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::RecordTrigger;
    use crate::trigger::Spec;
    use crate::trigger::kinesis::KinesisRecordInput;

    /// Traces one call of the handler.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: KinesisRecordInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<RecordTrigger<I>, F, Fut>(spec, input, body, read).await
    }
}

/// `trigger = "other"`.
pub mod other {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::other::{Other, OtherInput};

    /// Traces one invocation with any payload.
    pub async fn instrument<I, F, Fut>(
        spec: &'static Spec,
        input: I,
        body: F,
        read: ReadOutcome<Fut::Output>,
    ) -> Fut::Output
    where
        I: OtherInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
    {
        crate::invocation::instrument::<Other<I>, F, Fut>(spec, input, body, read).await
    }
}

/// What `otel-faas-local`, the local runner of this workspace, needs from the runtime's
/// insides to play the platform in process.
pub mod local {
    use crate::telemetry::Telemetry;

    /// Installs the log subscriber `lambda::run` and `azure::FunctionApp::run` install: JSON
    /// or text lines with the trace and span ids, and `telemetry`'s tracing layer.
    pub fn install_logging(telemetry: Option<&Telemetry>) {
        crate::logging::install(telemetry);
    }

    /// The header that carries the Functions host's invocation id
    /// (`X-Azure-Functions-InvocationId`).
    #[cfg(feature = "azure")]
    pub const AZURE_INVOCATION_ID: &str = crate::azure::INVOCATION_ID;

    /// The function app `app` serves, as it was described (explicitly or by the environment).
    #[cfg(feature = "azure")]
    pub fn app_identity(app: &crate::azure::FunctionApp) -> &crate::azure::AppIdentity {
        app.app_identity()
    }
}
