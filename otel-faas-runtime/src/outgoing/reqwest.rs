//! `reqwest`, traced: a request sent with [`SendTraced::send_traced`] gets a CLIENT span and
//! carries the trace headers.
//!
//! ```no_run
//! # async fn f() -> Result<(), reqwest::Error> {
//! use otel_faas_runtime::outgoing::reqwest::SendTraced as _;
//!
//! let client = reqwest::Client::new();
//! let response = client.get("https://api.example.com/orders/7").send_traced().await?;
//! # Ok(()) }
//! ```
//!
//! The span is `{method}` with `http.request.method`, `server.address`, `server.port`, `url.full`
//! (credentials and secret-looking query values redacted) and `http.response.status_code`; a
//! 4xx or 5xx answer, or an error before any answer, marks it failed. Headers the request
//! already has are kept, except the trace headers themselves.

use std::future::Future;

use super::OutgoingSpan;

/// Sends a `reqwest` request with a CLIENT span and the trace headers.
pub trait SendTraced {
    /// [`reqwest::RequestBuilder::send`], traced.
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send;
}

impl SendTraced for reqwest::RequestBuilder {
    fn send_traced(self) -> impl Future<Output = reqwest::Result<reqwest::Response>> + Send {
        let (client, request) = self.build_split();
        let traced = request.map(|mut request| {
            let span = OutgoingSpan::http(request.method(), request.url().as_str());
            span.trace_context().inject_headers(request.headers_mut());
            (request, span)
        });
        async move {
            let (request, span) = traced?;
            let answer = client.execute(request).await;
            match &answer {
                Ok(response) => span.record_status(response.status().as_u16()),
                Err(error) => span.record_error(error),
            }
            answer
        }
    }
}
