//! The outermost layer of the Lambda runtime: it runs each invocation in an invocation scope
//! and gives an event that never reached the handler its span.
//!
//! `lambda_runtime` deserializes the event before the handler runs; when that fails it
//! reports the error to the Runtime API itself and the handler (and so the glue) never sees
//! the invocation. This layer notices, and records an invocation span with status Error,
//! `error.type` `lambda_runtime::deserializer::DeserializeError` (the `errorType` Lambda
//! reports) and the deserializer's message, which names the offending field. Its
//! `faas.trigger` is the handler's when its argument type tells it (`http`, `per_message`),
//! else what the payload looks like (`Records[].eventSource`, `requestContext`), else
//! `other`. That span is exported after the error is posted and before the runtime asks for
//! the next event, while the platform still lets the process run.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Error, LambdaInvocation};
use opentelemetry::trace::{SpanKind, TraceContextExt as _, Tracer as _};
use serde::de::DeserializeOwned;

use super::extension::InvocationDone;
use crate::invocation::{InvocationScope, invocation_attributes, record_init};
use crate::metrics::InvocationFacts;
use crate::outcome::Failure;
use crate::propagation::NO_CARRIER;
use crate::telemetry::Telemetry;
use crate::trigger::FaasTrigger;

/// The `errorType` `lambda_runtime` reports for an event it cannot deserialize.
pub(crate) const DESERIALIZE_ERROR: &str = "lambda_runtime::deserializer::DeserializeError";

/// The layer; see the module documentation.
#[derive(Clone)]
pub struct InvocationLayer {
    telemetry: Option<Telemetry>,
    trigger: Option<FaasTrigger>,
    explain: fn(&[u8]) -> String,
    /// With `OTEL_FAAS_FLUSH=after_response`: the extension that flushes once the
    /// invocation is over.
    after_response: Option<InvocationDone>,
}

impl std::fmt::Debug for InvocationLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvocationLayer")
            .field("trigger", &self.trigger)
            .finish_non_exhaustive()
    }
}

impl InvocationLayer {
    /// A layer for handlers whose payload type is `P`.
    pub(crate) fn new<P: DeserializeOwned>(
        telemetry: Option<Telemetry>,
        trigger: Option<FaasTrigger>,
    ) -> Self {
        InvocationLayer {
            telemetry,
            trigger,
            explain: deserialize_error::<P>,
            after_response: None,
        }
    }

    /// Leaves each invocation's flush to the extension behind `done`, after the response.
    pub(crate) fn flush_after_response(mut self, done: Option<InvocationDone>) -> Self {
        self.after_response = done;
        self
    }
}

impl<S> Layer<S> for InvocationLayer {
    type Service = InvocationService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InvocationService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`InvocationLayer`] wraps around the runtime's.
pub struct InvocationService<S> {
    inner: S,
    layer: InvocationLayer,
}

impl<S> Service<LambdaInvocation> for InvocationService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = Error>,
    S::Future: 'static,
{
    type Response = ();
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), Error>>>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let Some(telemetry) = self.layer.telemetry.clone() else {
            return Box::pin(self.inner.call(invocation));
        };
        let body = invocation.body.clone();
        let context = invocation.context.clone();
        let (trigger, explain) = (self.layer.trigger, self.layer.explain);
        let after_response = self.layer.after_response.clone();
        let scope = InvocationScope::new(telemetry.clone());
        scope.set_request_id(&context.request_id);
        if after_response.is_some() {
            scope.defer_flush();
        }
        let call = self.inner.call(invocation);
        Box::pin(async move {
            let result = scope.clone().run(call).await;
            if !scope.handler_called() {
                let message = explain(&body);
                let flush = after_response.is_none();
                record_malformed(&telemetry, trigger, &context, &body, &message, flush).await;
            }
            if let Some(done) = &after_response {
                done.send(&context.request_id);
            }
            result
        })
    }
}

/// The message `lambda_runtime` reports for a payload that does not deserialize into `P`.
pub(crate) fn deserialize_error<P: DeserializeOwned>(body: &[u8]) -> String {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, P>(deserializer) {
        Ok(_) => "the event was not delivered to the handler".to_owned(),
        Err(error) if error.path().to_string() == "." => {
            format!(
                "failed to deserialize the incoming data into the function's payload type: {}",
                error.inner()
            )
        }
        Err(error) => format!(
            "failed to deserialize the incoming data into the function's payload type: [{}] {}",
            error.path(),
            error.inner()
        ),
    }
}

