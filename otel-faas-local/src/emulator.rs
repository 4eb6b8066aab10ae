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

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use crate::extensions::{
    self, DeliveredEvent, EXTENSION_BASE_PATH, EXTENSION_BODY_LIMIT,
    EXTENSION_EVENT_IDENTIFIER_HEADER, EXTENSION_IDENTIFIER_HEADER, ExtensionRejection,
    ExtensionRoute, Extensions,
};
pub use crate::extensions::{ExtensionError, ExtensionErrorKind, RegisteredExtension};
use crate::server::{self, HttpResponse, wait_for_shutdown};

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

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// The function's static configuration, as the platform knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionConfig {
    /// The function's name (`AWS_LAMBDA_FUNCTION_NAME`).
    pub function_name: String,
    /// The memory configured for the function, in MB (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`).
    pub memory_mb: u32,
    /// The version being executed (`AWS_LAMBDA_FUNCTION_VERSION`), e.g. `$LATEST`.
    pub version: String,
    /// The AWS Region the function runs in (`AWS_REGION`).
    pub region: String,
    /// The 12-digit account ID that owns the function, used in its ARN.
    pub account_id: String,
    /// How the environment was initialized (`AWS_LAMBDA_INITIALIZATION_TYPE`): `on-demand` or
    /// `provisioned-concurrency`.
    pub initialization_type: String,
    /// The function's timeout: the deadline of every invocation that does not set its own.
    pub timeout: Duration,
    /// How many invocations the platform hands the process at once: above 1 on Lambda
    /// Managed Instances, which then set `AWS_LAMBDA_MAX_CONCURRENCY` (the
    /// `PerExecutionEnvironmentMaxConcurrency` setting) in the function's environment.
    /// The emulator serves any number of concurrent `/invocation/next` long-polls either way.
    pub max_concurrency: u32,
}

impl FunctionConfig {
    /// A function named `function_name` with the platform's defaults: 128 MB, version `$LATEST`,
    /// Region `us-east-1`, account `123456789012`, `on-demand` initialization, 3 s timeout.
    pub fn new(function_name: impl Into<String>) -> Self {
        Self {
            function_name: function_name.into(),
            memory_mb: 128,
            version: "$LATEST".to_owned(),
            region: "us-east-1".to_owned(),
            account_id: "123456789012".to_owned(),
            initialization_type: "on-demand".to_owned(),
            timeout: Duration::from_secs(3),
            max_concurrency: 1,
        }
    }

    /// The same function on Lambda Managed Instances, handed `n` invocations at once.
    pub fn with_max_concurrency(mut self, n: u32) -> Self {
        self.max_concurrency = n;
        self
    }

    /// The function's unqualified ARN: `arn:aws:lambda:{region}:{account}:function:{name}`.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.function_name
        )
    }

    /// The CloudWatch Logs group the platform would write the function's logs to.
    fn log_group_name(&self) -> String {
        format!("/aws/lambda/{}", self.function_name)
    }
}

/// One invocation to hand to the function.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The event: the body of the `/invocation/next` answer.
    pub payload: Bytes,
    /// The request ID (`Lambda-Runtime-Aws-Request-Id`); a fresh UUID-v4-shaped ID by default.
    ///
    /// It becomes a path segment, so it must be non-empty and made of ASCII letters, digits and
    /// `-`, `_`, `.`, `~`, `:`.
    pub request_id: String,
    /// The ARN the caller invoked (`Lambda-Runtime-Invoked-Function-Arn`); the function's ARN
    /// when `None`.
    pub invoked_function_arn: Option<String>,
    /// How long the function has, counted from hand-out; the function's timeout when `None`.
    pub timeout: Option<Duration>,
    /// The X-Ray trace header (`Lambda-Runtime-Trace-Id`), e.g.
    /// `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`.
    pub xray_trace_id: Option<String>,
    /// The client context JSON (`Lambda-Runtime-Client-Context`), as the AWS Mobile SDK sends it.
    pub client_context: Option<String>,
    /// The Cognito identity JSON (`Lambda-Runtime-Cognito-Identity`), e.g.
    /// `{"cognitoIdentityId":"…","cognitoIdentityPoolId":"…"}`.
    pub cognito_identity: Option<String>,
}

impl Invocation {
    /// An invocation carrying `payload` as the event, with a fresh request ID and every other
    /// field defaulted.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Self {
            payload: payload.into(),
            request_id: fresh_request_id(),
            invoked_function_arn: None,
            timeout: None,
            xray_trace_id: None,
            client_context: None,
            cognito_identity: None,
        }
    }

    /// An invocation whose event is `value` serialized as JSON.
    pub fn json(value: &Value) -> Self {
        Self::new(value.to_string())
    }

    /// Sets the request ID.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    /// Sets the invoked function ARN (e.g. a version- or alias-qualified ARN).
    pub fn with_invoked_function_arn(mut self, invoked_function_arn: impl Into<String>) -> Self {
        self.invoked_function_arn = Some(invoked_function_arn.into());
        self
    }

    /// Sets this invocation's timeout, overriding the function's.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the X-Ray trace header.
    pub fn with_xray_trace_id(mut self, xray_trace_id: impl Into<String>) -> Self {
        self.xray_trace_id = Some(xray_trace_id.into());
        self
    }

    /// Sets the client context JSON.
    pub fn with_client_context(mut self, client_context: impl Into<String>) -> Self {
        self.client_context = Some(client_context.into());
        self
    }

    /// Sets the Cognito identity JSON.
    pub fn with_cognito_identity(mut self, cognito_identity: impl Into<String>) -> Self {
        self.cognito_identity = Some(cognito_identity.into());
        self
    }
}

/// What the platform saw of one invocation.
#[derive(Clone, Debug)]
pub struct InvocationOutcome {
    /// The invocation's request ID.
    pub request_id: String,
    /// How the invocation ended.
    pub result: InvocationResult,
    /// When the event was handed out on `/invocation/next`; `None` if it never was.
    pub handed_out_at: Option<Instant>,
    /// When the response or error arrived; `None` if none did.
    pub completed_at: Option<Instant>,
    /// When every registered extension had signalled it was done with this invocation (called
    /// `/extension/event/next` after the invocation's `INVOKE` event), or when the invocation
    /// timed out, which ends the extensions' share too. When no registered extension subscribed
    /// to `INVOKE`, that is the hand-out time.
    ///
    /// [`RuntimeApi::invoke`] returns as soon as the function answers, without waiting for the
    /// extensions, so this is only set when they had already finished by then; read the rest
    /// with [`RuntimeApi::wait_for_extensions`]. `None` when no extension is registered, when
    /// the invocation was never handed out, or when the extensions are not done yet.
    pub extensions_done_at: Option<Instant>,
}

impl InvocationOutcome {
    /// Time from hand-out to the response or error: the function's share of the invocation.
    pub fn latency(&self) -> Option<Duration> {
        self.completed_at?
            .checked_duration_since(self.handed_out_at?)
    }

    /// The response body parsed as JSON, if the function responded with JSON.
    pub fn response_json(&self) -> Option<Value> {
        match &self.result {
            InvocationResult::Response(body) => serde_json::from_slice(body).ok(),
            InvocationResult::Error(_) | InvocationResult::TimedOut => None,
        }
    }

    /// Whether the function posted a response (rather than an error, or nothing in time).
    pub fn is_success(&self) -> bool {
        matches!(self.result, InvocationResult::Response(_))
    }

    fn completed(request_id: &str, handed_out_at: Option<Instant>, done: Completion) -> Self {
        Self {
            request_id: request_id.to_owned(),
            result: done.result,
            handed_out_at,
            completed_at: Some(done.at),
            extensions_done_at: None,
        }
    }

    fn timed_out(request_id: &str, handed_out_at: Option<Instant>) -> Self {
        Self {
            request_id: request_id.to_owned(),
            result: InvocationResult::TimedOut,
            handed_out_at,
            completed_at: None,
            extensions_done_at: None,
        }
    }

    fn rejected(request_id: String, error: FunctionError) -> Self {
        Self {
            request_id,
            result: InvocationResult::Error(error),
            handed_out_at: None,
            completed_at: None,
            extensions_done_at: None,
        }
    }
}

/// How an invocation ended.
#[derive(Clone, Debug, PartialEq)]
pub enum InvocationResult {
    /// The function posted this body to `/invocation/{id}/response`.
    Response(Bytes),
    /// The function posted to `/invocation/{id}/error` (or `/init/error`), or its response was
    /// too large.
    Error(FunctionError),
    /// Nothing arrived before the deadline (or the emulator shut down first).
    TimedOut,
}

/// An error as the function reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionError {
    /// The body's `errorType`; else the `Lambda-Runtime-Function-Error-Type` header; else
    /// `Unhandled`.
    pub error_type: String,
    /// The body's `errorMessage`; the whole body as text when it is not JSON.
    pub error_message: String,
    /// The body exactly as posted.
    pub raw_body: Bytes,
}

