//! The outermost layer of the Lambda runtime: each invocation `lambda_runtime` hands over
//! becomes an [`Invocation`] of its own, and an event that never reached the handler still
//! gets its span.
//!
//! An event that does not deserialize into the handler's argument (or that `lambda_http`
//! cannot turn into a request) is reported to the Runtime API by the handler's service
//! ([`super::diagnostic`]) and never reaches the handler, and so the glue. This layer
//! notices, and records an invocation span with status Error, `error.type`
//! `lambda_runtime::deserializer::DeserializeError` (the `errorType` Lambda reports) and the
//! deserializer's message, which names the offending field. Its
//! `faas.trigger` is the handler's when its argument type tells it (`http`, `per_message`),
//! else what the payload looks like (`Records[].eventSource`, `requestContext`), else
//! `other`. That span is exported after the error is posted and before the runtime asks for
//! the next event, while the platform still lets the process run.
//!
//! With `OTEL_FAAS_FLUSH=after_response`, the layer exports once `lambda_runtime` has
//! posted the response: on Lambda (one invocation at a time) it hands the invocation to the
//! internal extension ([`super::extension`]), which holds the environment open until the
//! export is done; on Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY` > 1) the
//! environment is never frozen between invocations and extensions get no INVOKE events, so
//! the layer exports itself, right after the response, before its worker asks for the next
//! event.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;

use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{Error, LambdaInvocation};
use serde::de::DeserializeOwned;

use super::diagnostic::reading;
use super::extension::InvocationDone;
use super::poll::Rejected;
use crate::invocation::{InFlight, Invocation, Supervision, Unread, invocation_attributes};
use crate::outcome::Failure;
use crate::propagation::NO_CARRIER;
use crate::redact::without_values;
use crate::telemetry::Telemetry;
use crate::trigger::FaasTrigger;
use crate::watchdog::Watchdog;

/// The `error.type`, and the `errorType` Lambda records, of an event the handler could not be
/// given: `lambda_runtime`'s own name for it, without the `&` of its type-name default.
pub(crate) const DESERIALIZE_ERROR: &str = "lambda_runtime::deserializer::DeserializeError";

/// Who exports an invocation's spans after its response.
#[derive(Clone, Debug)]
pub(crate) enum AfterResponse {
    /// The internal extension, told when the invocation is over.
    Extension(InvocationDone),
    /// This layer, once the response is posted (the environment is not frozen).
    Layer,
}

/// The layer; see the module documentation.
#[doc(hidden)]
#[derive(Clone)]
pub struct InvocationLayer {
    telemetry: Option<Telemetry>,
    trigger: Option<FaasTrigger>,
    fallback: Option<FaasTrigger>,
    explain: fn(&[u8]) -> String,
    watchdog: Arc<Watchdog>,
    after_response: Option<AfterResponse>,
    in_flight: Arc<InFlight>,
}

impl std::fmt::Debug for InvocationLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvocationLayer")
            .field("trigger", &self.trigger)
            .finish_non_exhaustive()
    }
}

impl InvocationLayer {
    /// A layer for handlers whose payload type is `P`, of `trigger` when their argument
    /// type tells it (else their payload type may: [`crate::trigger::of_payload`]).
    pub(crate) fn new<P: DeserializeOwned>(
        telemetry: Option<Telemetry>,
        trigger: Option<FaasTrigger>,
    ) -> Self {
        let (by_payload, fallback) = crate::trigger::of_payload(std::any::type_name::<P>());
        InvocationLayer {
            telemetry,
            trigger: trigger.or(by_payload),
            fallback,
            explain: deserialize_error::<P>,
            watchdog: Arc::default(),
            after_response: None,
            in_flight: Arc::default(),
        }
    }

    /// Uses `watchdog` (the test kit's, kept across its invocations) instead of its own.
    #[cfg(feature = "testing")]
    pub(crate) fn with_watchdog(mut self, watchdog: Arc<Watchdog>) -> Self {
        self.watchdog = watchdog;
        self
    }

    /// The invocations this layer has in flight, for the shutdown to cut off.
    pub(crate) fn in_flight(&self) -> Arc<InFlight> {
        self.in_flight.clone()
    }

