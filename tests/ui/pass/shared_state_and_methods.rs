//! The event is the last argument: state can come first, and methods work too.
use aws_lambda_events::event::sqs::SqsEvent;
use otel_faas_runtime::{Error, lambda::LambdaEvent, traced_function};

struct Client {
    table: String,
}

#[traced_function(trigger = "sqs")]
async fn with_state(client: &Client, event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
    let _ = (&client.table, event.payload.records.len());
    Ok(())
}

impl Client {
    #[traced_function(trigger = "sqs")]
    async fn method(&self, mut event: LambdaEvent<SqsEvent>) -> Result<(), Error> {
        event.payload.records.clear();
        let _ = &self.table;
        Ok(())
    }
}

fn main() {
    let client: &'static Client = Box::leak(Box::new(Client { table: "orders".into() }));
    drop(otel_faas_runtime::lambda::run(move |event| with_state(client, event)));
    drop(otel_faas_runtime::lambda::run(move |event| client.method(event)));
}
