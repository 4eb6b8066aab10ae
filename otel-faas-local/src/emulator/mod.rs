//! An emulator of the AWS Lambda **Runtime API** (version `2018-06-01`) and **Extensions API**
//! (version `2020-01-01`), served on 127.0.0.1.
//!
//! A Lambda function process (for example one built on the `lambda_runtime` crate) finds the
//! Runtime API through `AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT` and long-polls it for work.
//! [`RuntimeApi`] plays the platform's side of that conversation: the local runner, the
//! end-to-end tests and the benchmarks queue invocations with [`RuntimeApi::invoke`] and read back
//! what the function answered, without AWS. Extensions find the Extensions API on the same
//! address, so that telemetry flushed after the response can be seen, and timed, locally.
//!
//! # What is emulated
//!
//! ## Runtime API
//!
//! All paths live under `/2018-06-01/runtime`:
//!
//! - `GET /invocation/next` long-polls until an invocation is queued, then answers `200` with the
//!   event bytes as the body and the headers `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms` (epoch milliseconds: hand-out time plus the timeout),
//!   `Lambda-Runtime-Invoked-Function-Arn`, `Content-Type: application/json`, and, only when set,
//!   `Lambda-Runtime-Trace-Id`, `Lambda-Runtime-Client-Context` and
//!   `Lambda-Runtime-Cognito-Identity`. Invocations are handed out first in, first out; any number
//!   of concurrent long-polls is served, as Lambda Managed Instances do. With extensions
//!   registered, an invocation is handed out only once they are all ready (see below).
//! - `POST /invocation/{AwsRequestId}/response` records the body (read whole, chunked or not) as
//!   the invocation's response and answers `202 {"status":"OK"}`.
//! - `POST /invocation/{AwsRequestId}/error` records a function error (body
//!   `{"errorMessage", "errorType", "stackTrace"}`, every field optional, non-JSON tolerated;
//!   header `Lambda-Runtime-Function-Error-Type`) and answers `202 {"status":"OK"}`.
//! - `POST /init/error` records an initialization error and answers `202`; invocations still
//!   waiting for the function fail with it, as the platform serves an init error in response to
//!   the invoke that triggered the init.
//!
//! ## Extensions API
//!
//! All paths live under `/2020-01-01/extension`. It is what an *internal* extension (a thread of
//! the function process, like this crate's flush after the response) or an *external* one (its
//! own process) speaks:
//!
//! - `POST /register`, header `Lambda-Extension-Name` (required) and body
//!   `{"events": ["INVOKE", "SHUTDOWN"]}` (`events` optional): answers `200` with a fresh UUID in
//!   `Lambda-Extension-Identifier` and `{"functionName", "functionVersion", "handler"}` (plus
//!   `accountId` when `Lambda-Extension-Accept-Feature: accountId` asks for it). Registration is
//!   open during init only, that is until the first invocation is handed out to the runtime (or
//!   [`RuntimeApi::shutdown_extensions`]); at most 10 extensions, names unique.
//! - `GET /event/next`, header `Lambda-Extension-Identifier`: tells the platform the extension is
//!   done with its last event (the first call: with its init), then long-polls for its next one,
//!   answered `200` with a fresh `Lambda-Extension-Event-Identifier` header and
//!   `{"eventType":"INVOKE","deadlineMs":…,"requestId":…,"invokedFunctionArn":…,
//!   "tracing":{"type":"X-Amzn-Trace-Id","value":…}}` (`deadlineMs` is the runtime's
//!   `Lambda-Runtime-Deadline-Ms`; `tracing` only when the invocation has a trace header) or
//!   `{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":…}`.
//! - `POST /init/error` and `POST /exit/error`, headers `Lambda-Extension-Identifier` and
//!   `Lambda-Extension-Function-Error-Type` (both required), body an `ErrorRequest` (not checked):
//!   recorded (see [`RuntimeApi::extension_errors`]) and answered `202 {"status":"OK"}`. The
//!   extension is then gone: it holds nothing back, and its later calls are refused.
//!
//! The lifecycle follows the platform's: an invocation is handed to the runtime's
//! `/invocation/next` only when every registered extension is ready, i.e. has called
//! `/event/next` at least once (its init is done) and again after the last `INVOKE` event it was
//! given. At hand-out every extension subscribed to `INVOKE` gets the invocation's event. The
//! function's response goes to the caller of [`RuntimeApi::invoke`] as soon as it is posted,
//! while the extensions may still work; the *next* invocation waits for them.
//! [`InvocationOutcome::extensions_done_at`] and [`RuntimeApi::wait_for_extensions`] tell when
//! they were done. An invocation that times out releases its extensions (the platform resets the
//! environment). [`RuntimeApi::shutdown_extensions`] sends `SHUTDOWN` to the extensions
//! subscribed to it. Without extensions none of this costs anything: once the first invocation
//! is handed out with none registered, the hand-out path is the Runtime API's alone.
//!
//! ## Errors
//!
//! Error answers carry the platform's JSON body `{"errorMessage": "...", "errorType": "..."}`:
//!
//! | Situation                                                   | Status | `errorType`              |
//! |-------------------------------------------------------------|--------|--------------------------|
//! | request ID never handed out (unknown or still queued)       | 400    | `InvalidRequestID`       |
//! | second response or error for the same request ID           | 400    | `InvalidStateTransition` |
//! | response or error after the invocation's deadline passed    | 410    | `InvokeTimeout`          |
//! | body over [`MAX_PAYLOAD_BYTES`] (the invocation then fails) | 413    | `RequestEntityTooLarge`  |
//! | body cut short by the client                                | 400    | `TruncatedHTTPRequest`   |
//! | known path, wrong method                                    | 405    | `MethodNotAllowed`       |
//! | any other path                                              | 404    | `NotFound`               |
//!
//! The `410 InvokeTimeout` answer to a late response is what the Lambda Managed Instances
//! runtime interface answers (and what `lambda_runtime` reports as "invocation timed out"). On
//! the default platform a timed-out environment is killed and never gets to answer late.
//!
//! The Extensions API's refusals:
//!
//! | Situation                                  | Status | `errorType`                            |
//! |--------------------------------------------|--------|----------------------------------------|
//! | register: name header missing or empty     | 400    | `Extension.InvalidExtensionName`       |
//! | register: malformed body (see below)       | 400    | `InvalidRequestFormat`                 |
//! | register: event not `INVOKE` or `SHUTDOWN` | 400    | `Extension.InvalidEventType`           |
//! | register after init                        | 403    | `Extension.RegistrationClosed`         |
//! | register a name twice                      | 403    | `Extension.InvalidExtensionState`      |
//! | register an 11th extension                 | 403    | `Extension.TooManyExtensions`          |
//! | identifier header missing                  | 403    | `Extension.MissingExtensionIdentifier` |
//! | identifier not a UUID                      | 403    | `Extension.InvalidExtensionIdentifier` |
//! | identifier never issued                    | 403    | `Extension.UnknownExtensionIdentifier` |
//! | any call after an init or exit error       | 403    | `Extension.InvalidExtensionState`      |
//! | error report without its error type header | 403    | `Extension.MissingHeader`              |
//! | any other path, or a wrong method          | 404    | `NotFound`                             |
//!
//! A malformed register body is one that is not JSON, not a JSON object (`null` counts as no
//! events), whose `events` is not an array of strings, or that sets the deprecated
//! `configurationKeys`. The identifier header is `Lambda-Extension-Identifier`; the error type
//! header of an error report is `Lambda-Extension-Function-Error-Type`.
//!
//! AWS's Extensions API reference lists the status codes only (`400`, `403`, `500`); the error
//! types are those of the Lambda runtime interface that AWS publishes as the
//! `aws-lambda-runtime-interface-emulator`. That implementation answers `403` to the three
//! malformed-register cases this emulator answers `400`.
//!
//! # What is not emulated
//!
//! - The Telemetry and Logs APIs, and SnapStart's `/runtime/restore/next` and
//!   `/runtime/restore/error` (they answer 404).
//! - The difference between internal and external extensions: the platform tells them apart by
//!   whether an executable of the registered name exists in `/opt/extensions`, and refuses
//!   `SHUTDOWN` to internal ones (`403 Extension.InvalidEventType`), as the runtime stops them
//!   itself. The emulator cannot tell, so it accepts `SHUTDOWN` from any extension; an internal
//!   extension should not ask for it.
//! - The extensions' side of the environment's lifecycle: an extension's init or exit error is
//!   only recorded (the platform fails the init or resets the environment), the only shutdown
//!   reason is `spindown` (never `timeout` or `failure`), a timed-out invocation sends no
//!   `SHUTDOWN`, and nothing is killed when a deadline passes. After `SHUTDOWN` invocations are
//!   still handed out: the owner stops invoking.
//! - Response streaming: a streamed response is recorded as its whole body (metadata prelude
//!   included), and the `Lambda-Runtime-Function-Error-Type` / `Lambda-Runtime-Function-Error-Body`
//!   trailers that report mid-stream errors are ignored.
//! - The execution environment's lifecycle: on a timeout the platform kills and re-initializes the
//!   environment; the emulator only reports [`InvocationResult::TimedOut`] and leaves the process
//!   to its owner. Likewise it sends no `SIGTERM` on shutdown.
//! - The `Lambda-Runtime-Aws-Tenant-Id` and `Lambda-Runtime-Invocation-Id` headers, execution role
//!   credentials, throttling, and the Invoke API's own responses (`X-Amz-Function-Error` and so on):
//!   callers read an [`InvocationOutcome`] instead.
//!
//! # Example
//!
//! ```no_run
//! use otel_faas_local::emulator::{FunctionConfig, Invocation, RuntimeApi};
//!
//! # async fn example() -> std::io::Result<()> {
//! let api = RuntimeApi::start(FunctionConfig::new("orders")).await?;
//! let mut function = tokio::process::Command::new("target/debug/bootstrap")
//!     .envs(api.function_env())
//!     .kill_on_drop(true)
//!     .spawn()?;
//! let outcome = api
//!     .invoke(Invocation::json(&serde_json::json!({ "orderId": 7 })))
//!     .await;
//! println!("{:?} in {:?}", outcome.response_json(), outcome.latency());
//! api.shutdown();
//! function.kill().await?;
//! # Ok(())
//! # }
//! ```

