//! The life of one invocation, as a value: [`Invocation`] begins when the platform hands
//! over an event, runs the handler through the glue, and [`Invocation::finish`]es with its
//! outcome — the one place an invocation ends, for Lambda, Azure, the test kit, an event the
//! handler never saw and an invocation that ran out of time.
//!
//! The glue (what `#[traced_function]` expands to) calls [`instrument`]: it opens the
//! invocation span and the trigger's span, runs the handler body with them as the current
//! context (so the handler's own `tracing` spans nest under them), and records how the body
//! ended — value, error or panic. Inside an invocation (run by a platform loop or the test
//! kit) it then hands the still-open invocation span to the invocation, whose `finish`
//! records what only the platform loop sees (the HTTP response), ends it, counts the
//! invocation in the FaaS metrics and exports the invocation's spans before the response is
//! posted (or hands that export over, after the response). Called directly, as in a plain
//! unit test, the glue ends its spans itself.
//!
//! Every invocation owns its spans: the [`SpanOwner`] rides in the OpenTelemetry context
//! of every span opened under the invocation, so concurrent invocations in one process never
//! share a buffer, a keep-rule decision, a deadline entry or a flush (see
//! [`crate::processor`]).

use std::future::Future;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt as _;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    AWS_LAMBDA_INVOKED_ARN, CLOUD_ACCOUNT_ID, CLOUD_RESOURCE_ID, FAAS_COLDSTART,
    FAAS_INVOCATION_ID, FAAS_TRIGGER,
};

use crate::logs::LogOwner;
use crate::metrics::{InvocationFacts, MetricsDue};
use crate::outcome::{Failure, ReadOutcome};
use crate::processor::{FlushOutcome, SpanOwner};
use crate::propagation::NO_CARRIER;
use crate::telemetry::{DROPPED_SPANS, Telemetry};
use crate::trigger::{FaasTrigger, InvocationContext, InvocationSpan, Response, Spec, Trigger};
use crate::watchdog::{Guard, Watchdog};

tokio::task_local! {
    static CURRENT: Arc<Invocation>;
}

/// One invocation in progress; see the module documentation.
#[derive(Debug)]
pub(crate) struct Invocation {
    telemetry: Telemetry,
    /// Where the invocation's finished spans wait for its flush.
    spans: SpanOwner,
    /// Where the invocation's log records wait for its flush.
    logs: LogOwner,
    /// The platform's id of the invocation (Lambda's request id, the host's invocation id).
    request_id: String,
    /// When the platform stops the invocation, if it says.
    deadline: Option<SystemTime>,
    /// What the platform loop provides: its deadline watchdog, and whether the export
    /// happens after the response.
    supervision: Supervision,
    /// What the glue and the platform loop hand each other.
    handed: Mutex<Handed>,
    /// [`RUNNING`], then [`FINISHED`] or [`TIMED_OUT`], whichever comes first.
    end: AtomicU8,
    /// When the platform handed the invocation over: what an invocation whose event could
    /// not be read took is measured from here.
    began: std::time::Instant,
}

/// What a platform loop gives each of its invocations.
#[derive(Clone, Debug, Default)]
pub(crate) struct Supervision {
    /// The loop's deadline watchdog; none where the platform states no deadline.
    pub(crate) watchdog: Option<Arc<Watchdog>>,
    /// The export is left to whoever runs after the response (the extension, or the layer
    /// once the response is posted) through [`Invocation::flush`].
    pub(crate) after_response: bool,
}

