//! Concurrent host requests to one Azure Functions custom handler, as the Functions host
//! sends them: the real server on 127.0.0.1, one connection per request from the host
//! double, and an exporter that keeps each export as a batch of its own. Each invocation
//! must own its spans: its own buffer, keep-rule decision and flush.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use http::StatusCode;
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use otel_faas_local::azure::{FunctionsHost, HostAnswer, HostInvocation};
use otel_faas_runtime::azure::{AppIdentity, AzureEvent, FunctionApp, QueueMessage, RunningApp};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::outgoing::OutgoingSpan;
use otel_faas_runtime::testing::SpanDataExt;
use otel_faas_runtime::{Error, Telemetry, traced_function};
use serde_json::{Value, json};

/// Keeps each export as one batch.
#[derive(Clone, Debug, Default)]
struct Batches(Arc<Mutex<Vec<Vec<SpanData>>>>);

impl SpanExporter for Batches {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().push(batch);
        Ok(())
    }
}

impl Batches {
    fn all(&self) -> Vec<Vec<SpanData>> {
        self.0.lock().unwrap().clone()
    }
}

/// `{"steps": n, "step_ms": m, "fail": "…", "panic": true}`: n outgoing calls of m ms
/// each, yielding between them so concurrent invocations interleave, then the outcome.
#[traced_function(trigger = "queue")]
async fn work(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    let order = &event.payload.body;
    let step = Duration::from_millis(order["step_ms"].as_u64().unwrap_or(5));
    for i in 0..order["steps"].as_u64().unwrap_or(0) {
        let call = OutgoingSpan::http(
            &http::Method::GET,
            &format!("http://inventory.internal/items/{i}"),
        );
        tokio::time::sleep(step).await;
        call.end();
    }
    if order["panic"] == true {
        panic!("the worker panicked on purpose");
    }
    match order["fail"].as_str() {
        Some(reason) => Err(reason.to_owned().into()),
        None => Ok(()),
    }
}

/// A queue message holding `order`, as the host sends it.
fn message(order: &Value) -> HostInvocation {
    HostInvocation::new("Work")
        .data("work", json!(order.to_string()))
        .metadata("DequeueCount", json!(1))
        .metadata("Id", json!("0c5fb2a6-3f7d-4c4e-9a55-1f2a3b4c5d6e"))
}

async fn start(env: &[(&str, &str)]) -> (RunningApp, FunctionsHost, Batches) {
    start_in(Path::new("."), env).await
}

/// The app of `Work` in the app root `root` (its `host.json` read there).
async fn start_in(root: &Path, env: &[(&str, &str)]) -> (RunningApp, FunctionsHost, Batches) {
    let batches = Batches::default();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config =
        Config::from_lookup(|key| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
    let identity = AppIdentity {
        app_name: Some("orders-app".into()),
        ..AppIdentity::default()
    };
    let telemetry = Telemetry::builder()
        .with_resource(identity.resource(&config))
        .config(config)
        .with_exporter(batches.clone())
        .build();
    let running = FunctionApp::new()
        .root(root)
        .identity(identity)
        .function("Work", work)
        .telemetry(telemetry)
        .start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the custom handler starts");
    let host = FunctionsHost::new(running.addr());
    (running, host, batches)
}

/// Posts every order at once, invocation `inv-{i}` for the `i`th.
async fn all_at_once(host: &FunctionsHost, orders: &[Value]) -> Vec<HostAnswer> {
    let requests = orders.iter().enumerate().map(|(i, order)| async move {
        host.invoke(&format!("inv-{i}"), &message(order))
            .await
            .expect("the custom handler answers")
    });
    tokio::time::timeout(Duration::from_secs(30), join_all(requests))
        .await
        .expect("every request is answered")
}

/// The batch that carried invocation `id`'s invocation span.
fn batch_of<'a>(batches: &'a [Vec<SpanData>], id: &str) -> &'a [SpanData] {
    batches
        .iter()
        .find(|batch| {
            batch
                .iter()
                .any(|s| s.attr("faas.invocation_id").as_deref() == Some(id))
        })
        .unwrap_or_else(|| panic!("no export carried {id}"))
}

