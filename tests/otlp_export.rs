//! The OTLP export pipeline against the embedded collector on 127.0.0.1: gzip and
//! OTLP/JSON bodies, TLS with a CA the test makes (with and without client certificates),
//! retries and `Retry-After` inside the flush budget, partial success, a connection the
//! collector closes under the client, and settings this build cannot honour.
//!
//! The first tests drive a [`Telemetry`] built from the same `OTEL_*` variables a function
//! reads, and flush it; the last ones run the fixture function through the real
//! `lambda_runtime` loop, where the response's bound and the next invocation matter.

use http::StatusCode;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use otel_faas_local::collector::{Collector, CollectorOptions, Refusal, SigV4Check};
use otel_faas_local::emulator::FunctionConfig;
use otel_faas_runtime::config::Config;
use otel_faas_runtime::telemetry::{FlushOutcome, Telemetry};
use serde_json::json;

mod platform;

use platform::ca::TestCa;
use platform::{ARRIVAL, FUNCTION, Platform, logged};

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

/// A pipeline configured by `vars` alone (nothing read from the process environment),
/// exporting spans only.
fn telemetry(vars: &[(&str, String)]) -> Telemetry {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .chain([("OTEL_METRICS_EXPORTER".to_owned(), "none".to_owned())])
        .collect();
    let config =
        Config::from_lookup(|key| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()));
    Telemetry::builder().config(config).build()
}

/// Ends `n` spans named `name-i` and flushes them.
async fn export_spans(telemetry: &Telemetry, name: &str, n: usize) -> FlushOutcome {
    let tracer = telemetry.provider().tracer("otlp-export-test");
    for i in 0..n {
        tracer.start(format!("{name}-{i}")).end();
    }
    telemetry.flush().await
}

fn endpoint(collector: &Collector) -> (&'static str, String) {
    ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint())
}

fn span_names(collector: &Collector) -> Vec<String> {
    let mut names: Vec<String> = collector
        .spans()
        .into_iter()
        .map(|span| span.view.name)
        .collect();
    names.sort();
    names
}

fn refusals(list: &[(u16, Option<u64>)]) -> CollectorOptions {
    CollectorOptions {
        refuse_first: list
            .iter()
            .map(|(status, retry_after)| Refusal {
                status: StatusCode::from_u16(*status).unwrap(),
                retry_after: *retry_after,
            })
            .collect(),
        ..CollectorOptions::default()
    }
}

// ------------------------------------------------------------------------------------------
// Bodies: gzip and OTLP/JSON
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn gzip_bodies_reach_the_collector_compressed() {
    let collector = Collector::start().await.unwrap();
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
    ]);
    assert_eq!(
        export_spans(&telemetry, "gz", 3).await,
        FlushOutcome::Exported(3)
    );
    assert_eq!(span_names(&collector), ["gz-0", "gz-1", "gz-2"]);
    let headers = collector.last_export_headers();
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["content-type"], "application/x-protobuf");
}

#[tokio::test]
async fn http_json_bodies_reach_the_collector_with_their_ids_and_resource() {
    let collector = Collector::start().await.unwrap();
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json".into()),
        ("OTEL_SERVICE_NAME", "orders".into()),
    ]);
    let tracer = telemetry.provider().tracer("otlp-export-test");
    let span = tracer.start("json");
    let context = span.span_context().clone();
    drop(span);
    assert_eq!(telemetry.flush().await, FlushOutcome::Exported(1));
    let received = collector.spans();
    assert_eq!(received.len(), 1);
    // The ids went as hex and came back as the same bytes.
    assert_eq!(received[0].view.trace_id, context.trace_id().to_string());
    assert_eq!(received[0].view.span_id, context.span_id().to_string());
    assert_eq!(
        received[0].resource_attribute("service.name"),
        Some("orders")
    );
    assert_eq!(received[0].scope, "otlp-export-test");
    assert_eq!(
        collector.last_export_headers()["content-type"],
        "application/json"
    );
}

