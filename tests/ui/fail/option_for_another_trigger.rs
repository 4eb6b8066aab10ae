use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "http", per_message, links_from = "both")]
async fn handler(_request: lambda_http::Request) -> Result<&'static str, Error> {
    Ok("ok")
}

fn main() {}
