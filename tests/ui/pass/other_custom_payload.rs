//! `other` takes any payload type, also a generic one.
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

#[derive(Deserialize)]
struct Command {
    name: String,
}

#[derive(Serialize)]
struct Reply {
    echoed: String,
}

#[traced_function(trigger = "other")]
async fn handler(event: LambdaEvent<Command>) -> Result<Reply, Error> {
    Ok(Reply { echoed: event.payload.name })
}

#[traced_function(trigger = "other")]
async fn generic<T: DeserializeOwned + Serialize>(event: LambdaEvent<T>) -> Result<T, Error> {
    Ok(event.payload)
}

fn main() {
    drop(otel_faas_runtime::lambda::run(handler));
    drop(otel_faas_runtime::lambda::run(generic::<serde_json::Value>));
}
