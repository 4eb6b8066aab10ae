//! `per_message` handlers, with a raw and with a typed message body.
use aws_lambda_events::event::sqs::{SqsMessage, SqsMessageObj};
use otel_faas_runtime::{Error, traced_function};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Serialize)]
struct Order {
    id: u64,
}

#[traced_function(trigger = "sqs", per_message)]
async fn raw(message: SqsMessage) -> Result<(), Error> {
    message.body.ok_or("empty body")?;
    Ok(())
}

#[traced_function(trigger = "sqs", per_message = true, name = "handle order")]
async fn typed(message: SqsMessageObj<Order>) -> Result<u64, std::io::Error> {
    Ok(message.body.id)
}

fn main() {
    drop(otel_faas_runtime::lambda::run(raw));
    drop(otel_faas_runtime::lambda::run(typed));
}
