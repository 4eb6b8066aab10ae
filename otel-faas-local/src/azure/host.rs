//! The Functions host's side of the custom-handler protocol: the requests it sends, and
//! what it makes of the answers.
//!
//! Followed: Azure/azure-functions-host `src/WebJobs.Script/Workers/Http/DefaultHttpWorkerService.cs`
//! and `HttpWorkerConstants.cs`:
//!
//! - an invocation is `POST http://127.0.0.1:{port}/{function}` with the invocation JSON
//!   ([`HostInvocation`]) and the headers `X-Azure-Functions-InvocationId`,
//!   `X-Azure-Functions-HostVersion` and `User-Agent: Azure-Functions-Host/{version}`
//!   (`AddHeaders`); nothing else — no `traceparent`: the host's own activity does not
//!   travel to the worker on this path;
//! - with `enableForwardingHttpRequest`, an HTTP-only function's request is forwarded as it
//!   came, to its own path (`ProcessHttpInAndOutInvocationRequest`), with the same headers
//!   added to the caller's (whose `traceparent` is the caller's);
//! - the host sends requests concurrently, one `HttpClient` for the one worker process;
//! - on a non-2xx answer the host throws in `EnsureSuccessStatusCode()` before it reads the
//!   body, so only the status and its reason phrase reach its logs
//!   ([`HostAnswer::host_failure`]); on a 2xx answer it logs each of `Logs`;
//! - at `functionTimeout` the host restarts the worker; [`FunctionsHost::with_function_timeout`]
//!   gives up on the request then (the worker process, when there is one, is killed by
//!   [`super::WorkerProcess`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use otel_faas_runtime::__private::local::AZURE_INVOCATION_ID;

use super::HostInvocation;

/// The host version the double announces.
pub(crate) const HOST_VERSION: &str = "4.1040.300.0";

/// What a custom handler answered.
#[derive(Clone, Debug)]
pub struct HostAnswer {
    /// The status.
    pub status: StatusCode,
    /// The reason phrase, when it is not the status's canonical one.
    pub reason: Option<String>,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl HostAnswer {
    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// What the host records for a failed invocation: the message of the exception
    /// `EnsureSuccessStatusCode()` throws (.NET's
    /// `Response status code does not indicate success: {code} ({reason phrase}).`); `None`
    /// for a 2xx answer.
    pub fn host_failure(&self) -> Option<String> {
        if self.status.is_success() {
            return None;
        }
        let reason = self
            .reason
            .clone()
            .or_else(|| self.status.canonical_reason().map(str::to_owned));
        Some(match reason {
            Some(reason) => format!(
                "Response status code does not indicate success: {} ({reason}).",
                self.status.as_u16()
            ),
            None => format!(
                "Response status code does not indicate success: {}.",
                self.status.as_u16()
            ),
        })
    }

    /// The lines the host logs for a successful invocation: its `Logs`.
    pub fn host_logs(&self) -> Vec<String> {
        if !self.status.is_success() {
            return Vec::new();
        }
        self.json()
            .and_then(|body| body.get("Logs").cloned())
            .and_then(|logs| serde_json::from_value(logs).ok())
            .unwrap_or_default()
    }
}

/// Sends a custom handler the requests the Functions host sends it.
#[derive(Debug)]
pub struct FunctionsHost {
    addr: SocketAddr,
    next: AtomicU64,
    function_timeout: Option<Duration>,
}

impl FunctionsHost {
    /// A host of the custom handler listening on `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        FunctionsHost {
            addr,
            next: AtomicU64::new(1),
            function_timeout: None,
        }
    }

    /// Gives up on an invocation once `timeout` (`host.json`'s `functionTimeout`) has passed,
    /// as the host does: the request's connection is dropped and the invocation answers
    /// [`std::io::ErrorKind::TimedOut`].
    pub fn with_function_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.function_timeout = timeout;
        self
    }

    /// The handler's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A fresh invocation id, in the host's GUID format.
    pub fn next_invocation_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("8f6a2c1e-4b7d-4e2a-9c3f-{n:012x}")
    }

    /// Invokes a function with its invocation JSON, as invocation `invocation_id`.
    pub async fn invoke(
        &self,
        invocation_id: &str,
        invocation: &HostInvocation,
    ) -> std::io::Result<HostAnswer> {
        let body = serde_json::to_vec(&invocation.to_json()).map_err(std::io::Error::other)?;
        self.post_raw(
            &format!("/{}", invocation.function()),
            invocation_id,
            Bytes::from(body),
        )
        .await
    }

    /// Posts `body` to `path` as an invocation request, whatever it holds.
    pub async fn post_raw(
        &self,
        path: &str,
        invocation_id: &str,
        body: Bytes,
    ) -> std::io::Result<HostAnswer> {
        let mut request = Request::new(body);
        *request.method_mut() = Method::POST;
        *request.uri_mut() = path.parse().map_err(std::io::Error::other)?;
        // `ObjectContent<HttpScriptInvocationContext>` with the JSON formatter.
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        self.send(request, invocation_id).await
    }

    /// Forwards an HTTP trigger's request as it came (`enableForwardingHttpRequest`); its
    /// path is `/api/{function}…`.
    pub async fn forward(
        &self,
        invocation_id: &str,
        request: Request<Bytes>,
    ) -> std::io::Result<HostAnswer> {
        self.send(request, invocation_id).await
    }

    async fn send(
        &self,
        request: Request<Bytes>,
        invocation_id: &str,
    ) -> std::io::Result<HostAnswer> {
        let exchange = self.exchange(request, invocation_id);
        match self.function_timeout {
            None => exchange.await,
            Some(timeout) => match tokio::time::timeout(timeout, exchange).await {
                Ok(answer) => answer,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "Timeout value of {} exceeded by function (Id: '{invocation_id}')",
                        timespan(timeout)
                    ),
                )),
            },
        }
    }

    async fn exchange(
        &self,
        mut request: Request<Bytes>,
        invocation_id: &str,
    ) -> std::io::Result<HostAnswer> {
        let headers = request.headers_mut();
        if let Ok(id) = HeaderValue::from_str(invocation_id) {
            headers.insert(AZURE_INVOCATION_ID, id);
        }
        headers.insert(
            "x-azure-functions-hostversion",
            HeaderValue::from_static(HOST_VERSION),
        );
        // `UserAgent.ParseAdd`: added to a forwarded caller's own user agent.
        let agent = match headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
        {
            Some(caller) => format!("{caller} Azure-Functions-Host/{HOST_VERSION}"),
            None => format!("Azure-Functions-Host/{HOST_VERSION}"),
        };
        if let Ok(agent) = HeaderValue::from_str(&agent) {
            headers.insert(http::header::USER_AGENT, agent);
        }
        // A forwarded request keeps the caller's `Host` (its headers are copied over).
        if !headers.contains_key(http::header::HOST)
            && let Ok(host) = HeaderValue::from_str(&self.addr.to_string())
        {
            headers.insert(http::header::HOST, host);
        }
        let stream = TcpStream::connect(self.addr).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        let response = sender
            .send_request(request.map(Full::new))
            .await
            .map_err(std::io::Error::other)?;
        let (parts, body) = response.into_parts();
        let reason = parts
            .extensions
            .get::<hyper::ext::ReasonPhrase>()
            .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
        let body = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        Ok(HostAnswer {
            status: parts.status,
            reason,
            headers: parts.headers,
            body,
        })
    }
}

