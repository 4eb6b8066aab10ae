//! The platform's side of the Lambda **Extensions API** (version `2020-01-01`), as the
//! [`emulator`](crate::emulator) serves it next to the Runtime API.
//!
//! This module holds the state machine and the protocol's shapes (the register body, the event
//! payloads, the error answers); the emulator does the HTTP and ties the extensions' readiness
//! to the hand-out of invocations. The behaviour is documented on the emulator's module.
//!
//! The error types are the ones the Lambda runtime interface (`rapid`, published as the
//! `aws-lambda-runtime-interface-emulator`) answers with; the public documentation of the
//! Extensions API lists only the status codes.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, StatusCode};
use serde_json::{Value, json};

/// Every Extensions API path starts with this.
pub(super) const EXTENSION_BASE_PATH: &str = "/2020-01-01/extension";

/// The most extensions a function can register, as on the platform.
pub(super) const MAX_EXTENSIONS: usize = 10;

/// The largest register or error-report body read; a register body is a few dozen bytes.
pub(super) const EXTENSION_BODY_LIMIT: usize = 1024 * 1024;

/// How many invocations' extension bookkeeping is remembered for
/// [`RuntimeApi::wait_for_extensions`](crate::emulator::RuntimeApi::wait_for_extensions).
const TRACKED_INVOCATIONS_KEPT: usize = 16_384;

pub(super) const EXTENSION_NAME_HEADER: HeaderName =
    HeaderName::from_static("lambda-extension-name");
pub(super) const EXTENSION_IDENTIFIER_HEADER: HeaderName =
    HeaderName::from_static("lambda-extension-identifier");
pub(super) const EXTENSION_EVENT_IDENTIFIER_HEADER: HeaderName =
    HeaderName::from_static("lambda-extension-event-identifier");
const EXTENSION_ERROR_TYPE_HEADER: HeaderName =
    HeaderName::from_static("lambda-extension-function-error-type");
const ACCEPT_FEATURE_HEADER: HeaderName =
    HeaderName::from_static("lambda-extension-accept-feature");

/// The `shutdownReason` of the SHUTDOWN event the emulator sends: a normal spin-down.
const SHUTDOWN_REASON: &str = "spindown";

// ---------------------------------------------------------------------------------------------
// Public types (re-exported by the emulator)
// ---------------------------------------------------------------------------------------------

/// An extension registered on `/2020-01-01/extension/register`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredExtension {
    /// The identifier the platform issued (`Lambda-Extension-Identifier`).
    pub identifier: String,
    /// The name it registered under (`Lambda-Extension-Name`).
    pub name: String,
    /// Whether it subscribed to `INVOKE` events.
    pub invoke: bool,
    /// Whether it subscribed to `SHUTDOWN` events.
    pub shutdown: bool,
}

/// Which error endpoint an extension reported on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionErrorKind {
    /// `POST /2020-01-01/extension/init/error`: the extension failed to initialize.
    Init,
    /// `POST /2020-01-01/extension/exit/error`: the extension is about to exit on a failure.
    Exit,
}

/// An error an extension reported; after it the extension is gone (no further call succeeds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionError {
    /// The name the extension registered under.
    pub extension_name: String,
    /// The endpoint it reported on.
    pub kind: ExtensionErrorKind,
    /// The `Lambda-Extension-Function-Error-Type` header, e.g. `Extension.ConfigInvalid`.
    pub error_type: String,
    /// The body exactly as posted (an `ErrorRequest` JSON document, by the protocol; not
    /// checked). Empty when the body was larger than the emulator reads.
    pub raw_body: Bytes,
}

// ---------------------------------------------------------------------------------------------
// Routes and errors
// ---------------------------------------------------------------------------------------------

/// The endpoints of the Extensions API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ExtensionRoute {
    Register,
    EventNext,
    InitError,
    ExitError,
}

impl ExtensionRoute {
    /// The endpoint at `endpoint` (the path after `/2020-01-01/extension/`) for `method`; `None`
    /// for any other path or method.
    pub(super) fn of(method: &http::Method, endpoint: &str) -> Option<Self> {
        let (route, allowed) = match endpoint {
            "register" => (Self::Register, http::Method::POST),
            "event/next" => (Self::EventNext, http::Method::GET),
            "init/error" => (Self::InitError, http::Method::POST),
            "exit/error" => (Self::ExitError, http::Method::POST),
            _ => return None,
        };
        (*method == allowed).then_some(route)
    }
}

