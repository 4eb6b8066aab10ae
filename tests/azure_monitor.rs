//! Spans to Application Insights (the runtime's `azure-monitor` feature), received by the
//! ingestion double of `otel-faas-local` over TLS with a CA the test makes: through the
//! Azure custom-handler server driven by the Functions host double, and through the real
//! `lambda_runtime` loop. The assertions are on the telemetry items the endpoint accepted.

use std::net::SocketAddr;
use std::path::PathBuf;

use http::StatusCode;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use otel_faas_local::app_insights::{Envelope, Ingestion, IngestionOptions};
use otel_faas_local::azure::{FunctionsHost, HostInvocation};
use otel_faas_local::collector::{Refusal, TlsIdentity};
use otel_faas_local::emulator::FunctionConfig;
use otel_faas_runtime::azure::{
    AppIdentity, AzureEvent, FunctionApp, FunctionBindings, InvokeResponse, QueueMessage,
    RunningApp, ServiceBusMessage,
};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::telemetry::FlushOutcome;
use otel_faas_runtime::{Error, Telemetry, traced_function};
use serde_json::json;

mod platform;

use platform::{ARRIVAL, FUNCTION, Platform, logged};

const KEY: &str = "6f1d2c3b-4a59-4e68-9d7c-0b1a2f3e4d5c";
const PRODUCER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PRODUCER_SPAN: &str = "00f067aa0ba902b7";
const REQUEST: &str = "Microsoft.ApplicationInsights.Request";

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

/// A CA made for one test, the server certificate it issued for 127.0.0.1, and the CA's
/// PEM file (what `SSL_CERT_FILE` names).
struct TestCa {
    file: PathBuf,
    server: TlsIdentity,
}

impl TestCa {
    fn new(test: &str) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let ca = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
        let cert = params.signed_by(&key, &ca).expect("certificate");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("app-insights-{test}"));
        std::fs::create_dir_all(&dir).expect("certificate directory");
        let file = dir.join("ca.pem");
        std::fs::write(&file, ca_cert.pem()).expect("write PEM");
        TestCa {
            file,
            server: TlsIdentity {
                certificate_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                client_ca_pem: None,
            },
        }
    }

    async fn ingestion(&self, refuse_first: &[u16]) -> Ingestion {
        let refusals: Vec<(u16, Option<u64>)> = refuse_first.iter().map(|s| (*s, None)).collect();
        self.ingestion_refusing(&refusals).await
    }

    /// An endpoint that refuses its first requests with these statuses and `Retry-After`s.
    async fn ingestion_refusing(&self, refuse_first: &[(u16, Option<u64>)]) -> Ingestion {
        Ingestion::start(IngestionOptions {
            tls: self.server.clone(),
            instrumentation_key: KEY.to_owned(),
            refuse_first: refuse_first
                .iter()
                .map(|(status, retry_after)| Refusal {
                    status: StatusCode::from_u16(*status).unwrap(),
                    retry_after: *retry_after,
                })
                .collect(),
        })
        .await
        .expect("ingestion endpoint")
    }

    fn ssl_cert_file(&self) -> String {
        self.file.display().to_string()
    }
}

fn identity() -> AppIdentity {
    AppIdentity {
        app_name: Some("orders-app".into()),
        region: Some("westeurope".into()),
        instance_id: Some("b2c4d6e8f0".into()),
        subscription_id: Some("6e3a1f2b-0000-4000-8000-00000000cafe".into()),
        resource_group: Some("orders-rg".into()),
    }
}

/// The app served on loopback with the pipeline `vars` configure (nothing read from the
/// process environment), and the Functions host double in front of it.
async fn serve(
    app: FunctionApp,
    vars: Vec<(&'static str, String)>,
) -> (RunningApp, FunctionsHost, Telemetry) {
    let config =
        Config::from_lookup(|key| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()));
    let telemetry = Telemetry::builder()
        .with_resource(identity().resource(&config))
        .config(config)
        .build();
    assert_eq!(telemetry.errors(), [] as [String; 0], "start-up errors");
    let running = app
        .telemetry(telemetry.clone())
        .start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the custom handler starts");
    let host = FunctionsHost::new(running.addr());
    (running, host, telemetry)
}