impl FunctionError {
    /// Reads an error report as `/invocation/{id}/error` and `/init/error` receive it. The body
    /// names the error better than the header (`lambda_runtime` always sends `unhandled` there),
    /// so the body's `errorType` wins; the header is the fallback the platform also uses when the
    /// body cannot be read.
    fn from_report(error_type_header: Option<&str>, body: Bytes) -> Self {
        let report = serde_json::from_slice::<Value>(&body).ok();
        let body_field = |field: &str| {
            report
                .as_ref()
                .and_then(|report| report.get(field))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let error_type = body_field("errorType")
            .filter(|error_type| !error_type.is_empty())
            .or_else(|| {
                error_type_header
                    .filter(|error_type| !error_type.is_empty())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| DEFAULT_FUNCTION_ERROR_TYPE.to_owned());
        let error_message = match &report {
            Some(_) => body_field("errorMessage").unwrap_or_default(),
            None => String::from_utf8_lossy(&body).into_owned(),
        };
        Self {
            error_type,
            error_message,
            raw_body: body,
        }
    }

    /// The failure recorded for an invocation whose response or error body was too large.
    fn payload_too_large() -> Self {
        let rejection = Rejection::PayloadTooLarge;
        Self {
            error_type: rejection.error_type().to_owned(),
            error_message: rejection.error_message(),
            raw_body: rejection.body(),
        }
    }

    /// The error of an invocation the emulator refuses before queueing it.
    fn invalid_invocation(message: String) -> Self {
        Self {
            error_type: INVALID_INVOCATION.to_owned(),
            error_message: message,
            raw_body: Bytes::new(),
        }
    }
}

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

// ---------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------

/// Stops the server when the last [`RuntimeApi`] clone goes (the server tasks hold [`Shared`],
/// not this).
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// State shared by the [`RuntimeApi`] handles and the server tasks.
struct Shared {
    function: FunctionConfig,
    function_arn: String,
    addr: SocketAddr,
    log_stream_name: String,
    registry: Mutex<Registry>,
    /// Invocations waiting for a `/invocation/next` caller, in queueing order.
    queue: mpsc::UnboundedSender<Ticket>,
    /// Long-polls take turns on the queue; tokio's mutex is fair, so they are served in arrival
    /// order.
    queue_receiver: tokio::sync::Mutex<QueueReader>,
    next_calls: watch::Sender<u64>,
    first_next_at: OnceLock<Instant>,
    shutdown: watch::Sender<bool>,
    /// The Extensions API's state. Lock order: `extensions`, then `registry`.
    extensions: Mutex<Extensions>,
    /// Bumped on every change of `extensions` that someone may be waiting for.
    extensions_changed: watch::Sender<u64>,
    /// Registration closed with no extension registered: the extensions' bookkeeping can be
    /// skipped for good.
    without_extensions: AtomicBool,
}

/// The receiving end of the invocation queue, and the invocation a long-poll took off it but
/// could not hand out yet because an extension was busy: the next long-poll starts with it, so
/// that a long-poll given up while waiting for the extensions loses nothing.
struct QueueReader {
    receiver: mpsc::UnboundedReceiver<Ticket>,
    held: Option<Ticket>,
}

impl Shared {
    fn new(function: FunctionConfig, addr: SocketAddr) -> Self {
        let (queue, queue_receiver) = mpsc::unbounded_channel();
        Self {
            function_arn: function.function_arn(),
            log_stream_name: log_stream_name(&function.version, SystemTime::now()),
            function,
            addr,
            registry: Mutex::new(Registry::default()),
            queue,
            queue_receiver: tokio::sync::Mutex::new(QueueReader {
                receiver: queue_receiver,
                held: None,
            }),
            next_calls: watch::Sender::new(0),
            first_next_at: OnceLock::new(),
            shutdown: watch::Sender::new(false),
            extensions: Mutex::new(Extensions::default()),
            extensions_changed: watch::Sender::new(0),
            without_extensions: AtomicBool::new(false),
        }
    }

    fn extensions(&self) -> MutexGuard<'_, Extensions> {
        // Like the registry, every update of the extensions' state is one step.
        self.extensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whoever waits on the extensions (long-polls, `wait_for_extensions`, shutdown).
    fn notify_extensions(&self) {
        self.extensions_changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    /// Whether an extension may be registered (`false` once registration closed without any).
    fn may_have_extensions(&self) -> bool {
        !self.without_extensions.load(Ordering::Acquire)
    }

    /// The invocation timed out or was given up: the extensions are done with it.
    fn release_extensions(&self, request_id: &str) {
        if self.may_have_extensions() {
            self.extensions().time_out(request_id, Instant::now());
            self.notify_extensions();
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // The registry stays consistent across a panic elsewhere: every update is one step.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn stop(&self) {
        self.shutdown.send_replace(true);
    }

    /// Validates `invocation`, registers it and puts it on the queue.
    fn enqueue(
        &self,
        invocation: Invocation,
        handed_out: oneshot::Sender<HandOut>,
        completion: oneshot::Sender<Completion>,
    ) -> Result<(), FunctionError> {
        validate_request_id(&invocation.request_id)?;
        let headers = self.event_headers(&invocation)?;
        let timeout = invocation.timeout.unwrap_or(self.function.timeout);
        let mut registry = self.registry();
        let registration = registry.register(&invocation.request_id, handed_out, completion)?;
        let ticket = Ticket {
            registration,
            request_id: invocation.request_id,
            payload: invocation.payload,
            headers,
            timeout,
            invoked_function_arn: invocation.invoked_function_arn,
            xray_trace_id: invocation.xray_trace_id,
        };
        // Sent under the registry lock so that queue order and registration order agree.
        if let Err(unsent) = self.queue.send(ticket) {
            registry.abandon(&unsent.0.request_id);
            return Err(FunctionError::invalid_invocation(
                "the Runtime API emulator's queue is closed".to_owned(),
            ));
        }
        Ok(())
    }

    /// The `/invocation/next` headers of `invocation`, except the deadline, which is only known
    /// at hand-out.
    fn event_headers(&self, invocation: &Invocation) -> Result<HeaderMap, FunctionError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            REQUEST_ID_HEADER,
            header_value("request_id", &invocation.request_id)?,
        );
        let invoked_function_arn = invocation
            .invoked_function_arn
            .as_deref()
            .unwrap_or(&self.function_arn);
        headers.insert(
            INVOKED_FUNCTION_ARN_HEADER,
            header_value("invoked_function_arn", invoked_function_arn)?,
        );
        let optional_headers = [
            (TRACE_ID_HEADER, "xray_trace_id", &invocation.xray_trace_id),
            (
                CLIENT_CONTEXT_HEADER,
                "client_context",
                &invocation.client_context,
            ),
            (
                COGNITO_IDENTITY_HEADER,
                "cognito_identity",
                &invocation.cognito_identity,
            ),
        ];
        for (name, field, value) in optional_headers {
            // Like the platform, an empty value is the same as none.
            if let Some(value) = value.as_deref().filter(|value| !value.is_empty()) {
                headers.insert(name, header_value(field, value)?);
            }
        }
        Ok(headers)
    }

    /// Waits for the invocation registered under `request_id` to be handed out and then answered.
    async fn await_outcome(
        &self,
        request_id: &str,
        handed_out: oneshot::Receiver<HandOut>,
        mut completion: oneshot::Receiver<Completion>,
    ) -> InvocationOutcome {
        let Ok(hand_out) = handed_out.await else {
            // Settled without being handed out: the function reported an init error.
            return match completion.await {
                Ok(done) => InvocationOutcome::completed(request_id, None, done),
                Err(_) => InvocationOutcome::timed_out(request_id, None),
            };
        };
        let answered = match hand_out.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), &mut completion)
                .await
                .ok(),
            None => Some((&mut completion).await),
        };
        match answered {
            Some(Ok(done)) => InvocationOutcome::completed(request_id, Some(hand_out.at), done),
            Some(Err(_)) => {
                self.release_extensions(request_id);
                InvocationOutcome::timed_out(request_id, Some(hand_out.at))
            }
            None => self.settle_after_deadline(request_id, hand_out.at, completion),
        }
    }

    /// The deadline passed: time the invocation out, unless its answer won the race.
    fn settle_after_deadline(
        &self,
        request_id: &str,
        handed_out_at: Instant,
        mut completion: oneshot::Receiver<Completion>,
    ) -> InvocationOutcome {
        let timed_out = self.registry().time_out(request_id);
        if timed_out {
            self.release_extensions(request_id);
            return InvocationOutcome::timed_out(request_id, Some(handed_out_at));
        }
        match completion.try_recv() {
            Ok(done) => InvocationOutcome::completed(request_id, Some(handed_out_at), done),
            Err(_) => InvocationOutcome::timed_out(request_id, Some(handed_out_at)),
        }
    }

    fn note_next_call(&self) {
        self.first_next_at.get_or_init(Instant::now);
        self.next_calls.send_modify(|calls| *calls += 1);
    }

    /// Marks `ticket` handed out and renders its event, unless an extension is not ready yet
    /// or nobody waits for the invocation any more.
    fn hand_out(&self, ticket: Ticket) -> HandOutAttempt {
        if !self.may_have_extensions() {
            return match self.hand_out_to_runtime(ticket) {
                Some((response, _)) => HandOutAttempt::HandedOut(response),
                None => HandOutAttempt::Withdrawn,
            };
        }
        // Held across the hand-out so that no extension registers or gets busy in between.
        let mut extensions = self.extensions();
        if !extensions.ready_for_hand_out() {
            return HandOutAttempt::ExtensionsBusy(ticket);
        }
        let invoke_event = (!extensions.is_empty()).then(|| {
            (
                ticket.request_id.clone(),
                ticket
                    .invoked_function_arn
                    .clone()
                    .unwrap_or_else(|| self.function_arn.clone()),
                ticket.xray_trace_id.clone(),
            )
        });
        let Some((response, hand_out)) = self.hand_out_to_runtime(ticket) else {
            return HandOutAttempt::Withdrawn;
        };
        match invoke_event {
            Some((request_id, invoked_function_arn, xray_trace_id)) => {
                let event = extensions::invoke_event_body(
                    &request_id,
                    hand_out.deadline_ms,
                    &invoked_function_arn,
                    xray_trace_id.as_deref(),
                );
                extensions.start_invocation(&request_id, event, hand_out.at);
                drop(extensions);
                self.notify_extensions();
            }
            None => {
                extensions.close_registration();
                self.without_extensions.store(true, Ordering::Release);
            }
        }
        HandOutAttempt::HandedOut(response)
    }

    /// Marks `ticket` handed out and renders its event; `None` if nobody waits for it any more.
    fn hand_out_to_runtime(&self, ticket: Ticket) -> Option<(HttpResponse, HandedOutAt)> {
        let at = Instant::now();
        let hand_out = HandOut {
            at,
            deadline: at.checked_add(ticket.timeout),
        };
        let deadline_ms = epoch_millis_after(ticket.timeout);
        if !self.registry().hand_out(&ticket, hand_out) {
            return None;
        }
        let mut response = Response::new(Full::new(ticket.payload));
        *response.headers_mut() = ticket.headers;
        response
            .headers_mut()
            .insert(DEADLINE_HEADER, HeaderValue::from(deadline_ms));
        Some((response, HandedOutAt { at, deadline_ms }))
    }
}

/// What became of a ticket a long-poll took off the queue.
enum HandOutAttempt {
    /// The runtime's `/invocation/next` answer.
    HandedOut(HttpResponse),
    /// Nobody waits for the invocation any more.
    Withdrawn,
    /// An extension is not ready: the ticket waits.
    ExtensionsBusy(Ticket),
}

/// When an invocation was handed out, as the invocation's deadline and the extensions see it.
struct HandedOutAt {
    at: Instant,
    deadline_ms: u64,
}

/// An invocation waiting on the queue for a `/invocation/next` caller.
struct Ticket {
    /// Tells this queueing apart from an earlier one that used the same request ID.
    registration: u64,
    request_id: String,
    payload: Bytes,
    headers: HeaderMap,
    timeout: Duration,
    /// For the extensions' `INVOKE` event (the headers hold them too).
    invoked_function_arn: Option<String>,
    xray_trace_id: Option<String>,
}

/// Sent to the waiting [`RuntimeApi::invoke`] when its event is handed out.
struct HandOut {
    at: Instant,
    /// `None` when the timeout is too large to represent: no deadline.
    deadline: Option<Instant>,
}

/// Sent to the waiting [`RuntimeApi::invoke`] when the function answers.
struct Completion {
    result: InvocationResult,
    at: Instant,
}

/// Where each known invocation stands.
enum InvocationState {
    /// On the queue, not handed out yet.
    Queued {
        registration: u64,
        handed_out: oneshot::Sender<HandOut>,
        completion: oneshot::Sender<Completion>,
    },
    /// Handed out; the function owes a response or error.
    InFlight {
        completion: oneshot::Sender<Completion>,
    },
    /// Answered (or failed with an init error).
    Completed,
    /// Its deadline passed unanswered.
    TimedOut,
}

/// Why the Runtime API refuses a request; each maps to the platform's error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rejection {
    InvalidRequestId,
    AlreadyCompleted,
    InvokeTimeout,
    PayloadTooLarge,
    TruncatedRequest,
}

impl Rejection {
    fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequestId | Self::AlreadyCompleted | Self::TruncatedRequest => {
                StatusCode::BAD_REQUEST
            }
            Self::InvokeTimeout => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    fn error_type(self) -> &'static str {
        match self {
            Self::InvalidRequestId => "InvalidRequestID",
            Self::AlreadyCompleted => "InvalidStateTransition",
            Self::InvokeTimeout => "InvokeTimeout",
            Self::PayloadTooLarge => "RequestEntityTooLarge",
            Self::TruncatedRequest => "TruncatedHTTPRequest",
        }
    }

    fn error_message(self) -> String {
        match self {
            Self::InvalidRequestId => "Invalid request ID".to_owned(),
            Self::AlreadyCompleted => {
                "Invalid state transition: a response or error was already posted for this \
                 request ID"
                    .to_owned()
            }
            Self::InvokeTimeout => "Invoke timeout".to_owned(),
            Self::PayloadTooLarge => {
                format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD_BYTES} bytes).")
            }
            Self::TruncatedRequest => "HTTP request detected as truncated".to_owned(),
        }
    }

    fn body(self) -> Bytes {
        error_body(self.error_type(), &self.error_message())
    }

    fn response(self) -> HttpResponse {
        json_response(self.status(), self.body())
    }
}

