//! The custom-handler protocol as the real Functions host speaks it. Each request body below
//! is written out byte for byte in the host's encoding, derived from the host's code and
//! the expectations of its own tests (Azure/azure-functions-host); each fixture cites them.
//! The handler is the real server on 127.0.0.1; the answers are read as the host reads them.

use std::net::SocketAddr;

use bytes::Bytes;
use http::StatusCode;
use otel_faas_local::azure::{FunctionsHost, HostAnswer, HostInvocation};
use otel_faas_runtime::azure::{
    AppIdentity, AzureEvent, EventHubsBatch, FunctionApp, FunctionBindings, HttpRequest,
    QueueMessage, RunningApp, ServiceBusBatch, ServiceBusMessage,
};
use otel_faas_runtime::config::Config;
use otel_faas_runtime::export::MemoryExporter;
use otel_faas_runtime::testing::{SpanDataExt, Spans};
use otel_faas_runtime::{Error, Telemetry, traced_function};
use serde_json::json;

struct Harness {
    running: RunningApp,
    host: FunctionsHost,
    exporter: MemoryExporter,
}

impl Harness {
    async fn start(app: FunctionApp) -> Harness {
        let exporter = MemoryExporter::default();
        let config = Config::from_lookup(|_| None);
        let identity = AppIdentity {
            app_name: Some("orders-app".into()),
            ..AppIdentity::default()
        };
        let telemetry = Telemetry::builder()
            .with_resource(identity.resource(&config))
            .config(config)
            .with_exporter(exporter.clone())
            .build();
        let running = app
            .identity(identity)
            .telemetry(telemetry)
            .start(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("the custom handler starts");
        let host = FunctionsHost::new(running.addr());
        Harness {
            running,
            host,
            exporter,
        }
    }

    /// Posts `body`, a request exactly as the host writes it, to `function`.
    async fn post(&self, function: &str, id: &str, body: &'static str) -> HostAnswer {
        self.host
            .post_raw(
                &format!("/{function}"),
                id,
                Bytes::from_static(body.as_bytes()),
            )
            .await
            .expect("the custom handler answers")
    }

    fn spans(&self) -> Spans {
        Spans(self.exporter.spans())
    }
}

fn bound(trigger: &str, destination: &str) -> FunctionBindings {
    FunctionBindings::default().with_trigger(trigger, Some(destination))
}

// ---- 1. metadata scalars arrive as JSON text -------------------------------------------

#[traced_function(trigger = "queue")]
async fn hello_queue(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    // The queue item the host's test sends, without the quotes of its encoding.
    assert_eq!(event.payload.body, "HelloWorld");
    assert_eq!(event.payload.dequeue_count, Some(4));
    Ok(())
}

/// Fixture: `HttpWorkerTestUtilities.GetScriptInvocationInputs` (queue item `"HelloWorld"`)
/// and `GetScriptInvocationBindingData` (`dequeueCount = 4`, `helloString`, dates), encoded
/// as `DefaultHttpWorkerServiceTests.ValidateDefaultInvocationRequest` expects:
/// `JsonConvert.SerializeObject` of each value, dates as dates (test/WebJobs.Script.Tests/
/// HttpWorker/). The queue's own metadata names (`DequeueCount`, `Id`, `PopReceipt`) are the
/// queue trigger's binding data.
const QUEUE_FIXTURE: &str = r#"{"Data":{"myqueueItem":"\"HelloWorld\""},"Metadata":{"DequeueCount":"4","Id":"\"800ae4b3-bdd2-4c08-badd-f08e5a34b865\"","PopReceipt":"\"AgAAAAMAAAAAAAAAAgtnj8x+1QE=\"","helloString":"\"helloMetadata\"","VisibleTime":"2019-10-01T00:00:00","InsertionTime":"2019-10-01T00:00:00+00:00","sys":{"MethodName":"Resize","UtcNow":"2026-11-21T09:00:00.2205399Z","RandGuid":"24ad4c06-24ad-4e5b-8294-3da9714877e9"}}}"#;

#[tokio::test]
async fn queue_metadata_sent_as_json_text_is_read_not_refused() {
    let h = Harness::start(FunctionApp::new().function_with(
        "Resize",
        bound("myqueueItem", "images"),
        hello_queue,
    ))
    .await;
    let answer = h.post("Resize", "inv-q", QUEUE_FIXTURE).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.host_failure());
    let spans = h.spans();
    let consumer = spans.named("process images");
    assert_eq!(
        consumer
            .attr("azure.storage.queue.message.dequeue_count")
            .as_deref(),
        Some("4")
    );
    // No literal quotes from the JSON text.
    assert_eq!(
        consumer.attr("messaging.message.id").as_deref(),
        Some("800ae4b3-bdd2-4c08-badd-f08e5a34b865")
    );
    h.running.shutdown().await;
}

