use otel_faas_runtime::azure::{AzureEvent, HttpRequest, ServiceBusMessage};
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "sns")]
async fn sns(_event: AzureEvent<ServiceBusMessage>) -> Result<(), Error> {
    Ok(())
}

#[traced_function(trigger = "http", provider = "aws")]
async fn http(_event: AzureEvent<HttpRequest>) -> Result<http::Response<String>, Error> {
    Ok(http::Response::new(String::new()))
}

fn main() {}