fn to(ingestion: &Ingestion, ca: &TestCa) -> Vec<(&'static str, String)> {
    vec![
        (
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            ingestion.connection_string(),
        ),
        ("SSL_CERT_FILE", ca.ssl_cert_file()),
    ]
}

/// The request item of the invocation `id`.
async fn request_of(ingestion: &Ingestion, id: &str) -> Envelope {
    let of = |e: &Envelope| e.name == REQUEST && e.property("faas.invocation_id") == Some(id);
    assert!(
        ingestion.wait_for(ARRIVAL, of).await,
        "no request item for {id}: {:#?}",
        ingestion.envelopes()
    );
    ingestion.envelopes().into_iter().find(of).expect("found")
}

#[traced_function(trigger = "service_bus")]
async fn process_order(event: AzureEvent<ServiceBusMessage>) -> Result<InvokeResponse, Error> {
    let id = event.payload.body["orderId"].as_i64().ok_or("no orderId")?;
    Ok(InvokeResponse::default().output("shipments", json!({ "orderId": id })))
}

#[traced_function(trigger = "queue")]
async fn resize(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    match event.payload.body.as_str() {
        Some("poison") => Err("cannot resize a poison message".into()),
        _ => Ok(()),
    }
}

fn app() -> FunctionApp {
    FunctionApp::new()
        .identity(identity())
        .function_with(
            "ProcessOrder",
            FunctionBindings::default().with_trigger("order", Some("orders")),
            process_order,
        )
        .function("Resize", resize)
}

