//! How a handler ended, recorded on its spans: errors and panics become an `exception`
//! event (`exception.type`, `exception.message`, `exception.stacktrace` with the panic
//! location), status Error and `error.type`, as the semantic conventions for recording errors
//! ask.
//!
//! `error.type` is the error's Rust type (`std::io::error::Error`). A `Box<dyn Error>` has
//! erased its type, so for it the leading name of its `Debug` form is used — the struct or
//! enum variant name, such as `NotFound` — or `_OTHER` when there is none. A panic has
//! `error.type` `panic`.

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::{Debug, Display};
use std::sync::Once;

use opentelemetry::trace::{SpanRef, Status};
use opentelemetry::{KeyValue, StringValue};
use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE,
};

use crate::redact::bounded;

/// The `error.type` of a batch some of whose items failed (the platform retries those).
pub const PARTIAL_BATCH_FAILURE: &str = "partial_batch_failure";

/// What went wrong in an invocation, ready to be recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// `error.type` and `exception.type`.
    pub error_type: Cow<'static, str>,
    /// `exception.message`.
    pub message: String,
    /// `exception.stacktrace`, when known (the location of a panic).
    pub stacktrace: Option<String>,
}

impl Failure {
    /// A failure of an error value of type `E`.
    pub fn from_error<E: Display + Debug + ?Sized>(error: &E, type_name: &'static str) -> Self {
        Failure {
            error_type: error_type_of(error, type_name),
            message: error.to_string(),
            stacktrace: None,
        }
    }

    /// A failure from a caught panic payload, with the location the panic hook saw.
    pub(crate) fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".to_owned());
        Failure {
            error_type: Cow::Borrowed("panic"),
            message,
            stacktrace: take_panic_location(),
        }
    }

    /// Records the failure on `span`: status Error, `error.type`, and, when `with_exception`,
    /// the `exception` event (kept to the innermost span so it is not repeated).
    pub(crate) fn record(&self, span: &SpanRef<'_>, with_exception: bool, value_limit: usize) {
        span.set_attribute(KeyValue::new(ERROR_TYPE, self.error_type.clone()));
        if with_exception {
            let mut attributes = vec![
                KeyValue::new(EXCEPTION_TYPE, self.error_type.clone()),
                KeyValue::new(EXCEPTION_MESSAGE, bounded(&self.message, value_limit)),
            ];
            if let Some(stacktrace) = &self.stacktrace {
                attributes.push(KeyValue::new(EXCEPTION_STACKTRACE, stacktrace.clone()));
            }
            span.add_event("exception", attributes);
        }
        span.set_status(Status::error(bounded(&self.message, value_limit)));
    }
}

/// `error.type` of an error of type `type_name`; see the module documentation.
pub(crate) fn error_type_of<E: Debug + ?Sized>(
    error: &E,
    type_name: &'static str,
) -> Cow<'static, str> {
    if !type_name.contains("dyn ") {
        return Cow::Borrowed(type_name);
    }
    let debug = format!("{error:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() || !name.starts_with(|c: char| c.is_alphabetic()) {
        Cow::Borrowed("_OTHER")
    } else {
        Cow::Owned(name)
    }
}

/// A handler's return value as something the glue can record.
///
/// Implemented for `Result<T, E>` with a displayable error (every error type a Lambda
/// handler usually returns: `lambda_runtime::Error`, `anyhow::Error`, `std::io::Error`, a
/// `thiserror` type) and for `()`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the return type of a `#[traced_function]` handler",
    label = "the handler's return type",
    note = "return `Result<T, E>` where `E: std::fmt::Display + std::fmt::Debug`, such as `Result<T, lambda_runtime::Error>`"
)]
pub trait Outcome {
    /// The failure this value stands for, if any.
    fn failure(&self) -> Option<Failure>;
}

impl<T, E: Display + Debug> Outcome for Result<T, E> {
    fn failure(&self) -> Option<Failure> {
        self.as_ref()
            .err()
            .map(|error| Failure::from_error(error, std::any::type_name::<E>()))
    }
}

impl Outcome for () {
    fn failure(&self) -> Option<Failure> {
        None
    }
}

/// What a handler's return value says, for its spans.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Verdict {
    /// The error, if the handler failed.
    pub(crate) failure: Option<Failure>,
    /// The items the handler reported failed in a partial batch response.
    pub(crate) failed_items: Vec<String>,
}

