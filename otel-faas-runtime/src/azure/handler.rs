//! The functions a [`FunctionApp`](super::FunctionApp) serves, and how one invocation of each
//! is managed: the payload read from the host's request (or its readable rejection, with an
//! error span), the call, the invocation span handed over by the glue completed and ended,
//! the invocation's spans exported, and the answer in the host's protocol.

use std::fmt::Display;
use std::future::Future;
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::FutureExt as _;
use http::{HeaderValue, StatusCode};
use opentelemetry::Context as OtelContext;
use serde_json::{Map, Value};

use super::context::{AzureEvent, Context, FunctionIdentity};
use super::function_json::FunctionBindings;
use super::payload::{FromInvocation, InvokeResponse, PayloadError, RawInvocation};
use crate::invocation::Unread;
use crate::outcome::Failure;
use crate::telemetry::Telemetry;
use crate::trigger::FaasTrigger;
use crate::trigger::Response;

/// What the server answers the host.
pub(crate) type HostResponse = http::Response<http_body_util::Full<Bytes>>;

/// `error.type` of an invocation whose request could not be read.
pub(crate) const INVALID_PAYLOAD: &str = "otel_faas.azure.InvalidPayload";

/// What a handler's value becomes in the answer to the host.
#[doc(hidden)]
#[derive(Debug)]
pub enum Reply {
    /// An HTTP response: the HTTP output binding's value, or a forwarded request's answer.
    Http(http::Response<Bytes>),
    /// The host's response JSON.
    Invoke(InvokeResponse),
}

/// A value an Azure handler may return (inside `Result<_, E>`): `()`, [`InvokeResponse`]
/// (output bindings and log lines), a `serde_json::Value` (the `$return` binding's value),
/// or an `http::Response<B>` with `B: Into<Bytes>` for an HTTP trigger.
#[diagnostic::on_unimplemented(
    message = "an Azure Functions handler cannot return `{Self}`",
    label = "the handler's success type",
    note = "return `()`, `InvokeResponse`, `serde_json::Value` (the `$return` value) or, for the `http` trigger, `http::Response<B>`"
)]
pub trait IntoReply {
    /// The answer this value makes.
    #[doc(hidden)]
    fn into_reply(self) -> Reply;
}

impl IntoReply for () {
    fn into_reply(self) -> Reply {
        Reply::Invoke(InvokeResponse::default())
    }
}

impl IntoReply for InvokeResponse {
    fn into_reply(self) -> Reply {
        Reply::Invoke(self)
    }
}

impl IntoReply for Value {
    fn into_reply(self) -> Reply {
        Reply::Invoke(InvokeResponse::default().return_value(self))
    }
}

impl<B: Into<Bytes>> IntoReply for http::Response<B> {
    fn into_reply(self) -> Reply {
        Reply::Http(self.map(Into::into))
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A handler a [`FunctionApp`](super::FunctionApp) can serve: an async fn or closure taking
/// `AzureEvent<P>` — `P` one of [`HttpRequest`](super::HttpRequest),
/// [`QueueMessage`](super::QueueMessage), [`ServiceBusMessage`](super::ServiceBusMessage),
/// [`ServiceBusBatch`](super::ServiceBusBatch),
/// [`EventHubsBatch`](super::EventHubsBatch), [`TimerInfo`](super::TimerInfo) — and returning
/// `Result<R, E>` with `R` an [`IntoReply`] value and `E: Display`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler an Azure `FunctionApp` can serve",
    label = "not an Azure Functions handler",
    note = "an Azure handler is an async fn or closure taking `AzureEvent<P>` (`HttpRequest`, `QueueMessage`, \
            `ServiceBusMessage`, `EventHubsBatch` or `TimerInfo`) and returning `Result<R, E>` where `E: Display`"
)]
pub trait AzureHandler<Marker>: Send + Sync + 'static {
    /// The trigger's payload.
    type Payload: FromInvocation;

    /// Calls the handler; its error becomes its message.
    #[doc(hidden)]
    fn call(&self, event: AzureEvent<Self::Payload>) -> BoxFuture<'static, Result<Reply, String>>;
}

/// Marks handlers taking `AzureEvent<P>`.
#[doc(hidden)]
pub struct EventHandler<P, Fut>(PhantomData<fn(P) -> Fut>);

