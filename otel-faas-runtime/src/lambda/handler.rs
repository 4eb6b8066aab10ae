//! The handlers [`run`](super::run) serves, told apart by their argument type, and how one
//! call of each is managed: the invocation span handed over by the glue is completed and
//! ended, and the invocation's spans are exported before the response is returned.

use std::future::Future;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::Arc;

use futures_util::FutureExt as _;
use lambda_http::{IntoResponse, RequestExt as _};
use lambda_runtime::tower::Service;
use lambda_runtime::{Diagnostic, LambdaEvent, Runtime, service_fn};
use opentelemetry::trace::SpanContext;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::diagnostic::{
    Delivered, DeliveredHttp, catching, diagnose, into_request, not_delivered,
};
use super::layer::InvocationLayer;
use crate::Error;
use crate::invocation::Invocation;
use crate::outcome::Outcome;
use crate::trigger::records::records_verdict;
use crate::trigger::{BatchedRecord, FaasTrigger, RecordsFailed, Response, Spec};

/// A handler [`run`](super::run) can serve, recognised by its argument:
///
/// | argument | trigger | returns |
/// |---|---|---|
/// | `LambdaEvent<T>` | every trigger but `http` | `Result<R, E>`, `R: Serialize` |
/// | `lambda_http::Request` | `http` | `Result<impl IntoResponse, E>` |
/// | `SqsMessage` / `SqsMessageObj<T>` | `sqs` with `per_message` | `Result<T, E>` |
/// | `KinesisEventRecord`, `dynamodb::EventRecord`, `S3EventRecord` | `kinesis`, `dynamodb`, `s3` with `per_record` | `Result<T, E>` |
///
/// `E` is any error Lambda can report (`Into<Diagnostic>`), usually `lambda_runtime::Error`.
/// Async fns and closures implement it: `run(handler)`, or `run(|event| handler(&client,
/// event))` to share state.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler `otel_faas_runtime::lambda::run` can serve",
    label = "not a Lambda handler",
    note = "a handler is an async fn or closure taking `LambdaEvent<T>`, `lambda_http::Request`, or one record \
            (`per_message`/`per_record`), and returning `Result<_, E>` where `E: Into<lambda_runtime::Diagnostic>`"
)]
pub trait Handler<Marker>: Sized + Send + Sync + 'static {
    /// The payload deserialized from the event.
    type Payload: DeserializeOwned + Send + 'static;
    /// What one call yields.
    type Output: Send + 'static;

    /// The trigger, when the argument type alone tells it.
    #[doc(hidden)]
    const TRIGGER: Option<FaasTrigger>;

    /// Calls the handler for one event as a managed invocation (inside an invocation scope),
    /// turning its error or panic into the [`Diagnostic`] Lambda would report.
    #[doc(hidden)]
    fn call(
        &self,
        event: LambdaEvent<Self::Payload>,
    ) -> impl Future<Output = Result<Self::Output, Diagnostic>> + Send;

    /// Serves invocations from the Lambda Runtime API until it fails: several at once
    /// when `AWS_LAMBDA_MAX_CONCURRENCY` is above 1 (Lambda Managed Instances), else one at
    /// a time, through `lambda_runtime`'s service stack fed by [`super::poll`].
    #[doc(hidden)]
    fn serve(self, layer: InvocationLayer) -> impl Future<Output = Result<(), Error>>;
}

/// Marks handlers taking `LambdaEvent<E>`.
#[doc(hidden)]
pub struct EventHandler<E, Fut>(PhantomData<fn(E) -> Fut>);

/// Marks handlers taking `lambda_http::Request`.
#[doc(hidden)]
pub struct HttpHandler<Fut>(PhantomData<fn() -> Fut>);

/// Marks handlers taking one record of a batch.
#[doc(hidden)]
pub struct MessageHandler<M, Fut>(PhantomData<fn(M) -> Fut>);