/// Every invocation the emulator knows of, and the function's init error.
#[derive(Default)]
struct Registry {
    invocations: HashMap<String, InvocationState>,
    /// Finished request IDs, oldest first, so that only the latest few are remembered.
    finished: VecDeque<String>,
    registrations: u64,
    init_error: Option<FunctionError>,
}

impl Registry {
    /// Records a queued invocation; refuses a request ID that is still queued or in flight.
    fn register(
        &mut self,
        request_id: &str,
        handed_out: oneshot::Sender<HandOut>,
        completion: oneshot::Sender<Completion>,
    ) -> Result<u64, FunctionError> {
        if let Some(InvocationState::Queued { .. } | InvocationState::InFlight { .. }) =
            self.invocations.get(request_id)
        {
            return Err(FunctionError::invalid_invocation(format!(
                "request ID {request_id:?} is already queued or in flight"
            )));
        }
        self.registrations += 1;
        let registration = self.registrations;
        self.invocations.insert(
            request_id.to_owned(),
            InvocationState::Queued {
                registration,
                handed_out,
                completion,
            },
        );
        Ok(registration)
    }

    /// Moves `ticket`'s invocation from queued to in flight and tells its caller; `false` if it
    /// is no longer queued under that registration or its caller stopped waiting.
    fn hand_out(&mut self, ticket: &Ticket, hand_out: HandOut) -> bool {
        match self.invocations.get(&ticket.request_id) {
            Some(InvocationState::Queued { registration, .. })
                if *registration == ticket.registration => {}
            _ => return false,
        }
        let Some((
            request_id,
            InvocationState::Queued {
                handed_out,
                completion,
                ..
            },
        )) = self.invocations.remove_entry(&ticket.request_id)
        else {
            return false;
        };
        if handed_out.send(hand_out).is_err() {
            // The caller dropped its `invoke` future: the invocation is withdrawn.
            return false;
        }
        self.invocations
            .insert(request_id, InvocationState::InFlight { completion });
        true
    }

    /// Records the function's answer for an in-flight invocation.
    fn complete(&mut self, request_id: &str, result: InvocationResult) -> Result<(), Rejection> {
        match self.invocations.get(request_id) {
            None | Some(InvocationState::Queued { .. }) => return Err(Rejection::InvalidRequestId),
            Some(InvocationState::Completed) => return Err(Rejection::AlreadyCompleted),
            Some(InvocationState::TimedOut) => return Err(Rejection::InvokeTimeout),
            Some(InvocationState::InFlight { .. }) => {}
        }
        let Some((request_id, InvocationState::InFlight { completion })) =
            self.invocations.remove_entry(request_id)
        else {
            return Err(Rejection::InvalidRequestId);
        };
        // The caller may have stopped waiting; the answer is still accepted.
        let _ = completion.send(Completion {
            result,
            at: Instant::now(),
        });
        self.finish(request_id, InvocationState::Completed);
        Ok(())
    }

    /// Times out an in-flight invocation; `false` if it is not in flight (it was answered).
    fn time_out(&mut self, request_id: &str) -> bool {
        if !matches!(
            self.invocations.get(request_id),
            Some(InvocationState::InFlight { .. })
        ) {
            return false;
        }
        self.finish(request_id.to_owned(), InvocationState::TimedOut);
        true
    }

    /// Forgets a queued invocation, or times out an in-flight one, whose caller gives up.
    fn abandon(&mut self, request_id: &str) {
        match self.invocations.get(request_id) {
            Some(InvocationState::Queued { .. }) => {
                self.invocations.remove(request_id);
            }
            Some(InvocationState::InFlight { .. }) => {
                self.finish(request_id.to_owned(), InvocationState::TimedOut);
            }
            Some(InvocationState::Completed | InvocationState::TimedOut) | None => {}
        }
    }

    /// Records the function's init error and fails every invocation still queued with it.
    fn fail_initialization(&mut self, error: FunctionError) {
        let queued: Vec<String> = self
            .invocations
            .iter()
            .filter(|(_, state)| matches!(state, InvocationState::Queued { .. }))
            .map(|(request_id, _)| request_id.clone())
            .collect();
        for request_id in queued {
            if let Some(InvocationState::Queued { completion, .. }) =
                self.invocations.remove(&request_id)
            {
                let _ = completion.send(Completion {
                    result: InvocationResult::Error(error.clone()),
                    at: Instant::now(),
                });
                self.finish(request_id, InvocationState::Completed);
            }
        }
        self.init_error = Some(error);
    }

