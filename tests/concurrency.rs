//! Concurrent invocations in one process, as Lambda Managed Instances run them: the fixture
//! function served by `otel_faas_runtime::lambda::run` through `lambda_runtime`'s concurrent
//! loop (`AWS_LAMBDA_MAX_CONCURRENCY` set, as the platform sets it), against the Runtime API
//! emulator handing out invocations to concurrent long-polls. Each invocation must own its
//! spans: its own buffer, keep-rule decision, deadline entry and flush.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use otel_faas_local::collector::{AttributeValue, MetricValue, ReceivedSpan};
use otel_faas_local::emulator::{FunctionConfig, Invocation, InvocationOutcome, InvocationResult};
use serde_json::{Value, json};

mod platform;

use platform::{ARRIVAL, FUNCTION, Platform, string};

async fn start(concurrency: u32, env: &[(&str, &str)]) -> Platform {
    let config = FunctionConfig::new(FUNCTION).with_max_concurrency(concurrency);
    let platform = Platform::start_with("other", env, config, None).await;
    // The process is up and polling before anything is timed or counted.
    platform.invoke(json!({ "warm": true })).await;
    platform.collector.clear();
    platform
}

/// Invokes every payload at once and returns the outcomes in the same order.
async fn all_at_once(platform: &Platform, payloads: &[Value]) -> Vec<InvocationOutcome> {
    let invocations = payloads
        .iter()
        .map(|payload| platform.api.invoke(Invocation::json(payload)));
    tokio::time::timeout(Duration::from_secs(30), join_all(invocations))
        .await
        .expect("every invocation is answered")
}

/// The invocation span of `request_id` among `spans`.
fn server_of<'a>(spans: &'a [ReceivedSpan], request_id: &str) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|s| s.view.attribute("faas.invocation_id") == Some(request_id))
        .unwrap_or_else(|| panic!("no invocation span for {request_id}"))
}

