//! The Runtime API poll loop: asks `/next` for each invocation, turns the answer into the
//! `LambdaInvocation` `lambda_runtime`'s service stack serves, and hands it over.
//!
//! This replaces only `lambda_runtime`'s loop (1.5: `Runtime::run_concurrent`,
//! `concurrent_worker_loop` and `process_invocation` in `src/runtime.rs`); the service stack
//! it feeds (deserialization, panic catching, the response and error posts) is
//! `lambda_runtime`'s own, taken from a built [`Runtime`]. The reason is the invocation's
//! headers. `process_invocation` builds the `Context` with `Context::new(..)?`, and a
//! `Lambda-Runtime-Client-Context` or `Lambda-Runtime-Cognito-Identity` that is not the JSON
//! Lambda defines (`{"custom": {"a": 1}}`, `null`, `{not json`), or a deadline that is not a
//! number, makes that `?` end the loop: the process exits, the invocation is never answered
//! and leaves no span. A missing deadline or request id panics (`expect`). Whoever may call
//! `aws lambda invoke --client-context …` could stop the function at will.
//!
//! Here no header ends the loop:
//! - a client context or Cognito identity that does not parse fails its own invocation: the
//!   handler is not called, the invocation span records the error (its `error.type` is the
//!   `errorType` posted), and the error is posted to the Runtime API as any failure is;
//! - a deadline that is missing or not a number is taken as unknown (as 0 is), and an
//!   invoked-function ARN that is not text is left out: both come from the platform, and the
//!   invocation can be served without them;
//! - an answer without a readable request id cannot be answered at all: it is logged and
//!   the loop asks for the next.
//!
//! What would fix it upstream: `process_invocation` posting the `Context::new` error to
//! `/invocation/{id}/error` instead of returning it, and `Context::new` returning an error
//! where it now `expect`s.

use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use http_body_util::BodyExt as _;
use lambda_runtime::tower::{Layer, Service, ServiceExt as _};
use lambda_runtime::{Config, Context, Diagnostic, LambdaInvocation, Runtime};
use lambda_runtime_api_client::{PooledClient, body::Body, build_request};

use crate::Error;

/// `Lambda-Runtime-Aws-Request-Id`.
const REQUEST_ID: &str = "lambda-runtime-aws-request-id";
/// `Lambda-Runtime-Deadline-Ms`.
const DEADLINE: &str = "lambda-runtime-deadline-ms";
/// `Lambda-Runtime-Invoked-Function-Arn`.
const FUNCTION_ARN: &str = "lambda-runtime-invoked-function-arn";
/// `Lambda-Runtime-Invocation-Id`, echoed on the error post as `lambda_runtime` does.
const INVOCATION_ID: &str = "lambda-runtime-invocation-id";

/// The headers that carry what the caller sent, the `errorType` of an invocation whose
/// header does not parse, and what the message calls it.
const CALLER_HEADERS: [(&str, &str, &str); 2] = [
    (
        "lambda-runtime-client-context",
        "Runtime.InvalidClientContext",
        "client context (Lambda-Runtime-Client-Context)",
    ),
    (
        "lambda-runtime-cognito-identity",
        "Runtime.InvalidCognitoIdentity",
        "Cognito identity (Lambda-Runtime-Cognito-Identity)",
    ),
];

/// An invocation whose caller-supplied header does not parse: it fails without reaching the
/// handler. Carried in the invocation's `parts.extensions`; the invocation layer records it,
/// and the loop posts it.
#[derive(Clone, Debug)]
pub(crate) struct Rejected(pub(crate) Diagnostic);