/// Asserts `batch` is exactly invocation `id`'s trace: its invocation span, its queue span
/// and `steps` outgoing calls, all in one trace.
fn assert_alone_and_complete(batch: &[SpanData], id: &str, steps: usize) {
    let kinds: Vec<SpanKind> = batch.iter().map(|s| s.span_kind.clone()).collect();
    let count = |kind: SpanKind| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(count(SpanKind::Server), 1, "{id}: {kinds:?}");
    assert_eq!(count(SpanKind::Consumer), 1, "{id}: {kinds:?}");
    assert_eq!(count(SpanKind::Client), steps, "{id}: {kinds:?}");
    let traces: HashSet<_> = batch.iter().map(|s| s.span_context.trace_id()).collect();
    assert_eq!(traces.len(), 1, "{id}'s export holds one trace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_host_requests_each_export_their_own_complete_trace() {
    let (running, host, batches) = start(&[]).await;
    let orders: Vec<Value> = (0..16)
        .map(|i| json!({ "steps": 4, "step_ms": 5 + (i % 4) * 5 }))
        .collect();
    let answers = all_at_once(&host, &orders).await;
    assert!(answers.iter().all(|a| a.status == StatusCode::OK));
    let batches = batches.all();
    assert_eq!(batches.len(), 16, "one export per invocation");
    for i in 0..16 {
        let id = format!("inv-{i}");
        assert_alone_and_complete(batch_of(&batches, &id), &id, 4);
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_a_zero_head_ratio_only_the_failing_requests_whole_trace_is_kept() {
    let (running, host, batches) = start(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0"),
        ("OTEL_FAAS_KEEP", "errors"),
    ])
    .await;
    let mut orders: Vec<Value> = (0..7)
        .map(|i| json!({ "steps": 3, "step_ms": 5 + i * 5 }))
        .collect();
    orders.insert(3, json!({ "steps": 3, "step_ms": 60, "fail": "boom" }));
    let answers = all_at_once(&host, &orders).await;
    assert_eq!(answers[3].status, StatusCode::INTERNAL_SERVER_ERROR);
    let exported: Vec<SpanData> = batches.all().into_iter().flatten().collect();
    assert_alone_and_complete(&exported, "inv-3", 3);
    let server = exported
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .unwrap();
    assert_eq!(
        server.attr("otel_faas.sampling.kept_by").as_deref(),
        Some("error")
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_request_leaves_the_requests_beside_it_unaffected() {
    let (running, host, batches) = start(&[]).await;
    let mut orders: Vec<Value> = (0..5)
        .map(|i| json!({ "steps": 3, "step_ms": 20 + i * 20 }))
        .collect();
    orders.insert(2, json!({ "steps": 2, "panic": true }));
    let answers = all_at_once(&host, &orders).await;
    let batches = batches.all();
    for (i, answer) in answers.iter().enumerate() {
        let id = format!("inv-{i}");
        let batch = batch_of(&batches, &id);
        if i == 2 {
            assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_alone_and_complete(batch, &id, 2);
            let server = batch.iter().find(|s| s.span_kind == SpanKind::Server);
            assert_eq!(server.unwrap().attr("error.type").as_deref(), Some("panic"));
        } else {
            assert_eq!(answer.status, StatusCode::OK, "{id}: {}", answer.text());
            assert_alone_and_complete(batch, &id, 3);
            assert!(batch.iter().all(|s| s.attr("error.type").is_none()), "{id}");
        }
    }
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_host_gives_up_on_still_ends_and_exports_beside_the_others() {
    let (running, host, batches) = start(&[]).await;
    let host = &host;
    let slow_order = message(&json!({ "steps": 2, "step_ms": 200 }));
    // The host's `functionTimeout` passes before the slow invocation ends: it hangs up.
    let slow = tokio::time::timeout(
        Duration::from_millis(150),
        host.invoke("inv-slow", &slow_order),
    );
    let healthy = join_all((0..4).map(|i| {
        let order = json!({ "steps": 3, "step_ms": 10 + i * 10 });
        async move {
            host.invoke(&format!("inv-{i}"), &message(&order))
                .await
                .expect("the custom handler answers")
        }
    }));
    let (slow, healthy) = tokio::join!(slow, healthy);
    assert!(slow.is_err(), "the host gave up first");
    for (i, answer) in healthy.iter().enumerate() {
        let id = format!("inv-{i}");
        assert_eq!(answer.status, StatusCode::OK, "{id}: {}", answer.text());
        assert_alone_and_complete(batch_of(&batches.all(), &id), &id, 3);
    }
    // The abandoned invocation ran to its end and exported its own trace.
    let waited = std::time::Instant::now();
    while !batches
        .all()
        .iter()
        .flatten()
        .any(|s| s.attr("faas.invocation_id").as_deref() == Some("inv-slow"))
        && waited.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_alone_and_complete(batch_of(&batches.all(), "inv-slow"), "inv-slow", 2);
    running.shutdown().await;
}

/// The fixture app root: `host.json` sets a one-second `functionTimeout`.
const FIXTURE_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixture/azure");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_requests_mixing_successes_failures_and_a_timeout_keep_their_own_spans()
{
    let (running, host, batches) = start_in(Path::new(FIXTURE_ROOT), &[]).await;
    // The host gives up at `functionTimeout`, as it does before it kills the worker.
    let host = host.with_function_timeout(Some(Duration::from_secs(1)));
    let host = &host;
    // 0..=9 succeed, 10..=14 fail, 15 outlives the timeout.
    let orders: Vec<Value> = (0..16)
        .map(|i| match i {
            0..=9 => json!({ "steps": 3, "step_ms": 5 + i * 3 }),
            10..=14 => json!({ "steps": 2, "step_ms": 10, "fail": format!("order {i} refused") }),
            _ => json!({ "steps": 1, "step_ms": 3000 }),
        })
        .collect();
    let requests = orders
        .iter()
        .enumerate()
        .map(|(i, order)| async move { host.invoke(&format!("inv-{i}"), &message(order)).await });
    let answers = tokio::time::timeout(Duration::from_secs(30), join_all(requests))
        .await
        .expect("every request ends");
    for (i, answer) in answers.iter().enumerate() {
        match (i, answer) {
            (0..=9, Ok(answer)) => assert_eq!(answer.status, StatusCode::OK, "inv-{i}"),
            (10..=14, Ok(answer)) => assert_eq!(
                answer.host_failure().as_deref(),
                Some(&*format!(
                    "Response status code does not indicate success: 500 (function `Work` failed: order {i} refused)."
                )),
            ),
            (15, Err(error)) => assert_eq!(error.kind(), std::io::ErrorKind::TimedOut),
            (i, other) => panic!("inv-{i}: {other:?}"),
        }
    }
    // The timed-out invocation was ended and exported by the watchdog, before the timeout.
    let waited = std::time::Instant::now();
    while !batches
        .all()
        .iter()
        .flatten()
        .any(|s| s.attr("faas.invocation_id").as_deref() == Some("inv-15"))
        && waited.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let batches = batches.all();
    for i in 0..16 {
        let id = format!("inv-{i}");
        let batch = batch_of(&batches, &id);
        let steps = match i {
            0..=9 => 3,
            10..=14 => 2,
            _ => 0,
        };
        assert_alone_and_complete(batch, &id, steps);
        let server = batch
            .iter()
            .find(|s| s.span_kind == SpanKind::Server)
            .unwrap();
        let error = server.attr("error.type");
        match i {
            0..=9 => assert_eq!(error, None, "{id}"),
            10..=14 => assert_eq!(error.as_deref(), Some("_OTHER"), "{id}"),
            _ => assert_eq!(error.as_deref(), Some("timeout"), "{id}"),
        }
    }
    running.shutdown().await;
}