/// Why the Extensions API refuses a request: a status and the platform's `errorType`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ExtensionRejection {
    pub(super) status: StatusCode,
    pub(super) error_type: &'static str,
    pub(super) error_message: String,
}

impl ExtensionRejection {
    fn bad_request(error_type: &'static str, error_message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error_type,
            error_message: error_message.into(),
        }
    }

    fn forbidden(error_type: &'static str, error_message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error_type,
            error_message: error_message.into(),
        }
    }

    fn invalid_request_format(error_message: impl Into<String>) -> Self {
        Self::bad_request("InvalidRequestFormat", error_message)
    }

    fn invalid_state(error_message: impl Into<String>) -> Self {
        Self::forbidden("Extension.InvalidExtensionState", error_message)
    }

    fn unknown_identifier(identifier: &str) -> Self {
        Self::forbidden(
            "Extension.UnknownExtensionIdentifier",
            format!("Unknown extension {identifier}"),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------------------------

/// The events an extension subscribes to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Subscriptions {
    pub(super) invoke: bool,
    pub(super) shutdown: bool,
}

/// The `Lambda-Extension-Name` header: required and non-empty.
pub(super) fn extension_name(headers: &HeaderMap) -> Result<String, ExtensionRejection> {
    headers
        .get(EXTENSION_NAME_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            ExtensionRejection::bad_request(
                "Extension.InvalidExtensionName",
                "Empty extension name",
            )
        })
}

/// Whether the register request asks for the account ID in the answer
/// (`Lambda-Extension-Accept-Feature: accountId`).
pub(super) fn accepts_account_id(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_FEATURE_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|feature| feature.trim() == "accountId")
}

/// Reads a register body: `{"events": ["INVOKE", "SHUTDOWN"]}`, `events` optional.
pub(super) fn parse_register_body(body: &[u8]) -> Result<Subscriptions, ExtensionRejection> {
    let request: Value = serde_json::from_slice(body).map_err(|error| {
        ExtensionRejection::invalid_request_format(format!(
            "the register body is not JSON: {error}"
        ))
    })?;
    let fields = match &request {
        Value::Object(fields) => fields,
        // Like the platform's decoder, `null` decodes to "no events".
        Value::Null => return Ok(Subscriptions::default()),
        _ => {
            return Err(ExtensionRejection::invalid_request_format(
                "the register body must be a JSON object",
            ));
        }
    };
    match fields.get("configurationKeys") {
        None | Some(Value::Null) => {}
        Some(Value::Array(keys)) if keys.is_empty() => {}
        Some(_) => {
            return Err(ExtensionRejection::invalid_request_format(
                "configurationKeys are deprecated; use environment variables instead",
            ));
        }
    }
    let events = match fields.get("events") {
        None | Some(Value::Null) => return Ok(Subscriptions::default()),
        Some(Value::Array(events)) => events,
        Some(_) => {
            return Err(ExtensionRejection::invalid_request_format(
                "events must be an array of strings",
            ));
        }
    };
    let mut subscriptions = Subscriptions::default();
    for event in events {
        let Some(event) = event.as_str() else {
            return Err(ExtensionRejection::invalid_request_format(
                "events must be an array of strings",
            ));
        };
        match event {
            "INVOKE" => subscriptions.invoke = true,
            "SHUTDOWN" => subscriptions.shutdown = true,
            other => {
                return Err(ExtensionRejection::bad_request(
                    "Extension.InvalidEventType",
                    format!("{other}: invalid event type; use INVOKE or SHUTDOWN"),
                ));
            }
        }
    }
    Ok(subscriptions)
}

/// The `Lambda-Extension-Identifier` header, lower-cased: required, and shaped like a UUID.
pub(super) fn extension_identifier(headers: &HeaderMap) -> Result<String, ExtensionRejection> {
    let Some(value) = headers.get(EXTENSION_IDENTIFIER_HEADER) else {
        return Err(ExtensionRejection::forbidden(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        ));
    };
    match value.to_str() {
        Ok(identifier) if is_uuid(identifier) => Ok(identifier.to_ascii_lowercase()),
        Ok("") => Err(ExtensionRejection::forbidden(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        )),
        _ => Err(ExtensionRejection::forbidden(
            "Extension.InvalidExtensionIdentifier",
            "Invalid Lambda-Extension-Identifier",
        )),
    }
}

