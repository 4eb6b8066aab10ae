//! `handler`: the custom handler of the Azure app in `app/`, two functions named by their
//! folders: `Orders` (HTTP, `GET /api/orders/{id}`) and `ProcessOrder` (a Service Bus queue).

use otel_faas_runtime::azure::{AzureEvent, FunctionApp, HttpRequest, ServiceBusMessage};
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "http")]
async fn orders(event: AzureEvent<HttpRequest>) -> Result<http::Response<String>, Error> {
    let id = event
        .payload
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let _lookup = tracing::info_span!("load order", id = %id).entered();
    let body = serde_json::json!({ "id": id, "status": "shipped" }).to_string();
    Ok(http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(body)?)
}

#[traced_function(trigger = "service_bus")]
async fn process_order(event: AzureEvent<ServiceBusMessage>) -> Result<(), Error> {
    let id = event.payload.body["orderId"].as_u64().ok_or("no orderId")?;
    tracing::info!(order.id = id, "order shipped");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    FunctionApp::new()
        .function("Orders", orders)
        .function("ProcessOrder", process_order)
        .run()
        .await
}
