//! The life of one invocation: its spans, the handler's outcome, and the hand-over from the
//! glue in the handler to the runtime that ends the invocation and flushes.
//!
//! The glue (what `#[traced_function]` expands to) calls [`instrument`]: it opens the
//! invocation span and the trigger's span, runs the handler body with them as the current
//! context (so the handler's own `tracing` spans nest under them), and records how the body
//! ended — value, error or panic. Inside a managed invocation (run by [`crate::lambda::run`]
//! or the test kit) it then hands the still-open invocation span to the runtime, which
//! records what only it sees (the HTTP response), ends it and exports the invocation's spans
//! before the response is posted. Called directly, as in a plain unit test, the glue ends
//! its spans itself.

use std::future::Future;
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::FutureExt as _;
use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_semantic_conventions::attribute::{
    AWS_LAMBDA_INVOKED_ARN, CLOUD_ACCOUNT_ID, CLOUD_RESOURCE_ID, FAAS_COLDSTART,
    FAAS_INVOCATION_ID, FAAS_TRIGGER,
};

use crate::metrics::InvocationFacts;
use crate::outcome::{Failure, ReadOutcome};
use crate::propagation::NO_CARRIER;
use crate::telemetry::Telemetry;
use crate::trigger::{FaasTrigger, InvocationContext, InvocationSpan, Spec, Trigger};

tokio::task_local! {
    static SCOPE: Arc<InvocationScope>;
}

/// What the runtime and the glue share during one managed invocation.
#[derive(Debug)]
pub(crate) struct InvocationScope {
    telemetry: Telemetry,
    /// Set once the handler was called (a malformed event never reaches it).
    handler_called: AtomicBool,
    /// The invocation span, handed over by the glue for the runtime to end.
    span: Mutex<Option<Context>>,
    /// The invocation's spans the glue opened and has not ended yet (the trigger's span,
    /// then the invocation span), for the runtime to end if the deadline comes first.
    open: Mutex<Vec<Context>>,
    /// What the glue learnt about the invocation, for the metrics.
    facts: Mutex<Option<InvocationFacts>>,
    /// Whether the flush is left to the extension, after the response.
    flush_deferred: AtomicBool,
    /// The invocation's request id, for log lines.
    request_id: Mutex<Option<String>>,
    /// [`RUNNING`], then [`FINISHED`] or [`TIMED_OUT`], whichever comes first.
    end: AtomicU8,
}

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const TIMED_OUT: u8 = 2;

impl InvocationScope {
    pub(crate) fn new(telemetry: Telemetry) -> Arc<Self> {
        Arc::new(InvocationScope {
            telemetry,
            handler_called: AtomicBool::new(false),
            span: Mutex::new(None),
            open: Mutex::new(Vec::new()),
            facts: Mutex::new(None),
            flush_deferred: AtomicBool::new(false),
            request_id: Mutex::new(None),
            end: AtomicU8::new(RUNNING),
        })
    }

    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    pub(crate) fn set_request_id(&self, request_id: &str) {
        *self.request_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(request_id.to_owned());
    }

    /// The invocation's request id, once known.
    pub(crate) fn request_id(&self) -> Option<String> {
        self.request_id
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Marks the handler finished; `false` when the timeout was recorded first.
    pub(crate) fn claim_finish(&self) -> bool {
        self.claim(FINISHED)
    }

    /// Marks the invocation timed out; `false` when the handler finished first.
    pub(crate) fn claim_timeout(&self) -> bool {
        self.claim(TIMED_OUT)
    }

    fn claim(&self, end: u8) -> bool {
        self.end
            .compare_exchange(RUNNING, end, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn defer_flush(&self) {
        self.flush_deferred.store(true, Ordering::Relaxed);
    }

    /// Whether the invocation's flush happens after its response, elsewhere.
    pub(crate) fn flush_deferred(&self) -> bool {
        self.flush_deferred.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_handler_called(&self) {
        self.handler_called.store(true, Ordering::Relaxed);
    }

    pub(crate) fn handler_called(&self) -> bool {
        self.handler_called.load(Ordering::Relaxed)
    }

    fn hand_over(&self, span: Context) {
        *self.span.lock().unwrap_or_else(|p| p.into_inner()) = Some(span);
    }

    /// The invocation span the glue handed over, if the handler was annotated.
    pub(crate) fn take_span(&self) -> Option<Context> {
        self.span.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn set_facts(&self, facts: InvocationFacts) {
        *self.facts.lock().unwrap_or_else(|p| p.into_inner()) = Some(facts);
    }

    fn mark_failed(&self) {
        if let Some(facts) = &mut *self.facts.lock().unwrap_or_else(|p| p.into_inner()) {
            facts.failed = true;
        }
    }

    /// What the glue learnt about the invocation, if the handler was annotated.
    pub(crate) fn take_facts(&self) -> Option<InvocationFacts> {
        self.facts.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn set_open(&self, spans: Vec<Context>) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = spans;
    }

    /// Ends the invocation's spans that are still open, innermost first, recording
    /// `failure` on them: what the runtime does when the deadline comes before the handler
    /// ends. The glue's later attempts to end them are no-ops.
    pub(crate) fn end_open_spans(&self, failure: &Failure) {
        let open = std::mem::take(&mut *self.open.lock().unwrap_or_else(|p| p.into_inner()));
        let limit = self.telemetry.value_limit();
        for (i, cx) in open.iter().enumerate() {
            let span = cx.span();
            failure.record(&span, i == 0, limit);
            span.end();
        }
    }

    /// Runs `future` as this invocation.
    pub(crate) async fn run<F: Future>(self: Arc<Self>, future: F) -> F::Output {
        SCOPE.scope(self, future).await
    }
}

/// The managed invocation in progress on this task, if any.
pub(crate) fn current_scope() -> Option<Arc<InvocationScope>> {
    SCOPE.try_with(Arc::clone).ok()
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
    let scope = current_scope();
    let telemetry = match &scope {
        Some(scope) => scope.telemetry.clone(),
        None => match Telemetry::global() {
            Some(telemetry) => telemetry.clone(),
            None => return Box::pin(body(input)).await,
        },
    };
    let spans = open::<T>(spec, &input, &telemetry);
    if let (Some(scope), Some(invocation)) = (&scope, &spans.invocation) {
        let open = spans.trigger.iter().chain([invocation]).cloned().collect();
        scope.set_open(open);
        scope.set_facts(InvocationFacts::started(T::FAAS_TRIGGER, spans.coldstart));
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
            }
        }
        Err(panic) => spans.record(&Failure::from_panic(panic.as_ref()), limit),
    }
    if let Some(trigger) = &spans.trigger {
        trigger.span().end();
    }
    if let Some(invocation) = spans.invocation {
        match &scope {
            Some(scope) => {
                scope.set_open(Vec::new());
                if failed {
                    scope.mark_failed();
                }
                scope.hand_over(invocation);
            }
            None => invocation.span().end(),
        }
    }
    match result {
        Ok(output) => output,
        Err(panic) => resume_unwind(panic),
    }
}

fn open<T: Trigger>(spec: &Spec, input: &T::Input, telemetry: &Telemetry) -> OpenSpans {
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
            (None, None, InvocationContext::Azure(azure)) => {
                azure.function_name().to_owned().into()
            }
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
