//! Invocation-level keep rules on top of head sampling: at a 0 % head sampler, failing,
//! cold-start and slow invocations are exported anyway, with the reason; healthy ones are
//! not. At 100 % everything is.

use std::time::Duration;

use opentelemetry_sdk::trace::SpanData;
use otel_faas_runtime::config::Config;
use otel_faas_runtime::sampling::KEPT_BY;
use otel_faas_runtime::testing::{SpanDataExt, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde_json::{Value, json};

fn kit(vars: &[(&str, &str)]) -> TestKit {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config =
        Config::from_lookup(|key| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
    TestKit::with_config(config).function_name("checkout")
}

const RATIO_ZERO: [(&str, &str); 2] = [
    ("OTEL_TRACES_SAMPLER", "traceidratio"),
    ("OTEL_TRACES_SAMPLER_ARG", "0"),
];

#[traced_function(trigger = "other")]
async fn checkout(event: LambdaEvent<Value>) -> Result<(), Error> {
    let _span = tracing::info_span!("charge card").entered();
    if let Some(ms) = event.payload["sleep_ms"].as_u64() {
        std::thread::sleep(Duration::from_millis(ms));
    }
    match event.payload["fail"].as_bool() {
        Some(true) => Err("card declined".into()),
        _ => Ok(()),
    }
}

fn invocations(spans: &[SpanData]) -> Vec<(bool, Option<String>)> {
    spans
        .iter()
        .filter(|s| s.name == "checkout")
        .map(|s| (s.span_context.is_sampled(), s.attr(KEPT_BY)))
        .collect()
}

#[tokio::test]
async fn at_a_zero_ratio_only_cold_starts_errors_and_slow_invocations_are_kept() {
    let kit = kit(&RATIO_ZERO);
    kit.invoke(checkout, json!({})).await.unwrap();
    let spans = kit.spans();
    assert_eq!(invocations(&spans.0), [(true, Some("coldstart".into()))]);
    assert!(
        spans.named("charge card").span_context.is_sampled(),
        "the whole trace is kept, the handler's own spans too"
    );

    kit.clear();
    kit.invoke(checkout, json!({})).await.unwrap();
    assert!(
        kit.spans().is_empty(),
        "a fast healthy invocation is sampled out"
    );
    assert_eq!(kit.telemetry().sampled_out_spans(), 2);

    kit.invoke(checkout, json!({ "fail": true }))
        .await
        .unwrap_err();
    let spans = kit.spans();
    assert_eq!(invocations(&spans.0), [(true, Some("error".into()))]);
    assert_eq!(spans.len(), 2);
}

#[tokio::test]
async fn the_slow_threshold_is_configurable_and_a_rule_can_be_turned_off() {
    let mut vars = RATIO_ZERO.to_vec();
    vars.push(("OTEL_FAAS_KEEP", "errors,slow"));
    vars.push(("OTEL_FAAS_KEEP_SLOWER_THAN", "30"));
    let kit = kit(&vars);
    kit.invoke(checkout, json!({})).await.unwrap();
    assert!(
        kit.spans().is_empty(),
        "cold starts are not kept when not asked"
    );
    kit.invoke(checkout, json!({ "sleep_ms": 40 }))
        .await
        .unwrap();
    assert_eq!(invocations(&kit.spans().0), [(true, Some("slow".into()))]);
}

#[tokio::test]
async fn with_no_rule_a_dropped_trace_is_not_even_recorded() {
    let mut vars = RATIO_ZERO.to_vec();
    vars.push(("OTEL_FAAS_KEEP", "none"));
    let kit = kit(&vars);
    kit.invoke(checkout, json!({ "fail": true }))
        .await
        .unwrap_err();
    assert!(kit.spans().is_empty());
    assert_eq!(kit.telemetry().sampled_out_spans(), 0);
}

#[tokio::test]
async fn at_a_full_ratio_everything_is_exported_without_a_keep_reason() {
    let kit = kit(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "1"),
    ]);
    kit.invoke(checkout, json!({})).await.unwrap();
    kit.invoke(checkout, json!({})).await.unwrap();
    kit.invoke(checkout, json!({ "fail": true }))
        .await
        .unwrap_err();
    assert_eq!(
        invocations(&kit.spans().0),
        [(true, None), (true, None), (true, None)]
    );
}

/// The handler blocks its thread (`std::thread::sleep`): the deadline watchdog, a task of
/// its own, still records the timeout on a multi-threaded runtime, as Lambda functions run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_invocation_is_kept_under_a_zero_ratio() {
    let kit = kit(&RATIO_ZERO);
    kit.invoke(checkout, json!({})).await.unwrap();
    kit.clear();
    let invocation = otel_faas_runtime::testing::Invocation {
        timeout: Some(Duration::from_millis(250)),
        ..Default::default()
    };
    kit.invoke_with(checkout, json!({ "sleep_ms": 300 }), invocation)
        .await
        .unwrap();
    let spans = kit.spans();
    let invocation = spans.named("checkout");
    assert_eq!(invocation.attr("error.type").as_deref(), Some("timeout"));
    assert_eq!(invocation.attr(KEPT_BY).as_deref(), Some("error"));
}

#[traced_function(trigger = "other")]
async fn staged(event: LambdaEvent<Value>) -> Result<(), Error> {
    for _ in 0..3 {
        let stage = tracing::info_span!("stage");
        let pause = Duration::from_millis(event.payload["stage_ms"].as_u64().unwrap_or(5));
        tracing::Instrument::instrument(tokio::time::sleep(pause), stage).await;
    }
    let tail = Duration::from_millis(event.payload["tail_ms"].as_u64().unwrap_or(0));
    tokio::time::sleep(tail).await;
    match event.payload["fail"].as_bool() {
        Some(true) => Err("stage failed".into()),
        _ => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_decide_their_own_traces() {
    let kit = kit(&[RATIO_ZERO[0], RATIO_ZERO[1], ("OTEL_FAAS_KEEP", "errors")]);
    // The failing invocation's stages end first and it fails last: the others end and
    // flush while its finished stages wait for its own end, which alone decides them.
    let events = (0..8).map(|i| match i {
        3 => json!({ "stage_ms": 1, "tail_ms": 150, "fail": true }),
        i => json!({ "stage_ms": 10 + i }),
    });
    let results =
        futures_util::future::join_all(events.map(|event| kit.invoke(staged, event))).await;
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    let spans = kit.spans();
    assert_eq!(
        spans.names().iter().filter(|n| *n == "stage").count(),
        3,
        "the failing trace whole, and nothing of the others: {:?}",
        spans.names()
    );
    assert_eq!(
        spans.named("checkout").attr(KEPT_BY).as_deref(),
        Some("error")
    );
}
