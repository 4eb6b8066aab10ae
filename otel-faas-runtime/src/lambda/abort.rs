//! What a panic leaves behind in a binary built with `panic = "abort"`, as `cargo lambda
//! build --release` builds one unless the project's profile says otherwise.
//!
//! With unwinding (`panic = "unwind"`, Rust's default and what we recommend), a panicking
//! handler fails its invocation only: the glue records it, Lambda gets the error, and the
//! next invocation is served. With `panic = "abort"` the process ends at the panic — exit
//! status 134 — and neither the glue nor `lambda_runtime` ever sees it. So, in such a build:
//!
//! - [`warn_at_start`] says so once, at start-up, with the profile line that fixes it;
//! - [`install`] chains a panic hook that, before the abort, ends the spans of every
//!   invocation in flight with status Error and `error.type=panic` (the message and location
//!   of the panic on the invocation that panicked; on the others, that the process aborted),
//!   exports them, and posts each one's error to the Runtime API as `lambda_runtime` would
//!   (`POST /2018-06-01/runtime/invocation/{id}/error`, `Lambda-Runtime-Function-Error-Type:
//!   unhandled`, a `Diagnostic` body: `lambda_runtime`'s `requests.rs`, `EventErrorRequest`),
//!   so Lambda records `errorType` `panic` rather than `Runtime.ExitError`.
//!
//! The hook does all of that on a thread of its own, with a runtime of its own, and waits for
//! it at most [`PANIC_BUDGET`]: the panicking thread may hold a lock the export needs, or be
//! the only worker of the function's runtime, and then the abort comes at the bound, with
//! whatever was done by then. The panicking thread takes no lock itself. Only the first panic
//! does this; a panic on the hook's own thread aborts at once.

use std::panic::PanicHookInfo;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::Method;
use lambda_runtime::Diagnostic;
use lambda_runtime_api_client::body::Body;
use lambda_runtime_api_client::{PooledClient, build_request};

use crate::invocation::{InFlight, Invocation};
use crate::outcome::Failure;

/// The longest the panic hook holds the abort back: the export and the error reports.
pub(crate) const PANIC_BUDGET: Duration = Duration::from_millis(500);

/// Warns, once at start-up, that a panic will end the process, in a `panic = "abort"` build.
pub(crate) fn warn_at_start() {
    #[cfg(panic = "abort")]
    tracing::warn!(
        target: "otel_faas",
        "this function was built with panic = \"abort\" (cargo lambda's default release profile): \
         a panic ends the process and every invocation in flight; they are recorded and reported \
         as panics on a best-effort basis. Set `[profile.release] panic = \"unwind\"` in Cargo.toml \
         so that a panic fails its invocation only"
    );
}

/// In a `panic = "abort"` build, installs the panic hook described in the module
/// documentation for the invocations in `in_flight`, once; elsewhere, does nothing.
pub(crate) fn install(in_flight: &Arc<InFlight>) {
    #[cfg(panic = "abort")]
    {
        static INSTALLED: AtomicBool = AtomicBool::new(false);
        if !INSTALLED.swap(true, Ordering::AcqRel) {
            let previous = std::panic::take_hook();
            let report = hook(in_flight.clone());
            std::panic::set_hook(Box::new(move |info| {
                // The usual message first, for the logs.
                previous(info);
                report(info);
            }));
        }
    }
    #[cfg(not(panic = "abort"))]
    let _ = in_flight;
}

/// What the hook does after the usual message: the first time, [`report`] on a thread of its
/// own, waited for at most [`PANIC_BUDGET`].
#[cfg_attr(not(panic = "abort"), allow(dead_code))]
fn hook(in_flight: Arc<InFlight>) -> impl Fn(&PanicHookInfo<'_>) + Send + Sync + 'static {
    let first = AtomicBool::new(true);
    move |info| {
        if !first.swap(false, Ordering::AcqRel) {
            return;
        }
        // The invocation whose task panicked, if any: a task-local, read without a lock.
        let panicked = crate::invocation::current();
        let failure = failure_of(info);
        let in_flight = in_flight.clone();
        let (done, wait) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("otel-faas-panic".into())
            .spawn(move || {
                report(&in_flight, panicked.as_ref(), &failure);
                let _ = done.send(());
            });
        if spawned.is_ok() {
            let _ = wait.recv_timeout(PANIC_BUDGET);
        }
    }
}

/// The panic as the spans record it.
#[cfg_attr(not(panic = "abort"), allow(dead_code))]
fn failure_of(info: &PanicHookInfo<'_>) -> Failure {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_owned());
    let stacktrace = info.location().map(|location| {
        format!(
            "panicked at {}:{}:{} (thread '{}')",
            location.file(),
            location.line(),
            location.column(),
            std::thread::current().name().unwrap_or("<unnamed>")
        )
    });
    Failure {
        error_type: "panic".into(),
        message,
        stacktrace,
    }
}

/// Ends, exports and reports every invocation in flight, on a runtime of this thread's own.
#[cfg_attr(not(panic = "abort"), allow(dead_code))]
fn report(in_flight: &InFlight, panicked: Option<&Arc<Invocation>>, failure: &Failure) {
    let invocations = in_flight.take();
    let aborted = Failure {
        error_type: failure.error_type.clone(),
        message: format!(
            "the process aborted on a panic in another invocation (panic = \"abort\"): {}",
            failure.message
        ),
        stacktrace: None,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(_) => return,
    };
    let client = runtime_api();
    let client = client.as_ref();
    let reports = invocations.iter().map(|invocation| {
        let own = panicked.is_some_and(|p| Arc::ptr_eq(p, invocation));
        let failure = if own { failure } else { &aborted };
        invocation.abort(failure);
        let diagnostic = Diagnostic {
            error_type: failure.error_type.to_string(),
            error_message: format!("Lambda panicked: {}", failure.message),
        };
        async move {
            let _ = invocation.flush().await;
            if let Some(client) = client {
                post_error(client, invocation.request_id(), &diagnostic).await;
            }
        }
    });
    let all = futures_util::future::join_all(reports);
    runtime
        .block_on(async { tokio::time::timeout(PANIC_BUDGET, all).await })
        .ok();
}

/// A client of the Runtime API of this environment, if it has one.
#[cfg_attr(not(panic = "abort"), allow(dead_code))]
fn runtime_api() -> Option<PooledClient> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").ok()?;
    let uri = format!("http://{api}").parse().ok()?;
    Some(PooledClient::builder().with_endpoint(uri).build())
}

/// Posts the invocation's error as `lambda_runtime`'s `EventErrorRequest` does.
#[cfg_attr(not(panic = "abort"), allow(dead_code))]
async fn post_error(client: &PooledClient, request_id: &str, diagnostic: &Diagnostic) {
    let Ok(body) = serde_json::to_vec(diagnostic) else {
        return;
    };
    let request = build_request()
        .method(Method::POST)
        .uri(format!("/2018-06-01/runtime/invocation/{request_id}/error"))
        .header("lambda-runtime-function-error-type", "unhandled")
        .body(Body::from(body));
    if let Ok(request) = request {
        let _ = client.call(request).await;
    }
}