/// Failed item ids recorded on a batch span.
const MAX_FAILED_IDS: usize = 100;

impl Verdict {
    /// Records the items a batch reported failed on the batch span: their count, the first
    /// [`MAX_FAILED_IDS`] ids (items without an id, such as Kafka records, are counted but
    /// not listed), and status Error (`n of m messages failed`, with `items` the trigger's
    /// word for them).
    pub(crate) fn record_failed_items(
        &self,
        span: &SpanRef<'_>,
        batch_size: usize,
        items: &'static str,
    ) {
        if self.failed_items.is_empty() {
            return;
        }
        let ids: Vec<StringValue> = self
            .failed_items
            .iter()
            .filter(|id| !id.is_empty())
            .take(MAX_FAILED_IDS)
            .map(|id| StringValue::from(id.clone()))
            .collect();
        span.set_attribute(KeyValue::new(
            "otel_faas.batch.failed_count",
            self.failed_items.len() as i64,
        ));
        if !ids.is_empty() {
            span.set_attribute(KeyValue::new(
                "otel_faas.batch.failed_ids",
                opentelemetry::Value::Array(ids.into()),
            ));
        }
        // `error.type` is conditionally required on a failed messaging span
        // (`model/messaging/spans.yaml`); the failure is the batch's partial one.
        span.set_attribute(KeyValue::new(ERROR_TYPE, PARTIAL_BATCH_FAILURE));
        span.set_status(Status::error(format!(
            "{} of {batch_size} {items} failed",
            self.failed_items.len()
        )));
    }
}

/// Reads a return value into a [`Verdict`]; the macro passes the trigger's reader, so a
/// return type that does not fit is reported on the handler's return type.
#[doc(hidden)]
pub type ReadOutcome<R> = fn(&R) -> Verdict;

/// The reader for triggers that only need to know about errors.
#[doc(hidden)]
pub fn read_outcome<R: Outcome>(output: &R) -> Verdict {
    Verdict {
        failure: output.failure(),
        failed_items: Vec::new(),
    }
}

thread_local! {
    /// Where the last panic on this thread happened, set by the hook and taken by the glue,
    /// which catches the unwind on the same thread.
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn take_panic_location() -> Option<String> {
    PANIC_LOCATION.with(|location| location.borrow_mut().take())
}

/// Chains a panic hook that remembers the panic's location for the span, then calls the hook
/// that was there before (so the usual message still reaches the logs). Installed once.
pub(crate) fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if let Some(location) = info.location() {
                let thread = std::thread::current();
                let at = format!(
                    "panicked at {}:{}:{} (thread '{}')",
                    location.file(),
                    location.line(),
                    location.column(),
                    thread.name().unwrap_or("<unnamed>")
                );
                PANIC_LOCATION.with(|slot| *slot.borrow_mut() = Some(at));
            }
            previous(info);
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum OrderError {
        NotFound(#[allow(dead_code)] u32),
    }

    impl Display for OrderError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "order not found")
        }
    }

    impl std::error::Error for OrderError {}

    #[test]
    fn concrete_errors_keep_their_type_name() {
        let r: Result<(), OrderError> = Err(OrderError::NotFound(7));
        let failure = r.failure().unwrap();
        assert!(
            failure.error_type.ends_with("OrderError"),
            "{}",
            failure.error_type
        );
        assert_eq!(failure.message, "order not found");
    }

    #[test]
    fn boxed_errors_are_named_by_their_debug_form() {
        let r: Result<(), lambda_runtime::Error> = Err(Box::new(OrderError::NotFound(7)));
        assert_eq!(r.failure().unwrap().error_type, "NotFound");
        let r: Result<(), lambda_runtime::Error> = Err("plain text".into());
        assert_eq!(r.failure().unwrap().error_type, "_OTHER");
    }

    #[test]
    fn success_is_no_failure() {
        assert_eq!(Ok::<u8, String>(1).failure(), None);
        assert_eq!(().failure(), None);
    }

    #[test]
    fn panics_carry_their_message_and_location() {
        install_panic_hook();
        let payload = std::panic::catch_unwind(|| panic!("bad order {}", 7)).unwrap_err();
        let failure = Failure::from_panic(payload.as_ref());
        assert_eq!(failure.error_type, "panic");
        assert_eq!(failure.message, "bad order 7");
        let at = failure.stacktrace.expect("location recorded by the hook");
        assert!(at.contains("outcome.rs"), "{at}");
    }
}