mod extensions_api;
mod ids;
mod invocation;
mod runtime_api;
mod state;
#[cfg(test)]
mod tests;

pub use extensions_api::{ExtensionError, ExtensionErrorKind, RegisteredExtension};
pub(crate) use ids::fresh_request_id;
pub use invocation::{
    FunctionConfig, FunctionError, Invocation, InvocationOutcome, InvocationResult,
};

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderName;
use tokio::sync::oneshot;

use crate::server::{self, wait_for_shutdown};
use ids::epoch_millis_after;
use runtime_api::handle_request;
use state::{Shared, StopOnDrop};

/// The largest response or error body the Runtime API accepts: 6 MiB (6,291,456 bytes).
///
/// A larger body is answered with `413 RequestEntityTooLarge` and the invocation fails with
/// that error, as on the platform.
pub const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// Every Runtime API path starts with this.
const BASE_PATH: &str = "/2018-06-01/runtime";

/// An oversized body is still read (and dropped) up to this many bytes so the client gets the
/// 413 on a healthy connection; past it the connection is given up.
const OVERSIZED_BODY_DRAIN_LIMIT: usize = 4 * MAX_PAYLOAD_BYTES;

/// How many finished request IDs are remembered to tell "already answered" and "timed out"
/// from "unknown".
const FINISHED_INVOCATIONS_KEPT: usize = 16_384;