// ------------------------------------------------------------------------------------------
// TLS
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_https_collector_is_reached_with_the_certificate_variable() {
    let ca = TestCa::new("server-only");
    let collector = ca.collector(false).await;
    assert!(collector.endpoint().starts_with("https://"));
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.file("ca.pem")),
    ]);
    assert!(telemetry.errors().is_empty(), "{:?}", telemetry.errors());
    assert_eq!(
        export_spans(&telemetry, "tls", 2).await,
        FlushOutcome::Exported(2)
    );
    assert_eq!(span_names(&collector), ["tls-0", "tls-1"]);
}

#[tokio::test]
async fn an_https_collector_whose_ca_is_not_trusted_fails_the_export_at_once() {
    let ca = TestCa::new("untrusted");
    let collector = ca.collector(false).await;
    // A budget no handshake outlasts, even on a loaded machine: the rejection is what ends
    // the export, at its first attempt, not the budget.
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "30000".to_owned()),
    ]);
    match export_spans(&telemetry, "untrusted", 1).await {
        FlushOutcome::Failed { error, .. } => {
            assert!(error.contains("certificate"), "{error}");
            assert!(
                !error.contains("gave up"),
                "a rejected certificate is not retried: {error}"
            );
        }
        other => panic!("expected a failed export, got {other:?}"),
    }
    assert_eq!(collector.requests(), 0);
    assert_eq!(collector.connections(), 0, "no handshake succeeded");
}

#[tokio::test]
async fn an_mtls_collector_gets_the_client_certificate() {
    let ca = TestCa::new("mtls");
    let collector = ca.collector(true).await;
    let with_client = telemetry(&[
        endpoint(&collector),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.file("ca.pem")),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            ca.file("client.pem"),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
            ca.file("client.key"),
        ),
    ]);
    assert_eq!(
        export_spans(&with_client, "mtls", 1).await,
        FlushOutcome::Exported(1)
    );
    assert_eq!(span_names(&collector), ["mtls-0"]);

    // Without a client certificate the handshake is refused, and nothing arrives.
    let without = telemetry(&[
        endpoint(&collector),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.file("ca.pem")),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "500".into()),
    ]);
    let outcome = export_spans(&without, "anonymous", 1).await;
    assert!(
        matches!(
            outcome,
            FlushOutcome::Failed { .. } | FlushOutcome::TimedOut { .. }
        ),
        "{outcome:?}"
    );
    assert_eq!(span_names(&collector), ["mtls-0"]);
}

#[tokio::test]
async fn an_unreadable_certificate_file_is_a_startup_error_naming_it() {
    let telemetry = telemetry(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://127.0.0.1:4318".into(),
        ),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/nonexistent/ca.pem".into(),
        ),
    ]);
    assert_eq!(telemetry.errors().len(), 1, "{:?}", telemetry.errors());
    assert!(telemetry.errors()[0].contains("/nonexistent/ca.pem"));
    assert_eq!(
        export_spans(&telemetry, "nowhere", 1).await,
        FlushOutcome::Disabled
    );
}

// ------------------------------------------------------------------------------------------
// Retries and partial success
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_503_then_a_200_delivers_the_spans_exactly_once() {
    let collector = Collector::start_with_options(refusals(&[(503, None)]))
        .await
        .unwrap();
    let telemetry = telemetry(&[endpoint(&collector)]);
    assert_eq!(
        export_spans(&telemetry, "retried", 2).await,
        FlushOutcome::Exported(2)
    );
    assert_eq!(collector.refused(), 1);
    assert_eq!(collector.requests(), 1, "accepted once");
    assert_eq!(span_names(&collector), ["retried-0", "retried-1"]);
}

#[tokio::test]
async fn each_retryable_status_is_retried_and_others_are_not() {
    let collector = Collector::start_with_options(refusals(&[
        (429, None),
        (502, None),
        (504, None),
        (400, None),
    ]))
    .await
    .unwrap();
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "10000".into()),
    ]);
    match export_spans(&telemetry, "bad", 1).await {
        FlushOutcome::Failed { error, .. } => assert!(error.contains("400"), "{error}"),
        other => panic!("400 is not retried: {other:?}"),
    }
    assert_eq!(
        collector.refused(),
        4,
        "429, 502 and 504 were retried, 400 was not"
    );
    assert_eq!(
        export_spans(&telemetry, "next", 1).await,
        FlushOutcome::Exported(1)
    );
}

