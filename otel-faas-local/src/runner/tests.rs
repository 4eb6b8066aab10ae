use super::*;
use crate::collector::AttributeValue;

fn point(name: &str, unit: &str, trigger: &str, value: MetricValue) -> ReceivedMetric {
    ReceivedMetric {
        name: name.to_owned(),
        unit: unit.to_owned(),
        attributes: vec![(
            "faas.trigger".to_owned(),
            AttributeValue::String(trigger.to_owned()),
        )],
        value,
        resource: Vec::new(),
        scope: "otel-faas".to_owned(),
    }
}

fn count(value: f64) -> MetricValue {
    MetricValue::Sum {
        value,
        monotonic: true,
        delta: true,
    }
}

fn seconds(count: u64, sum: f64) -> MetricValue {
    MetricValue::Histogram {
        count,
        sum,
        delta: true,
    }
}

#[test]
fn faas_points_make_one_line_in_a_fixed_order() {
    // In the order the SDK happens to export them.
    let points = [
        point("faas.init_duration", "s", "pubsub", seconds(1, 0.0123)),
        point("faas.invoke_duration", "s", "pubsub", seconds(1, 0.000_812)),
        point("faas.coldstarts", "{coldstart}", "pubsub", count(1.0)),
        point("faas.invocations", "{invocation}", "pubsub", count(1.0)),
    ];
    assert_eq!(
        metrics_lines(&points),
        [
            "metrics  faas.invocations=1  faas.coldstarts=1  faas.invoke_duration=1×812 µs  \
          faas.init_duration=1×12.30 ms  (faas.trigger=pubsub)"
        ]
    );
}

#[test]
fn repeated_points_add_up_and_histograms_show_their_mean() {
    let points = [
        point("faas.invocations", "{invocation}", "http", count(2.0)),
        point("faas.invoke_duration", "s", "http", seconds(2, 0.003)),
        point("faas.invocations", "{invocation}", "http", count(1.0)),
        point("faas.invoke_duration", "s", "http", seconds(1, 1.497)),
        point("faas.errors", "{error}", "http", count(1.0)),
    ];
    assert_eq!(
        metrics_lines(&points),
        [
            "metrics  faas.invocations=3  faas.errors=1  faas.invoke_duration=3×500.00 ms  \
          (faas.trigger=http)"
        ]
    );
}

#[test]
fn other_instruments_and_attribute_sets_whatever_their_order() {
    let mut queue = point("queue.depth", "By", "pubsub", MetricValue::Gauge(1.5));
    queue
        .attributes
        .push(("shard".to_owned(), AttributeValue::Int(2)));
    let mut reordered = point("queue.depth", "By", "pubsub", MetricValue::Gauge(2.0));
    reordered
        .attributes
        .insert(0, ("shard".to_owned(), AttributeValue::Int(2)));
    let mut bare = point("custom.count", "", "", count(0.25));
    bare.attributes.clear();
    let points = [
        point("faas.invocations", "{invocation}", "pubsub", count(1.0)),
        queue,
        bare,
        point("aaa.latency", "ms", "pubsub", seconds(4, 10.0)),
        point("faas.timeouts", "{timeout}", "pubsub", count(1.0)),
        reordered,
    ];
    assert_eq!(
        metrics_lines(&points),
        [
            "metrics  faas.invocations=1  faas.timeouts=1  aaa.latency=4×2.5 ms  \
             (faas.trigger=pubsub)",
            "metrics  queue.depth=2 By  (faas.trigger=pubsub, shard=2)",
            "metrics  custom.count=0.25",
        ]
    );
}

#[test]
fn no_point_no_line() {
    assert!(metrics_lines(&[]).is_empty());
    assert_eq!(
        metrics_lines(&[point("faas.invoke_duration", "s", "timer", seconds(0, 0.0))]),
        ["metrics  faas.invoke_duration=0  (faas.trigger=timer)"]
    );
}

#[tokio::test]
async fn without_metrics_the_runner_stops_waiting_for_them() {
    let collector = Collector::start().await.expect("collector");
    let mut cursor = MetricsCursor::new(true);
    let started = std::time::Instant::now();
    print_metrics(&collector, &mut cursor).await;
    assert!(started.elapsed() >= METRICS_GRACE);
    assert!(!cursor.wait, "none came: no more waiting");
    let started = std::time::Instant::now();
    print_metrics(&collector, &mut cursor).await;
    assert!(started.elapsed() < METRICS_GRACE);

    let mut off = MetricsCursor::new(false);
    let started = std::time::Instant::now();
    print_metrics(&collector, &mut off).await;
    assert!(started.elapsed() < METRICS_GRACE);
    assert_eq!(off.shown, 0);
}

fn signals(vars: &[(&str, &str)]) -> Signals {
    let lookup = |key: &str| {
        vars.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    };
    let config = Config::from_lookup(lookup);
    Signals::from(&config, lookup)
}

#[test]
fn each_signal_sent_elsewhere_is_left_there_and_the_others_stay_local() {
    use Destination::*;
    let user = "http://collector.test:4318";
    let traces = "http://traces.test/v1/traces";
    let metrics = "http://metrics.test/v1/metrics";
    assert_eq!(
        signals(&[]),
        Signals {
            traces: Local,
            metrics: Local
        }
    );
    assert_eq!(
        signals(&[("OTEL_EXPORTER_OTLP_ENDPOINT", user)]),
        Signals {
            traces: Endpoint(user.into()),
            metrics: Endpoint(user.into())
        }
    );
    // Only the traces' own endpoint: the spans go there and are not waited for; the
    // metrics, which would go to the default endpoint, are shown locally.
    assert_eq!(
        signals(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces)]),
        Signals {
            traces: Endpoint(traces.into()),
            metrics: Local
        }
    );
    assert_eq!(
        signals(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", metrics)]),
        Signals {
            traces: Local,
            metrics: Endpoint(metrics.into())
        }
    );
    assert_eq!(
        signals(&[("OTEL_TRACES_EXPORTER", "console")]),
        Signals {
            traces: Console,
            metrics: Off
        }
    );
    assert_eq!(
        signals(&[("OTEL_SDK_DISABLED", "true")]),
        Signals {
            traces: Off,
            metrics: Off
        }
    );
    assert_eq!(
        signals(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")]).traces,
        Local
    );
    assert_eq!(signals(&[("OTEL_METRICS_EXPORTER", "none")]).metrics, Off);
    assert_eq!(
        signals(&[("OTEL_TRACES_EXPORTER", "none")]),
        Signals {
            traces: Off,
            metrics: Off
        }
    );
}
