//! What `#[traced_function]` expands to. Not a stable API: only the macro of the same
//! version may use it.
//!
//! The macro maps the trigger named in the attribute to one module here and calls its
//! `instrument` with the handler's event, its body, and the reader of its return value.
//! Each `instrument` bounds the event by its trigger's input trait, and each reader bounds
//! the return type; their `#[diagnostic::on_unimplemented]` messages are what a user sees,
//! on the argument or on the return type, when the handler does not fit its trigger.

pub use crate::outcome::{Outcome, ReadOutcome, Verdict, read_outcome};
pub use crate::trigger::{LinksFrom, Spec};

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
        crate::trigger::sqs::verdict(output)
    }
}

/// `trigger = "sqs", per_message`.
pub mod sqs_message {
    use std::future::Future;

    use crate::outcome::ReadOutcome;
    use crate::trigger::Spec;
    use crate::trigger::sqs::{SqsMessageInput, SqsMessageTrigger};

    /// Traces the processing of one SQS message.
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
        crate::invocation::instrument::<SqsMessageTrigger<I>, F, Fut>(spec, input, body, read).await
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
