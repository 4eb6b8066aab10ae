//! `orders-api`: the HTTP function of `template.yaml`, behind an API Gateway HTTP API.
//!
//! `GET /orders/{id}` answers the order, `POST /orders` accepts one (202). Every request is a
//! SERVER span `{method} {route}` that continues the caller's `traceparent`.

use lambda_http::{Body, Request, RequestExt, Response};
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "http")]
async fn handler(request: Request) -> Result<Response<Body>, Error> {
    let order = request.path_parameters().first("id").map(str::to_owned);
    let (status, body) = match (request.method().as_str(), order) {
        ("GET", Some(id)) => {
            let _lookup = tracing::info_span!("load order", id = %id).entered();
            (200, serde_json::json!({ "id": id, "status": "shipped" }))
        }
        ("POST", None) => {
            tracing::info!(bytes = request.body().len(), "order accepted");
            (202, serde_json::json!({ "status": "accepted" }))
        }
        _ => (405, serde_json::json!({ "error": "method not allowed" })),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string().into())?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    otel_faas_runtime::lambda::run(handler).await
}
