//! HTTP triggers on Azure Functions, as a Rust custom handler: a request in the host's
//! invocation JSON (the caller's `traceparent` is the parent; the response goes to the `res`
//! output binding), the same function failing with a 503, and a request forwarded as it
//! came (`enableForwardingHttpRequest`), answered directly.
//!
//! `cargo run --example azure_http` plays the Functions host on 127.0.0.1 and prints each
//! answer and trace; deployed, the same binary serves the host. The app's files are in
//! `examples/azure/`: `host.json` (see `azure_service_bus`: `"enableForwardingHttpRequest":
//! true` in `customHandler` forwards the requests of *HTTP-only* functions — one HTTP
//! trigger, one HTTP output — as they came) and
//!
//! `orders/function.json`, not HTTP-only (a queue output too), so its requests come in the
//! host's JSON
//! ```json
//! { "bindings": [
//!     { "type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "function", "methods": ["get", "post"] },
//!     { "type": "http", "direction": "out", "name": "res" },
//!     { "type": "queue", "direction": "out", "name": "audit", "queueName": "order-audit", "connection": "AzureWebJobsStorage" } ] }
//! ```
//! `hello/function.json`
//! ```json
//! { "bindings": [
//!     { "type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous", "methods": ["get"], "route": "hello/{name}" },
//!     { "type": "http", "direction": "out", "name": "res" } ] }
//! ```

use bytes::Bytes;
use otel_faas_local::azure::{HostInvocation, LocalHost};
use otel_faas_runtime::azure::{AppIdentity, AzureEvent, FunctionApp, HttpRequest};
use otel_faas_runtime::{Error, traced_function};
use serde_json::json;

/// Takes an order.
#[traced_function(trigger = "http")]
async fn orders(event: AzureEvent<HttpRequest>) -> Result<http::Response<String>, Error> {
    let request = &event.payload;
    if request
        .uri()
        .query()
        .is_some_and(|q| q.contains("maintenance"))
    {
        return Ok(http::Response::builder()
            .status(503)
            .body("down for maintenance".into())?);
    }
    let order: serde_json::Value = serde_json::from_slice(request.body())?;
    tracing::info!(order = %order["id"], "order accepted");
    Ok(http::Response::builder()
        .status(201)
        .header("content-type", "application/json")
        .body(json!({ "accepted": order["id"] }).to_string())?)
}

/// Says hello, to a request forwarded as it came.
#[traced_function(trigger = "http")]
async fn hello(event: AzureEvent<HttpRequest>) -> Result<http::Response<String>, Error> {
    let name = event
        .payload
        .uri()
        .path()
        .rsplit('/')
        .next()
        .unwrap_or("world")
        .to_owned();
    Ok(http::Response::new(format!("hello, {name}")))
}

fn main() -> Result<(), Error> {
    // The caller's request as the host writes it (`GetRequestAsJObject`): `Url`, `Method`,
    // `Query` and `Headers` objects, the body as text.
    let request = |query: &str, traceparent: &str| -> Result<HostInvocation, Error> {
        let request = http::Request::builder()
            .method("POST")
            .uri(format!(
                "https://orders-app.azurewebsites.net/api/orders?{query}"
            ))
            .header("content-type", "application/json")
            .header("traceparent", traceparent)
            .header("user-agent", "checkout/2.4")
            .header("x-forwarded-for", "203.0.113.7:51234")
            .header("host", "orders-app.azurewebsites.net")
            .body(Bytes::from_static(b"{\"id\":1005,\"quantity\":2}"))?;
        Ok(HostInvocation::new("orders").http_request("req", &request))
    };
    let forwarded = http::Request::builder()
        .method("GET")
        .uri("/api/hello/ada")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("user-agent", "curl/8.5.0")
        .body(Bytes::new())?;
    let app = FunctionApp::new()
        .identity(AppIdentity {
            app_name: Some("orders-app".into()),
            ..AppIdentity::from_env()
        })
        .function("orders", orders)
        .function("hello", hello);
    LocalHost::new(app)
        .app_root(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/azure"))
        .invoke(
            "POST /api/orders with the caller's traceparent",
            request(
                "code=s3cr3t",
                "00-6712c2a15e3f8b0d4a9c7e2f1b6d3a8c-3b1f5d7e9a2c4e6f-01",
            )?,
        )
        .invoke(
            "the same function answering 503",
            request(
                "maintenance=1",
                "00-2c9f0e8d7b6a5f4e3d2c1b0a99887766-1a2b3c4d5e6f7a8b-01",
            )?,
        )
        .forward(
            "GET /api/hello/ada, HTTP-only: forwarded as it came",
            forwarded,
        )
        .run()
}
