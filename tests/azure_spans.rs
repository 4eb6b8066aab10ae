//! Azure Functions custom handlers end to end: the real server on 127.0.0.1, the Functions
//! host's requests posted to it over HTTP in the host's own encoding ([`HostInvocation`]:
//! scalars and ids as JSON text, batches as JSON-text arrays, double-encoded bodies), and
//! the spans the real SDK exports.

use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use otel_faas_local::azure::{FunctionsHost, HostAnswer, HostInvocation};
use otel_faas_runtime::azure::{
    AppIdentity, AzureEvent, EventHubsBatch, FunctionApp, FunctionBindings, HttpRequest,
    InvokeResponse, QueueMessage, RunningApp, ServiceBusMessage, TimerInfo,
};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::export::MemoryExporter;
use otel_faas_runtime::metrics::{MemoryMetricExporter, PointValue};
use otel_faas_runtime::testing::{SpanDataExt, Spans};
use otel_faas_runtime::{Error, Telemetry, traced_function};
use serde_json::{Value, json};

const PRODUCER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PRODUCER_SPAN: &str = "00f067aa0ba902b7";

fn identity() -> AppIdentity {
    AppIdentity {
        app_name: Some("orders-app".into()),
        region: Some("westeurope".into()),
        instance_id: Some("b2c4d6e8f0".into()),
        subscription_id: Some("6e3a1f2b-0000-4000-8000-00000000cafe".into()),
        resource_group: Some("orders-rg".into()),
    }
}

/// An app served on loopback with an in-memory exporter, and the host double.
struct Harness {
    running: RunningApp,
    host: FunctionsHost,
    exporter: MemoryExporter,
    telemetry: Telemetry,
}

impl Harness {
    async fn start(app: FunctionApp) -> Harness {
        let exporter = MemoryExporter::default();
        let config = Config::from_lookup(|_| None);
        let telemetry = Telemetry::builder()
            .with_resource(identity().resource(&config))
            .config(config)
            .with_exporter(exporter.clone())
            .build();
        let running = app
            .telemetry(telemetry.clone())
            .start(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("the custom handler starts");
        let host = FunctionsHost::new(running.addr());
        Harness {
            running,
            host,
            exporter,
            telemetry,
        }
    }

    /// Invokes a function as the host does.
    async fn invoke(&self, id: &str, invocation: HostInvocation) -> HostAnswer {
        self.host
            .invoke(id, &invocation)
            .await
            .expect("the custom handler answers")
    }

    /// Posts an invocation JSON as it is: the native form, which the triggers accept too.
    async fn invoke_json(&self, function: &str, id: &str, payload: Value) -> HostAnswer {
        let body = Bytes::from(serde_json::to_vec(&payload).unwrap());
        self.host
            .post_raw(&format!("/{function}"), id, body)
            .await
            .expect("the custom handler answers")
    }

    fn spans(&self) -> Spans {
        Spans(self.exporter.spans())
    }
}

fn app() -> FunctionApp {
    FunctionApp::new().identity(identity())
}

fn invocation<'a>(spans: &'a Spans, id: &str) -> &'a SpanData {
    spans
        .0
        .iter()
        .find(|s| s.attr("faas.invocation_id").as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no invocation span for {id}; spans: {:?}", spans.names()))
}

fn error_of(span: &SpanData) -> Option<String> {
    match &span.status {
        Status::Error { description } => Some(description.to_string()),
        _ => None,
    }
}

// ---- FaaS metrics --------------------------------------------------------------------