const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("lambda-runtime-aws-request-id");
const DEADLINE_HEADER: HeaderName = HeaderName::from_static("lambda-runtime-deadline-ms");
const INVOKED_FUNCTION_ARN_HEADER: HeaderName =
    HeaderName::from_static("lambda-runtime-invoked-function-arn");
const TRACE_ID_HEADER: HeaderName = HeaderName::from_static("lambda-runtime-trace-id");
const CLIENT_CONTEXT_HEADER: HeaderName = HeaderName::from_static("lambda-runtime-client-context");
const COGNITO_IDENTITY_HEADER: HeaderName =
    HeaderName::from_static("lambda-runtime-cognito-identity");
const FUNCTION_ERROR_TYPE_HEADER: HeaderName =
    HeaderName::from_static("lambda-runtime-function-error-type");

/// The `errorType` of outcomes the emulator produces itself when [`RuntimeApi::invoke`] is given
/// an invocation it cannot hand out (see there).
const INVALID_INVOCATION: &str = "Emulator.InvalidInvocation";

/// The function's handler, as `_HANDLER` and the extensions' register answer give it.
const HANDLER: &str = "bootstrap";

/// The error type used when neither the error body nor the header names one.
const DEFAULT_FUNCTION_ERROR_TYPE: &str = "Unhandled";

