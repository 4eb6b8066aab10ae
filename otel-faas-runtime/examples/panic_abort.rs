//! A function for the `panic = "abort"` test (`tests/panic_abort.rs`), which builds it with
//! that profile setting, as `cargo lambda build --release` does unless the project sets one:
//! `{"panic": true}` panics inside the handler; anything else is echoed.
//!
//! It lives in the runtime's package so that its build needs only the runtime's own
//! dependencies: every crate of a `panic = "abort"` build is compiled again.

use otel_faas_runtime::lambda::LambdaEvent;
use otel_faas_runtime::{Error, traced_function};
use serde_json::{Value, json};

#[traced_function(trigger = "other")]
async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let _span = tracing::info_span!("load order").entered();
    if event.payload["panic"] == true {
        panic!("the order book is corrupt");
    }
    Ok(json!({ "echo": event.payload }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    otel_faas_runtime::lambda::run(handler).await
}
