//! A Service Bus queue consumer on Azure Functions, as a Rust custom handler: the first
//! message continues its producer's trace (its `Diagnostic-Id`), the second carries an old
//! hierarchical `Diagnostic-Id` and starts a new trace, the third fails.
//!
//! `cargo run --example azure_service_bus` plays the Functions host on 127.0.0.1: it starts
//! this binary as the custom handler, posts each invocation as the host encodes it (the body
//! and the ids as JSON text, counts as `"1"`; the application properties as an object) and
//! prints what the host would log and the trace. Deployed, the same binary serves the host
//! (it sets `FUNCTIONS_CUSTOMHANDLER_PORT`). The app's files are in `examples/azure/`:
//!
//! `host.json`
//! ```json
//! { "version": "2.0",
//!   "functionTimeout": "00:00:02",
//!   "customHandler": { "description": { "defaultExecutablePath": "handler" }, "enableForwardingHttpRequest": true },
//!   "extensionBundle": { "id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)" } }
//! ```
//! (two seconds of `functionTimeout` so that `azure_queue` shows a timeout; unset, it is 5
//! minutes on the Consumption plan and 30 minutes on the others)
//! `ProcessOrder/function.json`
//! ```json
//! { "bindings": [
//!     { "type": "serviceBusTrigger", "direction": "in", "name": "order", "queueName": "orders", "connection": "ServiceBusConnection" },
//!     { "type": "queue", "direction": "out", "name": "shipments", "queueName": "shipments", "connection": "AzureWebJobsStorage" } ] }
//! ```

use otel_faas_local::azure::{HostInvocation, LocalHost};
use otel_faas_runtime::azure::{
    AppIdentity, AzureEvent, FunctionApp, InvokeResponse, ServiceBusMessage,
};
use otel_faas_runtime::{Error, traced_function};
use serde_json::{Value, json};

/// Ships an order: one message on the `shipments` queue per order.
#[traced_function(trigger = "service_bus")]
async fn process_order(event: AzureEvent<ServiceBusMessage>) -> Result<InvokeResponse, Error> {
    let order = &event.payload.body;
    let id = order["orderId"]
        .as_u64()
        .ok_or("the order has no orderId")?;
    reserve_stock(id).await?;
    Ok(InvokeResponse::default()
        .output("shipments", json!([{ "orderId": id }]))
        .log(format!("order {id} shipped")))
}

#[tracing::instrument]
async fn reserve_stock(order: u64) -> Result<(), Error> {
    tracing::info!("stock reserved");
    Ok(())
}

/// A message as the host sends it: its body (a string, as the extension hands it over) and
/// its metadata.
fn message(order: Value, id: &str, properties: Value) -> HostInvocation {
    HostInvocation::new("ProcessOrder")
        .data("order", json!(order.to_string()))
        .metadata("MessageId", json!(id))
        .metadata("DeliveryCount", json!(1))
        .metadata("CorrelationId", json!("checkout-5531"))
        .metadata("ContentType", json!("application/json"))
        .metadata("SequenceNumber", json!(1207))
        .metadata_time("EnqueuedTimeUtc", "2026-11-21T09:00:00.123")
        .metadata("ApplicationProperties", properties.clone())
        .metadata("UserProperties", properties)
}

fn main() -> Result<(), Error> {
    let app = FunctionApp::new()
        .identity(AppIdentity {
            app_name: Some("orders-app".into()),
            region: Some("westeurope".into()),
            ..AppIdentity::from_env()
        })
        .function("ProcessOrder", process_order);
    LocalHost::new(app)
        .app_root(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/azure"))
        .invoke(
            "an order from checkout, with the producer's Diagnostic-Id",
            message(
                json!({ "orderId": 5531, "items": 2 }),
                "a3f1c9e2b7d04e6f",
                json!({ "Diagnostic-Id": "00-6712c2a15e3f8b0d4a9c7e2f1b6d3a8c-3b1f5d7e9a2c4e6f-01" }),
            ),
        )
        .invoke(
            "an order whose Diagnostic-Id is the old hierarchical format: a new trace",
            message(
                json!({ "orderId": 5532 }),
                "b4e2d0f3c8e15f70",
                json!({ "Diagnostic-Id": "|6712c2a15e3f8b0d.1." }),
            ),
        )
        .invoke(
            "a message without an order id: the invocation fails",
            message(json!({ "note": "hello" }), "c5f3e1a4d9f26081", json!({})),
        )
        .run()
}
