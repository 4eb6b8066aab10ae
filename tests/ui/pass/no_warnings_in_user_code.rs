//! The expansion adds no warning to the user's code: one-line bodies (`{ Ok(()) }` got
//! `unused_braces` on the user's own braces, with a suggestion that did not compile), a body
//! with items of its own, on each shape of handler, under `deny(warnings)`.
#![deny(warnings)]

use otel_faas_runtime::aws_lambda_events::event::s3::S3EventRecord;
use otel_faas_runtime::aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use otel_faas_runtime::azure::{AzureEvent, FunctionApp, HttpRequest, QueueMessage};
use otel_faas_runtime::lambda::LambdaEvent;
use otel_faas_runtime::lambda_http::{Request, Response};
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "sqs")]
async fn sqs(_event: LambdaEvent<SqsEvent>) -> Result<(), Error> { Ok(()) }

#[traced_function(trigger = "sqs", per_message)]
async fn message(_message: SqsMessage) -> Result<(), Error> { Ok(()) }

#[traced_function(trigger = "s3", per_record)]
async fn record(_record: S3EventRecord) -> Result<(), Error> { Ok(()) }

#[traced_function(trigger = "other")]
async fn other(event: LambdaEvent<u32>) -> Result<u32, Error> { Ok(event.payload) }

#[traced_function(trigger = "http")]
async fn http(_request: Request) -> Result<Response<String>, Error> { Ok(Response::new(String::new())) }

#[traced_function(trigger = "queue")]
async fn queue(_event: AzureEvent<QueueMessage>) -> Result<(), Error> { Ok(()) }

#[traced_function(trigger = "http")]
async fn azure_http(_event: AzureEvent<HttpRequest>) -> Result<(), Error> { Ok(()) }

#[traced_function(trigger = "other")]
async fn with_items(event: LambdaEvent<u32>) -> Result<u32, Error> {
    use std::ops::Add as _;
    const ONE: u32 = 1;
    fn twice(n: u32) -> u32 {
        n * 2
    }
    Ok(twice(event.payload).add(ONE))
}

fn main() {
    drop(otel_faas_runtime::lambda::run(sqs));
    drop(otel_faas_runtime::lambda::run(message));
    drop(otel_faas_runtime::lambda::run(record));
    drop(otel_faas_runtime::lambda::run(other));
    drop(otel_faas_runtime::lambda::run(http));
    drop(otel_faas_runtime::lambda::run(with_items));
    drop(FunctionApp::new().function("Queue", queue).function("Http", azure_http));
}