impl<F, P, Fut, R, E> AzureHandler<EventHandler<P, Fut>> for F
where
    F: Fn(AzureEvent<P>) -> Fut + Send + Sync + 'static,
    P: FromInvocation,
    Fut: Future<Output = Result<R, E>> + Send + 'static,
    R: IntoReply,
    E: Display,
{
    type Payload = P;

    fn call(&self, event: AzureEvent<P>) -> BoxFuture<'static, Result<Reply, String>> {
        let call = self(event);
        Box::pin(async move {
            match call.await {
                Ok(value) => Ok(value.into_reply()),
                Err(error) => Err(error.to_string()),
            }
        })
    }
}

/// A registered function, its handler's types erased.
pub(crate) trait Function: Send + Sync {
    /// The function's name.
    fn name(&self) -> &str;

    /// Reads the function's `function.json` in the app root `root`, unless its bindings were
    /// given.
    fn load_bindings(&mut self, root: &std::path::Path);

    /// What its `function.json` says.
    fn bindings(&self) -> &FunctionBindings;

    /// Serves one invocation (inside an invocation scope when telemetry is on).
    fn invoke(
        &self,
        raw: RawInvocation,
        invocation_id: String,
        forwarded: bool,
    ) -> BoxFuture<'_, HostResponse>;

    /// Answers an invocation whose request could not be read, with its error span.
    fn reject(
        &self,
        invocation_id: String,
        status: StatusCode,
        error: PayloadError,
    ) -> BoxFuture<'_, HostResponse>;
}

/// A handler and what the app knows of its function.
pub(crate) struct Registered<H, M> {
    pub(crate) handler: H,
    pub(crate) identity: Arc<FunctionIdentity>,
    /// Given, or read when the app starts.
    pub(crate) bindings: Option<FunctionBindings>,
    pub(crate) marker: PhantomData<fn() -> M>,
}

impl<H, M> Function for Registered<H, M>
where
    H: AzureHandler<M>,
    M: 'static,
{
    fn name(&self) -> &str {
        &self.identity.name
    }

    fn load_bindings(&mut self, root: &std::path::Path) {
        if self.bindings.is_none() {
            self.bindings = Some(FunctionBindings::load_from(root, &self.identity.name));
        }
    }

    fn bindings(&self) -> &FunctionBindings {
        Registered::bindings(self)
    }

    fn invoke(
        &self,
        raw: RawInvocation,
        invocation_id: String,
        forwarded: bool,
    ) -> BoxFuture<'_, HostResponse> {
        Box::pin(async move {
            let (payload, metadata) = match H::Payload::from_invocation(raw, self.bindings()) {
                Ok(read) => read,
                Err(error) => {
                    return self
                        .reject(invocation_id, StatusCode::BAD_REQUEST, error)
                        .await;
                }
            };
            let context = Context::of(invocation_id, self.identity.clone(), metadata);
            let event = AzureEvent::new(payload, context);
            // A closure may panic before its future exists: catch that too.
            let invocation = crate::invocation::current();
            let guard = invocation.as_ref().and_then(|i| i.start_handler());
            let call = async { self.handler.call(event).await };
            let result = AssertUnwindSafe(call).catch_unwind().await;
            drop(guard);
            let result = match result {
                Ok(result) => result,
                Err(panic) => Err(format!(
                    "panicked: {}",
                    Failure::from_panic(panic.as_ref()).message
                )),
            };
            if let Some(invocation) = invocation {
                let response = match &result {
                    Ok(Reply::Http(response)) => Some(Response::Http(response.status())),
                    _ => None,
                };
                invocation.finish(result.is_err(), response).await;
            }
            self.respond(result, forwarded)
        })
    }

    fn reject(
        &self,
        invocation_id: String,
        status: StatusCode,
        error: PayloadError,
    ) -> BoxFuture<'_, HostResponse> {
        Box::pin(async move {
            let message = format!("function `{}`: {error}", self.identity.name);
            if let Some(invocation) = crate::invocation::current() {
                let context = Context::of(invocation_id, self.identity.clone(), Map::new());
                let unread = unread(
                    invocation.telemetry(),
                    H::Payload::TRIGGER,
                    &context,
                    &message,
                );
                invocation.finish_unread(unread).await;
            }
            tracing::warn!(target: "otel_faas", "{message}");
            failure_response(status, message)
        })
    }
}

impl<H, M> Registered<H, M> {
    fn bindings(&self) -> &FunctionBindings {
        static UNKNOWN: FunctionBindings = FunctionBindings::UNKNOWN;
        self.bindings.as_ref().unwrap_or(&UNKNOWN)
    }