// ---- 1 and 3. Service Bus: string scalars, a double-encoded body, quoted ids -----------

#[traced_function(trigger = "service_bus")]
async fn process_order(event: AzureEvent<ServiceBusMessage>) -> Result<(), Error> {
    // The body is the message's JSON, not the JSON text of a string.
    assert_eq!(event.payload.body["orderId"], 42);
    assert_eq!(event.payload.sequence_number, Some(17));
    Ok(())
}

/// Fixture: one Service Bus message. The extension hands the host the body as a `string`
/// and `MessageId`/`CorrelationId` as strings, `DeliveryCount` as an `int` and
/// `SequenceNumber` as a `long`: `GetHttpScriptInvocationContextValue` writes each as JSON text
/// (`GetHttpScriptInvocationContextValueTest_String` expects `"\"stringTest\""`);
/// `ApplicationProperties`, an `IDictionary<string, object>`, stays an object
/// (`GetHttpScriptInvocationContextValueTest_POCO`); `EnqueuedTimeUtc`, a `DateTime`, is a
/// date (test/WebJobs.Script.Tests/Workers/ScriptInvocationContextExtensionsTests.cs).
const SERVICE_BUS_FIXTURE: &str = r#"{"Data":{"order":"\"{\\\"orderId\\\":42}\""},"Metadata":{"MessageId":"\"5f1b7c2e9d8a4b3c\"","DeliveryCount":"2","CorrelationId":"\"checkout-7\"","ContentType":"\"application/json\"","SequenceNumber":"17","EnqueuedTimeUtc":"2026-11-21T08:59:00","ApplicationProperties":{"Diagnostic-Id":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"sys":{"MethodName":"ProcessOrder","UtcNow":"2026-11-21T09:00:00Z","RandGuid":"0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"}}}"#;

#[tokio::test]
async fn a_service_bus_message_in_the_hosts_encoding_is_unwrapped_once_per_encoding() {
    let h = Harness::start(FunctionApp::new().function_with(
        "ProcessOrder",
        bound("order", "orders"),
        process_order,
    ))
    .await;
    let answer = h.post("ProcessOrder", "inv-sb", SERVICE_BUS_FIXTURE).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.host_failure());
    let spans = h.spans();
    let consumer = spans.named("process orders");
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
    let server = spans.named("ProcessOrder");
    assert_eq!(
        server.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "the Diagnostic-Id application property is the parent"
    );
    h.running.shutdown().await;
}

// ---- 2. batches arrive as JSON-text arrays ---------------------------------------------

#[traced_function(trigger = "service_bus")]
async fn process_orders(event: AzureEvent<ServiceBusBatch>) -> Result<(), Error> {
    let messages = &event.payload.messages;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].body["orderId"], 1);
    assert_eq!(messages[1].message_id.as_deref(), Some("m-2"));
    assert_eq!(messages[1].delivery_count, Some(4));
    assert_eq!(messages[1].sequence_number, Some(11));
    Ok(())
}

/// Fixture: `"cardinality": "many"`. The host's binding type is then an array
/// (`GeneralScriptBindingProvider.GetRequestedType`, src/WebJobs.Script/Binding/), and
/// `JObject.FromObject` of a `string[]`, `int[]`, `long[]` or `IDictionary[]` fails, so
/// `GetHttpScriptInvocationContextValue` writes each with `JsonConvert.SerializeObject`: a
/// string holding a JSON array (src/WebJobs.Script/Workers/MessageExtensions/
/// ScriptInvocationContextExtensions.cs).
const SERVICE_BUS_BATCH_FIXTURE: &str = r#"{"Data":{"orders":"[\"{\\\"orderId\\\":1}\",\"{\\\"orderId\\\":2}\"]"},"Metadata":{"MessageIdArray":"[\"m-1\",\"m-2\"]","DeliveryCountArray":"[1,4]","SequenceNumberArray":"[10,11]","ApplicationPropertiesArray":"[{\"Diagnostic-Id\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"},{}]","sys":{"MethodName":"ProcessOrders","UtcNow":"2026-11-21T09:00:00Z","RandGuid":"0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"}}}"#;

