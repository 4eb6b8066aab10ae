//! What the platform knows of the function, and of each invocation: what goes in and what
//! comes out.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;

use super::ids::fresh_request_id;
use super::runtime_api::Rejection;
use super::state::Completion;
use super::{DEFAULT_FUNCTION_ERROR_TYPE, INVALID_INVOCATION};

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
    /// Sources: AWS's "Lambda Managed Instances runtimes" and "Understanding the Lambda
    /// Managed Instances execution environment" pages (runtime workers polling
    /// `/runtime/invocation/next` concurrently), aws-lambda-go's support for the variable
    /// (its pull request 600: "set by Lambda when a function is configured to use Managed
    /// Instances"), and `lambda_runtime` 1.5's `max_concurrency_from_env`, which reads it.
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
    pub(super) fn log_group_name(&self) -> String {
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
    /// A fixed `Lambda-Runtime-Deadline-Ms` to send instead of the hand-out time plus the
    /// timeout. cargo-lambda's `cargo lambda watch` sends `600000` there, a duration rather
    /// than epoch milliseconds (observed with cargo-lambda 1.9.2; issue 16); the emulator
    /// still times the invocation out at its timeout.
    pub fixed_deadline_ms: Option<u64>,
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
            fixed_deadline_ms: None,
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

    /// Sends `ms` as `Lambda-Runtime-Deadline-Ms`, whatever the timeout: see
    /// [`Invocation::fixed_deadline_ms`].
    pub fn with_fixed_deadline_ms(mut self, ms: u64) -> Self {
        self.fixed_deadline_ms = Some(ms);
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
    /// [`RuntimeApi::invoke`](super::RuntimeApi::invoke) returns as soon as the function
    /// answers, without waiting for the extensions, so this is only set when they had already
    /// finished by then; read the rest with
    /// [`RuntimeApi::wait_for_extensions`](super::RuntimeApi::wait_for_extensions). `None` when
    /// no extension is registered, when the invocation was never handed out, or when the
    /// extensions are not done yet.
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

    pub(super) fn completed(
        request_id: &str,
        handed_out_at: Option<Instant>,
        done: Completion,
    ) -> Self {
        Self {
            request_id: request_id.to_owned(),
            result: done.result,
            handed_out_at,
            completed_at: Some(done.at),
            extensions_done_at: None,
        }
    }

    pub(super) fn timed_out(request_id: &str, handed_out_at: Option<Instant>) -> Self {
        Self {
            request_id: request_id.to_owned(),
            result: InvocationResult::TimedOut,
            handed_out_at,
            completed_at: None,
            extensions_done_at: None,
        }
    }

    pub(super) fn rejected(request_id: String, error: FunctionError) -> Self {
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
    pub(super) fn from_report(error_type_header: Option<&str>, body: Bytes) -> Self {
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
    pub(super) fn payload_too_large() -> Self {
        let rejection = Rejection::PayloadTooLarge;
        Self {
            error_type: rejection.error_type().to_owned(),
            error_message: rejection.error_message(),
            raw_body: rejection.body(),
        }
    }

    /// The error of an invocation the emulator refuses before queueing it.
    pub(super) fn invalid_invocation(message: String) -> Self {
        Self {
            error_type: INVALID_INVOCATION.to_owned(),
            error_message: message,
            raw_body: Bytes::new(),
        }
    }
}
