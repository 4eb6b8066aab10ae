//! FaaS metrics from the same flush as the spans: invocations, errors, timeouts, cold
//! starts and durations, each with `faas.trigger`, in delta temporality.

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use otel_faas_runtime::metrics::{MetricPoint, PointValue};
use otel_faas_runtime::testing::{Invocation, TestKit};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde_json::{Value, json};

#[traced_function(trigger = "other")]
async fn work(event: LambdaEvent<Value>) -> Result<(), Error> {
    if let Some(ms) = event.payload["sleep_ms"].as_u64() {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match event.payload["fail"].as_bool() {
        Some(true) => Err("failed on purpose".into()),
        _ => Ok(()),
    }
}

fn sum(points: &[MetricPoint], name: &str) -> f64 {
    points
        .iter()
        .filter(|p| p.name == name)
        .map(|p| match p.value {
            PointValue::Sum(v) => v,
            PointValue::Histogram { count, .. } => count as f64,
        })
        .sum()
}

#[tokio::test]
async fn each_successful_invocation_counts_once_with_its_trigger() {
    let kit = TestKit::new();
    kit.invoke(work, json!({})).await.unwrap();
    let first = kit.metrics();
    assert_eq!(sum(&first, "faas.invocations"), 1.0);
    assert_eq!(sum(&first, "faas.coldstarts"), 1.0);
    assert_eq!(sum(&first, "faas.errors"), 0.0);
    assert_eq!(
        sum(&first, "faas.invoke_duration"),
        1.0,
        "one duration recorded"
    );
    for point in &first {
        assert_eq!(point.attr("faas.trigger"), Some("other"), "{point:?}");
    }

    kit.clear();
    kit.invoke(work, json!({ "fail": true })).await.unwrap_err();
    kit.invoke(work, json!({})).await.unwrap();
    let later = kit.metrics();
    assert_eq!(
        sum(&later, "faas.invocations"),
        1.0,
        "\"Number of successful invocations\" (faas/metrics.yaml): the failed one is an error"
    );
    assert_eq!(sum(&later, "faas.errors"), 1.0);
    assert_eq!(
        sum(&later, "faas.invoke_duration"),
        2.0,
        "one duration per invocation, failed or not"
    );
    assert_eq!(sum(&later, "faas.coldstarts"), 0.0);
}

#[tokio::test]
async fn durations_are_seconds() {
    let kit = TestKit::new();
    kit.invoke(work, json!({ "sleep_ms": 30 })).await.unwrap();
    let duration = kit
        .metrics()
        .into_iter()
        .find(|p| p.name == "faas.invoke_duration")
        .expect("a duration");
    let PointValue::Histogram { count, sum } = duration.value else {
        panic!("{duration:?}");
    };
    assert_eq!(count, 1);
    assert!((0.03..1.0).contains(&sum), "{sum} s");
}

#[traced_function(trigger = "sqs")]
async fn overruns(_event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

#[tokio::test]
async fn a_timeout_counts_as_a_timeout_and_an_error() {
    let kit = TestKit::new();
    let invocation = Invocation {
        timeout: Some(Duration::from_millis(200)),
        ..Invocation::default()
    };
    kit.invoke_with(overruns, json!({ "Records": [] }), invocation)
        .await
        .unwrap();
    let points = kit.metrics();
    assert_eq!(sum(&points, "faas.timeouts"), 1.0, "{points:?}");
    assert_eq!(
        sum(&points, "faas.errors"),
        1.0,
        "counted once, at the timeout"
    );
    assert_eq!(
        sum(&points, "faas.invocations"),
        0.0,
        "a timeout is not a successful invocation"
    );
    assert!(
        points
            .iter()
            .all(|p| p.attr("faas.trigger") == Some("pubsub"))
    );
}

#[tokio::test]
async fn an_event_that_does_not_deserialize_is_an_error_with_a_duration() {
    let kit = TestKit::new();
    kit.invoke_raw(overruns, b"{\"Records\": 5}", Invocation::default())
        .await
        .unwrap_err();
    let points = kit.metrics();
    assert_eq!(sum(&points, "faas.invocations"), 0.0);
    assert_eq!(sum(&points, "faas.errors"), 1.0);
    assert_eq!(
        sum(&points, "faas.invoke_duration"),
        1.0,
        "one value per invocation: the time taken to reject it"
    );
}

#[tokio::test]
async fn metrics_can_be_turned_off() {
    let config = otel_faas_runtime::config::Config::from_lookup(|key| {
        (key == "OTEL_METRICS_EXPORTER").then(|| "none".to_owned())
    });
    let kit = TestKit::with_config(config);
    kit.invoke(work, json!({})).await.unwrap();
    assert!(kit.metrics().is_empty());
    assert!(!kit.telemetry().metrics_enabled());
}