/// Serves the service stack of `runtime`, wrapped in `layer`, from the Runtime API:
/// `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once (Lambda Managed Instances), one at a time
/// otherwise, as `Runtime::run_concurrent` does. Under SnapStart, whose restore lifecycle
/// only `lambda_runtime` can drive, its own loop serves.
pub(crate) async fn serve<S, L>(runtime: Runtime<S>, layer: L) -> Result<(), Error>
where
    L: Layer<S>,
    L::Service: Service<LambdaInvocation, Response = (), Error = Error> + Clone + Send + 'static,
    <L::Service as Service<LambdaInvocation>>::Future: Send,
{
    if runtime.is_snapstart() {
        return runtime.layer(layer).run_concurrent().await;
    }
    let slot = Arc::new(Mutex::new(None));
    drop(runtime.layer(Capture {
        layer,
        slot: slot.clone(),
    }));
    let service = slot
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("Runtime::layer builds the service");
    let concurrency = super::max_concurrency();
    let client = Arc::new(
        PooledClient::builder()
            .with_pool_size(concurrency as usize)
            .build(),
    );
    let config = Arc::new(Config::from_env());
    if concurrency == 1 {
        return worker(service, client, config, true).await;
    }
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        workers.spawn(worker(
            service.clone(),
            client.clone(),
            config.clone(),
            false,
        ));
    }
    // A worker ends only when the service stack fails (the Runtime API is gone); the
    // others serve on, as in `lambda_runtime`, until none is left.
    let mut last = Ok(());
    while let Some(ended) = workers.join_next().await {
        last = match ended {
            Ok(result) => result,
            Err(join) => Err(join.into()),
        };
        if let Err(error) = &last {
            tracing::error!(target: "otel_faas", error = %error, "a Runtime API worker stopped");
        }
    }
    last
}

/// A layer that builds the service of another and keeps a copy: how the service stack of a
/// [`Runtime`] is taken out of it.
struct Capture<L, T> {
    layer: L,
    slot: Arc<Mutex<Option<T>>>,
}

impl<S, L, T> Layer<S> for Capture<L, T>
where
    L: Layer<S, Service = T>,
    T: Clone,
{
    type Service = T;

    fn layer(&self, inner: S) -> T {
        let service = self.layer.layer(inner);
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(service.clone());
        service
    }
}

/// One poll loop: next invocation, serve it, again.
async fn worker<S>(
    mut service: S,
    client: Arc<PooledClient>,
    config: Arc<Config>,
    sequential: bool,
) -> Result<(), Error>
where
    S: Service<LambdaInvocation, Response = (), Error = Error>,
{
    let mut backoff = Backoff::default();
    loop {
        let next = build_request()
            .method(http::Method::GET)
            .uri("/2018-06-01/runtime/invocation/next")
            .body(Body::empty())?;
        let response = match client.call(next).await {
            Ok(response) => response,
            // One at a time, the Runtime API gone means the environment is going: stop, as
            // `lambda_runtime` does. Concurrently, the others may still be served.
            Err(error) if sequential => return Err(error),
            Err(error) => {
                tracing::warn!(target: "otel_faas", error = %error, "polling /next failed: retrying");
                backoff.wait().await;
                continue;
            }
        };
        backoff.reset();
        let Some(invocation) = invocation(response, &config).await else {
            continue;
        };
        if sequential {
            set_amzn_trace_env(&invocation.context);
        }
        let rejected = invocation.parts.extensions.get::<Rejected>().cloned();
        let request_id = invocation.context.request_id.clone();
        let invocation_id = invocation.parts.headers.get(INVOCATION_ID).cloned();
        service.ready().await?.call(invocation).await?;
        if let Some(Rejected(diagnostic)) = rejected {
            post_error(&client, &request_id, invocation_id, &diagnostic).await?;
        }
    }
}

