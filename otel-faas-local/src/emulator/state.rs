//! The emulator's state, shared by the [`RuntimeApi`](super::RuntimeApi) handles and the
//! server tasks: the invocation queue, where each invocation stands, and the extensions.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Response};
use http_body_util::Full;
use tokio::sync::{mpsc, oneshot, watch};

use super::extensions_api::{self as extensions, Extensions};
use super::ids::{epoch_millis_after, header_value, log_stream_name, validate_request_id};
use super::invocation::{
    FunctionConfig, FunctionError, Invocation, InvocationOutcome, InvocationResult,
};
use super::runtime_api::Rejection;
use super::{
    CLIENT_CONTEXT_HEADER, COGNITO_IDENTITY_HEADER, DEADLINE_HEADER, FINISHED_INVOCATIONS_KEPT,
    INVOKED_FUNCTION_ARN_HEADER, REQUEST_ID_HEADER, TRACE_ID_HEADER,
};
use crate::server::HttpResponse;

/// Stops the server when the last [`RuntimeApi`] clone goes (the server tasks hold [`Shared`],
/// not this).
pub(super) struct StopOnDrop(pub(super) Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// State shared by the [`RuntimeApi`] handles and the server tasks.
pub(super) struct Shared {
    pub(super) function: FunctionConfig,
    pub(super) function_arn: String,
    pub(super) addr: SocketAddr,
    pub(super) log_stream_name: String,
    pub(super) registry: Mutex<Registry>,
    /// Invocations waiting for a `/invocation/next` caller, in queueing order.
    pub(super) queue: mpsc::UnboundedSender<Ticket>,
    /// Long-polls take turns on the queue; tokio's mutex is fair, so they are served in arrival
    /// order.
    pub(super) queue_receiver: tokio::sync::Mutex<QueueReader>,
    pub(super) next_calls: watch::Sender<u64>,
    pub(super) first_next_at: OnceLock<Instant>,
    pub(super) shutdown: watch::Sender<bool>,
    /// The Extensions API's state. Lock order: `extensions`, then `registry`.
    pub(super) extensions: Mutex<Extensions>,
    /// Bumped on every change of `extensions` that someone may be waiting for.
    pub(super) extensions_changed: watch::Sender<u64>,
    /// Registration closed with no extension registered: the extensions' bookkeeping can be
    /// skipped for good.
    pub(super) without_extensions: AtomicBool,
}

/// The receiving end of the invocation queue, and the invocation a long-poll took off it but
/// could not hand out yet because an extension was busy: the next long-poll starts with it, so
/// that a long-poll given up while waiting for the extensions loses nothing.
pub(super) struct QueueReader {
    pub(super) receiver: mpsc::UnboundedReceiver<Ticket>,
    pub(super) held: Option<Ticket>,
}

impl Shared {
    pub(super) fn new(function: FunctionConfig, addr: SocketAddr) -> Self {
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

    pub(super) fn extensions(&self) -> MutexGuard<'_, Extensions> {
        // Like the registry, every update of the extensions' state is one step.
        self.extensions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes whoever waits on the extensions (long-polls, `wait_for_extensions`, shutdown).
    pub(super) fn notify_extensions(&self) {
        self.extensions_changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }

    /// Whether an extension may be registered (`false` once registration closed without any).
    pub(super) fn may_have_extensions(&self) -> bool {
        !self.without_extensions.load(Ordering::Acquire)
    }

    /// The invocation timed out or was given up: the extensions are done with it.
    pub(super) fn release_extensions(&self, request_id: &str) {
        if self.may_have_extensions() {
            self.extensions().time_out(request_id, Instant::now());
            self.notify_extensions();
        }
    }

    pub(super) fn registry(&self) -> MutexGuard<'_, Registry> {
        // The registry stays consistent across a panic elsewhere: every update is one step.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn stop(&self) {
        self.shutdown.send_replace(true);
    }

    /// Validates `invocation`, registers it and puts it on the queue.
    pub(super) fn enqueue(
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
            fixed_deadline_ms: invocation.fixed_deadline_ms,
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
    pub(super) fn event_headers(
        &self,
        invocation: &Invocation,
    ) -> Result<HeaderMap, FunctionError> {
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
    pub(super) async fn await_outcome(
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
    pub(super) fn settle_after_deadline(
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

    pub(super) fn note_next_call(&self) {
        self.first_next_at.get_or_init(Instant::now);
        self.next_calls.send_modify(|calls| *calls += 1);
    }

    /// Marks `ticket` handed out and renders its event, unless an extension is not ready yet
    /// or nobody waits for the invocation any more.
    pub(super) fn hand_out(&self, ticket: Ticket) -> HandOutAttempt {
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
    pub(super) fn hand_out_to_runtime(
        &self,
        ticket: Ticket,
    ) -> Option<(HttpResponse, HandedOutAt)> {
        let at = Instant::now();
        let hand_out = HandOut {
            at,
            deadline: at.checked_add(ticket.timeout),
        };
        let deadline_ms = ticket
            .fixed_deadline_ms
            .unwrap_or_else(|| epoch_millis_after(ticket.timeout));
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
pub(super) enum HandOutAttempt {
    /// The runtime's `/invocation/next` answer.
    HandedOut(HttpResponse),
    /// Nobody waits for the invocation any more.
    Withdrawn,
    /// An extension is not ready: the ticket waits.
    ExtensionsBusy(Ticket),
}

/// When an invocation was handed out, as the invocation's deadline and the extensions see it.
pub(super) struct HandedOutAt {
    pub(super) at: Instant,
    pub(super) deadline_ms: u64,
}

/// An invocation waiting on the queue for a `/invocation/next` caller.
pub(super) struct Ticket {
    /// Tells this queueing apart from an earlier one that used the same request ID.
    pub(super) registration: u64,
    pub(super) request_id: String,
    pub(super) payload: Bytes,
    pub(super) headers: HeaderMap,
    pub(super) timeout: Duration,
    /// For the extensions' `INVOKE` event (the headers hold them too).
    pub(super) invoked_function_arn: Option<String>,
    pub(super) xray_trace_id: Option<String>,
    /// A `Lambda-Runtime-Deadline-Ms` to send as it is.
    pub(super) fixed_deadline_ms: Option<u64>,
}

/// Sent to the waiting [`RuntimeApi::invoke`] when its event is handed out.
pub(super) struct HandOut {
    pub(super) at: Instant,
    /// `None` when the timeout is too large to represent: no deadline.
    pub(super) deadline: Option<Instant>,
}

/// Sent to the waiting [`RuntimeApi::invoke`] when the function answers.
pub(super) struct Completion {
    pub(super) result: InvocationResult,
    pub(super) at: Instant,
}

/// Where each known invocation stands.
pub(super) enum InvocationState {
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

/// Every invocation the emulator knows of, and the function's init error.
#[derive(Default)]
pub(super) struct Registry {
    pub(super) invocations: HashMap<String, InvocationState>,
    /// Finished request IDs, oldest first, so that only the latest few are remembered.
    pub(super) finished: VecDeque<String>,
    pub(super) registrations: u64,
    pub(super) init_error: Option<FunctionError>,
}

impl Registry {
    /// Records a queued invocation; refuses a request ID that is still queued or in flight.
    pub(super) fn register(
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
    pub(super) fn hand_out(&mut self, ticket: &Ticket, hand_out: HandOut) -> bool {
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
    pub(super) fn complete(
        &mut self,
        request_id: &str,
        result: InvocationResult,
    ) -> Result<(), Rejection> {
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
    pub(super) fn time_out(&mut self, request_id: &str) -> bool {
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
    pub(super) fn abandon(&mut self, request_id: &str) {
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
    pub(super) fn fail_initialization(&mut self, error: FunctionError) {
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
    pub(super) fn finish(&mut self, request_id: String, state: InvocationState) {
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
