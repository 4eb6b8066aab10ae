//! The requests the function and its extensions send, routed and answered as the platform
//! answers them.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::header::{ALLOW, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::extensions_api::{
    self as extensions, DeliveredEvent, EXTENSION_BASE_PATH, EXTENSION_BODY_LIMIT,
    EXTENSION_EVENT_IDENTIFIER_HEADER, EXTENSION_IDENTIFIER_HEADER, ExtensionErrorKind,
    ExtensionRejection, ExtensionRoute,
};
use super::ids::fresh_request_id;
use super::invocation::{FunctionError, InvocationResult};
use super::state::{HandOutAttempt, Shared};
use super::{
    BASE_PATH, FUNCTION_ERROR_TYPE_HEADER, HANDLER, MAX_PAYLOAD_BYTES, OVERSIZED_BODY_DRAIN_LIMIT,
};
use crate::server::HttpResponse;

/// Why the Runtime API refuses a request; each maps to the platform's error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rejection {
    InvalidRequestId,
    AlreadyCompleted,
    InvokeTimeout,
    PayloadTooLarge,
    TruncatedRequest,
}

impl Rejection {
    pub(super) fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequestId | Self::AlreadyCompleted | Self::TruncatedRequest => {
                StatusCode::BAD_REQUEST
            }
            Self::InvokeTimeout => StatusCode::GONE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    pub(super) fn error_type(self) -> &'static str {
        match self {
            Self::InvalidRequestId => "InvalidRequestID",
            Self::AlreadyCompleted => "InvalidStateTransition",
            Self::InvokeTimeout => "InvokeTimeout",
            Self::PayloadTooLarge => "RequestEntityTooLarge",
            Self::TruncatedRequest => "TruncatedHTTPRequest",
        }
    }

    pub(super) fn error_message(self) -> String {
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

    pub(super) fn body(self) -> Bytes {
        error_body(self.error_type(), &self.error_message())
    }

    pub(super) fn response(self) -> HttpResponse {
        json_response(self.status(), self.body())
    }
}

/// The endpoints of the Runtime API.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
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
    pub(super) fn of(method: &Method, path: &str) -> Route {
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

pub(super) async fn handle_request(
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
pub(super) async fn extension_request(
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
pub(super) async fn register_extension(
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
pub(super) async fn next_extension_event(
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
pub(super) async fn report_extension_error(
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
pub(super) async fn next_invocation(shared: &Shared) -> HttpResponse {
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
pub(super) async fn post_response(
    shared: &Shared,
    request_id: &str,
    body: Incoming,
) -> HttpResponse {
    let result = match receive_body(body, MAX_PAYLOAD_BYTES).await {
        ReceivedBody::Complete(response) => InvocationResult::Response(response),
        ReceivedBody::TooLarge => return fail_oversized(shared, request_id),
        ReceivedBody::Truncated => return Rejection::TruncatedRequest.response(),
    };
    settle(shared, request_id, result)
}

/// `POST /invocation/{id}/error`.
pub(super) async fn post_error(
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
pub(super) async fn post_init_error(
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

pub(super) fn settle(shared: &Shared, request_id: &str, result: InvocationResult) -> HttpResponse {
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
pub(super) fn fail_oversized(shared: &Shared, request_id: &str) -> HttpResponse {
    let failure = InvocationResult::Error(FunctionError::payload_too_large());
    match shared.registry().complete(request_id, failure) {
        Ok(()) => Rejection::PayloadTooLarge.response(),
        Err(rejection) => rejection.response(),
    }
}

/// A request body as far as it could be read.
pub(super) enum ReceivedBody {
    Complete(Bytes),
    TooLarge,
    /// The client broke off mid-body.
    Truncated,
}

/// Reads a whole body (chunked or not) of at most `limit` bytes. A larger body is still drained
/// (up to [`OVERSIZED_BODY_DRAIN_LIMIT`]) so the answer goes out on a reusable connection.
pub(super) async fn receive_body(mut body: Incoming, limit: usize) -> ReceivedBody {
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

pub(super) fn function_error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(FUNCTION_ERROR_TYPE_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

pub(super) fn accepted() -> HttpResponse {
    json_response(
        StatusCode::ACCEPTED,
        Bytes::from(json!({ "status": "OK" }).to_string()),
    )
}

pub(super) fn not_found(path: &str) -> HttpResponse {
    error_response(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("No Runtime API resource at {path}"),
    )
}

pub(super) fn method_not_allowed(method: &Method, allowed: &'static str) -> HttpResponse {
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

pub(super) fn error_response(
    status: StatusCode,
    error_type: &str,
    error_message: &str,
) -> HttpResponse {
    json_response(status, error_body(error_type, error_message))
}

pub(super) fn error_body(error_type: &str, error_message: &str) -> Bytes {
    Bytes::from(json!({ "errorMessage": error_message, "errorType": error_type }).to_string())
}

pub(super) fn json_response(status: StatusCode, body: Bytes) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