/// The invocation in a `/next` answer, or `None` (logged) when it cannot be answered.
async fn invocation<B>(
    response: http::Response<B>,
    config: &Arc<Config>,
) -> Option<LambdaInvocation>
where
    B: http_body::Body,
    B::Error: std::fmt::Display,
{
    let (mut parts, incoming) = response.into_parts();
    // As `lambda_runtime` in debug builds: an empty answer keeps a local loop alive.
    if cfg!(debug_assertions) && parts.status == http::StatusCode::NO_CONTENT {
        return None;
    }
    let body = match incoming.collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => {
            tracing::error!(target: "otel_faas", error = %error, "reading an event from /next failed");
            return None;
        }
    };
    let Some(request_id) = parts
        .headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        tracing::error!(
            target: "otel_faas",
            "the Runtime API handed out an event without a readable request id: it cannot be answered"
        );
        return None;
    };
    let (context, rejected) = context(&request_id, config, &mut parts.headers);
    if let Some(rejected) = rejected {
        parts.extensions.insert(rejected);
    }
    Some(LambdaInvocation {
        parts,
        body,
        context,
    })
}

/// The invocation's `Context`, built by `lambda_runtime`'s own `Context::new` from headers
/// it accepts: a caller header it rejects is removed and reported, a platform header it
/// cannot read is made unknown.
fn context(
    request_id: &str,
    config: &Arc<Config>,
    headers: &mut HeaderMap,
) -> (Context, Option<Rejected>) {
    let deadline_readable = headers
        .get(DEADLINE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.parse::<u64>().is_ok());
    if !deadline_readable {
        warn_unreadable_deadline();
        headers.insert(DEADLINE, HeaderValue::from_static("0"));
    }
    if let Ok(context) = Context::new(request_id, config.clone(), headers) {
        return (context, None);
    }
    // Something else failed: find which header, with `Context::new` as the judge.
    let mut rejected = None;
    for (name, error_type, what) in CALLER_HEADERS {
        let Some(value) = headers.get(name) else {
            continue;
        };
        let mut alone = HeaderMap::with_capacity(2);
        alone.insert(DEADLINE, HeaderValue::from_static("0"));
        alone.insert(name, value.clone());
        if let Err(error) = Context::new(request_id, config.clone(), &alone) {
            headers.remove(name);
            rejected.get_or_insert_with(|| {
                Rejected(Diagnostic {
                    error_type: error_type.to_owned(),
                    error_message: format!(
                        "the invocation's {what} is not what Lambda defines, so the handler was \
                         not called: {}",
                        without_values(error.as_ref())
                    ),
                })
            });
        }
    }
    if headers
        .get(FUNCTION_ARN)
        .is_some_and(|v| v.to_str().is_err())
    {
        headers.remove(FUNCTION_ARN);
    }
    match Context::new(request_id, config.clone(), headers) {
        Ok(context) => (context, rejected),
        // Nothing is left that `Context::new` parses but the request id, which is text.
        Err(_) => {
            for (name, _, _) in CALLER_HEADERS {
                headers.remove(name);
            }
            headers.remove(FUNCTION_ARN);
            let context = Context::new(request_id, config.clone(), headers)
                .unwrap_or_else(|_| unreachable!("only the request id and a 0 deadline remain"));
            (context, rejected)
        }
    }
}

/// What went wrong parsing a header, without the header's value: `serde_json` quotes the
/// offending value (`invalid type: string "…"`), which is the caller's data.
fn without_values(error: &(dyn std::error::Error + 'static)) -> String {
    match error.downcast_ref::<serde_json::Error>() {
        Some(json) => {
            let what = match json.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "it is not valid JSON"
                }
                serde_json::error::Category::Data => {
                    "a value has the wrong type or a required field is missing"
                }
                serde_json::error::Category::Io => "it could not be read",
            };
            format!("{what} (line {}, column {})", json.line(), json.column())
        }
        None => "it is not valid text".to_owned(),
    }
}

/// Posts a failed invocation's error to the Runtime API, as `lambda_runtime` posts a
/// handler's (`EventErrorRequest` in its `src/requests.rs`).
async fn post_error(
    client: &PooledClient,
    request_id: &str,
    invocation_id: Option<HeaderValue>,
    diagnostic: &Diagnostic,
) -> Result<(), Error> {
    let mut request = build_request()
        .method(http::Method::POST)
        .uri(format!("/2018-06-01/runtime/invocation/{request_id}/error"))
        .header("lambda-runtime-function-error-type", "unhandled")
        .body(Body::from(serde_json::to_vec(diagnostic)?))?;
    if let Some(id) = invocation_id {
        request.headers_mut().insert(INVOCATION_ID, id);
    }
    client.call(request).await?;
    Ok(())
}

