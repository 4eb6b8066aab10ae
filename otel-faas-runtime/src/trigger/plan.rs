//! What a trigger asks of the glue: the invocation span's name, parent and attributes, and
//! the span it opens inside the invocation. Public items of a private module: the sealed
//! record traits name them, and no user can.

use std::borrow::Cow;

use opentelemetry::trace::{Link, SpanKind, SpanRef};
use opentelemetry::{Context, KeyValue};

use super::{FaasTrigger, Spec};
use crate::telemetry::Telemetry;

/// The invocation span a trigger asks for.
pub struct InvocationSpan {
    /// Span name; `None` keeps the function name.
    pub name: Option<Cow<'static, str>>,
    /// Remote parent from the trigger's carrier; `None` leaves the Lambda trace header (with
    /// `xray-lambda`) or a new trace.
    pub parent: Option<Context>,
    /// The trigger's attributes, after the invocation attributes every trigger gets.
    pub attributes: Vec<KeyValue>,
    /// Items of a batch the invocation span itself stands for (a trigger without a batch
    /// span), for partial batch failures.
    pub batch_size: usize,
}

/// A span a trigger opens inside the invocation (or, for a record handled on its own, under
/// the current span).
pub struct TriggerSpan {
    pub name: Cow<'static, str>,
    pub kind: SpanKind,
    pub attributes: Vec<KeyValue>,
    pub links: Vec<Link>,
    /// Items the span covers (messages of a batch), for partial batch failures.
    pub batch_size: usize,
}

/// What the platform loop saw of an invocation's response, for its trigger to record.
#[derive(Clone, Copy, Debug)]
pub enum Response {
    /// An HTTP response with this status (API Gateway, a function URL, ALB; an Azure HTTP
    /// output binding or forwarded request).
    Http(http::StatusCode),
}

/// The platform's description of the invocation a trigger's input belongs to.
#[derive(Clone, Copy)]
pub enum InvocationContext<'a> {
    /// An AWS Lambda invocation.
    Lambda(&'a lambda_runtime::Context),
    /// An Azure Functions invocation, delivered to the custom handler.
    #[cfg(feature = "azure")]
    Azure(&'a crate::azure::Context),
}

/// A kind of trigger.
pub trait Trigger {
    /// The handler argument it traces.
    type Input;
    /// `faas.trigger`.
    const FAAS_TRIGGER: FaasTrigger;
    /// What the items of a batch are called, in a span status (`1 of 3 records failed`).
    const ITEMS: &'static str = "records";

    /// The Lambda context, when the input is a whole invocation; `None` for one record of an
    /// invocation, which gets no invocation span of its own.
    fn lambda_context(input: &Self::Input) -> Option<&lambda_runtime::Context>;

    /// The invocation the input is, on whichever platform; `None` for one record of an
    /// invocation. Lambda triggers keep the default.
    fn invocation_context(input: &Self::Input) -> Option<InvocationContext<'_>> {
        Self::lambda_context(input).map(InvocationContext::Lambda)
    }

    /// Completes the invocation span: name, parent, attributes.
    fn invocation(
        _input: &Self::Input,
        _spec: &Spec,
        _telemetry: &Telemetry,
        _span: &mut InvocationSpan,
    ) {
    }

    /// Records on the invocation span what the platform loop saw of the response, once the
    /// handler returned; most triggers have nothing to record.
    fn record_response(_span: &SpanRef<'_>, _response: Response) {}

    /// The span opened inside the invocation, if the trigger has one.
    fn trigger_span(
        _input: &Self::Input,
        _spec: &Spec,
        _telemetry: &Telemetry,
    ) -> Option<TriggerSpan> {
        None
    }
}
