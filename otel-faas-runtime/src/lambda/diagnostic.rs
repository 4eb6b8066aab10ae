//! What Lambda records for a failed invocation — the `errorType` and `errorMessage` posted to
//! the Runtime API, shown in the console, CloudWatch and X-Ray — made to agree with the
//! `error.type` and message on the invocation's spans.
//!
//! Left to itself, `lambda_runtime` names an error by the Rust type of a reference to it
//! (`lambda_runtime::diagnostic::type_name_of_val(&value)`, `diagnostic.rs`):
//!
//! | what failed | `errorType` from `lambda_runtime` | here, and on the span |
//! |---|---|---|
//! | a handler's `Box<dyn Error>` | `&alloc::boxed::Box<dyn core::error::Error + …>` | its `error.type` (`NotFound`, `_OTHER`; see [`crate::outcome`]) |
//! | a panic | `&alloc::boxed::Box<dyn core::any::Any + core::marker::Send>` | `panic` |
//! | an event that does not deserialize | `&lambda_runtime::deserializer::DeserializeError` | `lambda_runtime::deserializer::DeserializeError` |
//! | an HTTP event `lambda_http` cannot turn into a request (a 64 KB path) | a panic, as above | `lambda_runtime::deserializer::DeserializeError` |
//!
//! A handler error whose own `Into<Diagnostic>` chose an `errorType` keeps it (Step
//! Functions' `ErrorEquals` matches on it); only `lambda_runtime`'s type-name default —
//! which always starts with `&` — is replaced.
//!
//! The event is deserialized here ([`Delivered`]) rather than by `lambda_runtime`, which
//! would post its own error for a malformed event before any code of ours runs; and
//! `lambda_http`'s conversion of the event into an `http::Request`, which panics on input a
//! caller controls (`.expect("failed to build request")` in `lambda_http`'s `request.rs`),
//! runs under `catch_unwind`. Both then fail the invocation through the same report: the
//! invocation is told ([`Invocation::not_delivered`]), so the layer's span for an event the
//! handler never saw carries the failure Lambda received.
//!
//! [`Invocation::not_delivered`]: crate::invocation::Invocation::not_delivered

use std::fmt::Debug;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_util::FutureExt as _;
use lambda_runtime::tower::Service;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use super::layer::{DESERIALIZE_ERROR, deserialize_message};
use crate::outcome::{Failure, error_type_of};

/// The `Diagnostic` of a handler's error: the error's own, unless it is `lambda_runtime`'s
/// type-name default, which becomes the `error.type` the glue records for the same error.
pub(crate) fn diagnose<E: Into<Diagnostic> + Debug>(error: E) -> Diagnostic {
    let readable = error_type_of(&error, std::any::type_name::<E>());
    let mut diagnostic = error.into();
    if diagnostic.error_type.starts_with('&') {
        diagnostic.error_type = readable.into_owned();
    }
    diagnostic
}

/// Awaits `future`, turning a panic into the `Diagnostic` of the span's `error.type=panic`,
/// with `lambda_runtime`'s message (`Lambda panicked: …`).
pub(crate) async fn catching<T>(future: impl Future<Output = T>) -> Result<T, Diagnostic> {
    AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .map_err(|panic| {
            let failure = Failure::from_panic(panic.as_ref());
            Diagnostic {
                error_type: failure.error_type.into_owned(),
                error_message: format!("Lambda panicked: {}", failure.message),
            }
        })
}

/// An event as the handler's service receives it: the payload, or why it could not be read.
/// Deserializing it never fails, so `lambda_runtime` hands every invocation to us.
pub(crate) struct Delivered<P>(pub(crate) Result<P, Failure>);

impl<'de, P: DeserializeOwned> Deserialize<'de> for Delivered<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `lambda_runtime` reads the event with `serde_path_to_error::deserialize` and does not
        // check for trailing input, so returning here without reading the rest is accepted.
        let payload = serde_path_to_error::deserialize::<D, P>(deserializer);
        Ok(Delivered(payload.map_err(|error| {
            undeliverable(deserialize_message(&error))
        })))
    }
}

impl<P: DeserializeOwned> Delivered<P> {
    /// Reads an event's bytes as `lambda_runtime` does (`deserializer.rs`: through
    /// `serde_path_to_error`, trailing input not checked).
    pub(crate) fn read(body: &[u8]) -> Self {
        let deserializer = &mut serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize(deserializer) {
            Ok(delivered) => delivered,
            Err(error) => Delivered(Err(undeliverable(deserialize_message(&error)))),
        }
    }
}

/// The failure of an event the handler could not be given.
pub(crate) fn undeliverable(message: String) -> Failure {
    Failure {
        error_type: DESERIALIZE_ERROR.into(),
        message,
        stacktrace: None,
    }
}

/// Fails the invocation whose event the handler could not be given: the invocation records
/// `failure` on its span, and Lambda gets the same type and message.
pub(crate) async fn not_delivered<T>(failure: Failure) -> Result<T, Diagnostic> {
    let diagnostic = Diagnostic {
        error_type: failure.error_type.to_string(),
        error_message: failure.message.clone(),
    };
    if let Some(invocation) = crate::invocation::current() {
        invocation.not_delivered(failure);
    }
    Err(diagnostic)
}

/// The failure of an HTTP event `lambda_http` panicked on while building the request.
pub(crate) fn unconvertible(panic: &(dyn std::any::Any + Send)) -> Failure {
    let panicked = Failure::from_panic(panic);
    undeliverable(format!(
        "failed to deserialize the incoming data into the function's payload type: \
         lambda_http could not build an http::Request from the event ({})",
        panicked.message
    ))
}

/// `lambda_http::Request::from`, with its panic on caller-controlled input (a request path
/// over 64 KB, a `Host` the URL parser refuses) turned into the invocation's failure.
pub(crate) fn into_request(
    payload: lambda_http::request::LambdaRequest,
) -> Result<lambda_http::Request, Failure> {
    std::panic::catch_unwind(AssertUnwindSafe(|| lambda_http::Request::from(payload)))
        .map_err(|panic| unconvertible(panic.as_ref()))
}

/// `lambda_http`'s adapter (HTTP event in, `LambdaResponse` out) behind [`Delivered`]: an event
/// that does not deserialize, or that the adapter panics on while converting it, fails the
/// invocation readably instead of reaching `lambda_runtime`'s panic handler.
#[derive(Clone)]
pub(crate) struct DeliveredHttp<S>(pub(crate) S);

impl<S> Service<LambdaEvent<Delivered<lambda_http::request::LambdaRequest>>> for DeliveredHttp<S>
where
    S: Service<LambdaEvent<lambda_http::request::LambdaRequest>, Error = Diagnostic>,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
{
    type Response = S::Response;
    type Error = Diagnostic;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Diagnostic>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Diagnostic>> {
        self.0.poll_ready(cx)
    }

    fn call(
        &mut self,
        event: LambdaEvent<Delivered<lambda_http::request::LambdaRequest>>,
    ) -> Self::Future {
        let LambdaEvent { payload, context } = event;
        let request = match payload.0 {
            Ok(request) => request,
            Err(failure) => return Box::pin(not_delivered(failure)),
        };
        let inner = &mut self.0;
        let call = std::panic::catch_unwind(AssertUnwindSafe(|| {
            inner.call(LambdaEvent::new(request, context))
        }));
        match call {
            Ok(future) => Box::pin(future),
            Err(panic) => Box::pin(not_delivered(unconvertible(panic.as_ref()))),
        }
    }
}