#[traced_function(trigger = "event_hubs")]
async fn ingest(event: AzureEvent<EventHubsBatch>) -> Result<(), Error> {
    let events = &event.payload.events;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].body["reading"], 2);
    assert_eq!(events[1].sequence_number, Some(101));
    assert_eq!(events[1].offset.as_deref(), Some("4160"));
    Ok(())
}

/// Fixture: an Event Hubs batch, encoded as above; `PartitionContext` serializes as an
/// object and stays one.
const EVENT_HUBS_BATCH_FIXTURE: &str = r#"{"Data":{"events":"[\"{\\\"reading\\\":1}\",\"{\\\"reading\\\":2}\"]"},"Metadata":{"PartitionContext":{"EventHubName":"telemetry","ConsumerGroup":"$Default","PartitionId":"3"},"PropertiesArray":"[{\"traceparent\":\"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\"},{}]","SequenceNumberArray":"[100,101]","OffsetArray":"[\"4096\",\"4160\"]","PartitionKeyArray":"[null,null]","EnqueuedTimeUtcArray":"[\"2023-12-01T01:22:10\",\"2023-12-01T01:22:11\"]","sys":{"MethodName":"Ingest","UtcNow":"2026-11-21T09:00:01Z","RandGuid":"6a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"}}}"#;

#[tokio::test]
async fn batches_sent_as_json_text_arrays_are_read_not_refused() {
    let h = Harness::start(
        FunctionApp::new()
            .function_with("ProcessOrders", bound("orders", "orders"), process_orders)
            .function_with("Ingest", bound("events", "telemetry"), ingest),
    )
    .await;
    let answer = h
        .post("ProcessOrders", "inv-sb-batch", SERVICE_BUS_BATCH_FIXTURE)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.host_failure());
    let answer = h
        .post("Ingest", "inv-eh-batch", EVENT_HUBS_BATCH_FIXTURE)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.host_failure());
    let spans = h.spans();
    let orders = spans.named("process orders");
    assert_eq!(
        orders.attr("messaging.batch.message_count").as_deref(),
        Some("2")
    );
    assert_eq!(orders.links.len(), 1);
    assert_eq!(orders.links[0].attributes[0].value.as_str(), "m-1");
    let telemetry = spans.named("process telemetry");
    assert_eq!(telemetry.links.len(), 1);
    assert_eq!(
        telemetry.links[0].span_context.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    h.running.shutdown().await;
}

#[traced_function(trigger = "event_hubs")]
async fn one_reading(event: AzureEvent<EventHubsBatch>) -> Result<(), Error> {
    let events = &event.payload.events;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].body["reading"], 1);
    assert_eq!(events[0].sequence_number, Some(7));
    assert_eq!(events[0].offset.as_deref(), Some("512"));
    Ok(())
}

/// Fixture: one event (`"cardinality": "one"`): its body, a string, double-encoded; the
/// `long` sequence number and the string offset as JSON text; `Properties`, a dictionary, an
/// object (encoded as the Service Bus fixture above).
const EVENT_HUBS_ONE_FIXTURE: &str = r#"{"Data":{"event":"\"{\\\"reading\\\":1}\""},"Metadata":{"PartitionContext":{"EventHubName":"telemetry","ConsumerGroup":"$Default","PartitionId":"0"},"Properties":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},"SequenceNumber":"7","Offset":"\"512\"","EnqueuedTimeUtc":"2023-12-01T01:22:10","sys":{"MethodName":"One","UtcNow":"2026-11-21T09:00:01Z","RandGuid":"6a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"}}}"#;

