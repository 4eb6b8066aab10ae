//! An HTTP handler returning `impl IntoResponse` and using `?` on a different error type.
use lambda_http::{IntoResponse, Request, Response};
use otel_faas_runtime::{Error, traced_function};

#[traced_function(trigger = "http", name = "GET /health")]
async fn handler(request: Request) -> Result<impl IntoResponse, Error> {
    let count: u32 = request.uri().path().len().to_string().parse()?;
    Ok(Response::builder().status(200).body(format!("{count}"))?)
}

fn main() {
    drop(otel_faas_runtime::lambda::run(handler));
}