impl<F, E, Fut, R, Err> Handler<EventHandler<E, Fut>> for F
where
    F: Fn(LambdaEvent<E>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Err>> + Send + 'static,
    E: DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    Err: Into<Diagnostic> + std::fmt::Debug + Send + 'static,
{
    type Payload = E;
    type Output = R;
    const TRIGGER: Option<FaasTrigger> = None;

    fn call(&self, event: LambdaEvent<E>) -> impl Future<Output = Result<R, Diagnostic>> + Send {
        let managed = Box::pin(managed(Box::pin(self(event)), |_, _| None));
        async move { catching(managed).await.and_then(|r| r.map_err(diagnose)) }
    }

    async fn serve(self, layer: InvocationLayer) -> Result<(), Error> {
        super::poll::serve(Runtime::new(delivered(self)), layer).await
    }
}

impl<F, Fut, R, Err> Handler<HttpHandler<Fut>> for F
where
    F: Fn(lambda_http::Request) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, Err>> + Send + 'static,
    R: IntoResponse + Send + Sync + 'static,
    Err: Into<Diagnostic> + std::fmt::Debug + Send + 'static,
{
    type Payload = lambda_http::request::LambdaRequest;
    type Output = lambda_http::Response<lambda_http::Body>;
    const TRIGGER: Option<FaasTrigger> = Some(FaasTrigger::Http);

    fn call(
        &self,
        event: LambdaEvent<Self::Payload>,
    ) -> impl Future<Output = Result<Self::Output, Diagnostic>> + Send {
        let LambdaEvent { payload, context } = event;
        let request = into_request(payload).map(|request| request.with_lambda_context(context));
        let managed = request.map(|request| Box::pin(managed_http(self, request)));
        async move {
            match managed {
                Ok(managed) => catching(managed).await.and_then(|r| r.map_err(diagnose)),
                Err(failure) => not_delivered(failure).await,
            }
        }
    }

    async fn serve(self, layer: InvocationLayer) -> Result<(), Error> {
        let handler = Arc::new(self);
        let service = service_fn(move |request: lambda_http::Request| {
            let handler = handler.clone();
            async move {
                let managed = managed_http(&*handler, request);
                catching(managed).await.and_then(|r| r.map_err(diagnose))
            }
        });
        // `lambda_http`'s adapter turns the event into a request (with the invocation's X-Ray
        // header) and the response into what API Gateway, ALB and Function URLs expect.
        let adapter = lambda_http::Adapter::from(service);
        super::poll::serve(Runtime::new(DeliveredHttp(adapter)), layer).await
    }
}

impl<F, M, Fut, T, Err> Handler<MessageHandler<M, Fut>> for F
where
    F: Fn(M) -> Fut + Send + Sync + 'static,
    M: BatchedRecord + Send,
    M::Batch: Send,
    M::Response: Send,
    Fut: Future<Output = Result<T, Err>> + Send,
    Result<T, Err>: Outcome,
{
    type Payload = M::Batch;
    type Output = M::Response;
    const TRIGGER: Option<FaasTrigger> = Some(M::FAAS_TRIGGER);

    fn call(
        &self,
        event: LambdaEvent<M::Batch>,
    ) -> impl Future<Output = Result<M::Response, Diagnostic>> + Send {
        let managed = Box::pin(managed(Box::pin(each_record(self, event)), |_, _| None));
        async move {
            let result = catching(managed).await;
            result.and_then(|output| output.map_err(Diagnostic::from))
        }
    }

    async fn serve(self, layer: InvocationLayer) -> Result<(), Error> {
        super::poll::serve(Runtime::new(delivered(self)), layer).await
    }
}

/// The service `lambda_runtime` calls for `handler`: the event is read by [`Delivered`], so
/// that a malformed one is reported as [`Handler::call`] reports every failure.
fn delivered<H: Handler<M>, M>(
    handler: H,
) -> impl Service<
    LambdaEvent<Delivered<H::Payload>>,
    Response = H::Output,
    Error = Diagnostic,
    Future: Send + 'static,
> + Clone
+ Send
+ 'static {
    let handler = Arc::new(handler);
    service_fn(move |event: LambdaEvent<Delivered<H::Payload>>| {
        let handler = handler.clone();
        async move { deliver(&*handler, event).await }
    })
}

/// Calls `handler` with the event, or fails the invocation whose event could not be read.
pub(crate) async fn deliver<H: Handler<M>, M>(
    handler: &H,
    event: LambdaEvent<Delivered<H::Payload>>,
) -> Result<H::Output, Diagnostic> {
    let LambdaEvent { payload, context } = event;
    match payload.0 {
        Ok(payload) => handler.call(LambdaEvent::new(payload, context)).await,
        Err(failure) => not_delivered(failure).await,
    }
}

/// The batch body of `per_message`/`per_record` mode: traces the batch as the batch trigger
/// does, calls the handler once per record, and answers with the platform's partial batch
/// failure response (or, for S3, fails the invocation). A record whose handler panics fails
/// alone. On an ordered source (a FIFO queue, a stream shard), the records after the first
/// failure are not processed and reported failed too, so their order is kept on retry.
async fn each_record<F, M, Fut, T, Err>(
    handler: &F,
    event: LambdaEvent<M::Batch>,
) -> Result<M::Response, RecordsFailed>
where
    F: Fn(M) -> Fut,
    M: BatchedRecord,
    Fut: Future<Output = Result<T, Err>>,
{
    static SPEC: Spec = Spec::DEFAULT;
    let body = |event: LambdaEvent<M::Batch>| async move {
        let records = M::into_records(event.payload);
        let total = records.len();
        let mut failed = Vec::new();
        let mut stop_after_failure = false;
        for record in records {
            let id = record.item_id().unwrap_or_default().to_owned();
            if stop_after_failure {
                failed.push(id);
                continue;
            }
            let keeps_order = record.keeps_order();
            let succeeded = matches!(
                AssertUnwindSafe(handler(record)).catch_unwind().await,
                Ok(Ok(_))
            );
            if !succeeded {
                failed.push(id);
                stop_after_failure = keeps_order;
            }
        }
        M::respond(failed, total)
    };
    let read = records_verdict::<M::Response>;
    crate::invocation::instrument::<M::BatchTrigger, _, _>(&SPEC, event, body, read).await
}

