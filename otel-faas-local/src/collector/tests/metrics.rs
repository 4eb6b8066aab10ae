//! Metrics: the round trip from the real exporter, refusals, waits, and the data points.

use super::*;

#[derive(Debug)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: std::sync::Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// The real OTLP/HTTP protobuf metric exporter, pointed at `collector`.
fn metric_exporter(collector: &Collector) -> opentelemetry_otlp::MetricExporter {
    opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(format!("{}{METRICS_PATH}", collector.endpoint()))
        .with_temporality(Temporality::Delta)
        .build()
        .expect("build metric exporter")
}

/// A meter provider with a resource, and the delta reader to collect it with.
fn meter_provider() -> (SdkMeterProvider, Arc<ManualReader>) {
    let reader = Arc::new(
        ManualReader::builder()
            .with_temporality(Temporality::Delta)
            .build(),
    );
    let provider = SdkMeterProvider::builder()
        .with_reader(SharedReader(Arc::clone(&reader)))
        .with_resource(
            Resource::builder_empty()
                .with_service_name("orders")
                .with_attribute(ApiKeyValue::new("cloud.provider", "aws"))
                .build(),
        )
        .build();
    (provider, reader)
}

/// Collects what `reader` holds and exports it to `collector` with the real exporter.
async fn export_metrics(collector: &Collector, reader: &ManualReader) {
    let mut metrics = ResourceMetrics::default();
    reader.collect(&mut metrics).expect("collect");
    PushMetricExporter::export(&metric_exporter(collector), &metrics)
        .await
        .expect("metrics export accepted");
}

fn find_metric<'a>(points: &'a [ReceivedMetric], name: &str) -> &'a ReceivedMetric {
    points
        .iter()
        .find(|point| point.name == name)
        .unwrap_or_else(|| panic!("no point named {name} in {points:#?}"))
}

fn pubsub() -> Option<&'static AttributeValue> {
    static PUBSUB: std::sync::OnceLock<AttributeValue> = std::sync::OnceLock::new();
    Some(PUBSUB.get_or_init(|| AttributeValue::String("pubsub".into())))
}

#[tokio::test]
async fn metrics_from_the_real_exporter_round_trip() {
    let collector = start().await;
    let (provider, reader) = meter_provider();
    let meter = provider.meter_with_scope(InstrumentationScope::builder("otel-faas-test").build());
    let invocations = meter
        .u64_counter("faas.invocations")
        .with_unit("{invocation}")
        .build();
    let durations = meter
        .f64_histogram("faas.invoke_duration")
        .with_unit("s")
        .build();
    let in_flight = meter.i64_up_down_counter("in_flight").build();
    let memory = meter.f64_gauge("memory.used").with_unit("By").build();
    let attributes = [
        ApiKeyValue::new("faas.trigger", "pubsub"),
        ApiKeyValue::new("attempt", 2_i64),
    ];
    invocations.add(2, &attributes);
    invocations.add(1, &attributes);
    durations.record(0.25, &attributes);
    durations.record(0.5, &attributes);
    in_flight.add(3, &[]);
    in_flight.add(-1, &[]);
    memory.record(1024.5, &[]);
    export_metrics(&collector, &reader).await;

    assert_eq!(collector.metric_requests(), 1);
    assert_eq!(collector.requests(), 0, "span exports are counted apart");
    assert!(collector.spans().is_empty());
    let points = collector.metrics();
    assert_eq!(points.len(), 4, "{points:#?}");
    for point in &points {
        assert_eq!(point.scope, "otel-faas-test");
        assert_eq!(point.resource_attribute("service.name"), Some("orders"));
        assert_eq!(point.resource_attribute("cloud.provider"), Some("aws"));
    }

    let counter = find_metric(&points, "faas.invocations");
    assert_eq!(counter.unit, "{invocation}");
    assert_eq!(
        counter.value,
        MetricValue::Sum {
            value: 3.0,
            monotonic: true,
            delta: true
        }
    );
    assert_eq!(counter.attribute("faas.trigger"), pubsub());
    assert_eq!(counter.attribute("attempt"), Some(&AttributeValue::Int(2)));
    assert_eq!(counter.attribute("missing"), None);

    let histogram = find_metric(&points, "faas.invoke_duration");
    assert_eq!(histogram.unit, "s");
    assert_eq!(
        histogram.value,
        MetricValue::Histogram {
            count: 2,
            sum: 0.75,
            delta: true
        }
    );
    // The SDK does not keep the order attributes were given in.
    let sorted = |point: &ReceivedMetric| {
        let mut attributes = point.attributes.clone();
        attributes.sort_by(|a, b| a.0.cmp(&b.0));
        attributes
    };
    assert_eq!(sorted(histogram), sorted(counter));

    // The SDK keeps up-down counters cumulative under a delta preference.
    let up_down = find_metric(&points, "in_flight");
    assert_eq!(
        up_down.value,
        MetricValue::Sum {
            value: 2.0,
            monotonic: false,
            delta: false
        }
    );
    assert!(up_down.attributes.is_empty());
    assert_eq!(
        find_metric(&points, "memory.used").value,
        MetricValue::Gauge(1024.5)
    );

    // Delta: the next export carries only what changed since.
    invocations.add(1, &attributes);
    export_metrics(&collector, &reader).await;
    assert_eq!(collector.metric_requests(), 2);
    let later = &collector.metrics()[4..];
    assert_eq!(
        find_metric(later, "faas.invocations").value,
        MetricValue::Sum {
            value: 1.0,
            monotonic: true,
            delta: true
        }
    );
    assert!(
        later
            .iter()
            .all(|point| point.name != "faas.invoke_duration"),
        "{later:#?}"
    );
}