#[tokio::test]
async fn one_event_in_the_hosts_encoding_is_a_batch_of_one() {
    let bindings = FunctionBindings::parse(
        br#"{"bindings": [{"type": "eventHubTrigger", "direction": "in", "name": "event", "eventHubName": "telemetry", "cardinality": "one"}]}"#,
    )
    .unwrap();
    let h = Harness::start(FunctionApp::new().function_with("One", bindings, one_reading)).await;
    let answer = h.post("One", "inv-eh-one", EVENT_HUBS_ONE_FIXTURE).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.host_failure());
    let spans = h.spans();
    let consumer = spans.named("process telemetry");
    assert_eq!(consumer.attr("messaging.batch.message_count"), None);
    assert_eq!(consumer.links.len(), 1);
    h.running.shutdown().await;
}

// ---- 4. binary HTTP bodies arrive as base64 --------------------------------------------

#[traced_function(trigger = "http")]
async fn upload(event: AzureEvent<HttpRequest>) -> Result<http::Response<String>, Error> {
    let body = event.payload.body();
    Ok(http::Response::new(format!(
        "{} bytes, PNG: {}",
        body.len(),
        body.starts_with(b"\x89PNG")
    )))
}

/// Fixture: an `application/octet-stream` request to an HTTP trigger. `GetRequestAsJObject`
/// reads an octet-stream or multipart body as `byte[]`, which the JSON formatter writes as
/// base64; `Headers` is `JObject.FromObject(request.Headers)`, each value an array
/// (src/WebJobs.Script/Extensions/HttpRequestExtensions.cs, and
/// `ProcessDefaultInvocationRequest_CustomHandler_EnableRequestForwarding_False` in
/// DefaultHttpWorkerServiceTests for the shape of `Data.req`).
const BINARY_HTTP_FIXTURE: &str = r#"{"Data":{"req":{"Url":"https://orders-app.azurewebsites.net/api/upload","Method":"POST","Query":{},"Headers":{"Content-Type":["application/octet-stream"],"Content-Length":["8"],"Host":["orders-app.azurewebsites.net"]},"Params":{},"Body":"iVBORw0KGgo="}},"Metadata":{"Query":{},"Headers":{"Content-Type":"application/octet-stream"},"sys":{"MethodName":"upload","UtcNow":"2026-11-21T09:00:00Z","RandGuid":"f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b"}}}"#;

#[tokio::test]
async fn a_binary_http_body_sent_as_base64_reaches_the_handler_as_its_bytes() {
    let h = Harness::start(FunctionApp::new().function_with(
        "upload",
        FunctionBindings::default().with_trigger("req", None),
        upload,
    ))
    .await;
    let answer = h.post("upload", "inv-bin", BINARY_HTTP_FIXTURE).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json().unwrap()["Outputs"]["res"]["body"],
        "8 bytes, PNG: true"
    );
    h.running.shutdown().await;
}

// ---- 5. the failure reason the host surfaces -------------------------------------------

#[traced_function(trigger = "queue")]
async fn refuse(_event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    Err("only PNG images are resized".into())
}

#[tokio::test]
async fn a_failure_reason_reaches_the_host_in_the_status_line_it_logs() {
    let h = Harness::start(FunctionApp::new().function_with(
        "Resize",
        bound("myqueueItem", "images"),
        refuse,
    ))
    .await;
    let answer = h.post("Resize", "inv-fail", QUEUE_FIXTURE).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    // `EnsureSuccessStatusCode()` throws before the body is read: the exception message,
    // which the host logs, holds the status and the reason phrase and nothing else.
    assert_eq!(
        answer.host_failure().as_deref(),
        Some(
            "Response status code does not indicate success: 500 \
             (function `Resize` failed: only PNG images are resized)."
        )
    );
    // A request the handler cannot read says why the same way.
    let body = HostInvocation::new("Resize")
        .data("myqueueItem", json!("x"))
        .metadata("DequeueCount", json!("three"))
        .to_json()
        .to_string();
    let answer = h
        .host
        .post_raw("/Resize", "inv-unreadable", Bytes::from(body))
        .await
        .unwrap();
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let failure = answer.host_failure().unwrap();
    assert!(failure.contains("Metadata.DequeueCount"), "{failure}");
    h.running.shutdown().await;
}