/// The `Lambda-Extension-Function-Error-Type` header of an error report: required.
pub(super) fn extension_error_type(headers: &HeaderMap) -> Result<String, ExtensionRejection> {
    headers
        .get(EXTENSION_ERROR_TYPE_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .filter(|error_type| !error_type.is_empty())
        .ok_or_else(|| {
            ExtensionRejection::forbidden(
                "Extension.MissingHeader",
                "Lambda-Extension-Function-Error-Type not found",
            )
        })
}

/// The canonical textual form: 8-4-4-4-12 hexadecimal digits.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(group, length)| {
            group.len() == length && group.chars().all(|c| c.is_ascii_hexdigit())
        })
}

// ---------------------------------------------------------------------------------------------
// Event payloads
// ---------------------------------------------------------------------------------------------

/// The `INVOKE` event payload; `tracing` only when the invocation carries a trace header.
pub(super) fn invoke_event_body(
    request_id: &str,
    deadline_ms: u64,
    invoked_function_arn: &str,
    xray_trace_id: Option<&str>,
) -> Bytes {
    let mut event = json!({
        "eventType": "INVOKE",
        "deadlineMs": deadline_ms,
        "requestId": request_id,
        "invokedFunctionArn": invoked_function_arn,
    });
    if let (Some(trace_id), Value::Object(fields)) = (
        xray_trace_id.filter(|trace_id| !trace_id.is_empty()),
        &mut event,
    ) {
        fields.insert(
            "tracing".to_owned(),
            json!({ "type": "X-Amzn-Trace-Id", "value": trace_id }),
        );
    }
    Bytes::from(event.to_string())
}

/// The `SHUTDOWN` event payload.
fn shutdown_event_body(deadline_ms: u64) -> Bytes {
    Bytes::from(
        json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": SHUTDOWN_REASON,
            "deadlineMs": deadline_ms,
        })
        .to_string(),
    )
}

// ---------------------------------------------------------------------------------------------
// State
// ---------------------------------------------------------------------------------------------

/// What an event is about, to know what a later `/event/next` acknowledges.
#[derive(Clone, Debug, PartialEq, Eq)]
enum EventKind {
    /// The INVOKE event of this request ID.
    Invoke(String),
    Shutdown,
}

/// An event assigned to an extension and not yet returned by its `/event/next`.
struct PendingEvent {
    kind: EventKind,
    body: Bytes,
}

/// An event as `/event/next` returns it.
pub(super) struct DeliveredEvent {
    pub(super) body: Bytes,
}

struct Extension {
    name: String,
    subscriptions: Subscriptions,
    /// Has called `/event/next` at least once: its init is done.
    polled: bool,
    pending: VecDeque<PendingEvent>,
    /// The last event `/event/next` returned, until the next `/event/next` acknowledges it.
    in_hand: Option<EventKind>,
    /// The invocation whose INVOKE event it has not finished yet (assigned and not acknowledged,
    /// and the invocation not timed out).
    owes_invocation: Option<String>,
    /// Got a SHUTDOWN event it has not acknowledged yet.
    owes_shutdown: bool,
    /// Reported an init or exit error: gone.
    exited: bool,
}

impl Extension {
    /// Whether the platform may hand out the next invocation as far as this extension goes.
    fn is_ready(&self) -> bool {
        self.exited || (self.polled && self.owes_invocation.is_none())
    }
}

/// How far the extensions are with one invocation.
struct TrackedInvocation {
    /// Extensions that got its INVOKE event and have not finished it.
    unfinished: usize,
    done_at: Option<Instant>,
}

/// Every registered extension, and the extensions' progress on each invocation handed out.
#[derive(Default)]
pub(super) struct Extensions {
    /// By identifier (lower-case), in registration order for listing.
    extensions: HashMap<String, Extension>,
    registration_order: Vec<String>,
    registration_closed: bool,
    shutting_down: bool,
    invocations: HashMap<String, TrackedInvocation>,
    /// Tracked request IDs, oldest first, so that only the latest few are remembered.
    tracked: VecDeque<String>,
    errors: Vec<ExtensionError>,
}

