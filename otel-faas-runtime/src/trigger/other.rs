//! `trigger = "other"`: any payload — a direct `Invoke`, Step Functions, a custom event.
//!
//! One SERVER span named after the function, with `faas.trigger=other`. A caller that
//! invokes the function with the AWS SDK can pass its trace context in the client context:
//! the `custom` map's `traceparent`, `tracestate` and `baggage` entries are read with the
//! configured propagators, so the invocation joins the caller's trace. Without them, or
//! when they are malformed, the invocation starts a new trace.

use std::marker::PhantomData;

use lambda_runtime::LambdaEvent;

use super::{FaasTrigger, InvocationSpan, Spec, Trigger};
use crate::propagation::MapCarrier;
use crate::telemetry::Telemetry;

/// Seals the input trait: only the event types this crate knows implement it.
mod sealed {
    pub trait Sealed {}
}

/// An event the `other` trigger accepts: `LambdaEvent<T>` for any payload type `T`.
#[diagnostic::on_unimplemented(
    message = "the `other` trigger takes `LambdaEvent<T>`, not `{Self}`",
    label = "expected `lambda_runtime::LambdaEvent<T>` here",
    note = "`T` is any type serde can deserialize the payload into, such as `serde_json::Value`"
)]
pub trait OtherInput: sealed::Sealed {
    /// The invocation's Lambda context.
    fn context(&self) -> &lambda_runtime::Context;
}

impl<T> sealed::Sealed for LambdaEvent<T> {}

impl<T> OtherInput for LambdaEvent<T> {
    fn context(&self) -> &lambda_runtime::Context {
        &self.context
    }
}

/// The `other` trigger.
pub(crate) struct Other<I>(PhantomData<I>);

impl<I: OtherInput> Trigger for Other<I> {
    type Input = I;
    const FAAS_TRIGGER: FaasTrigger = FaasTrigger::Other;

    fn lambda_context(input: &I) -> Option<&lambda_runtime::Context> {
        Some(input.context())
    }

    fn invocation(input: &I, _spec: &Spec, telemetry: &Telemetry, span: &mut InvocationSpan) {
        let lambda = input.context();
        if let Some(client) = &lambda.client_context {
            span.parent = Some(
                telemetry
                    .propagation()
                    .extract(&MapCarrier(&client.custom), lambda.xray_trace_id.as_deref()),
            );
        }
    }
}