    /// The answer to the host for the handler's result.
    fn respond(&self, result: Result<Reply, String>, forwarded: bool) -> HostResponse {
        match (result, forwarded) {
            (Ok(Reply::Http(response)), true) => response.map(http_body_util::Full::new),
            (Ok(Reply::Http(response)), false) => {
                let value = http_output(response);
                let invoke = match self.bindings().http_output() {
                    "$return" => InvokeResponse::default().return_value(value),
                    name => InvokeResponse::default().output(name, value),
                };
                json_response(StatusCode::OK, &invoke)
            }
            (Ok(Reply::Invoke(invoke)), _) => json_response(StatusCode::OK, &invoke),
            // A forwarded request's caller is the end user: the error stays in the logs.
            (Err(message), true) => {
                tracing::error!(target: "otel_faas", "function `{}` failed: {message}", self.identity.name);
                let mut response = http::Response::new(http_body_util::Full::new(
                    Bytes::from_static(b"Internal Server Error"),
                ));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
            (Err(message), false) => failure_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("function `{}` failed: {message}", self.identity.name),
            ),
        }
    }
}

/// An HTTP response as the value of an HTTP output binding.
fn http_output(response: http::Response<Bytes>) -> Value {
    let (parts, body) = response.into_parts();
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            headers.insert(name.as_str().to_owned(), Value::String(value.to_owned()));
        }
    }
    serde_json::json!({
        "statusCode": parts.status.as_u16(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    })
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, body: &InvokeResponse) -> HostResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = http::Response::new(http_body_util::Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The answer to a failed invocation, with `message` where the host reads it: the HTTP
/// reason phrase.
///
/// On a non-2xx answer the host throws in `EnsureSuccessStatusCode()` before it reads the
/// body (`DefaultHttpWorkerService.ProcessDefaultInvocationRequest`, Azure/azure-functions-host
/// `src/WebJobs.Script/Workers/Http/DefaultHttpWorkerService.cs`), so `Logs` never reach its
/// logs; the exception it fails the invocation with is .NET's
/// `Response status code does not indicate success: 500 ({reason phrase})`, and that is what
/// the host logs and Application Insights record for the failed invocation. The phrase is
/// the message made safe for a status line (printable ASCII, at most
/// [`MAX_REASON`] bytes); `Logs` keep the whole message for a caller that reads them.
pub(crate) fn failure_response(status: StatusCode, message: String) -> HostResponse {
    let mut response = json_response(status, &InvokeResponse::default().log(message.clone()));
    let phrase = reason_phrase(&message);
    if let Ok(phrase) = hyper::ext::ReasonPhrase::try_from(phrase.into_bytes()) {
        response.extensions_mut().insert(phrase);
    }
    response
}

/// Longest reason phrase written.
pub(crate) const MAX_REASON: usize = 512;

/// `message` as a reason phrase: control characters as a space, `…` as `...`, other non-ASCII
/// as `?`, cut to
/// [`MAX_REASON`] bytes.
fn reason_phrase(message: &str) -> String {
    let mut phrase: String = message
        .replace('…', "...")
        .chars()
        .map(|c| match c {
            '\t' | '\r' | '\n' => ' ',
            ' '..='~' => c,
            _ => '?',
        })
        .take(MAX_REASON)
        .collect();
    let trimmed = phrase.trim_end().len();
    phrase.truncate(trimmed);
    if phrase.is_empty() {
        phrase.push_str("Function failed");
    }
    phrase
}

/// The invocation span of a request the handler never saw.
pub(crate) fn unread(
    telemetry: &Telemetry,
    trigger: FaasTrigger,
    context: &Context,
    message: &str,
) -> Unread {
    let mut attributes = Vec::with_capacity(8);
    let coldstart = context.invocation_attributes(telemetry, trigger, &mut attributes);
    Unread {
        trigger,
        name: context.function_name().to_owned(),
        parent: OtelContext::new(),
        attributes,
        coldstart,
        failure: Failure {
            error_type: INVALID_PAYLOAD.into(),
            message: message.to_owned(),
            stacktrace: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_phrase_is_printable_ascii_and_bounded() {
        assert_eq!(reason_phrase("bad\r\nSet-Cookie: x"), "bad  Set-Cookie: x");
        assert_eq!(reason_phrase("café ✓"), "caf? ?");
        assert_eq!(reason_phrase(&"x".repeat(2000)).len(), MAX_REASON);
        assert_eq!(reason_phrase(" \n"), "Function failed");
        let response = failure_response(StatusCode::INTERNAL_SERVER_ERROR, "boom".into());
        let phrase = response
            .extensions()
            .get::<hyper::ext::ReasonPhrase>()
            .unwrap();
        assert_eq!(phrase.as_bytes(), b"boom");
    }
}