    /// Stores a finished state and forgets the oldest finished invocations beyond the cap.
    fn finish(&mut self, request_id: String, state: InvocationState) {
        self.finished.push_back(request_id.clone());
        self.invocations.insert(request_id, state);
        while self.finished.len() > FINISHED_INVOCATIONS_KEPT {
            let Some(oldest) = self.finished.pop_front() else {
                break;
            };
            if let Some(InvocationState::Completed | InvocationState::TimedOut) =
                self.invocations.get(&oldest)
            {
                self.invocations.remove(&oldest);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// The endpoints of the Runtime API.
#[derive(Debug, PartialEq, Eq)]
enum Route {
    Next,
    InvocationResponse(String),
    InvocationError(String),
    InitError,
    /// An Extensions API endpoint (`/2020-01-01/extension/…`), asked with its method.
    Extension(ExtensionRoute),
    /// A known path asked with another method than this one.
    MethodNotAllowed(&'static str),
    NotFound,
}

impl Route {
    fn of(method: &Method, path: &str) -> Route {
        if let Some(endpoint) = path
            .strip_prefix(EXTENSION_BASE_PATH)
            .and_then(|rest| rest.strip_prefix('/'))
        {
            // A wrong method on an Extensions API path is a 404, like an unknown path.
            return ExtensionRoute::of(method, endpoint).map_or(Route::NotFound, Route::Extension);
        }
        let Some(endpoint) = path
            .strip_prefix(BASE_PATH)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return Route::NotFound;
        };
        let segments: Vec<&str> = endpoint.split('/').collect();
        let (route, allowed) = match segments.as_slice() {
            ["invocation", "next"] => (Route::Next, Method::GET),
            ["init", "error"] => (Route::InitError, Method::POST),
            ["invocation", request_id, "response"] => (
                Route::InvocationResponse((*request_id).to_owned()),
                Method::POST,
            ),
            ["invocation", request_id, "error"] => (
                Route::InvocationError((*request_id).to_owned()),
                Method::POST,
            ),
            _ => return Route::NotFound,
        };
        if *method == allowed {
            route
        } else if allowed == Method::GET {
            Route::MethodNotAllowed("GET")
        } else {
            Route::MethodNotAllowed("POST")
        }
    }
}

async fn handle_request(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<HttpResponse, Infallible> {
    let route = Route::of(request.method(), request.uri().path());
    let response = match route {
        Route::Next => next_invocation(&shared).await,
        Route::InvocationResponse(request_id) => {
            post_response(&shared, &request_id, request.into_body()).await
        }
        Route::InvocationError(request_id) => {
            let error_type = function_error_type(request.headers());
            post_error(&shared, &request_id, error_type, request.into_body()).await
        }
        Route::InitError => {
            let error_type = function_error_type(request.headers());
            post_init_error(&shared, error_type, request.into_body()).await
        }
        Route::Extension(route) => extension_request(&shared, route, request).await,
        Route::MethodNotAllowed(allowed) => method_not_allowed(request.method(), allowed),
        Route::NotFound => not_found(request.uri().path()),
    };
    Ok(response)
}

/// One Extensions API request; a refusal gets the platform's error JSON.
async fn extension_request(
    shared: &Shared,
    route: ExtensionRoute,
    request: Request<Incoming>,
) -> HttpResponse {
    let answered = match route {
        ExtensionRoute::Register => register_extension(shared, request).await,
        ExtensionRoute::EventNext => next_extension_event(shared, request.headers()).await,
        ExtensionRoute::InitError => {
            report_extension_error(shared, ExtensionErrorKind::Init, request).await
        }
        ExtensionRoute::ExitError => {
            report_extension_error(shared, ExtensionErrorKind::Exit, request).await
        }
    };
    answered.unwrap_or_else(|rejection| {
        tracing::debug!(
            ?route,
            error_type = rejection.error_type,
            "Runtime API emulator: extension request refused"
        );
        error_response(
            rejection.status,
            rejection.error_type,
            &rejection.error_message,
        )
    })
}

/// `POST /2020-01-01/extension/register`.
async fn register_extension(
    shared: &Shared,
    request: Request<Incoming>,
) -> Result<HttpResponse, ExtensionRejection> {
    let name = extensions::extension_name(request.headers())?;
    let with_account_id = extensions::accepts_account_id(request.headers());
    let subscriptions = match receive_body(request.into_body(), EXTENSION_BODY_LIMIT).await {
        ReceivedBody::Complete(body) => extensions::parse_register_body(&body)?,
        ReceivedBody::TooLarge => {
            return Ok(error_response(
                StatusCode::BAD_REQUEST,
                "InvalidRequestFormat",
                &format!("the register body exceeds {EXTENSION_BODY_LIMIT} bytes"),
            ));
        }
        ReceivedBody::Truncated => return Ok(Rejection::TruncatedRequest.response()),
    };
    // Under the extensions' lock, as the first hand-out that closes registration.
    let identifier =
        shared
            .extensions()
            .register(name.clone(), subscriptions, fresh_request_id())?;
    shared.notify_extensions();
    tracing::debug!(
        name,
        invoke = subscriptions.invoke,
        shutdown = subscriptions.shutdown,
        "Runtime API emulator: extension registered"
    );
    let function = &shared.function;
    let mut body = json!({
        "functionName": function.function_name,
        "functionVersion": function.version,
        "handler": HANDLER,
    });
    if let (true, Value::Object(fields)) = (with_account_id, &mut body) {
        fields.insert("accountId".to_owned(), json!(function.account_id));
    }
    let mut response = json_response(StatusCode::OK, Bytes::from(body.to_string()));
    let identifier = HeaderValue::from_str(&identifier).map_err(|_| ExtensionRejection {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        error_type: "InternalServerError",
        error_message: "Internal Server Error".to_owned(),
    })?;
    response
        .headers_mut()
        .insert(EXTENSION_IDENTIFIER_HEADER, identifier);
    Ok(response)
}

/// `GET /2020-01-01/extension/event/next`: the extension is done with its last event (or its
/// init); long-polls for its next one.
async fn next_extension_event(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<HttpResponse, ExtensionRejection> {
    let identifier = extensions::extension_identifier(headers)?;
    let mut changes = shared.extensions_changed.subscribe();
    shared
        .extensions()
        .acknowledge(&identifier, Instant::now())?;
    shared.notify_extensions();
    loop {
        // Marked seen before looking, so no event assigned after it is missed.
        changes.borrow_and_update();
        let taken = shared.extensions().take_event(&identifier)?;
        if let Some(DeliveredEvent { body }) = taken {
            let mut response = json_response(StatusCode::OK, body);
            let headers = response.headers_mut();
            if let Ok(event_identifier) = HeaderValue::from_str(&fresh_request_id()) {
                headers.insert(EXTENSION_EVENT_IDENTIFIER_HEADER, event_identifier);
            }
            if let Ok(identifier) = HeaderValue::from_str(&identifier) {
                headers.insert(EXTENSION_IDENTIFIER_HEADER, identifier);
            }
            return Ok(response);
        }
        if changes.changed().await.is_err() {
            return Ok(error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal Server Error",
            ));
        }
    }
}

/// `POST /2020-01-01/extension/init/error` and `/exit/error`.
async fn report_extension_error(
    shared: &Shared,
    kind: ExtensionErrorKind,
    request: Request<Incoming>,
) -> Result<HttpResponse, ExtensionRejection> {
    let identifier = extensions::extension_identifier(request.headers())?;
    let error_type = extensions::extension_error_type(request.headers())?;
    let raw_body = match receive_body(request.into_body(), EXTENSION_BODY_LIMIT).await {
        ReceivedBody::Complete(body) => body,
        ReceivedBody::TooLarge => Bytes::new(),
        ReceivedBody::Truncated => return Ok(Rejection::TruncatedRequest.response()),
    };
    tracing::debug!(
        ?kind,
        error_type,
        "Runtime API emulator: extension error reported"
    );
    shared
        .extensions()
        .report_error(&identifier, kind, error_type, raw_body, Instant::now())?;
    shared.notify_extensions();
    Ok(accepted())
}

/// `GET /invocation/next`: long-polls for the next queued invocation, and, with extensions
/// registered, for every extension to be ready for it.
async fn next_invocation(shared: &Shared) -> HttpResponse {
    shared.note_next_call();
    let mut queue = shared.queue_receiver.lock().await;
    loop {
        let ticket = match queue.held.take() {
            Some(ticket) => ticket,
            None => match queue.receiver.recv().await {
                Some(ticket) => ticket,
                None => break,
            },
        };
        match shared.hand_out(ticket) {
            HandOutAttempt::HandedOut(event) => return event,
            HandOutAttempt::Withdrawn => {}
            HandOutAttempt::ExtensionsBusy(ticket) => {
                queue.held = Some(ticket);
                // Subscribed before looking again, so no change after the look is missed.
                let mut extensions_changed = shared.extensions_changed.subscribe();
                if shared.extensions().ready_for_hand_out() {
                    continue;
                }
                if extensions_changed.changed().await.is_err() {
                    break;
                }
            }
        }
    }
    // Unreachable while `shared` holds the sender; answer like a broken platform would.
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalServerError",
        "Internal Server Error",
    )
}

/// `POST /invocation/{id}/response`.
async fn post_response(shared: &Shared, request_id: &str, body: Incoming) -> HttpResponse {
    let result = match receive_body(body, MAX_PAYLOAD_BYTES).await {
        ReceivedBody::Complete(response) => InvocationResult::Response(response),
        ReceivedBody::TooLarge => return fail_oversized(shared, request_id),
        ReceivedBody::Truncated => return Rejection::TruncatedRequest.response(),
    };
    settle(shared, request_id, result)
}

/// `POST /invocation/{id}/error`.
async fn post_error(
    shared: &Shared,
    request_id: &str,
    error_type: Option<String>,
    body: Incoming,
) -> HttpResponse {
    let error = match receive_body(body, MAX_PAYLOAD_BYTES).await {
        ReceivedBody::Complete(report) => FunctionError::from_report(error_type.as_deref(), report),
        ReceivedBody::TooLarge => return fail_oversized(shared, request_id),
        ReceivedBody::Truncated => return Rejection::TruncatedRequest.response(),
    };
    settle(shared, request_id, InvocationResult::Error(error))
}

/// `POST /init/error`.
async fn post_init_error(
    shared: &Shared,
    error_type: Option<String>,
    body: Incoming,
) -> HttpResponse {
    let error = match receive_body(body, MAX_PAYLOAD_BYTES).await {
        ReceivedBody::Complete(report) => FunctionError::from_report(error_type.as_deref(), report),
        ReceivedBody::TooLarge => FunctionError::payload_too_large(),
        ReceivedBody::Truncated => return Rejection::TruncatedRequest.response(),
    };
    tracing::debug!(error_type = %error.error_type, "Runtime API emulator: init error reported");
    shared.registry().fail_initialization(error);
    accepted()
}

fn settle(shared: &Shared, request_id: &str, result: InvocationResult) -> HttpResponse {
    match shared.registry().complete(request_id, result) {
        Ok(()) => accepted(),
        Err(rejection) => {
            tracing::debug!(
                request_id,
                error_type = rejection.error_type(),
                "Runtime API emulator: answer rejected"
            );
            rejection.response()
        }
    }
}

/// An oversized answer fails the invocation (if it is in flight) and gets a 413.
fn fail_oversized(shared: &Shared, request_id: &str) -> HttpResponse {
    let failure = InvocationResult::Error(FunctionError::payload_too_large());
    match shared.registry().complete(request_id, failure) {
        Ok(()) => Rejection::PayloadTooLarge.response(),
        Err(rejection) => rejection.response(),
    }
}

/// A request body as far as it could be read.
enum ReceivedBody {
    Complete(Bytes),
    TooLarge,
    /// The client broke off mid-body.
    Truncated,
}

/// Reads a whole body (chunked or not) of at most `limit` bytes. A larger body is still drained
/// (up to [`OVERSIZED_BODY_DRAIN_LIMIT`]) so the answer goes out on a reusable connection.
async fn receive_body(mut body: Incoming, limit: usize) -> ReceivedBody {
    let mut received = BytesMut::new();
    let mut length: usize = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return ReceivedBody::Truncated;
        };
        // Trailers (streaming responses' error report) are not emulated.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        length = length.saturating_add(data.len());
        if length <= limit {
            received.extend_from_slice(&data);
        } else if length > OVERSIZED_BODY_DRAIN_LIMIT {
            return ReceivedBody::TooLarge;
        } else if !received.is_empty() {
            received = BytesMut::new();
        }
    }
    if length > limit {
        ReceivedBody::TooLarge
    } else {
        ReceivedBody::Complete(received.freeze())
    }
}

fn function_error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(FUNCTION_ERROR_TYPE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

fn accepted() -> HttpResponse {
    json_response(
        StatusCode::ACCEPTED,
        Bytes::from(json!({ "status": "OK" }).to_string()),
    )
}

fn not_found(path: &str) -> HttpResponse {
    error_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("No Runtime API resource at {path}"),
    )
}

fn method_not_allowed(method: &Method, allowed: &'static str) -> HttpResponse {
    let mut response = error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!("{method} is not allowed here; use {allowed}"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allowed));
    response
}

fn error_response(status: StatusCode, error_type: &str, error_message: &str) -> HttpResponse {
    json_response(status, error_body(error_type, error_message))
}

fn error_body(error_type: &str, error_message: &str) -> Bytes {
    Bytes::from(json!({ "errorMessage": error_message, "errorType": error_type }).to_string())
}

fn json_response(status: StatusCode, body: Bytes) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A request ID travels as a path segment and a header: keep it to URL-safe ASCII.
fn validate_request_id(request_id: &str) -> Result<(), FunctionError> {
    let is_path_safe =
        |character: char| character.is_ascii_alphanumeric() || "-_.~:".contains(character);
    if !request_id.is_empty() && request_id.chars().all(is_path_safe) {
        Ok(())
    } else {
        Err(FunctionError::invalid_invocation(format!(
            "request ID {request_id:?} must be non-empty ASCII letters, digits, '-', '_', '.', \
             '~' or ':'"
        )))
    }
}

fn header_value(field: &str, value: &str) -> Result<HeaderValue, FunctionError> {
    HeaderValue::from_str(value).map_err(|_| {
        FunctionError::invalid_invocation(format!(
            "{field} {value:?} cannot be sent as an HTTP header value"
        ))
    })
}

/// Milliseconds since the Unix epoch, `timeout` from now (the `Lambda-Runtime-Deadline-Ms`
/// value).
fn epoch_millis_after(timeout: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(now.saturating_add(timeout).as_millis()).unwrap_or(u64::MAX)
}

/// 128 bits that differ between calls and between processes, without a random-number crate:
/// the process-wide random hash keys of std's `RandomState` over a counter and the clock.
fn unique_bits() -> (u64, u64) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let keys = KEYS.get_or_init(RandomState::new);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since_epoch| since_epoch.as_nanos())
        .unwrap_or_default();
    (
        keys.hash_one((count, nanos, 0_u8)),
        keys.hash_one((count, nanos, 1_u8)),
    )
}

/// A fresh request ID shaped like the platform's: a random (version 4) UUID.
pub(crate) fn fresh_request_id() -> String {
    let (high, low) = unique_bits();
    let high = (high & !0xF000) | 0x4000; // version 4
    let low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000; // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF,
    )
}

/// The platform's log stream name for an execution environment started at `started_at`:
/// `YYYY/MM/DD/[VERSION]` and 32 hex digits.
fn log_stream_name(version: &str, started_at: SystemTime) -> String {
    let days_since_epoch = started_at
        .duration_since(UNIX_EPOCH)
        .map(|since_epoch| since_epoch.as_secs() / 86_400)
        .unwrap_or_default();
    let (year, month, day) = civil_date(i64::try_from(days_since_epoch).unwrap_or_default());
    let (high, low) = unique_bits();
    format!("{year:04}/{month:02}/{day:02}/[{version}]{high:016x}{low:016x}")
}

