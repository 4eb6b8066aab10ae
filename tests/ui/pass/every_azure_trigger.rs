//! One handler per Azure Functions trigger, each servable by `azure::FunctionApp`; `http`
//! is told apart from AWS's by its `AzureEvent` argument, or by `provider = "azure"`.
use otel_faas_runtime::azure::{
    AzureEvent, EventHubsBatch, FunctionApp, HttpRequest, InvokeResponse, QueueMessage,
    ServiceBusBatch, ServiceBusMessage, TimerInfo,
};
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "http")]
async fn http_inferred(_event: AzureEvent<HttpRequest>) -> Result<http::Response<String>, Error> {
    Ok(http::Response::new("ok".to_owned()))
}

#[traced_function(trigger = "http", provider = "azure", name = "checkout")]
async fn http_explicit(_event: AzureEvent<HttpRequest>) -> Result<InvokeResponse, Error> {
    Ok(InvokeResponse::default())
}

#[traced_function(trigger = "queue")]
async fn queue(_event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "service_bus", provider = "azure")]
async fn service_bus(event: AzureEvent<ServiceBusMessage>) -> Result<serde_json::Value, Error> {
    Ok(event.payload.body)
}

#[traced_function(trigger = "service_bus")]
async fn service_bus_batch(event: AzureEvent<ServiceBusBatch>) -> Result<(), Error> {
    let _ = event.payload.messages;
    Ok(())
}

#[traced_function(trigger = "event_hubs")]
async fn event_hubs(_event: AzureEvent<EventHubsBatch>) -> Result<(), std::io::Error> {
    Ok(())
}

#[traced_function(trigger = "timer")]
async fn timer(_event: AzureEvent<TimerInfo>) -> Result<(), Error> {
    Ok(())
}

fn main() {
    let _app = FunctionApp::new()
        .function("a", http_inferred)
        .function("b", http_explicit)
        .function("c", queue)
        .function("d", service_bus)
        .function("e", event_hubs)
        .function("f", timer)
        .function("g", service_bus_batch);
}