#[tokio::test]
async fn malformed_metrics_get_400_and_the_collector_keeps_serving() {
    let collector = start().await;
    let (provider, reader) = meter_provider();
    provider
        .meter("test")
        .u64_counter("faas.invocations")
        .build()
        .add(1, &[]);
    let mut metrics = ResourceMetrics::default();
    reader.collect(&mut metrics).expect("collect");
    let valid = ExportMetricsServiceRequest::from(&metrics).encode_to_vec();
    let bodies: [&[u8]; 2] = [
        b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        &valid[..valid.len() - 3],
    ];
    for body in bodies {
        let (status, text) =
            raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], body).await;
        assert_eq!(status, 400, "{text}");
        assert!(
            text.contains("not a protobuf ExportMetricsServiceRequest"),
            "{text}"
        );
    }
    assert_eq!(collector.metric_requests(), 0);
    assert!(collector.metrics().is_empty());

    let (status, body) =
        raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], &valid).await;
    assert_eq!(status, 200);
    assert!(
        body.is_empty(),
        "an empty ExportMetricsServiceResponse: {body:?}"
    );
    assert_eq!(collector.metric_requests(), 1);
    assert_eq!(collector.metrics()[0].name, "faas.invocations");
}

#[tokio::test]
async fn an_empty_metrics_export_is_answered_with_an_empty_response() {
    let collector = start().await;
    let (status, body) =
        raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], b"").await;
    assert_eq!(status, 200);
    assert!(body.is_empty(), "{body:?}");
    assert_eq!(collector.metric_requests(), 1);
    assert!(collector.metrics().is_empty());
}

#[tokio::test]
async fn a_delayed_collector_answers_metrics_after_its_delay_too() {
    let delay = Duration::from_millis(300);
    let collector = Collector::start_with_delay(delay)
        .await
        .expect("start collector");
    let (provider, reader) = meter_provider();
    provider
        .meter("test")
        .u64_counter("slow")
        .build()
        .add(1, &[]);
    let started = StdInstant::now();
    let exporting = tokio::spawn({
        let collector = collector.clone();
        async move { export_metrics(&collector, &reader).await }
    });
    // Stored on arrival, before the answer.
    assert!(
        collector
            .wait_for_metrics(Duration::from_secs(5), |point| point.name == "slow")
            .await
    );
    exporting.await.expect("export task");
    assert!(
        started.elapsed() >= delay,
        "answered after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_failing_collector_stores_metrics_and_answers_its_status() {
    let collector = Collector::start_answering(StatusCode::SERVICE_UNAVAILABLE)
        .await
        .expect("start collector");
    let (provider, reader) = meter_provider();
    provider
        .meter("test")
        .u64_counter("refused")
        .build()
        .add(1, &[]);
    let mut metrics = ResourceMetrics::default();
    reader.collect(&mut metrics).expect("collect");
    let body = ExportMetricsServiceRequest::from(&metrics).encode_to_vec();
    let (status, text) =
        raw_request(&collector, "POST", METRICS_PATH, &[PROTOBUF_HEADER], &body).await;
    assert_eq!(status, 503, "{text}");
    assert_eq!(collector.metric_requests(), 1);
    assert_eq!(collector.metrics()[0].name, "refused");
}

#[tokio::test]
async fn metric_waits_see_later_arrivals_and_clear_forgets_points() {
    let collector = start().await;
    assert!(
        !collector
            .wait_for_metrics(Duration::from_millis(20), |_| true)
            .await
    );
    assert!(
        !collector
            .wait_for_metric_count(1, Duration::from_millis(20))
            .await
    );

    let (provider, reader) = meter_provider();
    provider
        .meter("test")
        .u64_counter("late")
        .build()
        .add(1, &[]);
    let sender = collector.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        export_metrics(&sender, &reader).await;
    });
    assert!(
        collector
            .wait_for_metric_count(1, Duration::from_secs(5))
            .await
    );
    assert!(
        collector
            .wait_for_metrics(Duration::from_secs(5), |point| point.name == "late")
            .await
    );
    assert!(
        !collector
            .wait_for(Duration::from_millis(20), |_| true)
            .await,
        "metrics are not spans"
    );

    collector.clear();
    assert!(collector.metrics().is_empty());
    assert_eq!(collector.metric_requests(), 1);
    assert!(
        !collector
            .wait_for_metric_count(1, Duration::from_millis(20))
            .await
    );
}

