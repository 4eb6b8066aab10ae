//! Flushing after the response: an internal Lambda extension, registered through the
//! Extensions API, holds the environment open while the invocation's telemetry is exported.
//!
//! Lambda freezes an execution environment only when the runtime *and every extension* have
//! asked for their next event. With `OTEL_FAAS_FLUSH=after_response`, [`run`](super::run)
//! registers an extension inside the function process (`otel-faas`, INVOKE events only:
//! internal extensions cannot receive SHUTDOWN; the runtime gets SIGTERM instead, which
//! [`run`](super::run) answers with a last flush). For each invocation:
//!
//! 1. the platform hands the event to the runtime and an INVOKE event to the extension;
//! 2. the handler runs, and `lambda_runtime` posts its response at once — the caller has it;
//! 3. the extension, told the invocation is over, exports its spans and metrics (bounded by
//!    `OTEL_FAAS_FLUSH_TIMEOUT` and the deadline), then asks for its next event, which lets
//!    the platform freeze the environment or hand out the next event.
//!
//! If the extension cannot register (no Runtime API, an old platform), the function falls
//! back to flushing before the response and says so in its logs.
//!
//! # SIGTERM
//!
//! Lambda sends the runtime SIGTERM before it stops the environment only when an extension
//! is registered; without one the process gets SIGKILL, and the last flush never runs
//! (`aws/aws-lambda-go`, `lambda/sigterm.go`: "Any use of the Lambda extension register API
//! enables SIGTERM to be sent to the function process before the SIGKILL"; the Extensions
//! API's shutdown phase gives a runtime with an internal extension 500 ms). So with the
//! default flush, [`run`](super::run) registers the same extension subscribed to no event
//! (`register_for_sigterm`): it asks for its next event once, as the Extensions API
//! requires to end the Init phase, and that request stays pending for the process's life —
//! no work, no round trip per invocation. The shutdown flush then exports what ended after
//! the last invocation's flush, and the FaaS metrics not exported yet ([`crate::metrics`]).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::Error;
use crate::invocation::Invocation;
use crate::otlp::connections::{Connections, Connector};

/// The extension's name.
const NAME: &str = "otel-faas";
const REGISTER: &str = "/2020-01-01/extension/register";
const NEXT: &str = "/2020-01-01/extension/event/next";
const IDENTIFIER: &str = "Lambda-Extension-Identifier";
/// The longest the extension waits for the runtime to finish an invocation after its
/// deadline before moving on (the platform has stopped that invocation by then).
const STRAGGLE: Duration = Duration::from_millis(500);

/// The runtime's side: hands the extension each invocation that is over.
#[derive(Clone, Debug)]
pub(crate) struct InvocationDone(mpsc::UnboundedSender<Arc<Invocation>>);

impl InvocationDone {
    /// `invocation` has ended: its response (or error) is posted, its spans are the
    /// extension's to export.
    pub(crate) fn send(&self, invocation: Arc<Invocation>) {
        let _ = self.0.send(invocation);
    }
}

/// An extension event, as `/event/next` answers it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    event_type: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    deadline_ms: u64,
}

/// Registers the extension and starts its loop; `None` (with the reason logged) when it
/// cannot register, so the caller flushes before the response instead.
pub(crate) async fn start() -> Option<InvocationDone> {
    let client = match client() {
        Ok(client) => client,
        Err(error) => return fallback(&error),
    };
    let identifier = match register(&client, INVOKE).await {
        Ok(identifier) => identifier,
        Err(error) => return fallback(&format!("the extension could not register: {error}")),
    };
    let (tx, rx) = mpsc::unbounded_channel();
    crate::platform::spawn_boxed(
        &tokio::runtime::Handle::current(),
        serve(client, identifier, rx),
    );
    Some(InvocationDone(tx))
}

/// Registers the extension for no event, so that Lambda sends SIGTERM before it stops the
/// process (see the module documentation), and asks for its first event, which never comes.
/// Says why when it cannot register.
pub(crate) async fn register_for_sigterm() -> Result<(), String> {
    let client = client()?;
    let identifier = register(&client, NO_EVENT)
        .await
        .map_err(|error| format!("the extension could not register: {error}"))?;
    crate::platform::spawn_boxed(&tokio::runtime::Handle::current(), async move {
        // Pending for the process's life; an answer (an event we did not ask for, or the
        // Runtime API gone) ends the task, and changes nothing for the runtime.
        let _ = next_event(&client, &identifier).await;
    });
    Ok(())
}

