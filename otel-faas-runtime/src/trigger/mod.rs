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
//! | `other` | `LambdaEvent<T>` | SERVER *function* | client context `custom.traceparent` | — |

use std::borrow::Cow;

use opentelemetry::trace::{Link, SpanKind};
use opentelemetry::{Context, KeyValue};

use crate::telemetry::Telemetry;

pub mod http;
pub mod other;
pub mod sqs;

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
    /// The `AWSTraceHeader` system attribute (X-Ray format), as the semantic conventions ask.
    AwsTraceHeader,
    /// W3C `traceparent` in the message attributes, read with the configured propagators.
    MessageAttributes,
    /// Both; the system attribute first.
    Both,
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
}

impl Spec {
    /// No option set.
    pub const DEFAULT: Spec = Spec {
        name: None,
        links_from: LinksFrom::AwsTraceHeader,
    };
}

/// The invocation span a trigger asks for.
pub(crate) struct InvocationSpan {
    /// Span name; `None` keeps the function name.
    pub(crate) name: Option<Cow<'static, str>>,
    /// Remote parent from the trigger's carrier; `None` leaves the Lambda trace header (with
    /// `xray-lambda`) or a new trace.
    pub(crate) parent: Option<Context>,
    /// The trigger's attributes, after the invocation attributes every trigger gets.
    pub(crate) attributes: Vec<KeyValue>,
}

/// A span a trigger opens inside the invocation (or, for a record handled on its own, under
/// the current span).
pub(crate) struct TriggerSpan {
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: SpanKind,
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) links: Vec<Link>,
    /// Items the span covers (messages of a batch), for partial batch failures.
    pub(crate) batch_size: usize,
}

/// A kind of trigger.
pub(crate) trait Trigger {
    /// The handler argument it traces.
    type Input;
    /// `faas.trigger`.
    const FAAS_TRIGGER: FaasTrigger;

    /// The Lambda context, when the input is a whole invocation; `None` for one record of an
    /// invocation, which gets no invocation span of its own.
    fn lambda_context(input: &Self::Input) -> Option<&lambda_runtime::Context>;

    /// Completes the invocation span: name, parent, attributes.
    fn invocation(
        _input: &Self::Input,
        _spec: &Spec,
        _telemetry: &Telemetry,
        _span: &mut InvocationSpan,
    ) {
    }

    /// The span opened inside the invocation, if the trigger has one.
    fn trigger_span(
        _input: &Self::Input,
        _spec: &Spec,
        _telemetry: &Telemetry,
    ) -> Option<TriggerSpan> {
        None
    }
}