/// Runs one handler call as the invocation in progress (callers box `handler`: moved
/// through the layers of the runtime, an inline handler future — often kilobytes — would be
/// copied at each), then [finishes](crate::invocation::Invocation::finish) it, letting
/// `complete` record on the invocation span what only the runtime sees (the HTTP response),
/// also when the handler panicked (the panic then continues, for `lambda_runtime` to report).
async fn managed<Fut: Future>(
    handler: Fut,
    seen: impl FnOnce(&Invocation, &mut Fut::Output) -> Option<Response>,
) -> Fut::Output {
    let Some(invocation) = crate::invocation::current() else {
        return handler.await;
    };
    // The watchdog runs on a thread of its own, so a handler that blocks its thread is
    // still caught.
    let guard = invocation.start_handler();
    let mut result = AssertUnwindSafe(handler).catch_unwind().await;
    drop(guard);
    let response = match &mut result {
        Ok(output) => seen(&invocation, output),
        Err(_) => None,
    };
    invocation.finish(result.is_err(), response).await;
    match result {
        Ok(output) => output,
        Err(panic) => resume_unwind(panic),
    }
}

/// The handler's response as `Response<Body>`. One that is already (the usual return type)
/// is taken as it is: `IntoResponse` would copy its headers and collect and re-decode its
/// body, about a tenth of the glue's cost on a small response, more on a large one.
async fn into_body_response<R: IntoResponse + 'static>(
    response: R,
) -> lambda_http::Response<lambda_http::Body> {
    let mut slot = Some(response);
    let any: &mut dyn std::any::Any = &mut slot;
    match any.downcast_mut::<Option<lambda_http::Response<lambda_http::Body>>>() {
        Some(ready) => ready.take().expect("the slot was just filled"),
        None => match slot {
            Some(response) => response.into_response().await,
            None => unreachable!("the slot is emptied only when it held a Response<Body>"),
        },
    }
}

/// [`managed`] for HTTP: the response is built first, so the invocation span records its
/// status code, and the response carries a W3C `traceresponse` header with the trace id.
async fn managed_http<F, Fut, R, Err>(
    handler: &F,
    request: lambda_http::Request,
) -> Result<lambda_http::Response<lambda_http::Body>, Err>
where
    F: Fn(lambda_http::Request) -> Fut,
    Fut: Future<Output = Result<R, Err>>,
    R: IntoResponse + 'static,
{
    let call = async {
        match handler(request).await {
            Ok(response) => Ok(into_body_response(response).await),
            Err(error) => Err(error),
        }
    };
    managed(Box::pin(call), |invocation, result| {
        let response = result.as_mut().ok()?;
        if let Some(sc) = invocation.span_context() {
            add_traceresponse(&sc, response);
        }
        Some(Response::Http(response.status()))
    })
    .await
}

/// Writes the invocation span's context into the response as the W3C `traceresponse`
/// header, unless the handler set one.
fn add_traceresponse(sc: &SpanContext, response: &mut lambda_http::Response<lambda_http::Body>) {
    if sc.is_valid() && !response.headers().contains_key(TRACERESPONSE) {
        let value = traceresponse(
            &sc.trace_id().to_bytes(),
            &sc.span_id().to_bytes(),
            sc.trace_flags().to_u8(),
        );
        if let Ok(value) = http::HeaderValue::from_bytes(&value) {
            response.headers_mut().insert(TRACERESPONSE, value);
        }
    }
}

/// `00-{trace id}-{span id}-{flags}` in lower-case hex, written without formatting machinery
/// (it is on every HTTP response).
fn traceresponse(trace_id: &[u8; 16], span_id: &[u8; 8], flags: u8) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 55];
    let mut at = 0;
    let mut put = |bytes: &[u8], at: &mut usize| {
        for byte in bytes {
            out[*at] = HEX[usize::from(byte >> 4)];
            out[*at + 1] = HEX[usize::from(byte & 0x0f)];
            *at += 2;
        }
        *at += 1;
    };
    put(&[0], &mut at);
    put(trace_id, &mut at);
    put(span_id, &mut at);
    put(&[flags], &mut at);
    out
}

/// W3C Trace Context Level 2 response header.
const TRACERESPONSE: &str = "traceresponse";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceresponse_is_the_w3c_form() {
        let value = traceresponse(
            &0x4bf92f3577b34da6a3ce929d0e0e4736u128.to_be_bytes(),
            &0x00f067aa0ba902b7u64.to_be_bytes(),
            1,
        );
        assert_eq!(
            std::str::from_utf8(&value).unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }
}