/// The Extensions API, on one kept connection: with `after_response` the extension asks
/// for its next event once per invocation, and `lambda_runtime_api_client`'s pooled client
/// (`hyper-util`'s) cost that round trip its pool's work each time (issue 17).
struct Client {
    connections: Connections,
    endpoint: Uri,
    host: HeaderValue,
}

impl Client {
    /// One request; the answer's status, headers and body (read to its end, which frees
    /// the connection for the next request).
    async fn call(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), Error> {
        let (response, connection) = self.connections.send(&self.endpoint, request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        self.connections.keep(connection);
        Ok((parts.status, parts.headers, body))
    }

    fn request(&self, method: Method, path: &'static str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
    }
}

fn client() -> Result<Client, String> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")
        .map_err(|_| "AWS_LAMBDA_RUNTIME_API is not set".to_owned())?;
    let endpoint: Uri = format!("http://{api}")
        .parse()
        .map_err(|error| format!("AWS_LAMBDA_RUNTIME_API is not an address: {error}"))?;
    let host = HeaderValue::from_str(&api)
        .map_err(|error| format!("AWS_LAMBDA_RUNTIME_API is not an address: {error}"))?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Ok(Client {
        connections: Connections::new(Connector::Plain(connector), false),
        endpoint,
        host,
    })
}

fn fallback(reason: &str) -> Option<InvocationDone> {
    tracing::warn!(
        target: "otel_faas",
        "OTEL_FAAS_FLUSH=after_response: {reason}; flushing before each response instead"
    );
    None
}

/// The register body of the after-response extension.
const INVOKE: &str = r#"{"events":["INVOKE"]}"#;
/// The register body of the extension that only makes Lambda send SIGTERM.
const NO_EVENT: &str = r#"{"events":[]}"#;

async fn register(client: &Client, body: &'static str) -> Result<String, Error> {
    let request = client
        .request(Method::POST, REGISTER)
        .header("Lambda-Extension-Name", NAME)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))?;
    let (status, headers, body) = client.call(request).await?;
    let identifier = headers
        .get(IDENTIFIER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match (status, identifier) {
        (StatusCode::OK, Some(identifier)) => Ok(identifier),
        _ => Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into()),
    }
}

async fn next_event(client: &Client, identifier: &str) -> Result<Event, Error> {
    let request = client
        .request(Method::GET, NEXT)
        .header(IDENTIFIER, identifier)
        .body(Full::new(Bytes::new()))?;
    let (status, _, body) = client.call(request).await?;
    if status != StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body)).into());
    }
    Ok(serde_json::from_slice(&body)?)
}

/// The extension's loop: for each INVOKE event, wait for the runtime to finish that
/// invocation, export, and ask for the next event.
async fn serve(
    client: Client,
    identifier: String,
    mut done: mpsc::UnboundedReceiver<Arc<Invocation>>,
) {
    loop {
        let event = match next_event(&client, &identifier).await {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(target: "otel_faas", "the extension lost the Extensions API: {error}");
                return;
            }
        };
        if event.event_type != "INVOKE" {
            continue;
        }
        let deadline =
            (event.deadline_ms > 0).then(|| UNIX_EPOCH + Duration::from_millis(event.deadline_ms));
        let wait = deadline
            .and_then(|d| d.duration_since(SystemTime::now()).ok())
            .map_or(Duration::from_secs(900), |left| left + STRAGGLE);
        let finished = tokio::time::timeout(wait, async {
            while let Some(invocation) = done.recv().await {
                let ours = invocation.request_id() == event.request_id;
                // An invocation the extension was not told about (it registered late) is
                // still exported.
                invocation.flush().await;
                if ours {
                    return true;
                }
            }
            false
        })
        .await;
        if !matches!(finished, Ok(true)) && done.is_closed() {
            return;
        }
    }
}