#[tokio::test]
async fn a_retry_after_within_the_budget_is_waited_for() {
    let collector = Collector::start_with_options(refusals(&[(429, Some(1))]))
        .await
        .unwrap();
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "10000".into()),
    ]);
    assert_eq!(
        export_spans(&telemetry, "later", 1).await,
        FlushOutcome::Exported(1)
    );
    assert_eq!((collector.refused(), collector.requests()), (1, 1));
}

#[tokio::test]
async fn a_retry_after_past_the_budget_gives_up_at_once() {
    // Without `Retry-After`, a 100 ms backoff would fit the 2 s budget and the second
    // attempt would be served: giving up shows the header was read.
    let collector = Collector::start_with_options(refusals(&[(503, Some(30))]))
        .await
        .unwrap();
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "2000".into()),
    ]);
    match export_spans(&telemetry, "throttled", 1).await {
        FlushOutcome::Failed { error, spans } => {
            assert_eq!(spans, 1);
            assert!(error.contains("Retry-After asked for 30000 ms"), "{error}");
            assert!(error.contains("past the flush budget"), "{error}");
        }
        other => panic!("expected to give up, got {other:?}"),
    }
    assert_eq!((collector.refused(), collector.requests()), (1, 0));
    assert_eq!(telemetry.dropped_spans(), 1);
}

#[tokio::test]
async fn a_retry_after_past_the_budget_holds_later_exports_back() {
    let collector = Collector::start_with_options(refusals(&[(503, Some(30))]))
        .await
        .unwrap();
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "2000".into()),
    ]);
    let first = export_spans(&telemetry, "throttled", 1).await;
    assert!(matches!(first, FlushOutcome::Failed { .. }), "{first:?}");
    // The collector would take this one, but asked for 30 s: it is not sent.
    match export_spans(&telemetry, "held", 1).await {
        FlushOutcome::Failed { error, .. } => {
            assert!(error.contains("asked to wait (Retry-After)"), "{error}");
        }
        other => panic!("expected the export to be held back, got {other:?}"),
    }
    assert_eq!((collector.refused(), collector.requests()), (1, 0));
}