/// A Lambda Runtime API and Extensions API emulator on 127.0.0.1.
///
/// Clones share one emulator. It stops serving on [`RuntimeApi::shutdown`] or when the last
/// clone is dropped.
///
/// The function drives it over HTTP; the owner drives the platform's side: [`invoke`] queues an
/// invocation and returns the function's answer, [`wait_for_extensions`] waits for the
/// extensions' work after it, [`shutdown_extensions`] sends `SHUTDOWN` to extensions, and
/// [`next_calls`], [`init_error`], [`registered_extensions`] and [`extension_errors`] tell what the
/// function did.
///
/// [`invoke`]: RuntimeApi::invoke
/// [`wait_for_extensions`]: RuntimeApi::wait_for_extensions
/// [`shutdown_extensions`]: RuntimeApi::shutdown_extensions
/// [`next_calls`]: RuntimeApi::next_calls
/// [`init_error`]: RuntimeApi::init_error
/// [`registered_extensions`]: RuntimeApi::registered_extensions
/// [`extension_errors`]: RuntimeApi::extension_errors
#[derive(Clone)]
pub struct RuntimeApi {
    shared: Arc<Shared>,
    _stop_on_drop: Arc<StopOnDrop>,
}

impl fmt::Debug for RuntimeApi {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RuntimeApi")
            .field("addr", &self.shared.addr)
            .field("function_name", &self.shared.function.function_name)
            .field("next_calls", &self.next_calls())
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Binds 127.0.0.1 on an ephemeral port and starts serving on the current tokio runtime.
    pub async fn start(function: FunctionConfig) -> std::io::Result<RuntimeApi> {
        let (listener, addr) = server::bind_loopback().await?;
        let shared = Arc::new(Shared::new(function, addr));
        let handler = Arc::clone(&shared);
        server::serve(
            listener,
            shared.shutdown.subscribe(),
            "Runtime API emulator",
            move |request| handle_request(Arc::clone(&handler), request),
        );
        Ok(RuntimeApi {
            _stop_on_drop: Arc::new(StopOnDrop(Arc::clone(&shared))),
            shared,
        })
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        self.shared.addr.to_string()
    }

