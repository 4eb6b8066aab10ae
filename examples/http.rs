//! An HTTP API for pets behind API Gateway, a Function URL or an ALB.
//!
//! `cargo run --example http` sends four requests through the local runner and prints each
//! trace: a `GET /pets/{petId}` SERVER span that continues the caller's `traceparent`, with
//! the HTTP attributes, `http.response.status_code`, and the handler's own spans; the
//! response carries a `traceresponse` header. `Authorization`, cookies and the `api_key`
//! query value never appear in the spans.

use otel_faas_local::LocalRunner;
use otel_faas_runtime::lambda_http::{Body, Request, RequestExt, Response};
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "http")]
async fn handler(request: Request) -> Result<Response<Body>, Error> {
    let pet = request.path_parameters().first("petId").map(str::to_owned);
    let (status, body) = match (request.method().as_str(), pet) {
        ("GET", Some(id)) => {
            let _lookup = tracing::info_span!("load pet", table = "pets", id = %id).entered();
            (200, format!("{{\"id\":\"{id}\",\"name\":\"Rex\"}}"))
        }
        ("GET", None) => (200, "{\"status\":\"ok\"}".to_owned()),
        ("POST", _) => {
            tracing::error!("the order table is unavailable");
            (503, "{\"error\":\"try again later\"}".to_owned())
        }
        _ => (405, String::new()),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.into())?)
}

fn main() -> Result<(), Error> {
    LocalRunner::new("pets-api")
        .event_json(
            "API Gateway REST API: GET /pets/42",
            include_str!("events/apigw_rest_get.json"),
        )
        .event_json(
            "API Gateway HTTP API: POST /orders/7 (a 503)",
            include_str!("events/apigw_http_post.json"),
        )
        .event_json(
            "Function URL: GET /status",
            include_str!("events/function_url_get.json"),
        )
        .event_json(
            "ALB: POST /webhooks/github",
            include_str!("events/alb_post.json"),
        )
        .run(handler)
}
