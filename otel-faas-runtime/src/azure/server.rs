//! The custom handler's HTTP server: routes the Functions host's requests to the registered
//! functions, one invocation scope per request, and stops gracefully.
//!
//! - `POST /{function}`: an invocation in the host's JSON (`Data`, `Metadata`);
//! - `/api/…`, any method: an HTTP trigger's request forwarded as it came
//!   (`enableForwardingHttpRequest`), routed by the `route` templates of the functions'
//!   `function.json`, else by its first path segment after `api/` (the default route).
//!
//! Function names match case-insensitively, as the host treats them. A body over 64 MiB, or
//! one that is not the host's JSON, fails that invocation with a readable message (and an
//! error span); an unknown function is a 404 naming the registered ones.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_sdk::trace::{IdGenerator as _, RandomIdGenerator};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::instrument::WithSubscriber as _;

use super::handler::{Function, HostResponse};
use super::payload::{HostRequest, PayloadError, RawInvocation};
use crate::invocation::{Invocation, Supervision};
use crate::telemetry::Telemetry;
use crate::watchdog::Watchdog;

/// Largest request body read.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// The host's invocation id header.
pub(crate) const INVOCATION_ID: &str = "x-azure-functions-invocationid";
/// How long in-flight invocations may take to finish on shutdown.
const DRAIN: Duration = Duration::from_secs(10);

/// The registered functions, by lower-case name.
pub(crate) struct Routes {
    pub(crate) functions: HashMap<String, Arc<dyn Function>>,
    pub(crate) telemetry: Option<Telemetry>,
    /// `host.json`'s `functionTimeout` (or the plan's default): when the host kills the
    /// worker, counted from the request's arrival.
    pub(crate) function_timeout: Option<Duration>,
    /// Ends and exports an invocation still running a margin before its timeout.
    pub(crate) watchdog: Arc<Watchdog>,
}

impl Routes {
    fn lookup(&self, name: &str) -> Option<&Arc<dyn Function>> {
        self.functions.get(&name.to_ascii_lowercase())
    }

    /// The function a forwarded request's path after `/api/` is for: the one whose route
    /// template it fits, else the one its first segment names.
    fn forwarded(&self, path: &str) -> Option<&Arc<dyn Function>> {
        self.functions
            .values()
            .find(|f| f.bindings().route_matches(path))
            .or_else(|| self.lookup(path.split('/').next().unwrap_or_default()))
    }

    fn names(&self) -> String {
        let mut names: Vec<&str> = self.functions.values().map(|f| f.name()).collect();
        names.sort_unstable();
        names.join(", ")
    }
}

/// Serves `listener` until `stop` turns true, then lets in-flight requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    routes: Arc<Routes>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let routes = routes.clone();
                    let mut stop = stop.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request| handle(routes.clone(), request));
                        let connection = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service);
                        tokio::pin!(connection);
                        tokio::select! {
                            _ = connection.as_mut() => {}
                            () = stopped(&mut stop) => {
                                connection.as_mut().graceful_shutdown();
                                let _ = connection.await;
                            }
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(target: "otel_faas", %error, "custom handler: accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

/// Resolves once the server is told to stop (or its handle is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// Answers one request of the host (the test kit calls it directly, without the listener).
pub(crate) async fn handle<B>(
    routes: Arc<Routes>,
    request: Request<B>,
) -> Result<HostResponse, Infallible>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let path = request.uri().path().to_owned();
    let (name, function, forwarded) = match path.strip_prefix("/api/") {
        Some(rest) => (rest, routes.forwarded(rest), true),
        None => {
            let name = path.trim_start_matches('/');
            (name, routes.lookup(name), false)
        }
    };
    let Some(function) = function.cloned() else {
        let message = match forwarded {
            true => format!(
                "no function serves /api/{name}; the functions are: {}",
                routes.names()
            ),
            false => format!(
                "no function named `{name}` here; the functions are: {}",
                routes.names()
            ),
        };
        return Ok(text(StatusCode::NOT_FOUND, message));
    };
    if !forwarded && request.method() != Method::POST {
        return Ok(text(
            StatusCode::METHOD_NOT_ALLOWED,
            "the Functions host invokes a function with POST /{function}".to_owned(),
        ));
    }
    let invocation_id = invocation_id(&request);
    // The host sends requests concurrently: each is an invocation of its own, with its own
    // spans, flush and deadline. At `functionTimeout` the host kills the whole worker with
    // SIGKILL (see `host_json`), so no SIGTERM flush runs: the deadline watchdog records the
    // timeout and exports the invocation's spans a margin before it.
    let deadline = routes
        .function_timeout
        .and_then(|timeout| SystemTime::now().checked_add(timeout));
    let scope = routes.telemetry.as_ref().map(|telemetry| {
        Invocation::begin(
            telemetry.clone(),
            invocation_id.clone(),
            deadline,
            Supervision {
                watchdog: Some(routes.watchdog.clone()),
                after_response: false,
            },
        )
    });
    let (parts, body) = request.into_parts();
    let call = async move {
        let body = match Limited::new(body, MAX_BODY).collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) => {
                let (status, message) =
                    match error.downcast_ref::<http_body_util::LengthLimitError>() {
                        Some(_) => (
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!("the invocation request is larger than {MAX_BODY} bytes"),
                        ),
                        None => (
                            StatusCode::BAD_REQUEST,
                            format!("reading the invocation request failed: {error}"),
                        ),
                    };
                return function
                    .reject(invocation_id, status, PayloadError(message))
                    .await;
            }
        };
        let raw = if forwarded {
            RawInvocation::Forwarded(Box::new(Request::from_parts(parts, body)))
        } else {
            match HostRequest::parse(&body) {
                Ok(host) => RawInvocation::Host(host),
                Err(error) => {
                    return function
                        .reject(invocation_id, StatusCode::BAD_REQUEST, error)
                        .await;
                }
            }
        };
        function.invoke(raw, invocation_id, forwarded).await
    };
    // The invocation runs on a task of its own: a host that gives up on the request (its
    // `functionTimeout`) drops the connection and with it this future, but the invocation
    // still ends — its handler finishes and its spans are exported — instead of vanishing
    // mid-flight with its spans unexported.
    // It keeps the request's `tracing` subscriber (the test kit's, when it is not the
    // global one).
    let invocation = tokio::spawn(
        async move {
            match scope {
                Some(scope) => scope.run(call).await,
                None => call.await,
            }
        }
        .with_current_subscriber(),
    );
    Ok(match invocation.await {
        Ok(response) => response,
        // The handler's panics are caught inside; this is the task itself failing.
        Err(error) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the invocation failed: {error}"),
        ),
    })
}

/// The host's invocation id, when it is a sane one; otherwise a fresh id.
fn invocation_id<B>(request: &Request<B>) -> String {
    request
        .headers()
        .get(INVOCATION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .map(str::to_owned)
        .unwrap_or_else(|| RandomIdGenerator::default().new_trace_id().to_string())
}

fn text(status: StatusCode, message: String) -> HostResponse {
    let mut response = http::Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The address the custom handler listens on: 127.0.0.1 and `FUNCTIONS_CUSTOMHANDLER_PORT`
/// (what the host sets), else port 8080 for a run by hand.
pub(crate) fn listen_addr() -> Result<SocketAddr, String> {
    let port = match std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT") {
        Ok(port) => port
            .trim()
            .parse::<u16>()
            .map_err(|e| format!("FUNCTIONS_CUSTOMHANDLER_PORT={port:?} is not a port: {e}"))?,
        Err(_) => 8080,
    };
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
}