/// A duration as .NET prints a `TimeSpan`: `00:05:00`, `00:00:01.5000000`.
pub(crate) fn timespan(duration: Duration) -> String {
    let secs = duration.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match duration.subsec_nanos() {
        0 => format!("{h:02}:{m:02}:{s:02}"),
        nanos => format!("{h:02}:{m:02}:{s:02}.{:07}", nanos / 100),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    /// The request head the double sends, read off the wire.
    async fn sent_head(send: impl AsyncFnOnce(FunctionsHost)) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = FunctionsHost::new(listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut buf).await.unwrap();
                head.extend_from_slice(&buf[..n]);
            }
            stream
                .write_all(b"HTTP/1.1 500 boom: no PNG\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8_lossy(&head).to_lowercase()
        });
        send(host).await;
        server.await.unwrap()
    }

    // `DefaultHttpWorkerService.AddHeaders` adds the invocation id, the host version and the
    // user agent, and nothing else: no trace context reaches the worker with the invocation
    // JSON.
    #[tokio::test]
    async fn an_invocation_carries_the_hosts_headers_and_no_invented_trace_context() {
        let head = sent_head(async |host| {
            let answer = host
                .invoke("inv-1", &HostInvocation::new("Resize"))
                .await
                .unwrap();
            assert_eq!(
                answer.host_failure().as_deref(),
                Some("Response status code does not indicate success: 500 (boom: no PNG).")
            );
        })
        .await;
        assert!(head.starts_with("post /resize http/1.1"), "{head}");
        assert!(
            head.contains("x-azure-functions-invocationid: inv-1"),
            "{head}"
        );
        assert!(head.contains("x-azure-functions-hostversion: "), "{head}");
        assert!(head.contains("user-agent: azure-functions-host/"), "{head}");
        assert!(!head.contains("traceparent"), "{head}");
        assert!(!head.contains("request-id"), "{head}");
    }

    // A forwarded request keeps the caller's headers, its `traceparent` included; the host's
    // user agent is added to the caller's (`UserAgent.ParseAdd`).
    #[tokio::test]
    async fn a_forwarded_request_keeps_the_callers_trace_context() {
        let head = sent_head(async |host| {
            let request = http::Request::builder()
                .uri("/api/hello/ada")
                .header(
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                )
                .header("user-agent", "curl/8.5.0")
                .body(Bytes::new())
                .unwrap();
            host.forward("inv-2", request).await.unwrap();
        })
        .await;
        assert!(
            head.contains("traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            "{head}"
        );
        assert!(
            head.contains("user-agent: curl/8.5.0 azure-functions-host/"),
            "{head}"
        );
    }
}