#[tokio::test]
async fn azure_invocations_are_counted_with_their_trigger() {
    let exporter = MemoryExporter::default();
    let metrics = MemoryMetricExporter::default();
    // Exported with every invocation, to be read at once (else every 60 s, and on SIGTERM).
    let config =
        Config::from_lookup(|key| (key == "OTEL_METRIC_EXPORT_INTERVAL").then(|| "0".to_owned()));
    let telemetry = Telemetry::builder()
        .with_resource(identity().resource(&config))
        .config(config)
        .with_exporter(exporter.clone())
        .with_metrics_exporter(metrics.clone())
        .build();
    let running = app()
        .function("ProcessOrder", process_order)
        .telemetry(telemetry)
        .start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("the custom handler starts");
    let host = FunctionsHost::new(running.addr());
    let ok = service_bus_payload(json!({}));
    host.invoke("m-1", &ok).await.unwrap();
    let failing = ok.data("order", json!("{}"));
    host.invoke("m-2", &failing).await.unwrap();
    host.post_raw(
        "/ProcessOrder",
        "m-3",
        Bytes::from_static(br#"{"not": "the host's JSON"}"#),
    )
    .await
    .unwrap();
    let points = metrics.points();
    let total = |name: &str| -> f64 {
        points
            .iter()
            .filter(|p| p.name == name)
            .map(|p| match p.value {
                PointValue::Sum(v) => v,
                PointValue::Histogram { count, .. } => count as f64,
            })
            .sum()
    };
    assert_eq!(
        total("faas.invocations"),
        1.0,
        "the successful one: {points:?}"
    );
    assert_eq!(
        total("faas.errors"),
        2.0,
        "a failure and a malformed request"
    );
    assert_eq!(total("faas.coldstarts"), 1.0);
    assert_eq!(
        total("faas.invoke_duration"),
        3.0,
        "one per invocation, the malformed one included"
    );
    assert!(
        points
            .iter()
            .all(|p| p.attr("faas.trigger") == Some("pubsub"))
    );
}

// ---- Service Bus ---------------------------------------------------------------------

#[traced_function(trigger = "service_bus")]
async fn process_order(event: AzureEvent<ServiceBusMessage>) -> Result<InvokeResponse, Error> {
    let id = event.payload.body["orderId"].as_i64().ok_or("no orderId")?;
    Ok(InvokeResponse::default()
        .output("shipments", json!({ "orderId": id }))
        .log(format!("order {id} processed")))
}

/// One Service Bus message as the host sends it: the body a string (double-encoded on the
/// wire), ids and counts as JSON text, `ApplicationProperties` an object.
fn service_bus_payload(properties: Value) -> HostInvocation {
    HostInvocation::new("ProcessOrder")
        .data("order", json!(r#"{"orderId":42}"#))
        .metadata("MessageId", json!("5f1b7c2e9d8a4b3c"))
        .metadata("DeliveryCount", json!(2))
        .metadata("CorrelationId", json!("checkout-7"))
        .metadata("ContentType", json!("application/json"))
        .metadata("SequenceNumber", json!(17))
        .metadata_time("EnqueuedTimeUtc", "2026-11-21T08:59:00")
        .metadata("ApplicationProperties", properties)
}

fn service_bus_app() -> FunctionApp {
    app().function_with(
        "ProcessOrder",
        FunctionBindings::default().with_trigger("order", Some("orders")),
        process_order,
    )
}

#[tokio::test]
async fn a_service_bus_message_continues_its_producers_trace() {
    let h = Harness::start(service_bus_app()).await;
    let diagnostic_id = format!("00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01");
    let answer = h
        .invoke(
            "inv-sb-1",
            service_bus_payload(json!({ "Diagnostic-Id": diagnostic_id })),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json().expect("JSON answer");
    assert_eq!(body["Outputs"]["shipments"]["orderId"], 42);
    assert_eq!(body["Logs"][0], "order 42 processed");

    let spans = h.spans();
    let server = invocation(&spans, "inv-sb-1");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(
        server.name, "orders-app/ProcessOrder",
        "the FaaS conventions: the function name, <FUNCAPP>/<FUNC> on Azure"
    );
    assert_eq!(server.span_context.trace_id().to_string(), PRODUCER_TRACE);
    assert_eq!(server.parent_span_id.to_string(), PRODUCER_SPAN);
    assert_eq!(server.attr("faas.trigger").as_deref(), Some("pubsub"));
    assert_eq!(
        server.attr("faas.name").as_deref(),
        Some("orders-app/ProcessOrder")
    );
    assert_eq!(
        server.attr("cloud.resource_id").as_deref(),
        Some(
            "/subscriptions/6e3a1f2b-0000-4000-8000-00000000cafe/resourceGroups/orders-rg/providers/Microsoft.Web/sites/orders-app/functions/ProcessOrder"
        )
    );
    assert_eq!(server.attr("faas.coldstart").as_deref(), Some("true"));

    let consumer = spans.named("process orders");
    assert_eq!(consumer.span_kind, SpanKind::Consumer);
    assert_eq!(consumer.parent_span_id, server.span_context.span_id());
    assert_eq!(
        consumer.attr("messaging.system").as_deref(),
        Some("servicebus")
    );
    assert_eq!(
        consumer.attr("messaging.destination.name").as_deref(),
        Some("orders")
    );
    assert_eq!(
        consumer.attr("messaging.message.id").as_deref(),
        Some("5f1b7c2e9d8a4b3c")
    );
    assert_eq!(
        consumer
            .attr("messaging.message.conversation_id")
            .as_deref(),
        Some("checkout-7")
    );
    assert_eq!(
        consumer
            .attr("messaging.servicebus.message.delivery_count")
            .as_deref(),
        Some("2")
    );

    let resource = h.telemetry.resource();
    let get = |k: &'static str| {
        resource
            .get(&opentelemetry::Key::from_static_str(k))
            .map(|v| v.to_string())
    };
    assert_eq!(get("cloud.provider").as_deref(), Some("azure"));
    assert_eq!(get("cloud.platform").as_deref(), Some("azure.functions"));
    assert_eq!(get("cloud.region").as_deref(), Some("westeurope"));
    assert_eq!(get("faas.instance").as_deref(), Some("b2c4d6e8f0"));
    h.running.shutdown().await;
}

#[tokio::test]
async fn a_service_bus_message_with_a_malformed_diagnostic_id_starts_a_new_trace() {
    let h = Harness::start(service_bus_app()).await;
    // The hierarchical Request-Id format, and a W3C value with a short trace id.
    for (id, value) in [
        ("inv-sb-legacy", "|4bf92f3577b34da6.1."),
        ("inv-sb-short", "00-4bf92f35-00f067aa0ba902b7-01"),
    ] {
        let answer = h
            .invoke(id, service_bus_payload(json!({ "Diagnostic-Id": value })))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        let spans = h.spans();
        let server = invocation(&spans, id);
        assert_eq!(server.parent_span_id, SpanId::INVALID, "{id}: a new root");
        assert_ne!(server.span_context.trace_id().to_string(), PRODUCER_TRACE);
    }
    h.running.shutdown().await;
}

#[tokio::test]
async fn user_properties_and_traceparent_carry_the_context_too() {
    let h = Harness::start(service_bus_app()).await;
    // An older extension's `UserProperties`, and as JSON text, which is accepted too.
    let mut payload = service_bus_payload(json!(null)).to_json();
    payload["Metadata"]["UserProperties"] = json!(format!(
        "{{\"traceparent\": \"00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01\"}}"
    ));
    let answer = h.invoke_json("ProcessOrder", "inv-sb-user", payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let spans = h.spans();
    let server = invocation(&spans, "inv-sb-user");
    assert_eq!(server.span_context.trace_id().to_string(), PRODUCER_TRACE);
    h.running.shutdown().await;
}

// ---- Storage queue -------------------------------------------------------------------

#[traced_function(trigger = "queue")]
async fn resize(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    match event.payload.body.as_str() {
        Some("poison") => Err("cannot resize a poison message".into()),
        _ => Ok(()),
    }
}

/// A Storage queue message as the host sends it to `function`.
fn queue_to(function: &str, body: &str) -> HostInvocation {
    HostInvocation::new(function)
        .data("myQueueItem", json!(body))
        .metadata("DequeueCount", json!(3))
        .metadata_time("ExpirationTime", "2026-11-28T09:00:00+00:00")
        .metadata("Id", json!("800ae4b3-bdd2-4c08-badd-f08e5a34b865"))
        .metadata_time("InsertionTime", "2026-11-21T08:58:31+00:00")
        .metadata_time("NextVisibleTime", "2026-11-21T09:08:32+00:00")
        .metadata("PopReceipt", json!("AgAAAAMAAAAAAAAAAgtnj8x+1QE="))
}

/// A Storage queue message for `Resize`.
fn queue_payload(body: &str) -> HostInvocation {
    queue_to("Resize", body)
}

fn queue_app() -> FunctionApp {
    app().function_with(
        "Resize",
        FunctionBindings::default().with_trigger("myQueueItem", Some("images")),
        resize,
    )
}

#[tokio::test]
async fn a_queue_message_gets_a_consumer_span_with_its_id_and_dequeue_count() {
    let h = Harness::start(queue_app()).await;
    let answer = h.invoke("inv-q-1", queue_payload("photo-1.png")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let spans = h.spans();
    let server = invocation(&spans, "inv-q-1");
    // A Storage queue message carries no trace context: a new trace.
    assert_eq!(server.parent_span_id, SpanId::INVALID);
    let consumer = spans.named("process images");
    assert_eq!(consumer.parent_span_id, server.span_context.span_id());
    assert_eq!(
        consumer.attr("messaging.system").as_deref(),
        Some("azure.storage.queue")
    );
    assert_eq!(
        consumer.attr("messaging.message.id").as_deref(),
        Some("800ae4b3-bdd2-4c08-badd-f08e5a34b865")
    );
    assert_eq!(
        consumer
            .attr("otel_faas.azure.storage.queue.message.dequeue_count")
            .as_deref(),
        Some("3")
    );
    h.running.shutdown().await;
}

#[tokio::test]
async fn a_failing_handler_answers_500_with_its_message_and_an_error_span() {
    let h = Harness::start(queue_app()).await;
    let answer = h.invoke("inv-q-poison", queue_payload("poison")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    let body = answer.json().expect("JSON answer");
    assert!(
        body["Logs"][0]
            .as_str()
            .unwrap()
            .contains("cannot resize a poison message"),
        "{body}"
    );
    let spans = h.spans();
    let server = invocation(&spans, "inv-q-poison");
    assert_eq!(
        error_of(server).as_deref(),
        Some("cannot resize a poison message")
    );
    assert!(error_of(spans.named("process images")).is_some());
    h.running.shutdown().await;
}

// ---- malformed requests --------------------------------------------------------------

#[tokio::test]
async fn a_malformed_host_payload_is_a_readable_400_and_an_error_span_never_a_crash() {
    let h = Harness::start(queue_app()).await;
    let cases: [(&str, Bytes, &str); 3] = [
        (
            "inv-bad-json",
            Bytes::from_static(b"{\"Data\": "),
            "not the Functions host's JSON",
        ),
        (
            "inv-bad-data",
            Bytes::from_static(br#"{"Data": [1, 2]}"#),
            "Data",
        ),
        (
            "inv-bad-meta",
            Bytes::from(
                serde_json::to_vec(
                    &queue_payload("x")
                        .metadata("DequeueCount", json!("three"))
                        .to_json(),
                )
                .unwrap(),
            ),
            "Metadata.DequeueCount",
        ),
    ];
    for (id, body, expected) in cases {
        let answer = h
            .host
            .post_raw("/Resize", id, body)
            .await
            .expect("answered");
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{id}");
        let message = answer.json().expect("JSON answer")["Logs"][0]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains("function `Resize`"), "{id}: {message}");
        assert!(message.contains(expected), "{id}: {message}");
        let spans = h.spans();
        let server = invocation(&spans, id);
        assert_eq!(
            server.attr("error.type").as_deref(),
            Some("otel_faas.azure.InvalidPayload")
        );
        assert_eq!(
            server.attr("faas.name").as_deref(),
            Some("orders-app/Resize")
        );
        assert!(error_of(server).unwrap().contains(expected));
    }
    // Still serving.
    let answer = h.invoke("inv-after", queue_payload("ok.png")).await;
    assert_eq!(answer.status, StatusCode::OK);
    h.running.shutdown().await;
}

#[tokio::test]
async fn an_unknown_function_is_a_404_naming_the_known_ones() {
    let h = Harness::start(queue_app()).await;
    let answer = h.invoke("inv-404", queue_to("Thumbnail", "x")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.text().contains("Resize"), "{}", answer.text());
    h.running.shutdown().await;
}

#[traced_function(trigger = "queue")]
async fn explode(_event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    panic!("resizer out of memory")
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_and_an_error_span_and_the_server_lives_on() {
    let h = Harness::start(app().function("Explode", explode)).await;
    let answer = h.invoke("inv-panic", queue_to("Explode", "x")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        answer.text().contains("resizer out of memory"),
        "{}",
        answer.text()
    );
    let spans = h.spans();
    let server = invocation(&spans, "inv-panic");
    assert_eq!(server.attr("error.type").as_deref(), Some("panic"));
    let again = h.invoke("inv-panic-2", queue_to("Explode", "x")).await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);
    let spans = h.spans();
    assert_eq!(
        invocation(&spans, "inv-panic-2")
            .attr("faas.coldstart")
            .as_deref(),
        Some("false")
    );
    h.running.shutdown().await;
}

// ---- Event Hubs ----------------------------------------------------------------------

#[traced_function(trigger = "event_hubs")]
async fn ingest(event: AzureEvent<EventHubsBatch>) -> Result<(), Error> {
    assert_eq!(event.payload.events.len(), 3);
    Ok(())
}

#[tokio::test]
async fn an_event_hubs_batch_links_each_event_that_carries_a_context() {
    let h = Harness::start(app().function_with(
        "Ingest",
        FunctionBindings::default().with_trigger("events", None),
        ingest,
    ))
    .await;
    // `"cardinality": "many"` as the host writes it: the bodies (`string[]`) and every
    // `*Array` are JSON text; `PartitionContext` is an object.
    let bodies: Vec<String> = (1..=3).map(|r| format!("{{\"reading\":{r}}}")).collect();
    let payload = HostInvocation::new("Ingest")
        .data("events", json!(bodies))
        .metadata(
            "PartitionContext",
            json!({ "EventHubName": "telemetry", "ConsumerGroup": "$Default", "PartitionId": "3", "FullyQualifiedNamespace": "orders.servicebus.windows.net" }),
        )
        .metadata(
            "PropertiesArray",
            json!([
                { "Diagnostic-Id": format!("00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01") },
                {},
                { "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
            ]),
        )
        .metadata("SequenceNumberArray", json!([100, 101, 102]))
        .metadata("OffsetArray", json!(["4096", "4160", "4224"]))
        .metadata("PartitionKeyArray", json!([null, null, null]))
        .metadata(
            "EnqueuedTimeUtcArray",
            json!(["2023-12-01T01:22:10", "2023-12-01T01:22:11", "2023-12-01T01:22:12"]),
        );
    let answer = h.invoke("inv-eh-1", payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let spans = h.spans();
    let consumer = spans.named("process telemetry");
    assert_eq!(
        consumer.attr("messaging.system").as_deref(),
        Some("eventhubs")
    );
    assert_eq!(
        consumer.attr("messaging.batch.message_count").as_deref(),
        Some("3")
    );
    assert_eq!(
        consumer
            .attr("messaging.destination.partition.id")
            .as_deref(),
        Some("3")
    );
    assert_eq!(
        consumer.attr("messaging.consumer.group.name").as_deref(),
        Some("$Default")
    );
    let linked: Vec<String> = consumer
        .links
        .iter()
        .map(|l| l.span_context.trace_id().to_string())
        .collect();
    assert_eq!(linked, [PRODUCER_TRACE, "0af7651916cd43dd8448eb211c80319c"]);
    // The registry's Event Hubs attribute, and no invented sequence-number one.
    let first = &consumer.links[0].attributes;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(
        first[0].key.as_str(),
        "messaging.eventhubs.message.enqueued_time"
    );
    assert_eq!(first[0].value, opentelemetry::Value::I64(1_701_393_730));
    let server = invocation(&spans, "inv-eh-1");
    assert_eq!(server.parent_span_id, SpanId::INVALID);
    h.running.shutdown().await;
}

// ---- timer ---------------------------------------------------------------------------

#[traced_function(trigger = "timer")]
async fn nightly(event: AzureEvent<TimerInfo>) -> Result<(), Error> {
    tracing::info!(past_due = event.payload.is_past_due, "cleaning up");
    Ok(())
}

#[tokio::test]
async fn a_timer_run_is_a_new_trace_with_its_past_due_flag() {
    let bindings = FunctionBindings::parse(
        br#"{"bindings": [{"type": "timerTrigger", "direction": "in", "name": "timer", "schedule": "0 0 2 * * *"}]}"#,
    )
    .unwrap();
    let h = Harness::start(app().function_with("Nightly", bindings, nightly)).await;
    // `TimerInfo` serializes as an object, which the host keeps as one.
    let payload = HostInvocation::new("Nightly")
        .data(
            "timer",
            json!({ "Schedule": { "AdjustForDST": true }, "ScheduleStatus": null, "IsPastDue": true }),
        )
        .utc_now("2026-11-21T02:00:00.0040000Z");
    let answer = h.invoke("inv-timer-1", payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let spans = h.spans();
    let server = invocation(&spans, "inv-timer-1");
    assert_eq!(server.name, "orders-app/Nightly");
    assert_eq!(server.parent_span_id, SpanId::INVALID);
    assert_eq!(server.attr("faas.trigger").as_deref(), Some("timer"));
    assert_eq!(
        server
            .attr("otel_faas.azure.functions.timer.is_past_due")
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        server.attr("faas.time").as_deref(),
        Some("2026-11-21T02:00:00.0040000Z")
    );
    h.running.shutdown().await;
}

// ---- HTTP ----------------------------------------------------------------------------

#[traced_function(trigger = "http")]
async fn orders(event: AzureEvent<HttpRequest>) -> Result<http::Response<String>, Error> {
    let status = match event.payload.uri().query() {
        Some(q) if q.contains("fail") => StatusCode::SERVICE_UNAVAILABLE,
        _ if event.payload.method() == http::Method::POST => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok(http::Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(format!(
            "order {}",
            String::from_utf8_lossy(event.payload.body())
        ))?)
}

#[tokio::test]
async fn an_http_trigger_in_the_hosts_json_is_a_server_span_under_the_callers_trace() {
    let h = Harness::start(app().function("orders", orders)).await;
    let request = http::Request::builder()
        .method("POST")
        .uri("https://orders-app.azurewebsites.net/api/orders?code=s3cr3t&page=2")
        .header("content-type", "application/json")
        .header(
            "traceparent",
            format!("00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01"),
        )
        .header("user-agent", "curl/8.5.0")
        .header("x-forwarded-for", "203.0.113.7:51234")
        .header("host", "orders-app.azurewebsites.net")
        .body(Bytes::from_static(b"{\"id\":1005}"))
        .unwrap();
    let payload = HostInvocation::new("orders").http_request("req", &request);
    let answer = h.invoke("inv-http-1", payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json().expect("JSON answer");
    assert_eq!(body["Outputs"]["res"]["statusCode"], 201);
    assert_eq!(body["Outputs"]["res"]["body"], "order {\"id\":1005}");

    let spans = h.spans();
    let server = invocation(&spans, "inv-http-1");
    assert_eq!(server.name, "POST /api/orders");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(server.span_context.trace_id().to_string(), PRODUCER_TRACE);
    assert_eq!(server.attr("faas.trigger").as_deref(), Some("http"));
    assert_eq!(server.attr("http.request.method").as_deref(), Some("POST"));
    assert_eq!(server.attr("http.route").as_deref(), Some("/api/orders"));
    assert_eq!(
        server.attr("url.query").as_deref(),
        Some("code=REDACTED&page=2")
    );
    assert_eq!(
        server.attr("http.response.status_code").as_deref(),
        Some("201")
    );
    assert_eq!(
        server.attr("user_agent.original").as_deref(),
        Some("curl/8.5.0")
    );
    assert_eq!(
        server.attr("server.address").as_deref(),
        Some("orders-app.azurewebsites.net")
    );
    assert_eq!(server.status, Status::Unset);
    h.running.shutdown().await;
}

#[tokio::test]
async fn a_forwarded_http_request_is_answered_directly_and_a_5xx_is_an_error() {
    let h = Harness::start(app().function("orders", orders)).await;
    let request = http::Request::builder()
        .method("GET")
        .uri("/api/orders?fail=1")
        .header(
            "traceparent",
            format!("00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01"),
        )
        .body(Bytes::new())
        .unwrap();
    let answer = h
        .host
        .forward("inv-fwd-1", request)
        .await
        .expect("answered");
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.text(), "order ");
    let spans = h.spans();
    let server = invocation(&spans, "inv-fwd-1");
    assert_eq!(server.name, "GET /api/orders");
    assert_eq!(server.parent_span_id.to_string(), PRODUCER_SPAN);
    assert_eq!(
        server.attr("http.response.status_code").as_deref(),
        Some("503")
    );
    assert_eq!(server.attr("error.type").as_deref(), Some("503"));
    assert!(error_of(server).is_some());
    h.running.shutdown().await;
}

#[tokio::test]
async fn the_http_output_binding_of_function_json_receives_the_response() {
    let dir = std::env::temp_dir().join(format!("otel-faas-azure-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("hello")).unwrap();
    std::fs::write(
        dir.join("hello/function.json"),
        br#"{"bindings": [
            {"type": "httpTrigger", "direction": "in", "name": "request", "methods": ["get"], "route": "greetings/{name}"},
            {"type": "http", "direction": "out", "name": "$return"}
        ]}"#,
    )
    .unwrap();
    // Read when the app starts, from the app root.
    let h = Harness::start(app().root(&dir).function("hello", orders)).await;
    let request = http::Request::builder()
        .uri("http://localhost:7071/api/greetings/ada")
        .body(Bytes::new())
        .unwrap();
    let payload = HostInvocation::new("hello").http_request("request", &request);
    let answer = h.invoke("inv-route", payload).await;
    assert_eq!(answer.json().unwrap()["ReturnValue"]["statusCode"], 200);
    let spans = h.spans();
    assert_eq!(
        invocation(&spans, "inv-route").name,
        "GET /api/greetings/{name}"
    );
    // Forwarded as it came, the request is routed by the template.
    let forwarded = http::Request::builder()
        .uri("/api/greetings/grace")
        .body(Bytes::new())
        .unwrap();
    let answer = h
        .host
        .forward("inv-route-fwd", forwarded)
        .await
        .expect("answered");
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let spans = h.spans();
    let server = invocation(&spans, "inv-route-fwd");
    assert_eq!(server.name, "GET /api/greetings/{name}");
    assert_eq!(
        server.attr("faas.name").as_deref(),
        Some("orders-app/hello")
    );
    h.running.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn one_event_hubs_event_with_cardinality_one_is_a_batch_of_one() {
    #[traced_function(trigger = "event_hubs")]
    async fn one(event: AzureEvent<EventHubsBatch>) -> Result<(), Error> {
        assert_eq!(event.payload.events.len(), 1);
        assert_eq!(event.payload.events[0].sequence_number, Some(7));
        Ok(())
    }
    let h = Harness::start(app().function("One", one)).await;
    let payload = json!({
        "Data": { "event": { "reading": 1 } },
        "Metadata": {
            "PartitionContext": { "EventHubName": "telemetry", "PartitionId": "0" },
            "Properties": { "traceparent": format!("00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01") },
            "SequenceNumber": 7,
            "Offset": "512"
        }
    });
    // The native form (an object body, a number, an object of properties) is accepted too.
    let answer = h.invoke_json("One", "inv-eh-one", payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let spans = h.spans();
    let consumer = spans.named("process telemetry");
    assert_eq!(consumer.attr("messaging.batch.message_count"), None);
    assert_eq!(consumer.links.len(), 1);
    h.running.shutdown().await;
}

#[traced_function(trigger = "timer")]
async fn slow(_event: AzureEvent<TimerInfo>) -> Result<(), Error> {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    Ok(())
}

#[tokio::test]
async fn shutdown_lets_the_invocation_in_flight_finish_and_export_then_refuses_new_ones() {
    let h = Harness::start(app().function("Slow", slow)).await;
    let addr = h.running.addr();
    let payload = HostInvocation::new("Slow").data("timer", json!({ "IsPastDue": false }));
    let in_flight = {
        let host = FunctionsHost::new(addr);
        let payload = payload.clone();
        tokio::spawn(async move { host.invoke("inv-in-flight", &payload).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    h.running.shutdown().await;
    let answer = in_flight
        .await
        .unwrap()
        .expect("the invocation in flight is answered");
    assert_eq!(answer.status, StatusCode::OK);
    let spans = Spans(h.exporter.spans());
    assert_eq!(invocation(&spans, "inv-in-flight").name, "orders-app/Slow");
    let refused = FunctionsHost::new(addr).invoke("inv-late", &payload).await;
    assert!(refused.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn a_closure_that_panics_before_its_future_exists_is_still_a_500() {
    let handler = |_event: AzureEvent<QueueMessage>| -> std::future::Ready<Result<(), Error>> {
        panic!("no connection pool")
    };
    let h = Harness::start(app().function("Eager", handler)).await;
    let answer = h.invoke("inv-eager", queue_to("Eager", "x")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        answer.text().contains("no connection pool"),
        "{}",
        answer.text()
    );
    let again = h.invoke("inv-eager-2", queue_to("Eager", "x")).await;
    assert_eq!(again.status, StatusCode::INTERNAL_SERVER_ERROR);
    h.running.shutdown().await;
}

#[traced_function(trigger = "service_bus")]
async fn process_orders(
    event: otel_faas_runtime::azure::AzureEvent<otel_faas_runtime::azure::ServiceBusBatch>,
) -> Result<(), Error> {
    assert_eq!(event.payload.messages.len(), 3);
    assert_eq!(event.payload.messages[1].delivery_count, Some(4));
    Ok(())
}

#[tokio::test]
async fn a_service_bus_batch_is_a_new_trace_linked_to_each_producer() {
    let h = Harness::start(app().function_with(
        "ProcessOrders",
        FunctionBindings::default().with_trigger("orders", Some("orders")),
        process_orders,
    ))
    .await;
    // `"cardinality": "many"` as the host writes it: every array is JSON text.
    let payload = HostInvocation::new("ProcessOrders")
        .data(
            "orders",
            json!([r#"{"orderId":1}"#, r#"{"orderId":2}"#, r#"{"orderId":3}"#]),
        )
        .metadata("MessageIdArray", json!(["m-1", "m-2", "m-3"]))
        .metadata("DeliveryCountArray", json!([1, 4, 1]))
        .metadata("SequenceNumberArray", json!([10, 11, 12]))
        .metadata(
            "ApplicationPropertiesArray",
            json!([
                { "Diagnostic-Id": format!("00-{PRODUCER_TRACE}-{PRODUCER_SPAN}-01") },
                { "Diagnostic-Id": "|legacy.1." },
                {}
            ]),
        );
    let answer = h.invoke("inv-sb-batch", payload).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let spans = h.spans();
    let server = invocation(&spans, "inv-sb-batch");
    assert_eq!(server.parent_span_id, SpanId::INVALID);
    let consumer = spans.named("process orders");
    assert_eq!(
        consumer.attr("messaging.batch.message_count").as_deref(),
        Some("3")
    );
    assert_eq!(consumer.attr("messaging.message.id"), None);
    assert_eq!(
        consumer.links.len(),
        1,
        "only the message with a valid context"
    );
    let link = &consumer.links[0];
    assert_eq!(link.span_context.trace_id().to_string(), PRODUCER_TRACE);
    assert_eq!(link.attributes[0].value.as_str(), "m-1");
    // One message where the function takes batches is a readable error.
    let single = HostInvocation::new("ProcessOrders")
        .data("orders", json!(r#"{"orderId":4}"#))
        .metadata("MessageId", json!("m-4"));
    let answer = h.invoke("inv-sb-not-batch", single).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("cardinality"), "{}", answer.text());
    h.running.shutdown().await;
}