/// Records and exports the invocation span of an event the handler never saw. Its
/// `faas.trigger` is `known` (what the handler's argument type tells), else what `body`
/// looks like, else `other`.
pub(crate) async fn record_malformed(
    telemetry: &Telemetry,
    known: Option<FaasTrigger>,
    lambda: &lambda_runtime::Context,
    body: &[u8],
    message: &str,
    flush: bool,
) {
    let trigger = known
        .or_else(|| looks_like(body))
        .unwrap_or(FaasTrigger::Other);
    let tracer = telemetry.tracer();
    let parent = telemetry
        .propagation()
        .extract(&NO_CARRIER, lambda.xray_trace_id.as_deref());
    let mut attributes = Vec::with_capacity(8);
    let coldstart = invocation_attributes(telemetry, lambda, trigger, &mut attributes);
    let name = match lambda.env_config.function_name.as_str() {
        "" => "invocation".to_owned(),
        name => name.to_owned(),
    };
    let span = tracer
        .span_builder(name)
        .with_kind(SpanKind::Server)
        .with_attributes(attributes)
        .start_with_context(tracer, &parent);
    let cx = parent.with_span(span);
    if coldstart {
        record_init(telemetry, trigger, &cx);
    }
    telemetry.record_invocation(&InvocationFacts::unreadable(trigger, coldstart));
    let failure = Failure {
        error_type: DESERIALIZE_ERROR.into(),
        message: message.to_owned(),
        stacktrace: None,
    };
    failure.record(&cx.span(), true, telemetry.value_limit());
    cx.span().end();
    if !flush {
        return;
    }
    let deadline = (lambda.deadline > 0)
        .then(|| lambda.deadline())
        .filter(|d| *d > SystemTime::UNIX_EPOCH);
    telemetry.flush_before(deadline).await;
}

/// The trigger a payload's shape suggests.
fn looks_like(body: &[u8]) -> Option<FaasTrigger> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if value.get("requestContext").is_some() || value.get("httpMethod").is_some() {
        return Some(FaasTrigger::Http);
    }
    if value.get("source").is_some() && value.get("detail").is_some() {
        let scheduled =
            value.get("detail-type").and_then(|t| t.as_str()) == Some("Scheduled Event");
        return Some(match scheduled {
            true => FaasTrigger::Timer,
            false => FaasTrigger::PubSub,
        });
    }
    let source = value
        .get("Records")
        .and_then(|r| r.get(0))
        .and_then(|r| r.get("eventSource").or_else(|| r.get("EventSource")))
        .and_then(|s| s.as_str())?;
    match source {
        "aws:sqs" | "aws:sns" | "aws:kinesis" => Some(FaasTrigger::PubSub),
        "aws:s3" | "aws:dynamodb" => Some(FaasTrigger::Datasource),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::event::sqs::SqsEvent;

    #[test]
    fn the_message_names_the_field_as_lambda_runtime_does() {
        let message = deserialize_error::<SqsEvent>(br#"{"Records":[{"messageId": 5}]}"#);
        assert!(
            message.starts_with("failed to deserialize the incoming data"),
            "{message}"
        );
        assert!(message.contains("Records[0].messageId"), "{message}");
        let message = deserialize_error::<SqsEvent>(b"{not json");
        assert!(message.contains("key must be a string"), "{message}");
    }

    #[test]
    fn payload_shapes_suggest_their_trigger() {
        let sqs = br#"{"Records":[{"eventSource":"aws:sqs"}]}"#;
        assert_eq!(looks_like(sqs), Some(FaasTrigger::PubSub));
        let sns = br#"{"Records":[{"EventSource":"aws:sns"}]}"#;
        assert_eq!(looks_like(sns), Some(FaasTrigger::PubSub));
        let schedule = br#"{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}"#;
        assert_eq!(looks_like(schedule), Some(FaasTrigger::Timer));
        let event = br#"{"source":"com.example","detail":{}}"#;
        assert_eq!(looks_like(event), Some(FaasTrigger::PubSub));
        let dynamodb = br#"{"Records":[{"eventSource":"aws:dynamodb"}]}"#;
        assert_eq!(looks_like(dynamodb), Some(FaasTrigger::Datasource));
        let http = br#"{"requestContext":{}}"#;
        assert_eq!(looks_like(http), Some(FaasTrigger::Http));
        assert_eq!(looks_like(b"[]"), None);
        assert_eq!(looks_like(b"\xff"), None);
    }
}
