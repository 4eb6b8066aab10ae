//! OTLP/gRPC export (`OTEL_EXPORTER_OTLP_PROTOCOL=grpc`, the runtime's `grpc` feature)
//! against the embedded collector's gRPC receiver on 127.0.0.1: the call's headers, gzip
//! messages, h2 over TLS, the retryable statuses and `RetryInfo` inside the flush budget,
//! partial success, and, through the real `lambda_runtime` loop, spans and metrics delivered
//! and every failure leaving the next invocation served.
//!
//! The collector serves OTLP/HTTP and OTLP/gRPC on one port, and answers a gRPC call that
//! did not come over HTTP/2 with `505`: an export accepted here went as gRPC over HTTP/2.

use std::time::Duration;

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use otel_faas_local::collector::{Collector, CollectorOptions, GrpcRefusal};
use otel_faas_local::emulator::FunctionConfig;
use otel_faas_runtime::config::Config;
use otel_faas_runtime::telemetry::{FlushOutcome, Telemetry};
use serde_json::json;

mod platform;

use platform::ca::TestCa;
use platform::{ARRIVAL, FUNCTION, Platform, logged};

/// gRPC status codes (grpc/grpc `doc/statuscodes.md`).
const INVALID_ARGUMENT: u32 = 3;
const RESOURCE_EXHAUSTED: u32 = 8;

/// A pipeline exporting spans only, over gRPC to `collector`, configured by `vars` too.
fn grpc_telemetry(collector: &Collector, vars: &[(&str, &str)]) -> Telemetry {
    let mut all: Vec<(String, String)> = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), collector.endpoint()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "grpc".into()),
        ("OTEL_METRICS_EXPORTER".into(), "none".into()),
    ];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config =
        Config::from_lookup(|key| all.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
    let telemetry = Telemetry::builder().config(config).build();
    assert!(telemetry.errors().is_empty(), "{:?}", telemetry.errors());
    telemetry
}

/// Ends `n` spans named `name-i` and flushes them.
async fn export_spans(telemetry: &Telemetry, name: &str, n: usize) -> FlushOutcome {
    let tracer = telemetry.provider().tracer("otlp-grpc-test");
    for i in 0..n {
        tracer.start(format!("{name}-{i}")).end();
    }
    telemetry.flush().await
}

fn span_names(collector: &Collector) -> Vec<String> {
    let mut names: Vec<String> = collector.spans().into_iter().map(|s| s.view.name).collect();
    names.sort();
    names
}

async fn refusing(refusals: Vec<GrpcRefusal>) -> Collector {
    Collector::start_with_options(CollectorOptions {
        refuse_first_grpc: refusals,
        ..CollectorOptions::default()
    })
    .await
    .unwrap()
}

// ------------------------------------------------------------------------------------------
// The call
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn spans_go_as_a_unary_grpc_call_with_the_headers_as_metadata() {
    let collector = Collector::start().await.unwrap();
    let telemetry = grpc_telemetry(
        &collector,
        &[("OTEL_EXPORTER_OTLP_HEADERS", "x-team=pay%20ments")],
    );
    assert_eq!(
        export_spans(&telemetry, "call", 2).await,
        FlushOutcome::Exported(2)
    );
    assert_eq!(span_names(&collector), ["call-0", "call-1"]);
    let headers = collector.last_export_headers();
    assert_eq!(headers["content-type"], "application/grpc");
    assert_eq!(headers["te"], "trailers");
    assert_eq!(headers["x-team"], "pay ments");
    assert!(headers.get("grpc-encoding").is_none(), "{headers:?}");
    // The attempt's time, at most the 10 s request timeout: `10000m` or a little less.
    let timeout = headers["grpc-timeout"].to_str().unwrap();
    let millis: u64 = timeout.strip_suffix('m').unwrap().parse().unwrap();
    assert!(millis > 0 && millis <= 10_000, "{timeout}");
}