#[test]
fn metric_points_read_raw_otlp_fields() {
    use opentelemetry_proto::tonic::metrics::v1::{
        ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
        ResourceMetrics as OtlpResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    };
    let int_point = |value: i64| NumberDataPoint {
        attributes: vec![KeyValue {
            key: "k".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::BoolValue(true)),
            }),
            key_strindex: 0,
        }],
        value: Some(number_data_point::Value::AsInt(value)),
        ..Default::default()
    };
    let metric = |name: &str, data: metric::Data| Metric {
        name: name.into(),
        data: Some(data),
        ..Default::default()
    };
    let request = ExportMetricsServiceRequest {
        resource_metrics: vec![OtlpResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    metric(
                        "cumulative",
                        metric::Data::Sum(Sum {
                            data_points: vec![int_point(7), int_point(-2)],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                            is_monotonic: false,
                        }),
                    ),
                    metric(
                        "gauge",
                        metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint::default()],
                        }),
                    ),
                    metric(
                        "no sum",
                        metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 4,
                                sum: None,
                                ..Default::default()
                            }],
                            aggregation_temporality: 0,
                        }),
                    ),
                    metric(
                        "exponential",
                        metric::Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                count: 3,
                                sum: Some(1.5),
                                ..Default::default()
                            }],
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        }),
                    ),
                    metric(
                        "summary",
                        metric::Data::Summary(Summary {
                            data_points: vec![SummaryDataPoint::default()],
                        }),
                    ),
                    Metric {
                        name: "no data".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let points = received_metrics(&request);
    let values: Vec<(&str, MetricValue)> = points
        .iter()
        .map(|point| (point.name.as_str(), point.value))
        .collect();
    let cumulative = |value| MetricValue::Sum {
        value,
        monotonic: false,
        delta: false,
    };
    assert_eq!(
        values,
        [
            ("cumulative", cumulative(7.0)),
            ("cumulative", cumulative(-2.0)),
            ("gauge", MetricValue::Gauge(0.0)),
            (
                "no sum",
                MetricValue::Histogram {
                    count: 4,
                    sum: 0.0,
                    delta: false
                }
            ),
            (
                "exponential",
                MetricValue::Histogram {
                    count: 3,
                    sum: 1.5,
                    delta: true
                }
            ),
        ]
    );
    assert_eq!(points[0].attribute("k"), Some(&AttributeValue::Bool(true)));
    assert_eq!(points[0].scope, "");
    assert!(points[0].resource.is_empty());
}

#[test]
fn attribute_values_display_as_opentelemetry_displays_them() {
    let values = [
        Value::from("plain"),
        Value::from(true),
        Value::from(-3_i64),
        Value::from(0.5),
        Value::from(2.0),
        Value::Array(Array::String(vec!["x".into(), "y,z".into()])),
        Value::Array(Array::I64(vec![1, 2])),
        Value::Array(Array::F64(vec![])),
    ];
    for value in values {
        let typed = AttributeValue::from(&AnyValue::from(value.clone()));
        assert_eq!(typed.to_string(), value.to_string(), "{value:?}");
    }
    assert_eq!(AttributeValue::Other.to_string(), "?");
}