/// As `lambda_runtime` does one invocation at a time: the X-Ray trace header in the
/// environment, for code that reads it from there.
fn set_amzn_trace_env(context: &Context) {
    // SAFETY: the same write at the same point as `lambda_runtime`'s own sequential loop
    // (`amzn_trace_env` in its `src/runtime.rs`), which the AWS SDK's recursion detection
    // reads; no code of this crate writes the environment concurrently.
    unsafe {
        match &context.xray_trace_id {
            Some(trace_id) => std::env::set_var("_X_AMZN_TRACE_ID", trace_id),
            None => std::env::remove_var("_X_AMZN_TRACE_ID"),
        }
    }
}

/// Says once per process that the platform sent a deadline that is not a number.
fn warn_unreadable_deadline() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::warn!(
            target: "otel_faas",
            "the platform sent an invocation without a readable deadline: it is treated as \
             having none"
        );
    });
}

/// The wait between failed `/next` polls of a concurrent worker: 10 ms doubling to 1 s
/// (`lambda_runtime` retries at once, spinning while the Runtime API is away).
#[derive(Default)]
struct Backoff(u32);

impl Backoff {
    async fn wait(&mut self) {
        let wait = Duration::from_millis(10) * 2u32.pow(self.0.min(7));
        self.0 += 1;
        tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
    }

    fn reset(&mut self) {
        self.0 = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Arc<Config> {
        Arc::new(Config {
            function_name: "f".into(),
            memory: 128,
            version: "1".into(),
            log_stream: String::new(),
            log_group: String::new(),
        })
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_client_context_lambda_rejects_is_removed_and_reported_without_its_value() {
        for bad in [
            r#"{"custom": {"a": 1}}"#,
            r#"{"custom": 5}"#,
            "null",
            r#"{"client": "x"}"#,
            "{not json",
        ] {
            let mut headers = headers(&[
                (DEADLINE, "1700000000000"),
                ("lambda-runtime-client-context", bad),
            ]);
            let (context, rejected) = context("id", &config(), &mut headers);
            let Rejected(diagnostic) = rejected.expect(bad);
            assert_eq!(diagnostic.error_type, "Runtime.InvalidClientContext");
            assert!(context.client_context.is_none());
            assert!(
                !diagnostic.error_message.contains('5'),
                "{bad}: {diagnostic:?}"
            );
            assert!(
                !diagnostic.error_message.contains("\"x\""),
                "{diagnostic:?}"
            );
        }
    }

    #[test]
    fn a_deadline_that_is_missing_or_not_a_number_is_unknown() {
        for deadline in [None, Some("soon"), Some("-1")] {
            let mut headers = HeaderMap::new();
            if let Some(value) = deadline {
                headers.insert(DEADLINE, HeaderValue::from_static(value));
            }
            let (context, rejected) = context("id", &config(), &mut headers);
            assert_eq!(context.deadline, 0);
            assert!(rejected.is_none());
        }
    }

    #[test]
    fn well_formed_headers_are_taken_as_they_are() {
        let mut headers = headers(&[
            (DEADLINE, "1700000000000"),
            (
                "lambda-runtime-client-context",
                r#"{"custom":{"traceparent":"x"},"env":{"locale":"en"}}"#,
            ),
            (
                "lambda-runtime-cognito-identity",
                r#"{"cognitoIdentityId":"i","cognitoIdentityPoolId":"p"}"#,
            ),
        ]);
        let (context, rejected) = context("id", &config(), &mut headers);
        assert!(rejected.is_none());
        assert_eq!(context.deadline, 1_700_000_000_000);
        assert!(context.client_context.is_some());
        assert!(context.identity.is_some());
    }
}