    /// The environment a Lambda function process gets, as `(key, value)` pairs: the reserved
    /// variables of an OS-only (`provided.al2023`) runtime.
    ///
    /// `AWS_EXECUTION_ENV` is left out, as the platform leaves it out for OS-only runtimes, and
    /// so are `PATH`, `LANG`, `LD_LIBRARY_PATH` and the execution role's credentials, which
    /// belong to the host when running locally.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let function = &self.shared.function;
        [
            ("AWS_LAMBDA_RUNTIME_API", self.endpoint()),
            ("AWS_LAMBDA_FUNCTION_NAME", function.function_name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                function.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", function.version.clone()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", function.log_group_name()),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                self.shared.log_stream_name.clone(),
            ),
            (
                "AWS_LAMBDA_INITIALIZATION_TYPE",
                function.initialization_type.clone(),
            ),
            ("AWS_REGION", function.region.clone()),
            ("AWS_DEFAULT_REGION", function.region.clone()),
            ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
            ("_HANDLER", HANDLER.to_owned()),
            ("TZ", ":UTC".to_owned()),
        ]
        .into_iter()
        .chain(
            // Set only on Managed Instances, as the platform does; `lambda_runtime` reads it.
            (function.max_concurrency > 1).then(|| {
                (
                    "AWS_LAMBDA_MAX_CONCURRENCY",
                    function.max_concurrency.to_string(),
                )
            }),
        )
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// Queues one invocation and waits until the function posts its response or error, or until
    /// the deadline passes.
    ///
    /// The deadline is counted from hand-out on `/invocation/next`, not from queueing: while the
    /// function never calls `/invocation/next` this simply waits, so wrap the call in your own
    /// timeout (e.g. `tokio::time::timeout`) when the function may not come up. Dropping the
    /// future before hand-out withdraws the invocation.
    ///
    /// The outcome is [`InvocationResult::TimedOut`] when nothing arrives by the deadline (a
    /// later answer for that request ID gets `410 InvokeTimeout`), or when the emulator shuts
    /// down first. An [`InvocationResult::Error`] of type `Emulator.InvalidInvocation` comes back
    /// at once, without queueing, when the request ID is malformed or already queued or in
    /// flight, or a field cannot be sent as an HTTP header value.
    ///
    /// With extensions registered (see the module docs), the invocation is handed out only once
    /// every extension is ready, and this still returns as soon as the function answers: the
    /// extensions' post-response work is read with [`RuntimeApi::wait_for_extensions`] (or
    /// [`InvocationOutcome::extensions_done_at`], when they were already done).
    pub async fn invoke(&self, invocation: Invocation) -> InvocationOutcome {
        let request_id = invocation.request_id.clone();
        let (handed_out_sender, handed_out) = oneshot::channel();
        let (completion_sender, completion) = oneshot::channel();
        if let Err(error) = self
            .shared
            .enqueue(invocation, handed_out_sender, completion_sender)
        {
            return InvocationOutcome::rejected(request_id, error);
        }
        let mut shutdown = self.shared.shutdown.subscribe();
        let mut outcome = tokio::select! {
            outcome = self.shared.await_outcome(&request_id, handed_out, completion) => outcome,
            () = wait_for_shutdown(&mut shutdown) => {
                self.shared.registry().abandon(&request_id);
                self.shared.release_extensions(&request_id);
                InvocationOutcome::timed_out(&request_id, None)
            }
        };
        if self.shared.may_have_extensions() {
            outcome.extensions_done_at = self.shared.extensions().done_at(&request_id);
        }
        outcome
    }

    /// Waits until every registered extension is done with the invocation `request_id` (see
    /// [`InvocationOutcome::extensions_done_at`]) and returns when that was; `None` if that does
    /// not happen within `timeout` (the invocation is unknown or not handed out yet, or an
    /// extension is still busy), and at once when registration closed without any extension.
    pub async fn wait_for_extensions(
        &self,
        request_id: &str,
        timeout: Duration,
    ) -> Option<Instant> {
        if !self.shared.may_have_extensions() {
            // Registration closed without any extension: nothing will ever be done.
            return None;
        }
        let mut changes = self.shared.extensions_changed.subscribe();
        let waiting = async {
            loop {
                changes.borrow_and_update();
                if let Some(done_at) = self.shared.extensions().done_at(request_id) {
                    return Some(done_at);
                }
                // Fails only when the sender is gone, and `self` keeps it alive.
                if changes.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, waiting).await.ok().flatten()
    }

    /// Starts the environment's shutdown for the extensions: every registered extension
    /// subscribed to `SHUTDOWN` gets `{"eventType":"SHUTDOWN","shutdownReason":"spindown",
    /// "deadlineMs":…}` (now plus `deadline`) on its pending or next `/extension/event/next`.
    /// Then waits, at most `deadline`, until each of them has acknowledged it by calling
    /// `/extension/event/next` again or reporting an exit error.
    ///
    /// Returns whether they all did in time (`true` when none subscribed). Only the first call
    /// sends events; it also closes registration. Invocations are not stopped: the caller stops
    /// invoking, and stops the process, as the platform would.
    pub async fn shutdown_extensions(&self, deadline: Duration) -> bool {
        let mut changes = self.shared.extensions_changed.subscribe();
        let deadline_ms = epoch_millis_after(deadline);
        let notified = self.shared.extensions().begin_shutdown(deadline_ms);
        if notified > 0 {
            self.shared.notify_extensions();
        }
        let acknowledged = async {
            loop {
                changes.borrow_and_update();
                if !self.shared.extensions().shutdown_pending() {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::time::timeout(deadline, acknowledged).await.is_ok()
    }

    /// The extensions registered on `/2020-01-01/extension/register`, in registration order.
    pub fn registered_extensions(&self) -> Vec<RegisteredExtension> {
        self.shared.extensions().registered()
    }

    /// The errors extensions reported on `/extension/init/error` and `/extension/exit/error`,
    /// oldest first.
    pub fn extension_errors(&self) -> Vec<ExtensionError> {
        self.shared.extensions().errors()
    }

    /// Waits until the function has called `/invocation/next` at least `n` times in total (the
    /// function is idle and ready); returns when that happens.
    pub async fn wait_for_next_calls(&self, n: u64) {
        let mut next_calls = self.shared.next_calls.subscribe();
        // Fails only when the sender is gone, and `self` keeps it alive.
        let _ = next_calls.wait_for(|calls| *calls >= n).await;
    }

    /// Number of `/invocation/next` calls so far.
    pub fn next_calls(&self) -> u64 {
        *self.shared.next_calls.borrow()
    }

    /// When the first `/invocation/next` call arrived (for cold-start measurement), if it has.
    pub fn first_next_at(&self) -> Option<Instant> {
        self.shared.first_next_at.get().copied()
    }

    /// The init error the function reported on `/init/error`, if any (the latest one).
    pub fn init_error(&self) -> Option<FunctionError> {
        self.shared.registry().init_error.clone()
    }

    /// Stops serving: the listener closes, open connections (long-polls included) are dropped,
    /// and pending [`RuntimeApi::invoke`] calls return [`InvocationResult::TimedOut`].
    pub fn shutdown(&self) {
        self.shared.stop();
    }
}
