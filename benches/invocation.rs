//! Per-invocation cost of the glue, side by side in one run: the bare handler, the same
//! handler with hand-written OpenTelemetry code, with `#[traced_function]`, and with
//! `#[traced_function]` while telemetry is off (`OTEL_SDK_DISABLED=true`). otel-faas runs
//! with FaaS metrics off (what the hand-written code does not do either) and, in a row of
//! its own, with them on (recorded, collected and handed to an in-memory exporter at every
//! flush).
//!
//! In process, no network: every contestant gets the same prebuilt event (cloned), runs
//! the same body, and exports to an exporter that discards. otel-faas runs its whole
//! managed invocation: glue, invocation scope, span hand-over, and the end-of-invocation
//! flush.
//!
//! `cargo bench -p otel-faas-benches --bench invocation`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use lambda_runtime::LambdaEvent;
use otel_faas_benches::{
    Discard, HandWritten, bare_http, bare_sqs, http_request, rest_request, sqs_batch, traced_http,
    traced_sqs,
};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::testing::{Invocation, TestKit};

/// A kit whose spans are discarded, with FaaS metrics on or off.
fn kit(function: &str, metrics: bool) -> TestKit {
    let config = Config::from_lookup(|key| {
        (key == "OTEL_METRICS_EXPORTER" && !metrics).then(|| "none".to_owned())
    });
    TestKit::with_exporter(config, function, Discard)
}

/// An invocation whose deadline stays ahead for the whole run, so every iteration watches
/// it and has the full flush budget.
fn far_deadline() -> Invocation {
    Invocation {
        timeout: Some(Duration::from_secs(24 * 3600)),
        ..Invocation::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// Times `iterations` awaits of `invocation` inside one `block_on`, so the executor's entry
/// cost is not part of what is measured.
fn timed<F, Fut>(runtime: &tokio::runtime::Runtime, iterations: u64, mut invocation: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future,
{
    runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(invocation().await);
        }
        start.elapsed()
    })
}

fn sqs(c: &mut Criterion) {
    let runtime = runtime();
    let kit = kit("orders", false);
    let with_metrics = self::kit("orders", true);
    let context = kit.context(far_deadline());
    let event = sqs_batch(10);
    let hand_written = HandWritten::default();
    let mut group = c.benchmark_group("sqs, 10 messages");
    group.bench_function("bare", |b| {
        b.iter_custom(|n| {
            timed(&runtime, n, || {
                bare_sqs(LambdaEvent::new(event.clone(), context.clone()))
            })
        })
    });
    group.bench_function("hand-written", |b| {
        b.iter_custom(|n| {
            timed(&runtime, n, || {
                hand_written.sqs(LambdaEvent::new(event.clone(), context.clone()))
            })
        })
    });
    group.bench_function("otel-faas", |b| {
        b.iter_custom(|n| {
            timed(&runtime, n, || {
                kit.invoke_event(traced_sqs, LambdaEvent::new(event.clone(), context.clone()))
            })
        })
    });
    group.bench_function("otel-faas + FaaS metrics", |b| {
        b.iter_custom(|n| {
            timed(&runtime, n, || {
                with_metrics
                    .invoke_event(traced_sqs, LambdaEvent::new(event.clone(), context.clone()))
            })
        })
    });
    group.bench_function("otel-faas, SDK disabled", |b| {
        b.iter_custom(|n| {
            timed(&runtime, n, || {
                traced_sqs(LambdaEvent::new(event.clone(), context.clone()))
            })
        })
    });
    group.finish();
}

fn http(c: &mut Criterion) {
    let runtime = runtime();
    let kit = kit("pets", false);
    let with_metrics = self::kit("pets", true);
    let context = kit.context(far_deadline());
    let event = rest_request();
    let hand_written = HandWritten::default();
    let mut group = c.benchmark_group("http, REST API GET");
    group.bench_function("bare", |b| {
        b.iter_custom(|n| {
            timed(&runtime, n, || {
                bare_http(http_request(event.clone(), context.clone()))
            })
        })
    });
    group.bench_function("hand-written", |b| {
        b.iter_custom(|n| {
            timed(&runtime, n, || {
                hand_written.http(http_request(event.clone(), context.clone()))
            })
        })
    });
    group.bench_function("otel-faas", |b| {
        b.iter_custom(|n| {
            let payload = || lambda_http::request::LambdaRequest::ApiGatewayV1(event.clone());
            timed(&runtime, n, || {
                kit.invoke_event(traced_http, LambdaEvent::new(payload(), context.clone()))
            })
        })
    });
    group.bench_function("otel-faas + FaaS metrics", |b| {
        b.iter_custom(|n| {
            let payload = || lambda_http::request::LambdaRequest::ApiGatewayV1(event.clone());
            timed(&runtime, n, || {
                with_metrics.invoke_event(traced_http, LambdaEvent::new(payload(), context.clone()))
            })
        })
    });
    group.bench_function("otel-faas, SDK disabled", |b| {
        b.iter_custom(|n| {
            timed(&runtime, n, || {
                traced_http(http_request(event.clone(), context.clone()))
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = sqs, http
}
criterion_main!(benches);
