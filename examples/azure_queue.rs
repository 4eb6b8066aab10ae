//! An Azure Storage queue consumer on Azure Functions, as a Rust custom handler: a message
//! that is processed, one that fails on its fifth delivery, and a request the handler
//! cannot read (a readable 400 and an error span, never a crash).
//!
//! `cargo run --example azure_queue` plays the Functions host on 127.0.0.1 and prints each
//! answer and trace; deployed, the same binary serves the host. The app's files are in
//! `examples/azure/`: `host.json` (see `azure_service_bus`) and
//!
//! `Resize/function.json`
//! ```json
//! { "bindings": [
//!     { "type": "queueTrigger", "direction": "in", "name": "image", "queueName": "images", "connection": "AzureWebJobsStorage" } ] }
//! ```

use otel_faas_local::azure::LocalHost;
use otel_faas_runtime::azure::{AppIdentity, AzureEvent, FunctionApp, QueueMessage};
use otel_faas_runtime::{Error, traced_function};
use serde_json::{Value, json};

/// Makes a thumbnail of the image the message names.
#[traced_function(trigger = "queue")]
async fn resize(event: AzureEvent<QueueMessage>) -> Result<(), Error> {
    let name = event
        .payload
        .body
        .as_str()
        .ok_or("the message is not an image name")?;
    if !name.ends_with(".png") {
        return Err(format!("{name}: only PNG images are resized").into());
    }
    tracing::info!(image = name, "thumbnail written");
    Ok(())
}

fn message(body: &str, id: &str, dequeue_count: u32) -> Value {
    json!({
        "Data": { "image": body },
        "Metadata": {
            "DequeueCount": dequeue_count,
            "ExpirationTime": "2026-11-28T09:00:00+00:00",
            "Id": id,
            "InsertionTime": "2026-11-21T08:58:31+00:00",
            "NextVisibleTime": "2026-11-21T09:08:32+00:00",
            "PopReceipt": "AgAAAAMAAAAAAAAAAgtnj8x+1QE=",
            "sys": { "MethodName": "Resize", "UtcNow": "2026-11-21T09:00:00.2205399Z", "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9" }
        }
    })
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
            "Resize",
            message("cat.png", "800ae4b3-bdd2-4c08-badd-f08e5a34b865", 1),
        )
        .invoke(
            "a GIF, on its fifth delivery",
            "Resize",
            message("dog.gif", "19c0d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", 5),
        )
        .invoke_raw(
            "a request that is not the host's JSON",
            "Resize",
            b"{\"Data\": {\"image\": ",
        )
        .run()
}