/// What the glue and the platform loop hand each other during one invocation.
#[derive(Debug, Default)]
struct Handed {
    /// When the handler was called (a malformed event never reaches it).
    started: Option<Instant>,
    /// The invocation's spans the glue opened and has not ended yet (the trigger's span,
    /// then the invocation span), for the watchdog to end if the deadline comes first.
    open: Vec<Context>,
    /// The invocation span, handed over by the glue for `finish` to end.
    span: Option<Context>,
    /// What the glue learnt about the invocation, for the metrics.
    facts: Option<InvocationFacts>,
    /// How the trigger records the response on the invocation span.
    record_response: Option<fn(&opentelemetry::trace::SpanRef<'_>, Response)>,
    /// Why the event could not be given to the handler, as reported to the platform.
    undelivered: Option<Failure>,
}

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const TIMED_OUT: u8 = 2;
const CUT_OFF: u8 = 3;

/// An invocation span for an event the handler never saw (it did not deserialize, or the
/// platform's request was unreadable).
pub(crate) struct Unread {
    /// What the event looked like.
    pub(crate) trigger: FaasTrigger,
    /// The span's name.
    pub(crate) name: String,
    /// The trace it continues, if any.
    pub(crate) parent: Context,
    /// The platform's invocation attributes.
    pub(crate) attributes: Vec<KeyValue>,
    /// Whether it is the process's cold start.
    pub(crate) coldstart: bool,
    /// Why it failed.
    pub(crate) failure: Failure,
}

impl Invocation {
    /// An invocation the platform just handed over.
    pub(crate) fn begin(
        telemetry: Telemetry,
        request_id: String,
        deadline: Option<SystemTime>,
        supervision: Supervision,
    ) -> Arc<Self> {
        Arc::new(Invocation {
            telemetry,
            spans: SpanOwner::default(),
            logs: LogOwner::default(),
            request_id,
            deadline,
            supervision,
            handed: Mutex::new(Handed::default()),
            end: AtomicU8::new(RUNNING),
            began: std::time::Instant::now(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Handed> {
        self.handed.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// Where the invocation's log records wait for its flush.
    pub(crate) fn log_owner(&self) -> &LogOwner {
        &self.logs
    }

    /// The platform's id of the invocation, for log lines.
    pub(crate) fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Runs `future` as this invocation: [`current`] is this one. The invocation's spans
    /// are its own through the context the glue opens them in ([`Invocation::owning`]); a
    /// span of a handler without the glue belongs to no invocation and leaves with the next
    /// flush (this one's, when invocations come one at a time).
    ///
    /// Not an `async fn`, which would hold `future` twice: the invocation's whole service
    /// stack is this future, and it is moved into a box on each invocation (issue 17).
    pub(crate) fn run<F: Future>(self: Arc<Self>, future: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, future)
    }

    /// `context` with this invocation as the owner of the spans opened under it.
    fn owning(&self, context: Context) -> Context {
        context
            .with_value(self.spans.clone())
            .with_value(self.logs.clone())
    }

    /// The handler is being called: starts the clock for `faas.invoke_duration` and arms
    /// the deadline watchdog, which fires [`Invocation::time_out`] a margin before the
    /// deadline unless the returned guard is dropped first.
    pub(crate) fn start_handler(self: &Arc<Self>) -> Option<Guard> {
        self.lock().started = Some(Instant::now());
        let watchdog = self.supervision.watchdog.as_ref()?;
        let left = self.time_before_margin()?;
        let invocation = self.clone();
        let runtime = tokio::runtime::Handle::try_current().ok();
        Some(watchdog.arm(left, Box::new(move || invocation.time_out(runtime))))
    }

    /// Whether the handler was called.
    pub(crate) fn handler_called(&self) -> bool {
        self.lock().started.is_some()
    }

    /// The event could not be given to the handler, and the platform is told `failure`: the
    /// span of the unread event ([`Invocation::finish_unread`]) is to say the same.
    pub(crate) fn not_delivered(&self, failure: Failure) {
        self.lock().undelivered = Some(failure);
    }

    /// What [`Invocation::not_delivered`] was told, if anything.
    pub(crate) fn take_undelivered(&self) -> Option<Failure> {
        self.lock().undelivered.take()
    }

    /// Time until the deadline less the configured margin; `None` without a deadline or
    /// when that moment has passed.
    fn time_before_margin(&self) -> Option<Duration> {
        let left = self.deadline?.duration_since(SystemTime::now()).ok()?;
        let left = left.checked_sub(self.telemetry.config().deadline_margin)?;
        (!left.is_zero()).then_some(left)
    }

    fn claim(&self, end: u8) -> bool {
        self.end
            .compare_exchange(RUNNING, end, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The invocation span's context, once the glue handed the span over (for a platform
    /// loop that writes it into the response, as the W3C `traceresponse` header).
    pub(crate) fn span_context(&self) -> Option<opentelemetry::trace::SpanContext> {
        let handed = self.lock();
        let cx = handed.span.as_ref()?;
        Some(cx.span().span_context().clone())
    }

    /// Ends the invocation whose handler returned (`failed` when it returned an error or
    /// panicked): its trigger records on the invocation span what the platform loop saw of
    /// the `response` (an HTTP status), the span ends, the invocation is counted in the
    /// FaaS metrics, and its spans are exported unless that is left to after the response.
    /// After a timeout, only what the handler's late end adds is recorded.
    pub(crate) async fn finish(&self, failed: bool, response: Option<Response>) {
        let timed_out = !self.claim(FINISHED);
        let (span, facts, started, record_response) = {
            let mut handed = self.lock();
            handed.open.clear();
            (
                handed.span.take(),
                handed.facts.take(),
                handed.started,
                handed.record_response,
            )
        };
        if let Some(mut facts) = facts.filter(|_| !timed_out) {
            facts.duration = started.map(|started| started.elapsed());
            // A 5xx answer fails the invocation, for the metrics as for its span (the HTTP
            // conventions make a server span with a 5xx status an error).
            let server_error =
                matches!(response, Some(Response::Http(status)) if status.is_server_error());
            facts.failed |= failed || server_error;
            self.telemetry.record_invocation(&facts);
        }
        match span {
            Some(cx) => {
                if let (Some(record), Some(response)) = (record_response, response) {
                    record(&cx.span(), response);
                }
                self.record_dropped(&cx);
                cx.span().end();
            }
            None => warn_unannotated(),
        }
        if !self.supervision.after_response {
            self.flush().await;
        }
    }

    /// Ends an invocation whose event the handler never saw: its invocation span, with
    /// status Error and the reason, counted as an unreadable invocation.
    pub(crate) async fn finish_unread(&self, unread: Unread) {
        let telemetry = &self.telemetry;
        let tracer = telemetry.tracer();
        let parent = self.owning(unread.parent);
        let span = tracer
            .span_builder(unread.name)
            .with_kind(SpanKind::Server)
            .with_attributes(unread.attributes)
            .start_with_context(tracer, &parent);
        let cx = parent.with_span(span);
        if unread.coldstart {
            record_init(telemetry, unread.trigger, &cx);
        }
        telemetry.record_invocation(&InvocationFacts::unreadable(
            unread.trigger,
            unread.coldstart,
            self.began.elapsed(),
        ));
        unread
            .failure
            .record(&cx.span(), true, telemetry.value_limit());
        cx.span().end();
        self.claim(FINISHED);
        if !self.supervision.after_response {
            self.flush().await;
        }
    }

    /// The handler is still running a margin before its deadline, and the platform will
    /// stop it at the deadline: ends the invocation's open spans with `error.type=timeout`,
    /// counts it, and exports what is finished while there is time, on the invocation's
    /// runtime. The handler keeps running; if it ends in time after all, its response is
    /// still posted. Runs on the watchdog's thread.
    fn time_out(self: Arc<Self>, runtime: Option<tokio::runtime::Handle>) {
        let margin = self.telemetry.config().deadline_margin;
        let failure = Failure {
            error_type: "timeout".into(),
            message: format!(
                "the invocation was still running {} ms before its deadline",
                margin.as_millis()
            ),
            stacktrace: None,
        };
        if !self.end_early(TIMED_OUT, &failure) {
            return;
        }
        tracing::warn!(
            target: "otel_faas",
            request_id = %self.request_id,
            "{}: exporting its spans before the platform stops it",
            failure.message
        );
        if let (Some(deadline), Some(runtime)) = (self.deadline, runtime) {
            crate::platform::spawn_boxed(&runtime, async move {
                let _ = self
                    .telemetry
                    .flush_until(&self.spans.0, &self.logs.0, deadline)
                    .await;
            });
        }
    }

    /// Ends the invocation before its handler did (`end`: timed out or cut off): its open
    /// spans end with `failure`, innermost first, and it is counted in the FaaS metrics.
    /// `false`, and nothing done, when it had ended already.
    fn end_early(&self, end: u8, failure: &Failure) -> bool {
        if !self.claim(end) {
            return false;
        }
        let (spans, facts, started) = {
            let mut handed = self.lock();
            let mut spans = std::mem::take(&mut handed.open);
            // A timed-out handler still reaches `finish`, which ends the span the glue
            // handed over; a handler whose process is being stopped does not.
            if end == CUT_OFF {
                spans.extend(handed.span.take());
            }
            (spans, handed.facts.take(), handed.started)
        };
        let limit = self.telemetry.value_limit();
        for (i, cx) in spans.iter().enumerate() {
            let span = cx.span();
            failure.record(&span, i == 0, limit);
            span.end();
        }
        if let Some(mut facts) = facts {
            facts.timed_out = end == TIMED_OUT;
            facts.failed |= end == CUT_OFF;
            facts.duration = started.map(|started| started.elapsed());
            self.telemetry.record_invocation(&facts);
        }
        true
    }

    /// Puts on the invocation span how many of the invocation's spans its full buffer
    /// dropped (leaf spans: its own are kept), and says so in the logs, rarely.
    fn record_dropped(&self, invocation: &Context) {
        let dropped = self.spans.0.dropped();
        if dropped == 0 {
            return;
        }
        invocation
            .span()
            .set_attribute(KeyValue::new(DROPPED_SPANS, dropped as i64));
        self.telemetry.warn_rarely(&format!(
            "invocation {}: {dropped} spans dropped, its buffer (OTEL_BSP_MAX_QUEUE_SIZE={}) was full",
            self.request_id,
            self.telemetry.config().max_queued_spans
        ));
    }

    /// The process is being stopped (SIGTERM) while the invocation runs: ends its open spans
    /// (or the invocation span the glue handed over) with status Error, `error.type`
    /// `shutdown` and an exception event, and counts it as failed. Its export follows.
    fn cut_off(&self, signal: &str) {
        let failure = Failure {
            error_type: "shutdown".into(),
            message: format!("the process was stopped ({signal}) while the invocation ran"),
            stacktrace: None,
        };
        self.end_early(CUT_OFF, &failure);
    }

    /// The process aborts on a panic (`panic = "abort"`) while the invocation runs: ends its
    /// open spans (or the invocation span the glue handed over) with `failure`, as
    /// [`Invocation::cut_off`] does for a signal.
    #[cfg_attr(not(panic = "abort"), allow(dead_code))]
    pub(crate) fn abort(&self, failure: &Failure) {
        self.end_early(CUT_OFF, failure);
    }

    /// Exports the invocation's spans (and those of no invocation), bounded by its deadline
    /// and by the flush timeout, or after the response by the after-response flush timeout
    /// ([`crate::config::Config::after_response_flush_timeout`]). Closes its buffer: spans ending later leave with the next
    /// flush of another invocation, or the last one.
    /// The FaaS metrics go too when their interval is due, and at once when the invocation
    /// ended early (timed out, cut off by a signal or an abort): the process is about to stop.
    pub(crate) async fn flush(&self) -> FlushOutcome {
        let metrics = match self.end.load(Ordering::Acquire) {
            RUNNING | FINISHED => MetricsDue::IfDue,
            _ => MetricsDue::Now,
        };
        match self.supervision.after_response {
            true => {
                self.telemetry
                    .flush_after_response(&self.spans.0, &self.logs.0, self.deadline, metrics)
                    .await
            }
            false => {
                self.telemetry
                    .flush_invocation(&self.spans.0, &self.logs.0, self.deadline, metrics)
                    .await
            }
        }
    }

    /// The glue opened these spans (innermost first): the invocation's own, never dropped
    /// from its buffer.
    fn opened(&self, open: Vec<Context>, facts: InvocationFacts) {
        self.spans
            .0
            .keep_always(open.iter().map(|cx| cx.span().span_context().span_id()));
        let mut handed = self.lock();
        handed.open = open;
        handed.facts = Some(facts);
    }

    /// The glue's body ended: the invocation span is the platform loop's to end, with the
    /// trigger's way of recording the response.
    fn body_ended<T: Trigger>(&self, failed: bool, span: Context) {
        let mut handed = self.lock();
        handed.open.clear();
        if failed && let Some(facts) = &mut handed.facts {
            facts.failed = true;
        }
        handed.span = Some(span);
        handed.record_response = Some(T::record_response);
    }
}

/// The invocations a platform loop has in flight, so that a process being stopped can end and
/// export them (their handlers' futures are dropped with the loop).
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<Vec<Arc<Invocation>>>);

impl InFlight {
    /// `invocation` has begun.
    pub(crate) fn add(&self, invocation: &Arc<Invocation>) {
        self.lock().push(invocation.clone());
    }

    /// `invocation` is over.
    pub(crate) fn remove(&self, invocation: &Arc<Invocation>) {
        self.lock().retain(|i| !Arc::ptr_eq(i, invocation));
    }

    /// Every invocation in flight, which are no longer tracked: the process is ending.
    pub(crate) fn take(&self) -> Vec<Arc<Invocation>> {
        std::mem::take(&mut *self.lock())
    }

    /// The process is being stopped by `signal`: every invocation in flight is cut off and
    /// exported, within `budget` in all.
    pub(crate) async fn cut_off(&self, signal: &str, budget: Duration) {
        let invocations = self.take();
        for invocation in &invocations {
            invocation.cut_off(signal);
        }
        let flushes = futures_util::future::join_all(invocations.iter().map(|i| i.flush()));
        let _ = tokio::time::timeout(budget, flushes).await;
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Invocation>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The invocation in progress on this task, if any.
pub(crate) fn current() -> Option<Arc<Invocation>> {
    CURRENT.try_with(Arc::clone).ok()
}

fn warn_unannotated() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::warn!(
            target: "otel_faas",
            "the handler is not annotated with #[traced_function]: its invocations get no invocation span"
        );
    });
}

/// The spans opened for one handler call.
struct OpenSpans {
    /// The invocation span, when the input was a whole invocation.
    invocation: Option<Context>,
    /// The trigger's span, when it has one.
    trigger: Option<Context>,
    /// Whether the invocation is a cold start.
    coldstart: bool,
    /// The span that stands for the batch, when the input was one: the trigger's span, or
    /// the invocation span of a trigger without one.
    batch: Option<(Context, usize)>,
}

impl OpenSpans {
    /// The context the handler body runs in: the innermost span.
    fn body_context(&self) -> Context {
        self.trigger
            .clone()
            .or_else(|| self.invocation.clone())
            .unwrap_or_else(Context::current)
    }

    fn record(&self, failure: &Failure, value_limit: usize) {
        let innermost = self.trigger.as_ref().or(self.invocation.as_ref());
        for cx in self.trigger.iter().chain(self.invocation.iter()) {
            let is_innermost = innermost.is_some_and(|inner| std::ptr::eq(inner, cx));
            failure.record(&cx.span(), is_innermost, value_limit);
        }
    }
}

/// Traces one call of a handler body: the glue of `#[traced_function]`. `read` says what
/// the body's return value means for the spans.
pub(crate) async fn instrument<T, F, Fut>(
    spec: &'static Spec,
    input: T::Input,
    body: F,
    read: ReadOutcome<Fut::Output>,
) -> Fut::Output
where
    T: Trigger,
    F: FnOnce(T::Input) -> Fut,
    Fut: Future,
{
    // The body's future is boxed: a handler's future is often kilobytes (its event, its
    // own state), and every layer around it (this glue, the runtime's, the executor's)
    // would otherwise copy all of it each time it moves. Boxing costs one allocation and
    // saved most of the glue's cost in the benchmarks (BENCHMARKS.md). It is boxed on the
    // untraced path too, where keeping it inline would make this future as big again.
    let invocation = current();
    let telemetry = match &invocation {
        Some(invocation) => invocation.telemetry.clone(),
        None => match Telemetry::global() {
            Some(telemetry) => telemetry.clone(),
            None => return Box::pin(body(input)).await,
        },
    };
    let spans = open::<T>(spec, &input, &telemetry, invocation.as_deref());
    if let (Some(current), Some(span)) = (&invocation, &spans.invocation) {
        let open = spans.trigger.iter().chain([span]).cloned().collect();
        current.opened(
            open,
            InvocationFacts::started(T::FAAS_TRIGGER, spans.coldstart),
        );
    }
    let result = AssertUnwindSafe(Box::pin(body(input)))
        .catch_unwind()
        .with_context(spans.body_context())
        .await;

    let limit = telemetry.value_limit();
    let mut failed = result.is_err();
    match &result {
        Ok(output) => {
            let verdict = read(output);
            if let Some(failure) = &verdict.failure {
                spans.record(failure, limit);
                failed = true;
            }
            if let Some((batch, size)) = &spans.batch {
                verdict.record_failed_items(&batch.span(), *size, T::ITEMS);
                // Where the batch span is the invocation span (S3, DynamoDB), items reported
                // failed make it an error, and so the invocation, for the FaaS metrics too.
                let batch_is_invocation = spans.invocation.as_ref().is_some_and(|cx| {
                    cx.span().span_context().span_id() == batch.span().span_context().span_id()
                });
                failed |= batch_is_invocation && !verdict.failed_items.is_empty();
            }
        }
        Err(panic) => spans.record(&Failure::from_panic(panic.as_ref()), limit),
    }
    if let Some(trigger) = &spans.trigger {
        trigger.span().end();
    }
    if let Some(span) = spans.invocation {
        match &invocation {
            Some(invocation) => invocation.body_ended::<T>(failed, span),
            None => span.span().end(),
        }
    }
    match result {
        Ok(output) => output,
        Err(panic) => resume_unwind(panic),
    }
}

fn open<T: Trigger>(
    spec: &Spec,
    input: &T::Input,
    telemetry: &Telemetry,
    owner: Option<&Invocation>,
) -> OpenSpans {
    let tracer = telemetry.tracer();
    let mut batch_size = 0;
    let mut coldstart = false;
    let invocation = T::invocation_context(input).map(|context| {
        let mut plan = InvocationSpan {
            name: None,
            parent: None,
            // Room for what the runtime adds once the handler returned (the HTTP status,
            // an error, the keep rule) without moving the attributes.
            attributes: Vec::with_capacity(24),
            batch_size: 0,
        };
        coldstart = match context {
            InvocationContext::Lambda(lambda) => {
                invocation_attributes(telemetry, lambda, T::FAAS_TRIGGER, &mut plan.attributes)
            }
            #[cfg(feature = "azure")]
            InvocationContext::Azure(azure) => {
                azure.invocation_attributes(telemetry, T::FAAS_TRIGGER, &mut plan.attributes)
            }
        };
        T::invocation(input, spec, telemetry, &mut plan);
        batch_size = plan.batch_size;
        let name = match (spec.name, plan.name, context) {
            (Some(name), _, _) => name.into(),
            (None, Some(name), _) => name,
            (None, None, InvocationContext::Lambda(lambda)) => function_name(lambda),
            #[cfg(feature = "azure")]
            // The FaaS conventions name the span after the function, which on Azure is
            // `<FUNCAPP>/<FUNC>` (`faas.name` in `model/faas/registry.yaml`).
            (None, None, InvocationContext::Azure(azure)) => azure.faas_name().to_owned().into(),
        };
        // Triggers without a carrier of their own still honour the Lambda trace header
        // (`xray-lambda`); elsewhere they start a new trace.
        let parent = plan.parent.unwrap_or_else(|| match context {
            InvocationContext::Lambda(lambda) => telemetry
                .propagation()
                .extract(&NO_CARRIER, lambda.xray_trace_id.as_deref()),
            #[cfg(feature = "azure")]
            InvocationContext::Azure(_) => Context::new(),
        });
        let parent = match owner {
            Some(owner) => owner.owning(parent),
            None => parent,
        };
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Server)
            .with_attributes(plan.attributes)
            .start_with_context(tracer, &parent);
        let cx = parent.with_span(span);
        if coldstart {
            record_init(telemetry, T::FAAS_TRIGGER, &cx);
        }
        cx
    });
    let mut batch = invocation
        .as_ref()
        .filter(|_| batch_size > 0)
        .map(|cx| (cx.clone(), batch_size));
    let trigger = T::trigger_span(input, spec, telemetry).map(|plan| {
        let parent = invocation.clone().unwrap_or_else(Context::current);
        let name = match (&invocation, spec.name) {
            (None, Some(name)) => name.into(),
            _ => plan.name,
        };
        let span = tracer
            .span_builder(name)
            .with_kind(plan.kind)
            .with_attributes(plan.attributes)
            .with_links(plan.links)
            .start_with_context(tracer, &parent);
        let cx = parent.with_span(span);
        if plan.batch_size > 0 {
            batch = Some((cx.clone(), plan.batch_size));
        }
        cx
    });
    OpenSpans {
        invocation,
        trigger,
        coldstart,
        batch,
    }
}

/// The cold start's initialisation, process start to ready for the first event: an `init`
/// span in the first invocation's trace, under its invocation span (it starts before its
/// parent, as it happened), and the `faas.init_duration` metric.
pub(crate) fn record_init(telemetry: &Telemetry, trigger: FaasTrigger, invocation: &Context) {
    let Some((start, ready)) = telemetry.init_window() else {
        return;
    };
    let tracer = telemetry.tracer();
    let mut span = tracer
        .span_builder("init")
        .with_kind(SpanKind::Internal)
        .with_start_time(start)
        .with_attributes([
            KeyValue::new(FAAS_TRIGGER, trigger.as_str()),
            KeyValue::new(FAAS_COLDSTART, true),
        ])
        .start_with_context(tracer, invocation);
    span.end_with_timestamp(ready);
    if let (Some(metrics), Ok(duration)) = (telemetry.metrics(), ready.duration_since(start)) {
        metrics.record_init(trigger, duration);
    }
}

/// The attributes every invocation span carries; returns whether it is a cold start.
pub(crate) fn invocation_attributes(
    telemetry: &Telemetry,
    lambda: &lambda_runtime::Context,
    trigger: FaasTrigger,
    out: &mut Vec<KeyValue>,
) -> bool {
    let coldstart = telemetry.take_coldstart();
    out.push(KeyValue::new(FAAS_TRIGGER, trigger.as_str()));
    out.push(KeyValue::new(FAAS_INVOCATION_ID, lambda.request_id.clone()));
    out.push(KeyValue::new(FAAS_COLDSTART, coldstart));
    if !lambda.invoked_function_arn.is_empty() {
        let arn = telemetry
            .arns()
            .get(&lambda.invoked_function_arn, &lambda.env_config.version);
        out.push(KeyValue::new(AWS_LAMBDA_INVOKED_ARN, arn.invoked_arn));
        if let Some(account) = arn.account_id {
            out.push(KeyValue::new(CLOUD_ACCOUNT_ID, account));
        }
        if let Some(resource) = arn.resource_id {
            out.push(KeyValue::new(CLOUD_RESOURCE_ID, resource));
        }
    }
    coldstart
}

fn function_name(lambda: &lambda_runtime::Context) -> std::borrow::Cow<'static, str> {
    match lambda.env_config.function_name.as_str() {
        "" => "invocation".into(),
        name => name.to_owned().into(),
    }
}