#[tokio::test]
async fn gzip_messages_are_sent_with_grpc_encoding() {
    let collector = Collector::start().await.unwrap();
    let telemetry = grpc_telemetry(&collector, &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]);
    assert_eq!(
        export_spans(&telemetry, "gz", 3).await,
        FlushOutcome::Exported(3)
    );
    assert_eq!(span_names(&collector), ["gz-0", "gz-1", "gz-2"]);
    let headers = collector.last_export_headers();
    assert_eq!(headers["grpc-encoding"], "gzip");
    assert!(headers.get("content-encoding").is_none(), "{headers:?}");
}

#[tokio::test]
async fn an_https_endpoint_is_h2_over_tls_with_the_certificate_variable() {
    let ca = TestCa::new("grpc-tls");
    let collector = ca.collector(false).await;
    assert!(collector.endpoint().starts_with("https://"));
    let ca_file = ca.file("ca.pem");
    let telemetry = grpc_telemetry(&collector, &[("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca_file)]);
    assert_eq!(
        export_spans(&telemetry, "tls", 2).await,
        FlushOutcome::Exported(2)
    );
    assert_eq!(span_names(&collector), ["tls-0", "tls-1"]);
    // An mTLS collector gets the client certificate over gRPC too.
    let mtls = ca.collector(true).await;
    let (client, key) = (ca.file("client.pem"), ca.file("client.key"));
    let with_client = grpc_telemetry(
        &mtls,
        &[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca_file),
            ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", &client),
            ("OTEL_EXPORTER_OTLP_CLIENT_KEY", &key),
        ],
    );
    assert_eq!(
        export_spans(&with_client, "mtls", 1).await,
        FlushOutcome::Exported(1)
    );
}

#[tokio::test]
async fn calls_one_after_another_go_on_one_kept_connection() {
    let collector = Collector::start().await.unwrap();
    let telemetry = grpc_telemetry(&collector, &[]);
    for round in 0..4 {
        assert_eq!(
            export_spans(&telemetry, &format!("round{round}"), 1).await,
            FlushOutcome::Exported(1)
        );
    }
    assert_eq!(span_names(&collector).len(), 4);
    assert_eq!(collector.connections(), 1, "one connection for every call");
}

#[tokio::test]
async fn a_connection_the_collector_drops_unanswered_is_replaced() {
    let collector = Collector::start_with_options(CollectorOptions {
        drop_reused_connections: true,
        ..CollectorOptions::default()
    })
    .await
    .unwrap();
    let telemetry = grpc_telemetry(&collector, &[]);
    for round in 0..3 {
        assert_eq!(
            export_spans(&telemetry, &format!("round{round}"), 1).await,
            FlushOutcome::Exported(1)
        );
    }
    assert_eq!(span_names(&collector), ["round0-0", "round1-0", "round2-0"]);
    assert_eq!(collector.connections(), 3, "one new connection per export");
}

// ------------------------------------------------------------------------------------------
// Statuses, retries and partial success
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn unavailable_then_ok_delivers_the_spans_exactly_once() {
    let collector = refusing(vec![GrpcRefusal::unavailable(None)]).await;
    let telemetry = grpc_telemetry(&collector, &[]);
    assert_eq!(
        export_spans(&telemetry, "retried", 2).await,
        FlushOutcome::Exported(2)
    );
    assert_eq!((collector.refused(), collector.requests()), (1, 1));
    assert_eq!(span_names(&collector), ["retried-0", "retried-1"]);
}

#[tokio::test]
async fn a_non_retryable_status_is_not_retried_and_the_next_export_goes() {
    let collector = refusing(vec![GrpcRefusal::code(INVALID_ARGUMENT)]).await;
    let telemetry = grpc_telemetry(&collector, &[("OTEL_FAAS_FLUSH_TIMEOUT", "10000")]);
    match export_spans(&telemetry, "bad", 1).await {
        FlushOutcome::Failed { error, spans } => {
            assert_eq!(spans, 1);
            assert!(error.contains("INVALID_ARGUMENT (3)"), "{error}");
            assert!(
                error.contains("refused as scripted"),
                "grpc-message: {error}"
            );
        }
        other => panic!("INVALID_ARGUMENT is not retried: {other:?}"),
    }
    assert_eq!((collector.refused(), collector.requests()), (1, 0));
    assert_eq!(
        export_spans(&telemetry, "next", 1).await,
        FlushOutcome::Exported(1)
    );
}

#[tokio::test]
async fn resource_exhausted_is_retried_only_with_retry_info() {
    let collector = refusing(vec![GrpcRefusal::code(RESOURCE_EXHAUSTED)]).await;
    let telemetry = grpc_telemetry(&collector, &[("OTEL_FAAS_FLUSH_TIMEOUT", "10000")]);
    let outcome = export_spans(&telemetry, "exhausted", 1).await;
    assert!(
        matches!(outcome, FlushOutcome::Failed { .. }),
        "{outcome:?}"
    );
    assert_eq!((collector.refused(), collector.requests()), (1, 0));

    let throttling = refusing(vec![GrpcRefusal {
        code: RESOURCE_EXHAUSTED,
        message: "slow down".into(),
        retry_delay: Some(Duration::from_millis(200)),
    }])
    .await;
    let retried = grpc_telemetry(&throttling, &[("OTEL_FAAS_FLUSH_TIMEOUT", "10000")]);
    assert_eq!(
        export_spans(&retried, "throttled", 1).await,
        FlushOutcome::Exported(1)
    );
    assert_eq!((throttling.refused(), throttling.requests()), (1, 1));
}

#[tokio::test]
async fn a_retry_info_delay_past_the_budget_gives_up_at_once() {
    // Without RetryInfo a 100 ms backoff would fit the 2 s budget and the second attempt
    // would be served: giving up shows the delay was read.
    let collector = refusing(vec![GrpcRefusal::unavailable(Some(Duration::from_secs(
        30,
    )))])
    .await;
    let telemetry = grpc_telemetry(&collector, &[("OTEL_FAAS_FLUSH_TIMEOUT", "2000")]);
    match export_spans(&telemetry, "throttled", 1).await {
        FlushOutcome::Failed { error, .. } => {
            assert!(error.contains("UNAVAILABLE (14)"), "{error}");
            assert!(error.contains("RetryInfo asked for 30000 ms"), "{error}");
            assert!(error.contains("past the flush budget"), "{error}");
        }
        other => panic!("expected to give up, got {other:?}"),
    }
    assert_eq!((collector.refused(), collector.requests()), (1, 0));
}

#[tokio::test]
async fn a_partial_success_is_counted_and_not_retried() {
    let collector = Collector::start_with_options(CollectorOptions {
        partial_success: Some((2, "2 spans had no name".into())),
        ..CollectorOptions::default()
    })
    .await
    .unwrap();
    let telemetry = grpc_telemetry(&collector, &[]);
    assert_eq!(
        export_spans(&telemetry, "partial", 3).await,
        FlushOutcome::Exported(3)
    );
    assert_eq!(collector.requests(), 1, "a partial success is not retried");
    assert_eq!(telemetry.rejected_spans(), 2);
}

// ------------------------------------------------------------------------------------------
// Through the real Lambda loop
// ------------------------------------------------------------------------------------------

/// The fixture function exporting over gRPC to `collector` (with `env` set too).
async fn grpc_platform(collector: &Collector, env: &[(&str, &str)]) -> Platform {
    let mut vars = vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
    vars.extend_from_slice(env);
    Platform::start_with(
        "other",
        &vars,
        FunctionConfig::new(FUNCTION),
        Some(collector.endpoint()),
    )
    .await
}

#[tokio::test]
async fn through_the_loop_spans_and_metrics_go_over_grpc_with_gzip() {
    let collector = Collector::start().await.unwrap();
    let platform = grpc_platform(&collector, &[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]).await;
    for n in 0..2 {
        let outcome = platform.invoke(json!({ "n": n })).await;
        assert_eq!(outcome.response_json(), Some(json!({ "echo": { "n": n } })));
        assert!(
            collector
                .invocation_traces(&outcome.request_id, ARRIVAL)
                .await
                .is_some(),
            "invocation {n}: {:#?}",
            platform.function.output()
        );
    }
    assert!(
        collector
            .wait_for_metrics(ARRIVAL, |point| point.name == "faas.invocations")
            .await,
        "{:#?}",
        platform.function.output()
    );
    let headers = collector.last_export_headers();
    assert_eq!(headers["content-type"], "application/grpc");
    assert_eq!(headers["grpc-encoding"], "gzip");
}

#[tokio::test]
async fn through_the_loop_log_records_go_over_grpc_with_their_trace() {
    let collector = Collector::start().await.unwrap();
    let platform = grpc_platform(&collector, &[("OTEL_LOGS_EXPORTER", "otlp")]).await;
    let outcome = platform.invoke(json!({ "log": "over-grpc" })).await;
    assert!(outcome.is_success(), "{:?}", outcome.result);
    assert!(
        collector
            .wait_for_logs(ARRIVAL, |log| log.body == "handling the event")
            .await,
        "{:#?}",
        platform.function.output()
    );
    let spans = collector
        .invocation_traces(&outcome.request_id, ARRIVAL)
        .await
        .expect("the invocation's spans");
    let logs = collector.logs();
    let record = logs
        .iter()
        .find(|log| log.body == "handling the event")
        .expect("the record");
    assert_eq!(record.trace_id, spans[0].view.trace_id);
    let headers = collector.last_log_export_headers();
    assert_eq!(headers["content-type"], "application/grpc");
}

#[tokio::test]
async fn through_the_loop_unavailable_then_ok_delivers_the_invocation_once() {
    let collector = refusing(vec![GrpcRefusal::unavailable(None)]).await;
    let platform = grpc_platform(&collector, &[("OTEL_METRICS_EXPORTER", "none")]).await;
    let outcome = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(outcome.response_json(), Some(json!({ "echo": { "n": 1 } })));
    let spans = collector
        .invocation_traces(&outcome.request_id, ARRIVAL)
        .await
        .expect("the invocation's spans");
    let invocation_spans = spans
        .iter()
        .filter(|s| s.view.attribute("faas.invocation_id") == Some(outcome.request_id.as_str()))
        .count();
    assert_eq!(invocation_spans, 1, "exported exactly once");
    assert_eq!((collector.refused(), collector.requests()), (1, 1));
    let second = platform.invoke(json!({ "n": 2 })).await;
    assert_eq!(second.response_json(), Some(json!({ "echo": { "n": 2 } })));
}

#[tokio::test]
async fn through_the_loop_a_non_retryable_status_drops_the_spans_with_a_warning() {
    let collector = refusing(vec![GrpcRefusal::code(INVALID_ARGUMENT)]).await;
    let platform = grpc_platform(&collector, &[("OTEL_METRICS_EXPORTER", "none")]).await;
    let first = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(first.response_json(), Some(json!({ "echo": { "n": 1 } })));
    platform.wait_until_logged("INVALID_ARGUMENT").await;
    let lines = platform.function.output();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("WARN") && line.contains("INVALID_ARGUMENT (3)")),
        "{lines:#?}"
    );
    assert_eq!((collector.refused(), collector.requests()), (1, 0));
    // The next invocation is served, and its spans arrive.
    let second = platform.invoke(json!({ "n": 2 })).await;
    assert_eq!(second.response_json(), Some(json!({ "echo": { "n": 2 } })));
    assert!(
        collector
            .invocation_traces(&second.request_id, ARRIVAL)
            .await
            .is_some(),
        "{:#?}",
        platform.function.output()
    );
}

#[tokio::test]
async fn through_the_loop_a_collector_that_stays_unavailable_costs_the_budget_not_the_response() {
    let collector = Collector::start_answering(http::StatusCode::SERVICE_UNAVAILABLE)
        .await
        .unwrap();
    let platform = grpc_platform(
        &collector,
        &[
            ("OTEL_FAAS_FLUSH_TIMEOUT", "300"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ],
    )
    .await;
    let first = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(first.response_json(), Some(json!({ "echo": { "n": 1 } })));
    platform.wait_until_logged("spans failed").await;
    assert!(
        logged(&platform, "UNAVAILABLE (14)"),
        "{:#?}",
        platform.function.output()
    );
    assert!(
        collector.requests() >= 2,
        "retried: {}",
        collector.requests()
    );
    let second = platform.invoke(json!({ "n": 2 })).await;
    assert_eq!(second.response_json(), Some(json!({ "echo": { "n": 2 } })));
}
