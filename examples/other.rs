//! A function invoked directly (SDK `Invoke`, Step Functions, another function) with its own
//! payload type.
//!
//! `cargo run --example other` invokes it twice through the local runner: once with the
//! caller's `traceparent` in the client context, so the invocation joins the caller's trace,
//! and once with a payload that does not fit the type — the invocation fails with a readable
//! error and its span is still exported.

use otel_faas_local::{LocalRunner, emulator::Invocation};
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct Recalculate {
    customer: String,
    action: String,
}

#[derive(Serialize)]
struct Points {
    customer: String,
    points: u32,
}

#[traced_function(trigger = "other")]
async fn handler(event: LambdaEvent<Recalculate>) -> Result<Points, Error> {
    let request = event.payload;
    tracing::info!(customer = %request.customer, action = %request.action, "recalculating");
    Ok(Points {
        customer: request.customer,
        points: 120,
    })
}

fn main() -> Result<(), Error> {
    let caller_context =
        r#"{"custom":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}"#;
    let direct = Invocation::new(include_str!("events/direct_invoke.json"))
        .with_client_context(caller_context);
    LocalRunner::new("loyalty-points")
        .invocation("direct invoke with the caller's trace context", direct)
        .event(
            "a payload of the wrong shape",
            serde_json::json!({ "customer": 4711 }),
        )
        .run(handler)
}
