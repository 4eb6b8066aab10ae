//! A Service Bus queue consumer on Azure Functions, as a Rust custom handler: the first
//! message continues its producer's trace (its `Diagnostic-Id`), the second carries an old
//! hierarchical `Diagnostic-Id` and starts a new trace, the third fails.
//!
//! `cargo run --example azure_service_bus` plays the Functions host on 127.0.0.1: it posts
//! each invocation to the handler as the host would and prints the answer and the trace.
//! Deployed, the same binary serves the host (it sets `FUNCTIONS_CUSTOMHANDLER_PORT`). The
//! app's files are in `examples/azure/`:
//!
//! `host.json`
//! ```json
//! { "version": "2.0",
//!   "customHandler": { "description": { "defaultExecutablePath": "handler" } },
//!   "extensionBundle": { "id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)" } }
//! ```
//! `ProcessOrder/function.json`
//! ```json
//! { "bindings": [
//!     { "type": "serviceBusTrigger", "direction": "in", "name": "order", "queueName": "orders", "connection": "ServiceBusConnection" },
//!     { "type": "queue", "direction": "out", "name": "shipments", "queueName": "shipments", "connection": "AzureWebJobsStorage" } ] }
//! ```

use otel_faas_local::azure::LocalHost;
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

fn message(order: Value, id: &str, properties: Value) -> Value {
    json!({
        "Data": { "order": order },
        "Metadata": {
            "MessageId": id,
            "DeliveryCount": 1,
            "CorrelationId": "checkout-5531",
            "ContentType": "application/json",
            "SequenceNumber": 1207,
            "EnqueuedTimeUtc": "2026-11-21T09:00:00.123Z",
            "ApplicationProperties": properties,
            "UserProperties": properties,
            "sys": { "MethodName": "ProcessOrder", "UtcNow": "2026-11-21T09:00:00.2Z", "RandGuid": "9b2f3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" }
        }
    })
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
            "ProcessOrder",
            message(
                json!({ "orderId": 5531, "items": 2 }),
                "a3f1c9e2b7d04e6f",
                json!({ "Diagnostic-Id": "00-6712c2a15e3f8b0d4a9c7e2f1b6d3a8c-3b1f5d7e9a2c4e6f-01" }),
            ),
        )
        .invoke(
            "an order whose Diagnostic-Id is the old hierarchical format: a new trace",
            "ProcessOrder",
            message(
                json!({ "orderId": 5532 }),
                "b4e2d0f3c8e15f70",
                json!({ "Diagnostic-Id": "|6712c2a15e3f8b0d.1." }),
            ),
        )
        .invoke(
            "a message without an order id: the invocation fails",
            "ProcessOrder",
            message(json!({ "note": "hello" }), "c5f3e1a4d9f26081", json!({})),
        )
        .run()
}