/// The proleptic Gregorian date `days_since_epoch` days after 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
fn civil_date(days_since_epoch: i64) -> (i64, u32, u32) {
    let days = days_since_epoch + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // March is 0
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31 and 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;
    use tokio::task::JoinHandle;

    /// Generous bound for anything that should happen promptly on loopback.
    const PROMPTLY: Duration = Duration::from_secs(10);

    /// A minimal HTTP/1.1 client on one keep-alive connection, speaking to the emulator as a
    /// Lambda runtime would.
    struct RuntimeClient {
        connection: BufReader<TcpStream>,
    }

    #[derive(Debug)]
    struct Reply {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).expect("a JSON body")
        }

        fn error_type(&self) -> String {
            self.json()["errorType"]
                .as_str()
                .expect("an errorType")
                .to_owned()
        }
    }

    impl RuntimeClient {
        async fn connect(api: &RuntimeApi) -> Self {
            let stream = TcpStream::connect(api.addr()).await.expect("connect");
            Self {
                connection: BufReader::new(stream),
            }
        }

        async fn get(&mut self, path: &str) -> Reply {
            self.request("GET", path, &[], b"").await
        }

        async fn post(&mut self, path: &str, body: &[u8]) -> Reply {
            self.request("POST", path, &[], body).await
        }

        async fn request(
            &mut self,
            method: &str,
            path: &str,
            headers: &[(&str, &str)],
            body: &[u8],
        ) -> Reply {
            let mut head = format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: aws-lambda-rust/test\r\n\
                 Content-Length: {}\r\n",
                body.len()
            );
            for (name, value) in headers {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
            head.push_str("\r\n");
            let mut raw = head.into_bytes();
            raw.extend_from_slice(body);
            self.send_raw(&raw).await
        }

        async fn send_raw(&mut self, raw: &[u8]) -> Reply {
            let stream = self.connection.get_mut();
            stream.write_all(raw).await.expect("write request");
            stream.flush().await.expect("flush request");
            tokio::time::timeout(PROMPTLY, self.read_reply())
                .await
                .expect("a reply in time")
        }

        async fn read_line(&mut self) -> String {
            let mut line = String::new();
            self.connection
                .read_line(&mut line)
                .await
                .expect("read line");
            line.trim_end_matches(['\r', '\n']).to_owned()
        }

        async fn read_reply(&mut self) -> Reply {
            let status_line = self.read_line().await;
            let status = status_line
                .split(' ')
                .nth(1)
                .and_then(|code| code.parse().ok())
                .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
            let mut headers = Vec::new();
            loop {
                let line = self.read_line().await;
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').expect("a header line");
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
            let length = headers
                .iter()
                .find(|(name, _)| name == "content-length")
                .map_or(0, |(_, value)| value.parse().expect("a content length"));
            let mut body = vec![0; length];
            self.connection
                .read_exact(&mut body)
                .await
                .expect("read body");
            Reply {
                status,
                headers,
                body,
            }
        }
    }

    fn next_path() -> String {
        format!("{BASE_PATH}/invocation/next")
    }

    fn response_path(request_id: &str) -> String {
        format!("{BASE_PATH}/invocation/{request_id}/response")
    }

    fn error_path(request_id: &str) -> String {
        format!("{BASE_PATH}/invocation/{request_id}/error")
    }

    async fn start(function: FunctionConfig) -> RuntimeApi {
        RuntimeApi::start(function).await.expect("start emulator")
    }

    fn spawn_invoke(api: &RuntimeApi, invocation: Invocation) -> JoinHandle<InvocationOutcome> {
        let api = api.clone();
        tokio::spawn(async move { api.invoke(invocation).await })
    }

    async fn outcome_of(invoking: JoinHandle<InvocationOutcome>) -> InvocationOutcome {
        tokio::time::timeout(PROMPTLY, invoking)
            .await
            .expect("invoke returned in time")
            .expect("invoke task")
    }

    fn queued_invocations(api: &RuntimeApi) -> usize {
        api.shared
            .registry()
            .invocations
            .values()
            .filter(|state| matches!(state, InvocationState::Queued { .. }))
            .count()
    }

    async fn wait_until_queued(api: &RuntimeApi, count: usize) {
        tokio::time::timeout(PROMPTLY, async {
            while queued_invocations(api) < count {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("invocations queued in time");
    }

    fn now_epoch_millis() -> i128 {
        i128::from(epoch_millis_after(Duration::ZERO))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn next_then_response_round_trip_carries_every_header() {
        let api = start(FunctionConfig::new("orders")).await;
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        // The shape lambda_runtime parses: its `client` needs every field.
        let client_context = r#"{"client":{"installation_id":"i","app_title":"t","app_version_name":"1","app_version_code":"1","app_package_name":"p"},"custom":{"k":"v"},"environment":{}}"#;
        let cognito = r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#;
        let invocation = Invocation::json(&json!({ "orderId": 7 }))
            .with_xray_trace_id(trace)
            .with_client_context(client_context)
            .with_cognito_identity(cognito);
        let request_id = invocation.request_id.clone();
        let invoking = spawn_invoke(&api, invocation);

        let mut runtime = RuntimeClient::connect(&api).await;
        let event = runtime.get(&next_path()).await;
        assert_eq!(event.status, 200);
        assert_eq!(event.json(), json!({ "orderId": 7 }));
        assert_eq!(
            event.header("Lambda-Runtime-Aws-Request-Id"),
            Some(request_id.as_str())
        );
        assert_eq!(
            event.header("Lambda-Runtime-Invoked-Function-Arn"),
            Some("arn:aws:lambda:us-east-1:123456789012:function:orders")
        );
        assert_eq!(event.header("Lambda-Runtime-Trace-Id"), Some(trace));
        assert_eq!(
            event.header("Lambda-Runtime-Client-Context"),
            Some(client_context)
        );
        assert_eq!(
            event.header("Lambda-Runtime-Cognito-Identity"),
            Some(cognito)
        );
        assert_eq!(event.header("Content-Type"), Some("application/json"));
        let deadline: i128 = event
            .header("Lambda-Runtime-Deadline-Ms")
            .expect("a deadline")
            .parse()
            .expect("epoch milliseconds");
        let expected = now_epoch_millis() + 3_000;
        assert!(
            (deadline - expected).abs() <= 2_000,
            "deadline {deadline} is not about now + 3 s ({expected})"
        );

        // Same keep-alive connection, as lambda_runtime does.
        let answer = runtime
            .post(&response_path(&request_id), br#"{"shipped":true}"#)
            .await;
        assert_eq!(answer.status, 202);
        assert_eq!(answer.json(), json!({ "status": "OK" }));

        let outcome = outcome_of(invoking).await;
        assert_eq!(outcome.request_id, request_id);
        assert!(outcome.is_success());
        assert_eq!(outcome.response_json(), Some(json!({ "shipped": true })));
        assert!(outcome.handed_out_at.is_some());
        assert!(outcome.latency().is_some());
        assert_eq!(api.next_calls(), 1);
        assert!(api.first_next_at().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn optional_headers_are_left_out_when_unset() {
        let api = start(FunctionConfig::new("orders")).await;
        let invoking = spawn_invoke(
            &api,
            Invocation::new("{}").with_invoked_function_arn(
                "arn:aws:lambda:us-east-1:123456789012:function:orders:live",
            ),
        );
        let mut runtime = RuntimeClient::connect(&api).await;
        let event = runtime.get(&next_path()).await;
        assert_eq!(event.header("Lambda-Runtime-Trace-Id"), None);
        assert_eq!(event.header("Lambda-Runtime-Client-Context"), None);
        assert_eq!(event.header("Lambda-Runtime-Cognito-Identity"), None);
        assert_eq!(
            event.header("Lambda-Runtime-Invoked-Function-Arn"),
            Some("arn:aws:lambda:us-east-1:123456789012:function:orders:live")
        );
        let request_id = event
            .header("Lambda-Runtime-Aws-Request-Id")
            .expect("a request ID")
            .to_owned();
        runtime.post(&response_path(&request_id), b"null").await;
        assert!(outcome_of(invoking).await.is_success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn error_type_comes_from_the_body_first_then_the_header() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut runtime = RuntimeClient::connect(&api).await;

        // lambda_runtime's shape: header "unhandled", the real type in the body.
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("req-body"));
        runtime.get(&next_path()).await;
        let body = br#"{"errorType":"OrderNotFound","errorMessage":"no order 7","stackTrace":[]}"#;
        let answer = runtime
            .request(
                "POST",
                &error_path("req-body"),
                &[("Lambda-Runtime-Function-Error-Type", "unhandled")],
                body,
            )
            .await;
        assert_eq!(answer.status, 202);
        assert_eq!(answer.json(), json!({ "status": "OK" }));
        let outcome = outcome_of(invoking).await;
        assert!(!outcome.is_success());
        assert_eq!(
            outcome.result,
            InvocationResult::Error(FunctionError {
                error_type: "OrderNotFound".to_owned(),
                error_message: "no order 7".to_owned(),
                raw_body: Bytes::from_static(body),
            })
        );

        // A body that is not JSON: the header names the error, the body is the message.
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("req-header"));
        runtime.get(&next_path()).await;
        let answer = runtime
            .request(
                "POST",
                &error_path("req-header"),
                &[("Lambda-Runtime-Function-Error-Type", "Runtime.ExitError")],
                b"process exited",
            )
            .await;
        assert_eq!(answer.status, 202);
        let InvocationResult::Error(error) = outcome_of(invoking).await.result else {
            panic!("expected an error outcome");
        };
        assert_eq!(error.error_type, "Runtime.ExitError");
        assert_eq!(error.error_message, "process exited");

        // Neither: the platform's default.
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("req-none"));
        runtime.get(&next_path()).await;
        runtime.post(&error_path("req-none"), b"").await;
        let InvocationResult::Error(error) = outcome_of(invoking).await.result else {
            panic!("expected an error outcome");
        };
        assert_eq!(error.error_type, "Unhandled");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_or_queued_request_ids_are_invalid() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut runtime = RuntimeClient::connect(&api).await;
        for path in [
            response_path("no-such-id"),
            error_path("no-such-id"),
            format!("{BASE_PATH}/invocation//response"),
        ] {
            let answer = runtime.post(&path, b"{}").await;
            assert_eq!(answer.status, 400, "{path}");
            assert_eq!(
                answer.json(),
                json!({ "errorMessage": "Invalid request ID", "errorType": "InvalidRequestID" })
            );
        }

        // Queued but not yet handed out: not the function's to answer.
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("queued"));
        wait_until_queued(&api, 1).await;
        let answer = runtime.post(&response_path("queued"), b"{}").await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.error_type(), "InvalidRequestID");
        invoking.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_second_answer_is_an_invalid_state_transition() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut runtime = RuntimeClient::connect(&api).await;
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("once"));
        runtime.get(&next_path()).await;
        assert_eq!(runtime.post(&response_path("once"), b"1").await.status, 202);

        let again = runtime.post(&response_path("once"), b"2").await;
        assert_eq!(again.status, 400);
        assert_eq!(again.error_type(), "InvalidStateTransition");
        let error_after_response = runtime.post(&error_path("once"), b"{}").await;
        assert_eq!(error_after_response.status, 400);
        assert_eq!(error_after_response.error_type(), "InvalidStateTransition");

        let outcome = outcome_of(invoking).await;
        assert_eq!(
            outcome.result,
            InvocationResult::Response(Bytes::from_static(b"1"))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_answer_by_the_deadline_times_out() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut runtime = RuntimeClient::connect(&api).await;
        let invoking = spawn_invoke(
            &api,
            Invocation::new("{}")
                .with_request_id("slow")
                .with_timeout(Duration::from_millis(200)),
        );
        let event = runtime.get(&next_path()).await;
        let deadline: i128 = event
            .header("Lambda-Runtime-Deadline-Ms")
            .expect("a deadline")
            .parse()
            .expect("epoch milliseconds");
        assert!((deadline - (now_epoch_millis() + 200)).abs() <= 2_000);

        let outcome = outcome_of(invoking).await;
        assert_eq!(outcome.result, InvocationResult::TimedOut);
        assert!(outcome.handed_out_at.is_some());
        assert_eq!(outcome.completed_at, None);
        assert_eq!(outcome.latency(), None);

        let late = runtime.post(&response_path("slow"), b"{}").await;
        assert_eq!(late.status, 410);
        assert_eq!(
            late.json(),
            json!({ "errorMessage": "Invoke timeout", "errorType": "InvokeTimeout" })
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_invocations_are_handed_out_in_order() {
        let api = start(FunctionConfig::new("orders")).await;
        let first = spawn_invoke(&api, Invocation::new("1").with_request_id("first"));
        wait_until_queued(&api, 1).await;
        let second = spawn_invoke(&api, Invocation::new("2").with_request_id("second"));
        wait_until_queued(&api, 2).await;

        let mut runtime = RuntimeClient::connect(&api).await;
        for (request_id, payload) in [("first", b"1"), ("second", b"2")] {
            let event = runtime.get(&next_path()).await;
            assert_eq!(
                event.header("Lambda-Runtime-Aws-Request-Id"),
                Some(request_id)
            );
            assert_eq!(event.body, payload);
            runtime.post(&response_path(request_id), payload).await;
        }
        assert_eq!(outcome_of(first).await.response_json(), Some(json!(1)));
        assert_eq!(outcome_of(second).await.response_json(), Some(json!(2)));
        assert_eq!(api.next_calls(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_long_polls_each_get_one_invocation() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut polls = Vec::new();
        for _ in 0..3 {
            let mut runtime = RuntimeClient::connect(&api).await;
            polls.push(tokio::spawn(async move {
                let event = runtime.get(&next_path()).await;
                let request_id = event
                    .header("Lambda-Runtime-Aws-Request-Id")
                    .expect("a request ID")
                    .to_owned();
                let answer = runtime.post(&response_path(&request_id), &event.body).await;
                assert_eq!(answer.status, 202);
                request_id
            }));
        }
        tokio::time::timeout(PROMPTLY, api.wait_for_next_calls(3))
            .await
            .expect("three long-polls");

        let invocations: Vec<_> = (0..3)
            .map(|index| spawn_invoke(&api, Invocation::json(&json!(index))))
            .collect();
        for (index, invoking) in invocations.into_iter().enumerate() {
            let outcome = outcome_of(invoking).await;
            assert_eq!(outcome.response_json(), Some(json!(index)));
        }
        let mut served = Vec::new();
        for poll in polls {
            served.push(
                tokio::time::timeout(PROMPTLY, poll)
                    .await
                    .expect("poll")
                    .expect("task"),
            );
        }
        served.sort();
        served.dedup();
        assert_eq!(served.len(), 3, "each long-poll got a different invocation");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_long_poll_does_not_swallow_an_invocation() {
        let api = start(FunctionConfig::new("orders")).await;
        {
            let mut abandoned = RuntimeClient::connect(&api).await;
            let raw = format!("GET {} HTTP/1.1\r\nHost: localhost\r\n\r\n", next_path());
            let stream = abandoned.connection.get_mut();
            stream.write_all(raw.as_bytes()).await.expect("write");
            tokio::time::timeout(PROMPTLY, api.wait_for_next_calls(1))
                .await
                .expect("the long-poll arrived");
            // Dropping the client closes the connection mid-poll, as a killed process would.
        }
        tokio::time::sleep(Duration::from_millis(100)).await;

        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("survivor"));
        let mut runtime = RuntimeClient::connect(&api).await;
        let event = runtime.get(&next_path()).await;
        assert_eq!(
            event.header("Lambda-Runtime-Aws-Request-Id"),
            Some("survivor")
        );
        runtime.post(&response_path("survivor"), b"{}").await;
        assert!(outcome_of(invoking).await.is_success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_oversized_response_is_refused_and_fails_the_invocation() {
        // Large bodies through a debug build take a moment: keep the deadline out of the way.
        let mut function = FunctionConfig::new("orders");
        function.timeout = Duration::from_secs(30);
        let api = start(function).await;
        let mut runtime = RuntimeClient::connect(&api).await;
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("big"));
        runtime.get(&next_path()).await;

        let body = vec![b'x'; MAX_PAYLOAD_BYTES + 1];
        let answer = runtime.post(&response_path("big"), &body).await;
        assert_eq!(answer.status, 413);
        assert_eq!(answer.error_type(), "RequestEntityTooLarge");

        let InvocationResult::Error(error) = outcome_of(invoking).await.result else {
            panic!("expected an error outcome");
        };
        assert_eq!(error.error_type, "RequestEntityTooLarge");
        assert!(
            error.error_message.contains("6291456"),
            "{}",
            error.error_message
        );

        // The connection is still usable, and exactly 6 MiB is fine.
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("max"));
        runtime.get(&next_path()).await;
        let body = vec![b'x'; MAX_PAYLOAD_BYTES];
        assert_eq!(runtime.post(&response_path("max"), &body).await.status, 202);
        let outcome = outcome_of(invoking).await;
        assert_eq!(
            outcome.result,
            InvocationResult::Response(Bytes::from(body))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chunked_response_is_read_whole() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut runtime = RuntimeClient::connect(&api).await;
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("chunked"));
        runtime.get(&next_path()).await;
        let raw = format!(
            "POST {} HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
             6\r\n{{\"ok\":\r\n5\r\ntrue}}\r\n0\r\n\r\n",
            response_path("chunked")
        );
        let answer = runtime.send_raw(raw.as_bytes()).await;
        assert_eq!(answer.status, 202);
        assert_eq!(
            outcome_of(invoking).await.response_json(),
            Some(json!({ "ok": true }))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_paths_and_methods_are_refused() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut runtime = RuntimeClient::connect(&api).await;
        for path in [
            "/",
            "/2018-06-01/runtime",
            "/2018-06-01/runtime/invocation/next/",
            "/2018-06-01/runtime/restore/next",
            "/2020-01-01/extension/register",
            "/2018-06-01/runtime/invocation/a/b/response",
        ] {
            let answer = runtime.get(path).await;
            assert_eq!(answer.status, 404, "{path}");
            assert_eq!(answer.error_type(), "NotFound");
        }
        let post_next = runtime.post(&next_path(), b"").await;
        assert_eq!(post_next.status, 405);
        assert_eq!(post_next.header("Allow"), Some("GET"));
        let get_response = runtime.get(&response_path("id")).await;
        assert_eq!(get_response.status, 405);
        assert_eq!(get_response.header("Allow"), Some("POST"));
        assert_eq!(api.next_calls(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_http_gets_a_client_error_and_the_server_keeps_serving() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut garbage = RuntimeClient::connect(&api).await;
        let answer = garbage.send_raw(b"NOT HTTP AT ALL\r\n\r\n").await;
        assert_eq!(answer.status, 400);

        let mut truncated = RuntimeClient::connect(&api).await;
        let raw = format!(
            "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nshort",
            response_path("x")
        );
        let stream = truncated.connection.get_mut();
        stream.write_all(raw.as_bytes()).await.expect("write");
        stream.shutdown().await.expect("half-close");
        let cut_short = tokio::time::timeout(PROMPTLY, truncated.read_reply())
            .await
            .expect("a reply in time");
        assert_eq!(cut_short.status, 400);
        assert_eq!(cut_short.error_type(), "TruncatedHTTPRequest");

        let mut runtime = RuntimeClient::connect(&api).await;
        assert_eq!(runtime.get("/nowhere").await.status, 404);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_init_error_is_recorded_and_fails_waiting_invocations() {
        let api = start(FunctionConfig::new("orders")).await;
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("cold"));
        wait_until_queued(&api, 1).await;

        let mut runtime = RuntimeClient::connect(&api).await;
        let body = br#"{"errorType":"ConfigError","errorMessage":"missing TABLE_NAME"}"#;
        let answer = runtime
            .request(
                "POST",
                &format!("{BASE_PATH}/init/error"),
                &[("Lambda-Runtime-Function-Error-Type", "Runtime.InitError")],
                body,
            )
            .await;
        assert_eq!(answer.status, 202);
        let init_error = api.init_error().expect("an init error");
        assert_eq!(init_error.error_type, "ConfigError");
        assert_eq!(init_error.error_message, "missing TABLE_NAME");

        let outcome = outcome_of(invoking).await;
        assert_eq!(outcome.result, InvocationResult::Error(init_error));
        assert_eq!(outcome.handed_out_at, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invalid_invocations_are_refused_without_queueing() {
        let api = start(FunctionConfig::new("orders")).await;
        for invocation in [
            Invocation::new("{}").with_request_id(""),
            Invocation::new("{}").with_request_id("a/b"),
            Invocation::new("{}").with_xray_trace_id("Root=1\r\nX-Injected: 1"),
        ] {
            let outcome = tokio::time::timeout(PROMPTLY, api.invoke(invocation))
                .await
                .expect("refused at once");
            let InvocationResult::Error(error) = outcome.result else {
                panic!("expected a refusal");
            };
            assert_eq!(error.error_type, INVALID_INVOCATION);
        }
        assert_eq!(queued_invocations(&api), 0);

        let waiting = spawn_invoke(&api, Invocation::new("{}").with_request_id("dup"));
        wait_until_queued(&api, 1).await;
        let duplicate = api
            .invoke(Invocation::new("{}").with_request_id("dup"))
            .await;
        assert!(
            matches!(duplicate.result, InvocationResult::Error(ref error)
            if error.error_type == INVALID_INVOCATION)
        );
        waiting.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_withdrawn_invocation_is_not_handed_out() {
        let api = start(FunctionConfig::new("orders")).await;
        let withdrawn = tokio::time::timeout(
            Duration::from_millis(50),
            api.invoke(Invocation::new("{}").with_request_id("withdrawn")),
        )
        .await;
        assert!(withdrawn.is_err(), "nobody polled, so invoke kept waiting");

        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("wanted"));
        let mut runtime = RuntimeClient::connect(&api).await;
        let event = runtime.get(&next_path()).await;
        assert_eq!(
            event.header("Lambda-Runtime-Aws-Request-Id"),
            Some("wanted")
        );
        runtime.post(&response_path("wanted"), b"{}").await;
        assert!(outcome_of(invoking).await.is_success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_stops_serving_and_releases_waiting_invocations() {
        let api = start(FunctionConfig::new("orders")).await;
        let invoking = spawn_invoke(&api, Invocation::new("{}"));
        wait_until_queued(&api, 1).await;
        api.shutdown();
        let outcome = outcome_of(invoking).await;
        assert_eq!(outcome.result, InvocationResult::TimedOut);

        tokio::time::sleep(Duration::from_millis(50)).await;
        let refused = match TcpStream::connect(api.addr()).await {
            Err(_) => true,
            Ok(mut stream) => {
                let request = format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", next_path());
                let _ = stream.write_all(request.as_bytes()).await;
                let mut buffer = [0_u8; 1];
                matches!(
                    tokio::time::timeout(PROMPTLY, stream.read(&mut buffer)).await,
                    Ok(Ok(0) | Err(_))
                )
            }
        };
        assert!(refused, "the emulator still answers after shutdown");
    }

    #[tokio::test]
    async fn function_env_describes_the_function() {
        let mut function = FunctionConfig::new("orders");
        function.memory_mb = 512;
        function.region = "eu-west-1".to_owned();
        let api = start(function).await;
        let env: HashMap<String, String> = api.function_env().into_iter().collect();
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], api.endpoint());
        assert_eq!(api.endpoint(), format!("127.0.0.1:{}", api.addr().port()));
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "orders");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "512");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
        assert_eq!(env["AWS_LAMBDA_LOG_GROUP_NAME"], "/aws/lambda/orders");
        assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
        assert_eq!(env["AWS_REGION"], "eu-west-1");
        assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-1");
        let stream = &env["AWS_LAMBDA_LOG_STREAM_NAME"];
        let (date, rest) = stream.split_at(11);
        assert!(date.len() == 11 && date.ends_with('/'), "{stream}");
        let hex = rest
            .strip_prefix("[$LATEST]")
            .expect("the version in brackets");
        assert!(
            hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "{stream}"
        );
    }

    #[test]
    fn function_arn_and_defaults() {
        let function = FunctionConfig::new("orders");
        assert_eq!(
            function.function_arn(),
            "arn:aws:lambda:us-east-1:123456789012:function:orders"
        );
        assert_eq!(function.memory_mb, 128);
        assert_eq!(function.timeout, Duration::from_secs(3));
    }

    #[test]
    fn request_ids_look_like_uuid_v4_and_differ() {
        let first = Invocation::new("").request_id;
        let second = Invocation::new("").request_id;
        assert_ne!(first, second);
        let groups: Vec<&str> = first.split('-').collect();
        assert_eq!(
            groups.iter().map(|group| group.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(groups[2].starts_with('4'), "{first}");
        assert!(groups[3].starts_with(['8', '9', 'a', 'b']), "{first}");
        assert!(validate_request_id(&first).is_ok());
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(11_017), (2000, 3, 1));
        assert_eq!(civil_date(19_737), (2024, 1, 15));
        assert_eq!(civil_date(-1), (1969, 12, 31));
    }

    #[test]
    fn routes() {
        let route = |method: Method, path: &str| Route::of(&method, path);
        assert_eq!(
            route(Method::GET, "/2018-06-01/runtime/invocation/next"),
            Route::Next
        );
        assert_eq!(
            route(Method::POST, "/2018-06-01/runtime/invocation/abc/response"),
            Route::InvocationResponse("abc".to_owned())
        );
        assert_eq!(
            route(Method::POST, "/2018-06-01/runtime/invocation/abc/error"),
            Route::InvocationError("abc".to_owned())
        );
        assert_eq!(
            route(Method::POST, "/2018-06-01/runtime/init/error"),
            Route::InitError
        );
        assert_eq!(
            route(Method::DELETE, "/2018-06-01/runtime/init/error"),
            Route::MethodNotAllowed("POST")
        );
        assert_eq!(
            route(Method::GET, "/2018-06-01/runtimeinvocation/next"),
            Route::NotFound
        );
    }

    #[test]
    fn error_reports_tolerate_any_body() {
        let typed = FunctionError::from_report(None, Bytes::from_static(br#"{"errorType":7}"#));
        assert_eq!(typed.error_type, "Unhandled");
        assert_eq!(typed.error_message, "");
        let empty_type = FunctionError::from_report(
            Some("Header"),
            Bytes::from_static(br#"{"errorType":"","errorMessage":"m"}"#),
        );
        assert_eq!(empty_type.error_type, "Header");
        assert_eq!(empty_type.error_message, "m");
        let binary = FunctionError::from_report(None, Bytes::from_static(&[0xff, 0xfe]));
        assert_eq!(binary.error_type, "Unhandled");
        assert_eq!(binary.raw_body, Bytes::from_static(&[0xff, 0xfe]));
    }

    // -----------------------------------------------------------------------------------------
    // Extensions API
    // -----------------------------------------------------------------------------------------

    fn extension_path(endpoint: &str) -> String {
        format!("{EXTENSION_BASE_PATH}/{endpoint}")
    }

    /// Sends one request on a fresh connection from a task, so a long-poll can stay open.
    fn spawn_request(
        api: &RuntimeApi,
        method: &'static str,
        path: String,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    ) -> JoinHandle<Reply> {
        let api = api.clone();
        tokio::spawn(async move {
            let mut client = RuntimeClient::connect(&api).await;
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(name, value)| (*name, value.as_str()))
                .collect();
            client.request(method, &path, &headers, &body).await
        })
    }

    fn spawn_runtime_next(api: &RuntimeApi) -> JoinHandle<Reply> {
        spawn_request(api, "GET", next_path(), Vec::new(), Vec::new())
    }

    fn spawn_extension_next(api: &RuntimeApi, identifier: &str) -> JoinHandle<Reply> {
        spawn_request(
            api,
            "GET",
            extension_path("event/next"),
            vec![("Lambda-Extension-Identifier", identifier.to_owned())],
            Vec::new(),
        )
    }

    async fn reply_of(request: JoinHandle<Reply>) -> Reply {
        tokio::time::timeout(PROMPTLY, request)
            .await
            .expect("a reply in time")
            .expect("request task")
    }

    /// The request is still waiting for its answer a while later.
    async fn assert_still_waiting(request: &JoinHandle<Reply>, what: &str) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(!request.is_finished(), "{what} was answered too early");
    }

    async fn register_extension(api: &RuntimeApi, name: &str, events: &[&str]) -> String {
        let mut client = RuntimeClient::connect(api).await;
        let body = json!({ "events": events }).to_string();
        let reply = client
            .request(
                "POST",
                &extension_path("register"),
                &[("Lambda-Extension-Name", name)],
                body.as_bytes(),
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply
            .header("Lambda-Extension-Identifier")
            .expect("an extension identifier")
            .to_owned()
    }

    /// Every extension has called `/event/next` since its last event.
    async fn wait_until_extensions_ready(api: &RuntimeApi) {
        tokio::time::timeout(PROMPTLY, async {
            while !api.shared.extensions().ready_for_hand_out() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("extensions ready in time");
    }

    fn request_id_of(event: &Reply) -> String {
        event
            .header("Lambda-Runtime-Aws-Request-Id")
            .expect("a request ID")
            .to_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn extensions_register_during_init_only() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut client = RuntimeClient::connect(&api).await;
        let registered = client
            .request(
                "POST",
                &extension_path("register"),
                &[("Lambda-Extension-Name", "telemetry")],
                br#"{"events":["INVOKE"]}"#,
            )
            .await;
        assert_eq!(registered.status, 200);
        assert_eq!(
            registered.json(),
            json!({
                "functionName": "orders",
                "functionVersion": "$LATEST",
                "handler": "bootstrap",
            })
        );
        let identifier = registered
            .header("Lambda-Extension-Identifier")
            .expect("an identifier")
            .to_owned();
        assert_eq!(
            identifier.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{identifier}"
        );

        let same_name = client
            .request(
                "POST",
                &extension_path("register"),
                &[("Lambda-Extension-Name", "telemetry")],
                b"{}",
            )
            .await;
        assert_eq!(same_name.status, 403);
        assert_eq!(same_name.error_type(), "Extension.InvalidExtensionState");

        let with_account = client
            .request(
                "POST",
                &extension_path("register"),
                &[
                    ("Lambda-Extension-Name", "audit"),
                    ("Lambda-Extension-Accept-Feature", "accountId"),
                ],
                b"{}",
            )
            .await;
        assert_eq!(with_account.status, 200);
        assert_eq!(with_account.json()["accountId"], "123456789012");
        let audit = with_account
            .header("Lambda-Extension-Identifier")
            .expect("an identifier")
            .to_owned();
        assert_eq!(
            api.registered_extensions(),
            [
                RegisteredExtension {
                    identifier: identifier.clone(),
                    name: "telemetry".to_owned(),
                    invoke: true,
                    shutdown: false,
                },
                RegisteredExtension {
                    identifier: audit.clone(),
                    name: "audit".to_owned(),
                    invoke: false,
                    shutdown: false,
                },
            ]
        );

        // The first hand-out ends init.
        let telemetry_next = spawn_extension_next(&api, &identifier);
        let audit_next = spawn_extension_next(&api, &audit);
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("first"));
        let mut runtime = RuntimeClient::connect(&api).await;
        runtime.get(&next_path()).await;
        let late = client
            .request(
                "POST",
                &extension_path("register"),
                &[("Lambda-Extension-Name", "late")],
                br#"{"events":["INVOKE"]}"#,
            )
            .await;
        assert_eq!(late.status, 403);
        assert_eq!(late.error_type(), "Extension.RegistrationClosed");
        assert_eq!(api.registered_extensions().len(), 2);
        runtime.post(&response_path("first"), b"{}").await;
        assert!(outcome_of(invoking).await.is_success());
        assert_eq!(reply_of(telemetry_next).await.json()["requestId"], "first");
        assert!(
            !audit_next.is_finished(),
            "audit did not subscribe to INVOKE"
        );
        audit_next.abort();

        // Without any extension, registration closes all the same.
        let plain = start(FunctionConfig::new("orders")).await;
        let invoking = spawn_invoke(&plain, Invocation::new("{}").with_request_id("plain"));
        let mut runtime = RuntimeClient::connect(&plain).await;
        runtime.get(&next_path()).await;
        runtime.post(&response_path("plain"), b"{}").await;
        let outcome = outcome_of(invoking).await;
        assert!(outcome.is_success());
        assert_eq!(outcome.extensions_done_at, None);
        assert_eq!(
            plain
                .wait_for_extensions("plain", Duration::from_millis(20))
                .await,
            None
        );
        let mut client = RuntimeClient::connect(&plain).await;
        let after_init = client
            .request(
                "POST",
                &extension_path("register"),
                &[("Lambda-Extension-Name", "telemetry")],
                br#"{"events":["INVOKE"]}"#,
            )
            .await;
        assert_eq!(after_init.status, 403);
        assert_eq!(after_init.error_type(), "Extension.RegistrationClosed");
        assert!(plain.registered_extensions().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_busy_extension_holds_back_the_next_invocation_but_not_the_response() {
        let api = start(FunctionConfig::new("orders")).await;
        let telemetry = register_extension(&api, "telemetry", &["INVOKE"]).await;

        // Init: the runtime gets nothing until the extension has called next once.
        let first = spawn_invoke(&api, Invocation::new("1").with_request_id("first"));
        let runtime_next = spawn_runtime_next(&api);
        assert_still_waiting(&runtime_next, "the runtime's first next").await;
        let extension_next = spawn_extension_next(&api, &telemetry);
        let event = reply_of(runtime_next).await;
        assert_eq!(request_id_of(&event), "first");
        let invoke = reply_of(extension_next).await;
        assert_eq!(invoke.json()["requestId"], "first");

        // The response reaches the caller while the extension still works.
        let mut runtime = RuntimeClient::connect(&api).await;
        assert_eq!(
            runtime.post(&response_path("first"), b"1").await.status,
            202
        );
        let first = outcome_of(first).await;
        assert_eq!(first.response_json(), Some(json!(1)));
        assert_eq!(first.extensions_done_at, None, "the extension is not done");
        let responded_at = first.completed_at.expect("a response time");

        // The next invocation waits for the extension.
        let second = spawn_invoke(&api, Invocation::new("2").with_request_id("second"));
        let runtime_next = spawn_runtime_next(&api);
        assert_still_waiting(&runtime_next, "the runtime's second next").await;
        assert_eq!(
            api.wait_for_extensions("first", Duration::from_millis(20))
                .await,
            None
        );
        let flushed_at = Instant::now();
        let extension_next = spawn_extension_next(&api, &telemetry);
        let event = reply_of(runtime_next).await;
        assert_eq!(request_id_of(&event), "second");
        let done_at = api
            .wait_for_extensions("first", PROMPTLY)
            .await
            .expect("the extension finished the first invocation");
        assert!(
            done_at > responded_at,
            "extensions finish after the response"
        );
        assert!(done_at >= flushed_at);

        assert_eq!(reply_of(extension_next).await.json()["requestId"], "second");
        runtime.post(&response_path("second"), b"2").await;
        assert!(outcome_of(second).await.is_success());
        let last_next = spawn_extension_next(&api, &telemetry);
        assert!(
            api.wait_for_extensions("second", PROMPTLY).await.is_some(),
            "the extension finished the second invocation"
        );
        last_next.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn extensions_done_before_the_response_are_in_the_outcome() {
        let api = start(FunctionConfig::new("orders")).await;
        let telemetry = register_extension(&api, "telemetry", &["INVOKE"]).await;
        let extension_next = spawn_extension_next(&api, &telemetry);
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("quick"));
        let mut runtime = RuntimeClient::connect(&api).await;
        runtime.get(&next_path()).await;
        assert_eq!(reply_of(extension_next).await.json()["requestId"], "quick");
        let extension_next = spawn_extension_next(&api, &telemetry);
        let done_at = api
            .wait_for_extensions("quick", PROMPTLY)
            .await
            .expect("done");
        runtime.post(&response_path("quick"), b"{}").await;
        let outcome = outcome_of(invoking).await;
        assert_eq!(outcome.extensions_done_at, Some(done_at));
        assert!(done_at <= outcome.completed_at.expect("a response time"));
        extension_next.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invoke_events_describe_the_invocation() {
        let api = start(FunctionConfig::new("orders")).await;
        let telemetry = register_extension(&api, "telemetry", &["INVOKE"]).await;
        let extension_next = spawn_extension_next(&api, &telemetry);
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:orders:live";
        let invoking = spawn_invoke(
            &api,
            Invocation::new("{}")
                .with_request_id("traced")
                .with_xray_trace_id(trace)
                .with_invoked_function_arn(arn)
                .with_timeout(Duration::from_secs(5)),
        );
        let mut runtime = RuntimeClient::connect(&api).await;
        let event = runtime.get(&next_path()).await;
        let invoke = reply_of(extension_next).await;
        assert_eq!(invoke.status, 200);
        assert_eq!(invoke.header("Content-Type"), Some("application/json"));
        assert!(invoke.header("Lambda-Extension-Event-Identifier").is_some());
        let deadline: u64 = event
            .header("Lambda-Runtime-Deadline-Ms")
            .expect("a deadline")
            .parse()
            .expect("epoch milliseconds");
        assert_eq!(
            invoke.json(),
            json!({
                "eventType": "INVOKE",
                "deadlineMs": deadline,
                "requestId": "traced",
                "invokedFunctionArn": arn,
                "tracing": { "type": "X-Amzn-Trace-Id", "value": trace },
            })
        );
        runtime.post(&response_path("traced"), b"{}").await;
        assert!(outcome_of(invoking).await.is_success());

        // Untraced, unqualified: no tracing, the function's own ARN.
        let extension_next = spawn_extension_next(&api, &telemetry);
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("plain"));
        runtime.get(&next_path()).await;
        let invoke = reply_of(extension_next).await.json();
        assert_eq!(invoke.get("tracing"), None);
        assert_eq!(
            invoke["invokedFunctionArn"],
            "arn:aws:lambda:us-east-1:123456789012:function:orders"
        );
        let deadline = i128::from(invoke["deadlineMs"].as_u64().expect("epoch milliseconds"));
        assert!((deadline - (now_epoch_millis() + 3_000)).abs() <= 2_000);
        runtime.post(&response_path("plain"), b"{}").await;
        assert!(outcome_of(invoking).await.is_success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_goes_only_to_extensions_subscribed_to_it() {
        let api = start(FunctionConfig::new("orders")).await;
        let invoke_only = register_extension(&api, "invoke-only", &["INVOKE"]).await;
        let both = register_extension(&api, "both", &["INVOKE", "SHUTDOWN"]).await;
        let neither = register_extension(&api, "neither", &[]).await;
        let invoke_only_next = spawn_extension_next(&api, &invoke_only);
        let both_next = spawn_extension_next(&api, &both);
        let neither_next = spawn_extension_next(&api, &neither);
        wait_until_extensions_ready(&api).await;

        let shutting_down = {
            let api = api.clone();
            tokio::spawn(async move { api.shutdown_extensions(Duration::from_secs(2)).await })
        };
        let shutdown = reply_of(both_next).await;
        assert_eq!(shutdown.status, 200);
        assert!(
            shutdown
                .header("Lambda-Extension-Event-Identifier")
                .is_some()
        );
        let event = shutdown.json();
        assert_eq!(event["eventType"], "SHUTDOWN");
        assert_eq!(event["shutdownReason"], "spindown");
        let deadline = i128::from(event["deadlineMs"].as_u64().expect("epoch milliseconds"));
        assert!((deadline - (now_epoch_millis() + 2_000)).abs() <= 2_000);
        assert_still_waiting(&invoke_only_next, "the INVOKE-only extension's next").await;
        assert!(
            !neither_next.is_finished(),
            "neither subscribed to SHUTDOWN"
        );
        assert!(!shutting_down.is_finished(), "`both` has not acknowledged");

        let after_shutdown = spawn_extension_next(&api, &both);
        let acknowledged = tokio::time::timeout(PROMPTLY, shutting_down)
            .await
            .expect("shutdown_extensions returned")
            .expect("task");
        assert!(acknowledged);
        for pending in [invoke_only_next, neither_next, after_shutdown] {
            assert!(!pending.is_finished());
            pending.abort();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unacknowledged_shutdown_runs_out_its_deadline() {
        let api = start(FunctionConfig::new("orders")).await;
        let both = register_extension(&api, "both", &["INVOKE", "SHUTDOWN"]).await;
        let next = spawn_extension_next(&api, &both);
        wait_until_extensions_ready(&api).await;
        assert!(!api.shutdown_extensions(Duration::from_millis(100)).await);
        assert_eq!(reply_of(next).await.json()["eventType"], "SHUTDOWN");

        let nobody = start(FunctionConfig::new("orders")).await;
        assert!(nobody.shutdown_extensions(Duration::from_millis(100)).await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_or_malformed_extension_identifiers_are_forbidden() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut client = RuntimeClient::connect(&api).await;
        let unknown = "0b5d3a4e-1f2a-4c3b-8d4e-5f6a7b8c9d0e";
        for endpoint in ["event/next", "init/error", "exit/error"] {
            let method = if endpoint == "event/next" {
                "GET"
            } else {
                "POST"
            };
            let path = extension_path(endpoint);
            let error_type = ("Lambda-Extension-Function-Error-Type", "Extension.Failed");
            let missing = client.request(method, &path, &[error_type], b"").await;
            assert_eq!(missing.status, 403, "{endpoint}");
            assert_eq!(missing.error_type(), "Extension.MissingExtensionIdentifier");
            let malformed = client
                .request(
                    method,
                    &path,
                    &[("Lambda-Extension-Identifier", "not-a-uuid"), error_type],
                    b"",
                )
                .await;
            assert_eq!(malformed.status, 403, "{endpoint}");
            assert_eq!(
                malformed.error_type(),
                "Extension.InvalidExtensionIdentifier"
            );
            let stranger = client
                .request(
                    method,
                    &path,
                    &[("Lambda-Extension-Identifier", unknown), error_type],
                    b"",
                )
                .await;
            assert_eq!(stranger.status, 403, "{endpoint}");
            assert_eq!(
                stranger.json(),
                json!({
                    "errorMessage": format!("Unknown extension {unknown}"),
                    "errorType": "Extension.UnknownExtensionIdentifier",
                })
            );
        }
        // Wrong methods and unknown paths under the Extensions API are not found.
        for (method, path) in [
            ("GET", extension_path("register")),
            ("POST", extension_path("event/next")),
            ("GET", extension_path("nowhere")),
        ] {
            let answer = client.request(method, &path, &[], b"").await;
            assert_eq!(answer.status, 404, "{method} {path}");
            assert_eq!(answer.error_type(), "NotFound");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_registrations_are_refused() {
        let api = start(FunctionConfig::new("orders")).await;
        let mut client = RuntimeClient::connect(&api).await;
        let register = extension_path("register");
        let nameless = client
            .request("POST", &register, &[], br#"{"events":["INVOKE"]}"#)
            .await;
        assert_eq!(nameless.status, 400);
        assert_eq!(nameless.error_type(), "Extension.InvalidExtensionName");
        for (body, error_type) in [
            (&b"not json"[..], "InvalidRequestFormat"),
            (b"", "InvalidRequestFormat"),
            (br#"{"events":"INVOKE"}"#, "InvalidRequestFormat"),
            (br#"{"events":["INVOKE",7]}"#, "InvalidRequestFormat"),
            (
                br#"{"events":["INVOKE","LOGS"]}"#,
                "Extension.InvalidEventType",
            ),
        ] {
            let refused = client
                .request("POST", &register, &[("Lambda-Extension-Name", "bad")], body)
                .await;
            assert_eq!(refused.status, 400, "{}", String::from_utf8_lossy(body));
            assert_eq!(refused.error_type(), error_type);
            assert!(refused.json()["errorMessage"].is_string());
        }
        assert!(api.registered_extensions().is_empty());

        for index in 0..10 {
            register_extension(&api, &format!("extension-{index}"), &["INVOKE"]).await;
        }
        let eleventh = client
            .request(
                "POST",
                &register,
                &[("Lambda-Extension-Name", "extension-10")],
                b"{}",
            )
            .await;
        assert_eq!(eleventh.status, 403);
        assert_eq!(eleventh.error_type(), "Extension.TooManyExtensions");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn extension_errors_are_recorded_and_release_the_extension() {
        let api = start(FunctionConfig::new("orders")).await;
        let broken = register_extension(&api, "broken", &["INVOKE"]).await;
        let crashing = register_extension(&api, "crashing", &["INVOKE"]).await;
        let mut client = RuntimeClient::connect(&api).await;

        let headerless = client
            .request(
                "POST",
                &extension_path("init/error"),
                &[("Lambda-Extension-Identifier", broken.as_str())],
                b"{}",
            )
            .await;
        assert_eq!(headerless.status, 403);
        assert_eq!(headerless.error_type(), "Extension.MissingHeader");
        let report = br#"{"errorMessage":"no endpoint","errorType":"ConfigError","stackTrace":[]}"#;
        let init_error = client
            .request(
                "POST",
                &extension_path("init/error"),
                &[
                    ("Lambda-Extension-Identifier", broken.as_str()),
                    (
                        "Lambda-Extension-Function-Error-Type",
                        "Extension.ConfigInvalid",
                    ),
                ],
                report,
            )
            .await;
        assert_eq!(init_error.status, 202);
        assert_eq!(init_error.json(), json!({ "status": "OK" }));
        let gone = client
            .request(
                "GET",
                &extension_path("event/next"),
                &[("Lambda-Extension-Identifier", broken.as_str())],
                b"",
            )
            .await;
        assert_eq!(gone.status, 403);
        assert_eq!(gone.error_type(), "Extension.InvalidExtensionState");

        // The broken extension holds nothing back; the crashing one gets the event and exits.
        let crashing_next = spawn_extension_next(&api, &crashing);
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("crash"));
        let mut runtime = RuntimeClient::connect(&api).await;
        runtime.get(&next_path()).await;
        assert_eq!(reply_of(crashing_next).await.json()["requestId"], "crash");
        let exit_error = client
            .request(
                "POST",
                &extension_path("exit/error"),
                &[
                    ("Lambda-Extension-Identifier", crashing.as_str()),
                    ("Lambda-Extension-Function-Error-Type", "Extension.Crash"),
                ],
                b"",
            )
            .await;
        assert_eq!(exit_error.status, 202);
        assert!(api.wait_for_extensions("crash", PROMPTLY).await.is_some());
        runtime.post(&response_path("crash"), b"{}").await;
        assert!(outcome_of(invoking).await.extensions_done_at.is_some());

        assert_eq!(
            api.extension_errors(),
            [
                ExtensionError {
                    extension_name: "broken".to_owned(),
                    kind: ExtensionErrorKind::Init,
                    error_type: "Extension.ConfigInvalid".to_owned(),
                    raw_body: Bytes::from_static(report),
                },
                ExtensionError {
                    extension_name: "crashing".to_owned(),
                    kind: ExtensionErrorKind::Exit,
                    error_type: "Extension.Crash".to_owned(),
                    raw_body: Bytes::new(),
                },
            ]
        );
        // With every extension gone, invocations flow freely.
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("after"));
        runtime.get(&next_path()).await;
        runtime.post(&response_path("after"), b"{}").await;
        assert!(outcome_of(invoking).await.is_success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_timed_out_invocation_releases_its_extensions() {
        let api = start(FunctionConfig::new("orders")).await;
        let stuck = register_extension(&api, "stuck", &["INVOKE"]).await;
        let init_next = spawn_extension_next(&api, &stuck);
        let invoking = spawn_invoke(
            &api,
            Invocation::new("{}")
                .with_request_id("slow")
                .with_timeout(Duration::from_millis(150)),
        );
        let mut runtime = RuntimeClient::connect(&api).await;
        runtime.get(&next_path()).await;
        assert_eq!(reply_of(init_next).await.json()["requestId"], "slow");

        let outcome = outcome_of(invoking).await;
        assert_eq!(outcome.result, InvocationResult::TimedOut);
        let done_at = outcome.extensions_done_at.expect("released by the timeout");
        assert!(done_at >= outcome.handed_out_at.expect("handed out"));

        // The next invocation goes out although the extension never called next again.
        let invoking = spawn_invoke(&api, Invocation::new("{}").with_request_id("fresh"));
        let event = runtime.get(&next_path()).await;
        assert_eq!(request_id_of(&event), "fresh");
        let next = spawn_extension_next(&api, &stuck);
        assert_eq!(reply_of(next).await.json()["requestId"], "fresh");
        runtime.post(&response_path("fresh"), b"{}").await;
        assert!(outcome_of(invoking).await.is_success());
    }
}