    /// Leaves each invocation's flush to after the response.
    pub(crate) fn flush_after_response(mut self, after: Option<AfterResponse>) -> Self {
        self.after_response = after;
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
#[doc(hidden)]
#[derive(Clone)]
pub struct InvocationService<S> {
    inner: S,
    layer: InvocationLayer,
}

impl<S> Service<LambdaInvocation> for InvocationService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = Error>,
    S::Future: Send + 'static,
{
    type Response = ();
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: LambdaInvocation) -> Self::Future {
        // An invocation whose caller header does not parse is not served: the poll loop
        // posts its error once it is recorded here.
        let rejected = request.parts.extensions.get::<Rejected>().cloned();
        let Some(telemetry) = self.layer.telemetry.clone() else {
            return match rejected {
                Some(_) => Box::pin(std::future::ready(Ok(()))),
                None => {
                    let body = request.body.clone();
                    Box::pin(reading(&body, || self.inner.call(request)))
                }
            };
        };
        let body = request.body.clone();
        let context = request.context.clone();
        let (trigger, fallback, explain) =
            (self.layer.trigger, self.layer.fallback, self.layer.explain);
        let after_response = self.layer.after_response.clone();
        let invocation = Invocation::begin(
            telemetry.clone(),
            context.request_id.clone(),
            deadline_of(&context),
            Supervision {
                watchdog: Some(self.layer.watchdog.clone()),
                after_response: after_response.is_some(),
            },
        );
        // Wrapped here rather than in the block below, which would hold the service's
        // future twice: once captured, once awaited.
        let call = rejected.is_none().then(|| {
            invocation
                .clone()
                .run(reading(&body, || self.inner.call(request)))
        });
        let in_flight = self.layer.in_flight.clone();
        in_flight.add(&invocation);
        Box::pin(async move {
            let result = match call {
                Some(call) => call.await,
                None => Ok(()),
            };
            if !invocation.handler_called() {
                let failure = match rejected {
                    Some(Rejected(diagnostic)) => Failure {
                        error_type: diagnostic.error_type.into(),
                        message: diagnostic.error_message,
                        stacktrace: None,
                    },
                    // The handler's service says why (`super::diagnostic`); else explain it.
                    None => invocation
                        .take_undelivered()
                        .unwrap_or_else(|| super::diagnostic::undeliverable(explain(&body))),
                };
                let unread = unread(&telemetry, (trigger, fallback), &context, &body, failure);
                // The rare paths' futures are boxed where they start: held inline, they would
                // make this future kilobytes larger, and it is moved into its box on every
                // invocation (issue 17: memcpy was the largest cost this layer added).
                Box::pin(invocation.clone().run(invocation.finish_unread(unread))).await;
            }
            in_flight.remove(&invocation);
            match after_response {
                Some(AfterResponse::Extension(done)) => done.send(invocation),
                Some(AfterResponse::Layer) => {
                    Box::pin(invocation.flush()).await;
                }
                None => {}
            }
            result
        })
    }
}

/// The invocation's deadline, when the Runtime API gave a sane one: not 0, and not one that
/// had passed already when the invocation was handed over. cargo-lambda's `cargo lambda
/// watch` sends a fixed `600000` (a duration, not epoch milliseconds); taken as a deadline,
/// every invocation would have no time left and export nothing. Such a deadline is treated
/// as unknown (the flush timeout alone bounds the export), and said once.
pub(crate) fn deadline_of(context: &lambda_runtime::Context) -> Option<SystemTime> {
    let deadline = (context.deadline > 0).then(|| context.deadline())?;
    if deadline <= SystemTime::now() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            tracing::warn!(
                target: "otel_faas",
                deadline_ms = context.deadline,
                "the platform sent an implausible deadline (already past when the invocation \
                 started): invocations are treated as having no deadline"
            );
        });
        return None;
    }
    Some(deadline)
}

/// The message `lambda_runtime` reports for a payload that does not deserialize into `P`.
///
/// Read through `serde_path_to_error` around `serde_json`, the deserializer type
/// `lambda_runtime` gives [`super::diagnostic::Delivered`], which reads `P` with it: `P`'s
/// deserializer is compiled once, for that type, in every function binary.
pub(crate) fn deserialize_error<P: DeserializeOwned>(body: &[u8]) -> String {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, P>(deserializer) {
        Ok(_) => "the event was not delivered to the handler".to_owned(),
        Err(error) => deserialize_message(&error),
    }
}

/// The message `lambda_runtime` reports for `error` (`lambda_runtime`'s `deserializer.rs`),
/// without the event's values: the field path and the expected type only.
pub(crate) fn deserialize_message<E: std::fmt::Display>(
    error: &serde_path_to_error::Error<E>,
) -> String {
    let inner = without_values(&error.inner().to_string());
    match error.path().to_string().as_str() {
        "." => format!(
            "failed to deserialize the incoming data into the function's payload type: {inner}"
        ),
        path => format!(
            "failed to deserialize the incoming data into the function's payload type: [{path}] {inner}"
        ),
    }
}

/// The invocation span of an event the handler never saw, failed with `failure`. Its
/// `faas.trigger` is the first of `(known, fallback)` that is known (what the handler's
/// argument or payload type tells), else what `body` looks like, else the fallback, else
/// `other`.
pub(crate) fn unread(
    telemetry: &Telemetry,
    (known, fallback): (Option<FaasTrigger>, Option<FaasTrigger>),
    lambda: &lambda_runtime::Context,
    body: &[u8],
    failure: Failure,
) -> Unread {
    let trigger = known
        .or_else(|| looks_like(body))
        .or(fallback)
        .unwrap_or(FaasTrigger::Other);
    let parent = telemetry
        .propagation()
        .extract(&NO_CARRIER, lambda.xray_trace_id.as_deref());
    let mut attributes = Vec::with_capacity(8);
    let coldstart = invocation_attributes(telemetry, lambda, trigger, &mut attributes);
    let name = match lambda.env_config.function_name.as_str() {
        "" => "invocation".to_owned(),
        name => name.to_owned(),
    };
    Unread {
        trigger,
        name,
        parent,
        attributes,
        coldstart,
        failure,
    }
}

/// The trigger a payload's shape suggests (each trigger recognises its own events; see
/// [`crate::trigger::RECOGNISERS`]).
fn looks_like(body: &[u8]) -> Option<FaasTrigger> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    crate::trigger::recognise(&value)
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
        let msk = br#"{"eventSource":"aws:kafka","records":{}}"#;
        assert_eq!(looks_like(msk), Some(FaasTrigger::PubSub));
        let kafka = br#"{"eventSource":"SelfManagedKafka","records":{}}"#;
        assert_eq!(looks_like(kafka), Some(FaasTrigger::PubSub));
        let http = br#"{"requestContext":{}}"#;
        assert_eq!(looks_like(http), Some(FaasTrigger::Http));
        assert_eq!(looks_like(b"[]"), None);
        assert_eq!(looks_like(b"\xff"), None);
    }
}