impl Extensions {
    /// Whether no extension ever registered.
    pub(super) fn is_empty(&self) -> bool {
        self.extensions.is_empty()
    }

    /// Whether registration is closed (the first invocation was handed out).
    #[cfg(test)]
    fn registration_closed(&self) -> bool {
        self.registration_closed
    }

    /// Registers an extension during init; returns its identifier.
    pub(super) fn register(
        &mut self,
        name: String,
        subscriptions: Subscriptions,
        identifier: String,
    ) -> Result<String, ExtensionRejection> {
        if self.registration_closed {
            return Err(ExtensionRejection::forbidden(
                "Extension.RegistrationClosed",
                "Extension registration closed already",
            ));
        }
        if self
            .extensions
            .values()
            .any(|extension| extension.name == name)
        {
            return Err(ExtensionRejection::invalid_state(
                "Extension with this name already registered",
            ));
        }
        if self.extensions.len() >= MAX_EXTENSIONS {
            return Err(ExtensionRejection::forbidden(
                "Extension.TooManyExtensions",
                format!("Extension limit ({MAX_EXTENSIONS}) reached"),
            ));
        }
        let identifier = identifier.to_ascii_lowercase();
        self.extensions.insert(
            identifier.clone(),
            Extension {
                name,
                subscriptions,
                polled: false,
                pending: VecDeque::new(),
                in_hand: None,
                owes_invocation: None,
                owes_shutdown: false,
                exited: false,
            },
        );
        self.registration_order.push(identifier.clone());
        Ok(identifier)
    }

    /// Whether every extension is ready for the next invocation: it has called `/event/next`
    /// since its last INVOKE event (its first call, at init), or it is gone.
    pub(super) fn ready_for_hand_out(&self) -> bool {
        self.extensions.values().all(Extension::is_ready)
    }

    /// Closes registration: the first invocation is being handed out.
    pub(super) fn close_registration(&mut self) {
        self.registration_closed = true;
    }

    /// An invocation was handed out at `at`: every extension subscribed to INVOKE gets its event
    /// and owes it. Closes registration.
    pub(super) fn start_invocation(&mut self, request_id: &str, event: Bytes, at: Instant) {
        self.registration_closed = true;
        if self.extensions.is_empty() {
            return;
        }
        let mut unfinished = 0;
        for extension in self.extensions.values_mut() {
            if extension.exited || !extension.subscriptions.invoke {
                continue;
            }
            extension.pending.push_back(PendingEvent {
                kind: EventKind::Invoke(request_id.to_owned()),
                body: event.clone(),
            });
            extension.owes_invocation = Some(request_id.to_owned());
            unfinished += 1;
        }
        let tracked = TrackedInvocation {
            unfinished,
            done_at: (unfinished == 0).then_some(at),
        };
        if self
            .invocations
            .insert(request_id.to_owned(), tracked)
            .is_none()
        {
            self.tracked.push_back(request_id.to_owned());
        }
        while self.tracked.len() > TRACKED_INVOCATIONS_KEPT {
            let Some(oldest) = self.tracked.pop_front() else {
                break;
            };
            self.invocations.remove(&oldest);
        }
    }

    /// An extension called `/event/next`: it is past init, and done with the event it was last
    /// given.
    pub(super) fn acknowledge(
        &mut self,
        identifier: &str,
        now: Instant,
    ) -> Result<(), ExtensionRejection> {
        let extension = self.live_extension(identifier)?;
        extension.polled = true;
        let finished = match extension.in_hand.take() {
            Some(EventKind::Invoke(request_id))
                if extension.owes_invocation.as_deref() == Some(request_id.as_str()) =>
            {
                extension.owes_invocation = None;
                Some(request_id)
            }
            Some(EventKind::Shutdown) => {
                extension.owes_shutdown = false;
                None
            }
            Some(EventKind::Invoke(_)) | None => None,
        };
        if let Some(request_id) = finished {
            self.finish_one(&request_id, now);
        }
        Ok(())
    }