#[tokio::test]
async fn after_an_export_gave_up_each_export_makes_one_attempt_until_one_gets_through() {
    let overloaded = Collector::start_answering(StatusCode::SERVICE_UNAVAILABLE)
        .await
        .unwrap();
    let telemetry = telemetry(&[
        endpoint(&overloaded),
        ("OTEL_FAAS_FLUSH_TIMEOUT", "400".into()),
    ]);
    let first = export_spans(&telemetry, "first", 1).await;
    assert!(matches!(first, FlushOutcome::Failed { .. }), "{first:?}");
    let retried = overloaded.requests();
    assert!(retried >= 2, "the first export was retried: {retried}");
    match export_spans(&telemetry, "second", 1).await {
        FlushOutcome::Failed { error, .. } => assert!(error.contains("not retried"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(overloaded.requests(), retried + 1, "one attempt");
}

#[tokio::test]
async fn a_partial_success_is_counted_and_not_retried() {
    let collector = Collector::start_with_options(CollectorOptions {
        partial_success: Some((2, "2 spans had no name".into())),
        ..CollectorOptions::default()
    })
    .await
    .unwrap();
    let telemetry = telemetry(&[endpoint(&collector)]);
    assert_eq!(
        export_spans(&telemetry, "partial", 3).await,
        FlushOutcome::Exported(3)
    );
    assert_eq!(collector.requests(), 1, "a partial success is not retried");
    assert_eq!(telemetry.rejected_spans(), 2);
    assert_eq!(
        export_spans(&telemetry, "again", 1).await,
        FlushOutcome::Exported(1)
    );
    assert_eq!(
        telemetry.rejected_spans(),
        4,
        "counted over the process's life"
    );
}

#[tokio::test]
async fn exports_one_after_another_go_on_one_kept_connection() {
    // Plain and over TLS: the exporter keeps its connection between exports, as a
    // function keeps it between invocations.
    let ca = TestCa::new("kept");
    let tls = ca.collector(false).await;
    let plain = Collector::start().await.unwrap();
    for (collector, extra) in [
        (&plain, vec![]),
        (
            &tls,
            vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.file("ca.pem"))],
        ),
    ] {
        let mut vars = vec![endpoint(collector)];
        vars.extend(extra);
        let telemetry = telemetry(&vars);
        for round in 0..4 {
            assert_eq!(
                export_spans(&telemetry, &format!("round{round}"), 1).await,
                FlushOutcome::Exported(1)
            );
        }
        assert_eq!(span_names(collector).len(), 4);
        assert_eq!(
            collector.connections(),
            1,
            "one connection for every export"
        );
    }
}

#[tokio::test]
async fn a_connection_the_collector_drops_unanswered_is_replaced() {
    let collector = Collector::start_with_options(CollectorOptions {
        drop_reused_connections: true,
        ..CollectorOptions::default()
    })
    .await
    .unwrap();
    let telemetry = telemetry(&[endpoint(&collector)]);
    for round in 0..3 {
        let name = format!("round{round}");
        assert_eq!(
            export_spans(&telemetry, &name, 1).await,
            FlushOutcome::Exported(1)
        );
    }
    assert_eq!(span_names(&collector), ["round0-0", "round1-0", "round2-0"]);
    assert_eq!(collector.connections(), 3, "one new connection per export");
}

// ------------------------------------------------------------------------------------------
// SigV4
// ------------------------------------------------------------------------------------------

/// Test credentials (the AWS documentation's examples), known to the checking collector.
const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";

async fn sigv4_collector() -> Collector {
    Collector::start_with_options(CollectorOptions {
        sigv4: Some(SigV4Check {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            session_token: Some(SESSION_TOKEN.into()),
            service: "xray".into(),
            region: "us-west-2".into(),
        }),
        ..CollectorOptions::default()
    })
    .await
    .unwrap()
}

/// The variables of a function signing for X-Ray in us-west-2, with `changes` applied
/// (`None` removes a variable).
fn signing(collector: &Collector, changes: &[(&'static str, Option<&str>)]) -> Telemetry {
    let mut vars: Vec<(&str, String)> = vec![
        endpoint(collector),
        ("OTEL_FAAS_SIGV4", "on".into()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
        ("AWS_REGION", "us-west-2".into()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
        ("AWS_SESSION_TOKEN", SESSION_TOKEN.into()),
    ];
    for (key, value) in changes {
        vars.retain(|(k, _)| k != key);
        if let Some(value) = value {
            vars.push((key, value.to_string()));
        }
    }
    telemetry(&vars)
}

#[tokio::test]
async fn a_sigv4_checking_collector_accepts_the_functions_signed_exports() {
    let collector = sigv4_collector().await;
    let telemetry = signing(&collector, &[]);
    assert!(telemetry.errors().is_empty(), "{:?}", telemetry.errors());
    assert_eq!(
        export_spans(&telemetry, "signed", 2).await,
        FlushOutcome::Exported(2)
    );
    let headers = collector.last_export_headers();
    assert!(
        headers["authorization"]
            .to_str()
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    );
    assert_eq!(headers["x-amz-security-token"], SESSION_TOKEN);
}

#[tokio::test]
async fn a_sigv4_checking_collector_refuses_a_wrong_region_service_or_a_missing_token() {
    let collector = sigv4_collector().await;
    for (what, changes) in [
        ("region", vec![("AWS_REGION", Some("eu-west-1"))]),
        ("service", vec![("OTEL_FAAS_SIGV4_SERVICE", Some("logs"))]),
        ("session token", vec![("AWS_SESSION_TOKEN", None)]),
        (
            "secret",
            vec![("AWS_SECRET_ACCESS_KEY", Some("not-the-secret"))],
        ),
    ] {
        let telemetry = signing(&collector, &changes);
        match export_spans(&telemetry, what, 1).await {
            FlushOutcome::Failed { error, .. } => {
                assert!(error.contains("403"), "{what}: {error}");
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(collector.requests(), 0);
}

#[tokio::test]
async fn an_amazonaws_endpoint_without_credentials_is_a_startup_error() {
    let telemetry = telemetry(&[(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "https://xray.us-west-2.amazonaws.com/v1/traces".into(),
    )]);
    assert_eq!(telemetry.errors().len(), 1, "{:?}", telemetry.errors());
    assert!(
        telemetry.errors()[0].contains("AWS_ACCESS_KEY_ID"),
        "{:?}",
        telemetry.errors()
    );
}

// ------------------------------------------------------------------------------------------
// Settings this build cannot honour
// ------------------------------------------------------------------------------------------

// This package builds every protocol (grpc and http/json included), so an unknown one stands
// for what the build cannot honour; the runtime's unit tests (`otlp::settings`) pin the
// error of a protocol whose feature is off.
#[tokio::test]
async fn a_protocol_the_build_cannot_honour_is_a_startup_error_and_nothing_is_sent() {
    let collector = Collector::start().await.unwrap();
    let telemetry = telemetry(&[
        endpoint(&collector),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/thrift".into()),
    ]);
    assert_eq!(telemetry.errors().len(), 1, "{:?}", telemetry.errors());
    assert!(
        telemetry.errors()[0].starts_with("OTEL_EXPORTER_OTLP_PROTOCOL=\"http/thrift\""),
        "{:?}",
        telemetry.errors()
    );
    assert_eq!(
        export_spans(&telemetry, "lost", 1).await,
        FlushOutcome::Disabled
    );
    assert_eq!(
        collector.requests(),
        0,
        "no silent fallback to http/protobuf"
    );
}

// ------------------------------------------------------------------------------------------
// Through the real Lambda loop
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn through_the_loop_a_503_then_a_200_delivers_the_invocation_once() {
    let collector = Collector::start_with_options(refusals(&[(503, None)]))
        .await
        .unwrap();
    let platform = Platform::start_with(
        "other",
        &[("OTEL_METRICS_EXPORTER", "none")],
        FunctionConfig::new(FUNCTION),
        Some(collector.endpoint()),
    )
    .await;
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
}

#[tokio::test]
async fn through_the_loop_a_collector_that_stays_unavailable_costs_the_budget_not_the_response() {
    // Always 503: the retries stop at the 300 ms flush budget, the spans are dropped with a
    // warning, and both invocations are answered.
    let overloaded = Collector::start_answering(StatusCode::SERVICE_UNAVAILABLE)
        .await
        .unwrap();
    let platform = Platform::start_with(
        "other",
        &[
            ("OTEL_FAAS_FLUSH_TIMEOUT", "300"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ],
        FunctionConfig::new(FUNCTION),
        Some(overloaded.endpoint()),
    )
    .await;
    let first = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(first.response_json(), Some(json!({ "echo": { "n": 1 } })));
    platform.wait_until_logged("spans failed").await;
    // The last attempt may be the 503 or one cut short by the budget; either way the
    // retries stopped inside it.
    assert!(
        logged(&platform, "past the flush budget") || logged(&platform, "gave up after"),
        "{:#?}",
        platform.function.output()
    );
    assert!(
        overloaded.requests() >= 2,
        "retried: {}",
        overloaded.requests()
    );
    let second = platform.invoke(json!({ "n": 2 })).await;
    assert_eq!(second.response_json(), Some(json!({ "echo": { "n": 2 } })));
}

#[tokio::test]
async fn through_the_loop_a_connection_closed_between_invocations_costs_no_spans() {
    let collector = Collector::start_with_options(CollectorOptions {
        drop_reused_connections: true,
        ..CollectorOptions::default()
    })
    .await
    .unwrap();
    let platform = Platform::start_with(
        "other",
        &[("OTEL_METRICS_EXPORTER", "none")],
        FunctionConfig::new(FUNCTION),
        Some(collector.endpoint()),
    )
    .await;
    for n in 0..3 {
        let outcome = platform.invoke(json!({ "n": n })).await;
        assert!(outcome.is_success());
        assert!(
            collector
                .invocation_traces(&outcome.request_id, ARRIVAL)
                .await
                .is_some(),
            "invocation {n} lost its spans: {:#?}",
            platform.function.output()
        );
    }
    assert!(collector.connections() >= 3);
}

#[tokio::test]
async fn through_the_loop_https_with_gzip_and_a_partial_success_warning() {
    let ca = TestCa::new("loop");
    let mut identity = ca.server.clone();
    identity.client_ca_pem = None;
    let collector = Collector::start_with_options(CollectorOptions {
        tls: Some(identity),
        partial_success: Some((1, "one span was too old".into())),
        ..CollectorOptions::default()
    })
    .await
    .unwrap();
    let ca_file = ca.file("ca.pem");
    let platform = Platform::start_with(
        "other",
        &[
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file.as_str()),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ],
        FunctionConfig::new(FUNCTION),
        Some(collector.endpoint()),
    )
    .await;
    let outcome = platform.invoke(json!({ "n": 1 })).await;
    assert!(outcome.is_success());
    assert!(
        collector
            .invocation_traces(&outcome.request_id, ARRIVAL)
            .await
            .is_some(),
        "{:#?}",
        platform.function.output()
    );
    // The FaaS metrics take the same way.
    assert!(
        collector
            .wait_for_metrics(ARRIVAL, |point| point.name == "faas.invocations")
            .await
    );
    platform.wait_until_logged("one span was too old").await;
    assert!(
        logged(&platform, "rejected 1 spans"),
        "{:#?}",
        platform.function.output()
    );
    let second = platform.invoke(json!({ "n": 2 })).await;
    assert!(second.is_success());
}

#[tokio::test]
async fn through_the_loop_spans_and_metrics_go_as_otlp_json() {
    let platform = Platform::start("other", &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).await;
    let outcome = platform.invoke(json!({ "n": 1 })).await;
    assert!(outcome.is_success());
    assert!(
        platform
            .collector
            .invocation_traces(&outcome.request_id, ARRIVAL)
            .await
            .is_some(),
        "{:#?}",
        platform.function.output()
    );
    assert!(
        platform
            .collector
            .wait_for_metrics(ARRIVAL, |point| point.name == "faas.invocations")
            .await,
        "{:#?}",
        platform.function.output()
    );
    assert_eq!(
        platform.collector.last_export_headers()["content-type"],
        "application/json"
    );
}

#[tokio::test]
async fn through_the_loop_an_untrusted_https_collector_fails_the_export_not_the_invocations() {
    let ca = TestCa::new("loop-untrusted");
    let collector = ca.collector(false).await;
    let platform = Platform::start_with(
        "other",
        &[("OTEL_METRICS_EXPORTER", "none")],
        FunctionConfig::new(FUNCTION),
        Some(collector.endpoint()),
    )
    .await;
    let first = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(first.response_json(), Some(json!({ "echo": { "n": 1 } })));
    platform.wait_until_logged("spans failed").await;
    assert!(
        logged(&platform, "certificate"),
        "the reason is logged: {:#?}",
        platform.function.output()
    );
    let second = platform.invoke(json!({ "n": 2 })).await;
    assert_eq!(second.response_json(), Some(json!({ "echo": { "n": 2 } })));
    assert_eq!(collector.requests(), 0);
}

#[tokio::test]
async fn through_the_loop_a_setting_the_build_cannot_honour_is_logged_as_an_error() {
    let platform = Platform::start(
        "other",
        &[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/thrift")],
    )
    .await;
    let outcome = platform.invoke(json!({ "n": 1 })).await;
    assert!(outcome.is_success(), "the function serves all the same");
    platform
        .wait_until_logged("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .await;
    let lines = platform.function.output();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("ERROR")
                && line.contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")),
        "{lines:#?}"
    );
    assert_eq!(
        platform.collector.requests(),
        0,
        "no span went by another protocol"
    );
}
