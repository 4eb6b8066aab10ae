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
//! Beside them, the peers (`otel_faas_benches::peers`): `lambda_runtime`'s own
//! `OpenTelemetryLayer` (driven through the tower stack it layers, in process) and
//! lambda-otel-lite's `create_traced_handler` in sync mode, each with its documented flush
//! after every invocation.
//!
//! A third group scales the SQS batch from 1 to 10,000 messages and reports the cost per
//! message of the bare, hand-written and otel-faas contestants.
//!
//! `cargo bench -p otel-faas-benches --bench invocation`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lambda_otel_lite::create_traced_handler;
use lambda_runtime::layers::OpenTelemetryFaasTrigger;
use lambda_runtime::tower::{Layer as _, Service as _, service_fn};
use lambda_runtime::{LambdaEvent, LambdaInvocation};
use otel_faas_benches::peers::lambda_layer::{self, LayerTelemetry};
use otel_faas_benches::peers::lite::{self, Discard032, LiteTelemetry, SqsBatch};
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
    let layer = LayerTelemetry::new(Discard);
    let mut service = layer
        .layer(OpenTelemetryFaasTrigger::PubSub)
        .layer(service_fn(|invocation: LambdaInvocation| {
            lambda_layer::sqs(LambdaEvent::new(event.clone(), invocation.context))
        }));
    group.bench_function("lambda_runtime OpenTelemetryLayer", |b| {
        b.iter_custom(|n| {
            let _subscriber = tracing::dispatcher::set_default(&layer.dispatch);
            timed(&runtime, n, || {
                service.call(lambda_layer::invocation(context.clone()))
            })
        })
    });
    let otel_lite = LiteTelemetry::new(Discard032);
    let handler = create_traced_handler("orders", otel_lite.completion.clone(), lite::sqs);
    group.bench_function("lambda-otel-lite", |b| {
        b.iter_custom(|n| {
            let _subscriber = tracing::dispatcher::set_default(&otel_lite.dispatch);
            timed(&runtime, n, || {
                handler(LambdaEvent::new(SqsBatch(event.clone()), context.clone()))
            })
        })
    });
    group.finish();
}

/// The same SQS handler on batches of 1 to 10,000 messages, throughput per message.
/// otel-faas keeps at most 128 links on the batch span (the SDK's default link limit, which
/// bounds the hand-written span too) and at most 100 failed message ids.
fn sqs_scaling(c: &mut Criterion) {
    let runtime = runtime();
    let kit = kit("orders", false);
    let context = kit.context(far_deadline());
    let hand_written = HandWritten::default();
    let mut group = c.benchmark_group("sqs batch scaling");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    for size in [1usize, 10, 100, 1_000, 10_000] {
        let event = sqs_batch(size);
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("bare", size), &event, |b, event| {
            b.iter_custom(|n| {
                timed(&runtime, n, || {
                    bare_sqs(LambdaEvent::new(event.clone(), context.clone()))
                })
            })
        });
        group.bench_with_input(
            BenchmarkId::new("hand-written", size),
            &event,
            |b, event| {
                b.iter_custom(|n| {
                    timed(&runtime, n, || {
                        hand_written.sqs(LambdaEvent::new(event.clone(), context.clone()))
                    })
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("otel-faas", size), &event, |b, event| {
            b.iter_custom(|n| {
                timed(&runtime, n, || {
                    kit.invoke_event(traced_sqs, LambdaEvent::new(event.clone(), context.clone()))
                })
            })
        });
    }
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
    let layer = LayerTelemetry::new(Discard);
    let mut service = layer
        .layer(OpenTelemetryFaasTrigger::Http)
        .layer(service_fn(|invocation: LambdaInvocation| {
            let request = http_request(event.clone(), invocation.context);
            async move { lambda_layer::http(request).await.map(drop) }
        }));
    group.bench_function("lambda_runtime OpenTelemetryLayer", |b| {
        b.iter_custom(|n| {
            let _subscriber = tracing::dispatcher::set_default(&layer.dispatch);
            timed(&runtime, n, || {
                service.call(lambda_layer::invocation(context.clone()))
            })
        })
    });
    let otel_lite = LiteTelemetry::new(Discard032);
    let handler = create_traced_handler("pets", otel_lite.completion.clone(), lite::http);
    group.bench_function("lambda-otel-lite", |b| {
        b.iter_custom(|n| {
            let _subscriber = tracing::dispatcher::set_default(&otel_lite.dispatch);
            timed(&runtime, n, || {
                handler(LambdaEvent::new(event.clone(), context.clone()))
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = sqs, http, sqs_scaling
}
criterion_main!(benches);
