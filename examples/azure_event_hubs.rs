//! An Event Hubs consumer on Azure Functions, as a Rust custom handler: a batch of three
//! events from one partition, two of them sent with a trace context (one link each).
//!
//! `cargo run --example azure_event_hubs` plays the Functions host on 127.0.0.1 and prints
//! the answer and trace; deployed, the same binary serves the host. The app's files are in
//! `examples/azure/`: `host.json` (see `azure_service_bus`) and
//!
//! `Ingest/function.json`
//! ```json
//! { "bindings": [ { "type": "eventHubTrigger", "direction": "in", "name": "events", "eventHubName": "telemetry",
//!                   "connection": "EventHubConnection", "cardinality": "many", "consumerGroup": "$Default" } ] }
//! ```

use otel_faas_local::azure::{HostInvocation, LocalHost};
use otel_faas_runtime::azure::{AppIdentity, AzureEvent, EventHubsBatch, FunctionApp};
use otel_faas_runtime::{Error, traced_function};
use serde_json::json;

/// Stores a batch of device readings.
#[traced_function(trigger = "event_hubs")]
async fn ingest(event: AzureEvent<EventHubsBatch>) -> Result<(), Error> {
    let total: f64 = event
        .payload
        .events
        .iter()
        .filter_map(|e| e.body["celsius"].as_f64())
        .sum();
    tracing::info!(
        events = event.payload.events.len(),
        total,
        "readings stored"
    );
    Ok(())
}

fn main() -> Result<(), Error> {
    // `"cardinality": "many"`: the bodies (`string[]`) and every `*Array` arrive as JSON
    // text; the partition context is an object.
    let readings = [
        json!({ "device": "t-1", "celsius": 21.5 }),
        json!({ "device": "t-2", "celsius": 19.0 }),
        json!({ "device": "t-3", "celsius": 22.25 }),
    ];
    let batch = HostInvocation::new("Ingest")
        .data(
            "events",
            json!(readings.iter().map(|r| r.to_string()).collect::<Vec<_>>()),
        )
        .metadata(
            "PartitionContext",
            json!({ "EventHubName": "telemetry", "ConsumerGroup": "$Default", "PartitionId": "3", "FullyQualifiedNamespace": "devices.servicebus.windows.net" }),
        )
        .metadata(
            "PropertiesArray",
            json!([
                { "Diagnostic-Id": "00-6712c2a15e3f8b0d4a9c7e2f1b6d3a8c-3b1f5d7e9a2c4e6f-01" },
                {},
                { "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
            ]),
        )
        .metadata("SequenceNumberArray", json!([4471, 4472, 4473]))
        .metadata("OffsetArray", json!(["1203200", "1203264", "1203328"]))
        .metadata("PartitionKeyArray", json!([null, null, null]))
        .metadata(
            "EnqueuedTimeUtcArray",
            json!(["2026-11-21T08:59:58.1", "2026-11-21T08:59:59.4", "2026-11-21T09:00:00"]),
        );
    let app = FunctionApp::new()
        .identity(AppIdentity {
            app_name: Some("devices-app".into()),
            ..AppIdentity::from_env()
        })
        .function("Ingest", ingest);
    LocalHost::new(app)
        .app_root(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/azure"))
        .invoke("three readings from partition 3", batch)
        .run()
}
