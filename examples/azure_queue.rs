//! An Azure Storage queue consumer on Azure Functions, as a Rust custom handler: a message
//! that is processed, one that fails on its fifth delivery, one that outlives
//! `functionTimeout` (the host kills the handler with SIGKILL; its spans were exported
//! before), and a request the handler cannot read (a readable 400 and an error span, never
//! a crash).
//!
//! `cargo run --example azure_queue` plays the Functions host on 127.0.0.1: it starts this
//! binary as the custom handler, sends each message as the host encodes it (the body and
//! the id as JSON text, the dequeue count as `"5"`) and prints what the host would log and
//! the trace. Deployed, the same binary serves the host. The app's files are in
//! `examples/azure/`: `host.json` (see `azure_service_bus`; its `functionTimeout` is two
//! seconds so that the timeout shows) and
//!
//! `Resize/function.json`
//! ```json
//! { "bindings": [
//!     { "type": "queueTrigger", "direction": "in", "name": "image", "queueName": "images", "connection": "AzureWebJobsStorage" } ] }
//! ```

use std::time::Duration;

use otel_faas_local::azure::{HostInvocation, LocalHost};
use otel_faas_runtime::azure::{AppIdentity, AzureEvent, FunctionApp, QueueMessage};
use otel_faas_runtime::{Error, traced_function};
use serde_json::json;

/// Makes a thumbnail of the image the message names.
#[traced_function(trigger = "queue")]
async fn resize(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    let name = event.payload.body["image"]
        .as_str()
        .ok_or("the message names no image")?;
    if !name.ends_with(".png") {
        return Err(format!("{name}: only PNG images are resized").into());
    }
    let megapixels = event.payload.body["megapixels"].as_u64().unwrap_or(1);
    scale(megapixels).await;
    tracing::info!(image = name, "thumbnail written");
    Ok(())
}

#[tracing::instrument]
async fn scale(megapixels: u64) {
    tokio::time::sleep(Duration::from_millis(megapixels * 30)).await;
}

/// A queue message as the host sends it: the trigger's value and its metadata.
fn message(body: serde_json::Value, id: &str, dequeue_count: u32) -> HostInvocation {
    HostInvocation::new("Resize")
        .data("image", json!(body.to_string()))
        .metadata("DequeueCount", json!(dequeue_count))
        .metadata("Id", json!(id))
        .metadata("PopReceipt", json!("AgAAAAMAAAAAAAAAAgtnj8x+1QE="))
        .metadata_time("InsertionTime", "2026-11-21T08:58:31+00:00")
        .metadata_time("ExpirationTime", "2026-11-28T08:58:31+00:00")
        .metadata_time("NextVisibleTime", "2026-11-21T09:08:32+00:00")
}

fn main() -> Result<(), Error> {
    let app = FunctionApp::new()
        .identity(AppIdentity {
            app_name: Some("images-app".into()),
            ..AppIdentity::from_env()
        })
        .function("Resize", resize);
    LocalHost::new(app)
        .app_root(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/azure"))
        .invoke(
            "a PNG to resize",
            message(
                json!({ "image": "cat.png", "megapixels": 2 }),
                "800ae4b3-bdd2-4c08-badd-f08e5a34b865",
                1,
            ),
        )
        .invoke(
            "a GIF, on its fifth delivery",
            message(
                json!({ "image": "dog.gif" }),
                "19c0d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
                5,
            ),
        )
        .invoke(
            "a panorama that outlives functionTimeout (2 s)",
            message(
                json!({ "image": "alps.png", "megapixels": 400 }),
                "2a7d9e10-6c3b-4f58-a1e2-93b4c5d6e7f8",
                1,
            ),
        )
        .invoke_raw(
            "a request that is not the host's JSON",
            "Resize",
            b"{\"Data\": {\"image\": ",
        )
        .run()
}
