use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "http", provider = "azure")]
async fn handler(_request: lambda_http::Request) -> Result<String, Error> {
    Ok(String::new())
}

fn main() {}
