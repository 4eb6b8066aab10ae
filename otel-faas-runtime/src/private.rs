//! What `#[traced_function]` expands to. Not a stable API: only the macro of the same
//! version may use it.
//!
//! The macro maps the trigger named in the attribute to one module here and calls its
//! `instrument` with the handler's event and its body. Each `instrument` bounds the event by
//! its trigger's input trait, whose `#[diagnostic::on_unimplemented]` message is what a user
//! sees when the argument type does not fit the trigger.

pub use crate::outcome::Outcome;
pub use crate::trigger::{LinksFrom, Spec};

/// `trigger = "http"`.
pub mod http {
    use std::future::Future;

    use crate::outcome::Outcome;
    use crate::trigger::Spec;
    use crate::trigger::http::{Http, HttpInput};

    /// Traces one HTTP request.
    pub async fn instrument<I, F, Fut>(spec: &'static Spec, input: I, body: F) -> Fut::Output
    where
        I: HttpInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
        Fut::Output: Outcome,
    {
        crate::invocation::instrument::<Http<I>, F, Fut>(spec, input, body).await
    }
}

/// `trigger = "sqs"`.
pub mod sqs {
    use std::future::Future;

    use crate::trigger::Spec;
    use crate::trigger::sqs::{Sqs, SqsEventInput, SqsOutcome, record_batch_failures};

    /// Traces one batch of SQS messages.
    pub async fn instrument<I, F, Fut>(spec: &'static Spec, input: I, body: F) -> Fut::Output
    where
        I: SqsEventInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
        Fut::Output: SqsOutcome,
    {
        let batch_size = input.messages().len();
        let body = move |input| async move {
            let output = body(input).await;
            if let Some(failures) = output.batch_item_failures() {
                record_batch_failures(failures, batch_size);
            }
            output
        };
        crate::invocation::instrument::<Sqs<I>, _, _>(spec, input, body).await
    }
}

/// `trigger = "sqs", per_message`.
pub mod sqs_message {
    use std::future::Future;

    use crate::outcome::Outcome;
    use crate::trigger::Spec;
    use crate::trigger::sqs::{SqsMessageInput, SqsMessageTrigger};

    /// Traces the processing of one SQS message.
    pub async fn instrument<I, F, Fut>(spec: &'static Spec, input: I, body: F) -> Fut::Output
    where
        I: SqsMessageInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
        Fut::Output: Outcome,
    {
        crate::invocation::instrument::<SqsMessageTrigger<I>, F, Fut>(spec, input, body).await
    }
}

/// `trigger = "other"`.
pub mod other {
    use std::future::Future;

    use crate::outcome::Outcome;
    use crate::trigger::Spec;
    use crate::trigger::other::{Other, OtherInput};

    /// Traces one invocation with any payload.
    pub async fn instrument<I, F, Fut>(spec: &'static Spec, input: I, body: F) -> Fut::Output
    where
        I: OtherInput,
        F: FnOnce(I) -> Fut,
        Fut: Future,
        Fut::Output: Outcome,
    {
        crate::invocation::instrument::<Other<I>, F, Fut>(spec, input, body).await
    }
}