    /// The next event assigned to an extension, if any; it is then in the extension's hands.
    pub(super) fn take_event(
        &mut self,
        identifier: &str,
    ) -> Result<Option<DeliveredEvent>, ExtensionRejection> {
        let extension = self.live_extension(identifier)?;
        let Some(event) = extension.pending.pop_front() else {
            return Ok(None);
        };
        extension.in_hand = Some(event.kind);
        Ok(Some(DeliveredEvent { body: event.body }))
    }

    /// Records an extension's init or exit error; the extension is gone and owes nothing.
    pub(super) fn report_error(
        &mut self,
        identifier: &str,
        kind: ExtensionErrorKind,
        error_type: String,
        raw_body: Bytes,
        now: Instant,
    ) -> Result<(), ExtensionRejection> {
        let extension = self.live_extension(identifier)?;
        extension.exited = true;
        extension.pending.clear();
        extension.in_hand = None;
        extension.owes_shutdown = false;
        let owed = extension.owes_invocation.take();
        let extension_name = extension.name.clone();
        if let Some(request_id) = owed {
            self.finish_one(&request_id, now);
        }
        self.errors.push(ExtensionError {
            extension_name,
            kind,
            error_type,
            raw_body,
        });
        Ok(())
    }

    /// The invocation timed out (or was given up): its extensions are considered done, as the
    /// platform resets the environment.
    pub(super) fn time_out(&mut self, request_id: &str, now: Instant) {
        let Some(tracked) = self.invocations.get_mut(request_id) else {
            return;
        };
        if tracked.done_at.is_some() {
            return;
        }
        tracked.unfinished = 0;
        tracked.done_at = Some(now);
        for extension in self.extensions.values_mut() {
            if extension.owes_invocation.as_deref() == Some(request_id) {
                extension.owes_invocation = None;
            }
        }
    }

    /// When every extension was done with the invocation, if they are.
    pub(super) fn done_at(&self, request_id: &str) -> Option<Instant> {
        self.invocations.get(request_id)?.done_at
    }

    /// Sends SHUTDOWN (once) to every live extension subscribed to it; returns how many got it.
    pub(super) fn begin_shutdown(&mut self, deadline_ms: u64) -> usize {
        self.registration_closed = true;
        if self.shutting_down {
            return 0;
        }
        self.shutting_down = true;
        let body = shutdown_event_body(deadline_ms);
        let mut notified = 0;
        for extension in self.extensions.values_mut() {
            if extension.exited || !extension.subscriptions.shutdown {
                continue;
            }
            extension.pending.push_back(PendingEvent {
                kind: EventKind::Shutdown,
                body: body.clone(),
            });
            extension.owes_shutdown = true;
            notified += 1;
        }
        notified
    }

    /// Whether an extension still owes its SHUTDOWN acknowledgement.
    pub(super) fn shutdown_pending(&self) -> bool {
        self.extensions
            .values()
            .any(|extension| !extension.exited && extension.owes_shutdown)
    }

    /// The registered extensions, in registration order.
    pub(super) fn registered(&self) -> Vec<RegisteredExtension> {
        self.registration_order
            .iter()
            .filter_map(|identifier| {
                let extension = self.extensions.get(identifier)?;
                Some(RegisteredExtension {
                    identifier: identifier.clone(),
                    name: extension.name.clone(),
                    invoke: extension.subscriptions.invoke,
                    shutdown: extension.subscriptions.shutdown,
                })
            })
            .collect()
    }

    /// The errors extensions reported, oldest first.
    pub(super) fn errors(&self) -> Vec<ExtensionError> {
        self.errors.clone()
    }

    /// A registered extension that has not reported an error.
    fn live_extension(&mut self, identifier: &str) -> Result<&mut Extension, ExtensionRejection> {
        let Some(extension) = self.extensions.get_mut(identifier) else {
            return Err(ExtensionRejection::unknown_identifier(identifier));
        };
        if extension.exited {
            return Err(ExtensionRejection::invalid_state(format!(
                "Extension {identifier} already reported an error and exited"
            )));
        }
        Ok(extension)
    }

    /// One extension finished the invocation; the last one dates it.
    fn finish_one(&mut self, request_id: &str, now: Instant) {
        let Some(tracked) = self.invocations.get_mut(request_id) else {
            return;
        };
        if tracked.done_at.is_some() {
            return;
        }
        tracked.unfinished = tracked.unfinished.saturating_sub(1);
        if tracked.unfinished == 0 {
            tracked.done_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests;