/// Asserts `trace` is the whole trace of one invocation: one invocation span, `steps` step
/// spans, every span a descendant of the invocation span.
fn assert_complete(trace: &[ReceivedSpan], request_id: &str, steps: usize) {
    let server = server_of(trace, request_id);
    let servers = trace.iter().filter(|s| s.view.kind == "SERVER").count();
    assert_eq!(servers, 1, "one invocation span in {request_id}'s trace");
    let names: Vec<&str> = trace.iter().map(|s| s.view.name.as_str()).collect();
    let found = names.iter().filter(|n| **n == "step").count();
    assert_eq!(found, steps, "{request_id}'s steps: {names:?}");
    let ids: HashMap<&str, &ReceivedSpan> =
        trace.iter().map(|s| (s.view.span_id.as_str(), s)).collect();
    for span in trace {
        let mut at = span;
        while at.view.span_id != server.view.span_id {
            at = ids.get(at.view.parent_span_id.as_str()).unwrap_or_else(|| {
                panic!(
                    "{} of {request_id} has no parent in its trace",
                    span.view.name
                )
            });
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_interleaved_invocations_each_export_their_own_complete_trace() {
    let platform = start(16, &[]).await;
    let payloads: Vec<Value> = (0..16)
        .map(|i| json!({ "steps": 4, "step_ms": 5 + (i % 4) * 5 }))
        .collect();
    let outcomes = all_at_once(&platform, &payloads).await;

    let mut exports_seen = HashSet::new();
    for outcome in &outcomes {
        assert!(outcome.is_success(), "{:?}", outcome.result);
        let trace = platform.trace_of(&outcome.request_id).await;
        assert_complete(&trace, &outcome.request_id, 4);
        // The invocation's spans left in one export of its own: no other invocation's
        // span rode with them, and no other export carried one of theirs.
        let exports: HashSet<u64> = trace.iter().map(|s| s.export).collect();
        assert_eq!(exports.len(), 1, "{}: {exports:?}", outcome.request_id);
        let export = *exports.iter().next().unwrap();
        let trace_id = &trace[0].view.trace_id;
        let strangers = platform
            .collector
            .spans()
            .into_iter()
            .filter(|s| s.export == export && &s.view.trace_id != trace_id)
            .count();
        assert_eq!(strangers, 0, "export {export} mixed invocations");
        assert!(
            exports_seen.insert(export),
            "two invocations shared export {export}"
        );
    }
    // The FaaS metrics count every invocation once, whichever flush carried its points.
    assert_eq!(
        metric_total(&platform, "faas.invocations", 16.0).await,
        16.0
    );
    assert_eq!(
        metric_total(&platform, "faas.invoke_duration", 16.0).await,
        16.0
    );
}

/// The total of metric `name` over the points received (a histogram's count), once it
/// reached `expected` or [`ARRIVAL`] passed.
async fn metric_total(platform: &Platform, name: &str, expected: f64) -> f64 {
    let total = || -> f64 {
        platform
            .collector
            .metrics()
            .iter()
            .filter(|m| m.name == name)
            .map(|m| match m.value {
                MetricValue::Sum { value, .. } => value,
                MetricValue::Histogram { count, .. } => count as f64,
                MetricValue::Gauge(value) => value,
            })
            .sum()
    };
    let waited = Instant::now();
    while total() < expected && waited.elapsed() < ARRIVAL {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    total()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_zero_head_ratio_only_the_failing_invocations_whole_trace_is_kept() {
    let platform = start(
        8,
        &[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0"),
            ("OTEL_FAAS_KEEP", "errors"),
        ],
    )
    .await;
    // The failing invocation's steps are slow: healthy invocations flush while its finished
    // steps wait, undecided, for its own end.
    let mut payloads: Vec<Value> = (0..7)
        .map(|i| json!({ "steps": 3, "step_ms": 5 + i * 5 }))
        .collect();
    payloads.insert(3, json!({ "steps": 3, "step_ms": 60, "fail": "boom" }));
    let outcomes = all_at_once(&platform, &payloads).await;
    let failing = &outcomes[3];
    assert!(!failing.is_success());

    let trace = platform.trace_of(&failing.request_id).await;
    assert_complete(&trace, &failing.request_id, 3);
    let server = server_of(&trace, &failing.request_id);
    assert_eq!(
        server.attribute("otel_faas.sampling.kept_by"),
        string("error").as_ref()
    );
    // Nothing of the healthy invocations was kept, even after they all flushed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let kept: HashSet<String> = platform
        .collector
        .spans()
        .into_iter()
        .map(|s| s.view.trace_id)
        .collect();
    assert_eq!(
        kept.len(),
        1,
        "only the failing trace is exported: {kept:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_and_a_panic_leave_the_invocations_beside_them_unaffected() {
    let platform = start(4, &[]).await;
    let slow = platform.api.invoke(
        Invocation::json(&json!({ "sleep_ms": 5000 })).with_timeout(Duration::from_millis(800)),
    );
    let panicking = platform
        .api
        .invoke(Invocation::json(&json!({ "steps": 2, "panic": true })));
    let healthy = join_all((0..4).map(|i| {
        platform.api.invoke(Invocation::json(
            &json!({ "steps": 3, "step_ms": 50 + i * 100 }),
        ))
    }));
    let (slow, panicking, healthy) = tokio::join!(slow, panicking, healthy);

    assert!(
        matches!(slow.result, InvocationResult::TimedOut),
        "{:?}",
        slow.result
    );
    let timed_out = platform.trace_of(&slow.request_id).await;
    assert_eq!(
        server_of(&timed_out, &slow.request_id).attribute("error.type"),
        string("timeout").as_ref()
    );
    assert!(!panicking.is_success());
    let panicked = platform.trace_of(&panicking.request_id).await;
    assert_eq!(
        server_of(&panicked, &panicking.request_id).attribute("error.type"),
        string("panic").as_ref()
    );
    for outcome in &healthy {
        assert!(outcome.is_success(), "{:?}", outcome.result);
        let trace = platform.trace_of(&outcome.request_id).await;
        assert_complete(&trace, &outcome.request_id, 3);
        assert!(
            trace.iter().all(|s| s.attribute("error.type").is_none()),
            "{}: {:?}",
            outcome.request_id,
            trace
                .iter()
                .map(|s| (&s.view.name, s.attribute("error.type")))
                .collect::<Vec<_>>()
        );
    }
    // And the function goes on serving.
    let after = platform.invoke(json!({ "steps": 1 })).await;
    assert!(after.is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_half_second_invocations_at_concurrency_four_run_side_by_side() {
    let platform = start(4, &[]).await;
    let started = Instant::now();
    let outcomes = all_at_once(&platform, &vec![json!({ "sleep_ms": 500 }); 4]).await;
    let took = started.elapsed();
    assert!(outcomes.iter().all(InvocationOutcome::is_success));
    // One at a time they take 2 s at least; side by side, half of one.
    assert!(
        took < Duration::from_millis(1000),
        "four invocations took {took:?}"
    );
    for outcome in &outcomes {
        let trace = platform.trace_of(&outcome.request_id).await;
        let server = server_of(&trace, &outcome.request_id);
        assert_eq!(
            server.attribute("faas.coldstart"),
            Some(&AttributeValue::Bool(false))
        );
    }
}