fn order(diagnostic_id: &str) -> HostInvocation {
    HostInvocation::new("ProcessOrder")
        .data("order", json!(r#"{"orderId":42}"#))
        .metadata("MessageId", json!("5f1b7c2e9d8a4b3c"))
        .metadata("DeliveryCount", json!(1))
        .metadata(
            "ApplicationProperties",
            json!({ "Diagnostic-Id": diagnostic_id }),
        )
}

fn queue_message(body: &str) -> HostInvocation {
    HostInvocation::new("Resize")
        .data("myQueueItem", json!(body))
        .metadata("DequeueCount", json!(1))
        .metadata("Id", json!("800ae4b3-bdd2-4c08-badd-f08e5a34b865"))
}

// ------------------------------------------------------------------------------------------
// Through the Azure custom-handler server
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_azure_invocation_is_a_request_item_in_its_producers_operation() {
    let ca = TestCa::new("operation");
    let ingestion = ca.ingestion(&[]).await;
    let (_app, host, _telemetry) = serve(app(), to(&ingestion, &ca)).await;
    let answer = host
        .invoke(
            "inv-ai-1",
            &order(&format!("00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01")),
        )
        .await
        .expect("answered");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());

    let request = request_of(&ingestion, "inv-ai-1").await;
    assert_eq!(request.base_type, "RequestData");
    assert_eq!(request.instrumentation_key, KEY);
    assert_eq!(request.field("name"), Some("orders-app/ProcessOrder"));
    assert_eq!(request.success(), Some(true));
    // The operation is the producer's trace, and the request's parent is its span.
    assert_eq!(request.tag("ai.operation.id"), Some(PRODUCER_TRACE));
    assert_eq!(request.tag("ai.operation.parentId"), Some(PRODUCER_SPAN));
    assert_eq!(request.tag("ai.cloud.role"), Some("orders-app"));
    let request_id = request.field("id").expect("an id").to_owned();
    assert_eq!(request_id.len(), 16, "the span id: {request_id}");

    // The trigger's CONSUMER span is a request too, a child of the invocation's.
    let envelopes = ingestion.envelopes();
    let consumer = envelopes
        .iter()
        .find(|e| e.field("name") == Some("process orders"))
        .unwrap_or_else(|| panic!("no `process orders` item: {envelopes:#?}"));
    assert_eq!(consumer.base_type, "RequestData");
    assert_eq!(consumer.tag("ai.operation.id"), Some(PRODUCER_TRACE));
    assert_eq!(
        consumer.tag("ai.operation.parentId"),
        Some(request_id.as_str())
    );
    assert_eq!(
        consumer.property("messaging.destination.name"),
        Some("orders")
    );
}

#[tokio::test]
async fn a_failed_azure_invocation_is_a_failed_request_with_its_exception() {
    let ca = TestCa::new("failure");
    let ingestion = ca.ingestion(&[]).await;
    let (_app, host, _telemetry) = serve(app(), to(&ingestion, &ca)).await;
    let answer = host
        .invoke("inv-ai-poison", &queue_message("poison"))
        .await
        .expect("answered");
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);

    let request = request_of(&ingestion, "inv-ai-poison").await;
    assert_eq!(request.success(), Some(false));
    assert!(request.property("error.type").is_some(), "{request:#?}");
    let exception = ingestion
        .envelopes()
        .into_iter()
        .find(|e| e.base_type == "ExceptionData")
        .expect("the exception event is an exception item");
    assert_eq!(
        exception.tag("ai.operation.id"),
        request.tag("ai.operation.id")
    );
    assert!(
        exception
            .base_data
            .to_string()
            .contains("cannot resize a poison message"),
        "{exception:#?}"
    );
    let ok = host
        .invoke("inv-ai-fine", &queue_message("cat.png"))
        .await
        .expect("answered");
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        request_of(&ingestion, "inv-ai-fine").await.success(),
        Some(true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_host_requests_are_one_request_item_each() {
    let ca = TestCa::new("concurrent");
    let ingestion = ca.ingestion(&[]).await;
    let (_app, host, _telemetry) = serve(app(), to(&ingestion, &ca)).await;
    let ids: Vec<String> = (0..6).map(|n| format!("inv-ai-c{n}")).collect();
    let message = queue_message("cat.png");
    let answers =
        futures_util::future::join_all(ids.iter().map(|id| host.invoke(id, &message))).await;
    for answer in answers {
        assert_eq!(answer.expect("answered").status, StatusCode::OK);
    }
    let mut operations = std::collections::HashSet::new();
    for id in &ids {
        let request = request_of(&ingestion, id).await;
        operations.insert(
            request
                .tag("ai.operation.id")
                .expect("operation")
                .to_owned(),
        );
    }
    assert_eq!(operations.len(), ids.len(), "an operation each");
    let requests = ingestion
        .envelopes()
        .iter()
        .filter(|e| e.name == REQUEST && e.property("faas.invocation_id").is_some())
        .count();
    assert_eq!(requests, ids.len(), "each invocation exported once");
}

#[tokio::test]
async fn a_503_then_a_200_delivers_the_invocation_once() {
    let ca = TestCa::new("retry");
    let ingestion = ca.ingestion(&[503]).await;
    let mut vars = to(&ingestion, &ca);
    // The exporter's first retry waits 0.5 to 1 s: a budget it fits in.
    vars.push(("OTEL_FAAS_FLUSH_TIMEOUT", "10000".into()));
    let (_app, host, telemetry) = serve(app(), vars).await;
    let answer = host
        .invoke("inv-ai-retry", &queue_message("cat.png"))
        .await
        .expect("answered");
    assert_eq!(answer.status, StatusCode::OK);
    request_of(&ingestion, "inv-ai-retry").await;
    let requests: Vec<Envelope> = ingestion
        .envelopes()
        .into_iter()
        .filter(|e| e.property("faas.invocation_id") == Some("inv-ai-retry"))
        .collect();
    assert_eq!(requests.len(), 1, "delivered once: {requests:#?}");
    assert_eq!((ingestion.refused(), ingestion.requests()), (1, 1));
    assert_eq!(telemetry.dropped_spans(), 0);
}

#[tokio::test]
async fn an_endpoint_that_stays_unavailable_costs_one_attempt_and_every_invocation_is_served() {
    let ca = TestCa::new("down");
    // Always 503: the first export gives up when no retry fits its 300 ms budget, the next
    // makes one attempt.
    let ingestion = ca.ingestion(&[503; 8]).await;
    let mut vars = to(&ingestion, &ca);
    vars.push(("OTEL_FAAS_FLUSH_TIMEOUT", "300".into()));
    let (_app, host, telemetry) = serve(app(), vars).await;
    for id in ["inv-ai-down-1", "inv-ai-down-2"] {
        let answer = host
            .invoke(id, &queue_message("cat.png"))
            .await
            .expect("answered");
        assert_eq!(answer.status, StatusCode::OK, "{id}");
    }
    assert!(ingestion.envelopes().is_empty());
    assert_eq!(ingestion.refused(), 2, "one attempt per invocation");
    assert!(telemetry.dropped_spans() >= 2);
}

#[tokio::test]
async fn a_malformed_connection_string_is_a_startup_error_naming_the_variable_not_the_key() {
    let config = Config::from_lookup(|key| {
        (key == "APPLICATIONINSIGHTS_CONNECTION_STRING")
            .then(|| format!("InstrumentationKey={KEY};IngestionEndpoint"))
    });
    let telemetry = Telemetry::builder().config(config).build();
    let errors = telemetry.errors().join("\n");
    assert!(
        errors.contains("APPLICATIONINSIGHTS_CONNECTION_STRING: entry 2 is not Key=Value"),
        "{errors}"
    );
    assert!(!errors.contains(&KEY[..8]), "{errors}");
}

// ------------------------------------------------------------------------------------------
// Retries held to the flush budget (a pipeline flushed directly, its outcome read)
// ------------------------------------------------------------------------------------------

/// A pipeline exporting to `ingestion` with this flush budget, and `n` spans flushed.
async fn flush_spans(
    ingestion: &Ingestion,
    ca: &TestCa,
    budget_ms: u64,
    n: usize,
) -> (Telemetry, FlushOutcome) {
    let mut vars = to(ingestion, ca);
    vars.push(("OTEL_FAAS_FLUSH_TIMEOUT", budget_ms.to_string()));
    let config =
        Config::from_lookup(|key| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()));
    let telemetry = Telemetry::builder().config(config).build();
    let outcome = flush_more(&telemetry, n).await;
    (telemetry, outcome)
}

async fn flush_more(telemetry: &Telemetry, n: usize) -> FlushOutcome {
    let tracer = telemetry.provider().tracer("azure-monitor-test");
    for i in 0..n {
        tracer.start(format!("work-{i}")).end();
    }
    telemetry.flush().await
}

fn failure(outcome: &FlushOutcome) -> &str {
    match outcome {
        FlushOutcome::Failed { error, .. } => error,
        other => panic!("not a failed export: {other:?}"),
    }
}

#[tokio::test]
async fn an_unavailable_endpoint_gets_the_retries_that_fit_then_one_attempt_per_export() {
    let ca = TestCa::new("budget");
    let ingestion = ca.ingestion(&[503; 8]).await;
    // 1.5 s: the first retry (0.5 to 1 s later) fits, the second (1 to 2 s after that) cannot.
    let (telemetry, first) = flush_spans(&ingestion, &ca, 1500, 2).await;
    let error = failure(&first);
    assert!(
        error.contains("the next attempt could not start within the flush budget")
            && error.contains("gave up after 2 attempts"),
        "{error}"
    );
    assert_eq!(ingestion.refused(), 2);
    let second = flush_more(&telemetry, 1).await;
    assert!(
        failure(&second).contains("not retried: the previous export could not get through"),
        "{second:?}"
    );
    assert_eq!(ingestion.refused(), 3, "one attempt");
    assert_eq!(telemetry.dropped_spans(), 3);
}

#[tokio::test]
async fn a_retry_after_past_the_budget_gives_up_at_once() {
    let ca = TestCa::new("retry-after");
    let ingestion = ca.ingestion_refusing(&[(429, Some(30))]).await;
    let (_telemetry, outcome) = flush_spans(&ingestion, &ca, 1500, 1).await;
    let error = failure(&outcome);
    assert!(
        error.contains("answered 429") && error.contains("gave up after 1 attempt"),
        "{error}"
    );
    assert_eq!((ingestion.refused(), ingestion.requests()), (1, 0));
}

#[tokio::test]
async fn a_gateways_502_is_retried_as_microsofts_exporters_do() {
    let ca = TestCa::new("gateway");
    let ingestion = ca.ingestion(&[502]).await;
    let (_telemetry, outcome) = flush_spans(&ingestion, &ca, 10_000, 2).await;
    assert_eq!(outcome, FlushOutcome::Exported(2));
    assert_eq!((ingestion.refused(), ingestion.requests()), (1, 1));
    assert_eq!(ingestion.envelopes().len(), 2);
}

// ------------------------------------------------------------------------------------------
// Through the real Lambda loop
// ------------------------------------------------------------------------------------------

async fn lambda(ingestion: &Ingestion, ca: &TestCa, extra: &[(&str, &str)]) -> Platform {
    let connection_string = ingestion.connection_string();
    let cert = ca.ssl_cert_file();
    let mut env = vec![
        (
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            connection_string.as_str(),
        ),
        ("SSL_CERT_FILE", cert.as_str()),
    ];
    env.extend_from_slice(extra);
    Platform::start_with("other", &env, FunctionConfig::new(FUNCTION), None).await
}

#[tokio::test]
async fn through_the_loop_invocations_are_request_items_and_errors_are_failed_ones() {
    let ca = TestCa::new("loop");
    let ingestion = ca.ingestion(&[]).await;
    let platform = lambda(&ingestion, &ca, &[]).await;
    let ok = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(ok.response_json(), Some(json!({ "echo": { "n": 1 } })));
    let request = request_of(&ingestion, &ok.request_id).await;
    assert_eq!(request.field("name"), Some(FUNCTION));
    assert_eq!(request.success(), Some(true));
    assert_eq!(request.tag("ai.cloud.role"), Some(FUNCTION));
    assert_eq!(
        request.tag("ai.operation.parentId"),
        None,
        "a new trace's root"
    );
    let operation = request.tag("ai.operation.id").expect("an operation id");
    assert_eq!(operation.len(), 32);

    let failed = platform.invoke(json!({ "fail": "out of stock" })).await;
    let request = request_of(&ingestion, &failed.request_id).await;
    assert_eq!(request.success(), Some(false));
    assert_ne!(request.tag("ai.operation.id"), Some(operation));
    // Nothing went to the OTLP collector: Application Insights replaced it.
    assert!(platform.collector.spans().is_empty());
    assert!(!logged(&platform, &KEY[9..]), "the key was logged");
}

#[tokio::test]
async fn through_the_loop_a_down_endpoint_costs_the_bound_and_the_next_invocation_is_served() {
    let ca = TestCa::new("loop-down");
    // A port nothing listens on.
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let connection_string = format!("InstrumentationKey={KEY};IngestionEndpoint=https://{closed}/");
    let cert = ca.ssl_cert_file();
    let platform = Platform::start_with(
        "other",
        &[
            (
                "APPLICATIONINSIGHTS_CONNECTION_STRING",
                connection_string.as_str(),
            ),
            ("SSL_CERT_FILE", cert.as_str()),
            ("OTEL_FAAS_FLUSH_TIMEOUT", "300"),
        ],
        FunctionConfig::new(FUNCTION),
        None,
    )
    .await;
    for n in 1..=2 {
        let outcome = platform.invoke(json!({ "n": n })).await;
        assert_eq!(outcome.response_json(), Some(json!({ "echo": { "n": n } })));
    }
    platform.wait_until_logged("Application Insights").await;
    assert!(
        logged(&platform, "Application Insights"),
        "{:#?}",
        platform.function.output()
    );
}

#[tokio::test]
async fn through_the_loop_a_malformed_connection_string_is_logged_and_invocations_are_served() {
    let platform = Platform::start_with(
        "other",
        &[(
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "InstrumentationKey=6f1d2c3b-not-a-uuid;IngestionEndpoint=https://x/",
        )],
        FunctionConfig::new(FUNCTION),
        None,
    )
    .await;
    let outcome = platform.invoke(json!({ "n": 1 })).await;
    assert_eq!(outcome.response_json(), Some(json!({ "echo": { "n": 1 } })));
    let expected = "APPLICATIONINSIGHTS_CONNECTION_STRING: its InstrumentationKey is not a UUID";
    platform.wait_until_logged(expected).await;
    assert!(
        logged(&platform, expected),
        "{:#?}",
        platform.function.output()
    );
    assert!(!logged(&platform, "not-a-uuid"), "the key was logged");
}
