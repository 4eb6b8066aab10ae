//! Connections to one endpoint (the OTLP exporter's, and the Extensions API's for the
//! after-response extension): made on demand, kept between requests while the server keeps
//! them open, one request at a time on each (HTTP/1.1, or HTTP/2 for gRPC), on Hyper's
//! connection API.
//!
//! This replaced `hyper-util`'s pooled client (`client::legacy`). That client serves any
//! number of hosts, and on the production path (issue 17) each export paid for it: the pool
//! key (scheme and authority) hashed with SipHash three times, the authority compared, a
//! task spawned after each response to put the connection back once it was ready, and a
//! lazy connect future. An exporter has one endpoint, so its pool is a stack.
//!
//! What is kept of that client's behaviour (`hyper-util` 0.1, `src/client/legacy/client.rs`):
//! - a request that a kept connection did not write (the server closed it while the
//!   environment was frozen, and the close was seen only now) goes on another connection at
//!   once: its `retry_canceled_requests`. A request written and then left unanswered fails,
//!   and the exporter's retries ([`super::retry`]) send it again;
//! - HTTP/1.1 requests carry `Host` and an origin-form target (`set_host`, `origin_form`);
//!   HTTP/2 requests keep the absolute URI, which gives `:authority`;
//! - a connection idle for [`IDLE_TIMEOUT`] is not used again (its `pool_idle_timeout`).

use std::error::Error as StdError;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;

/// How long an idle connection is kept: `hyper-util`'s pool default.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The most idle connections kept (one per invocation in flight at once, at most).
const MAX_IDLE: usize = 64;

/// An error on the way to an answer, with its causes.
pub(crate) type BoxError = Box<dyn StdError + Send + Sync>;

/// What makes a new connection.
#[derive(Clone, Debug)]
pub(crate) enum Connector {
    /// `http://`.
    Plain(HttpConnector),
    /// `https://` (and `http://` through the same connector).
    #[cfg(feature = "tls")]
    Tls(hyper_rustls::HttpsConnector<HttpConnector>),
}

/// The connections to one endpoint.
#[derive(Debug)]
pub(crate) struct Connections {
    connector: Connector,
    /// Whether connections speak HTTP/2 (gRPC) rather than HTTP/1.1.
    http2: bool,
    /// Idle connections, the most recently used last.
    idle: Mutex<Vec<(Sender, Instant)>>,
}

/// A connection's request side.
#[derive(Debug)]
pub(crate) enum Sender {
    Http1(http1::SendRequest<Full<Bytes>>),
    #[cfg(feature = "grpc")]
    Http2(hyper::client::conn::http2::SendRequest<Full<Bytes>>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::Http1(sender) => sender.is_closed(),
            #[cfg(feature = "grpc")]
            Sender::Http2(sender) => sender.is_closed(),
        }
    }

    async fn ready(&mut self) -> hyper::Result<()> {
        match self {
            Sender::Http1(sender) => sender.ready().await,
            #[cfg(feature = "grpc")]
            Sender::Http2(sender) => sender.ready().await,
        }
    }

    /// Sends `request`; when it was not written, gives it back with the error.
    async fn try_send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, (hyper::Error, Option<Request<Full<Bytes>>>)> {
        let sent = match self {
            Sender::Http1(sender) => sender.try_send_request(request).await,
            #[cfg(feature = "grpc")]
            Sender::Http2(sender) => sender.try_send_request(request).await,
        };
        sent.map_err(|mut error| {
            let request = error.take_message();
            (error.into_error(), request)
        })
    }
}

impl Connections {
    pub(crate) fn new(connector: Connector, http2: bool) -> Self {
        Connections {
            connector,
            http2,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Sends `request` to `uri`'s endpoint on a kept connection, or on a new one. The
    /// connection comes back with the answer: give it back with [`Connections::keep`] once
    /// the answer's body is read, so that the next request finds it ready.
    pub(crate) async fn send(
        &self,
        uri: &Uri,
        mut request: Request<Full<Bytes>>,
    ) -> Result<(Response<Incoming>, Sender), BoxError> {
        while let Some(mut sender) = self.take() {
            // A connection closed under it since it was kept fails here, and is dropped.
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send(request).await {
                Ok(response) => return Ok((response, sender)),
                // Not written: the connection was closed under it. The next one.
                Err((_, Some(unsent))) => request = unsent,
                Err((error, None)) => return Err(error.into()),
            }
        }
        let mut sender = self.connect(uri).await?;
        match sender.try_send(request).await {
            Ok(response) => Ok((response, sender)),
            Err((error, _)) => Err(error.into()),
        }
    }

    /// Keeps `sender` for the next request, unless its connection is closed.
    pub(crate) fn keep(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push((sender, Instant::now()));
        }
    }

    /// The most recently used idle connection that is open and not idle for too long.
    fn take(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some((sender, since)) = idle.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_TIMEOUT {
                return Some(sender);
            }
        }
        None
    }

    /// A new connection to `uri`'s endpoint, its I/O driven by a task of its own.
    async fn connect(&self, uri: &Uri) -> Result<Sender, BoxError> {
        match &self.connector {
            Connector::Plain(connector) => dial(connector.clone(), uri, self.http2).await,
            #[cfg(feature = "tls")]
            Connector::Tls(connector) => dial(connector.clone(), uri, self.http2).await,
        }
    }
}

/// Connects with `connector` and makes the HTTP handshake on what it gives.
async fn dial<C>(mut connector: C, uri: &Uri, http2: bool) -> Result<Sender, BoxError>
where
    C: tower_service::Service<Uri>,
    C::Response: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    C::Error: Into<BoxError>,
{
    std::future::poll_fn(|cx| connector.poll_ready(cx))
        .await
        .map_err(Into::into)?;
    let io = connector.call(uri.clone()).await.map_err(Into::into)?;
    handshake(io, http2).await
}

/// The HTTP handshake on `io`; the connection is driven by a spawned task until it closes.
async fn handshake<T>(io: T, http2: bool) -> Result<Sender, BoxError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    #[cfg(feature = "grpc")]
    if http2 {
        let executor = hyper_util::rt::TokioExecutor::new();
        let (sender, connection) = hyper::client::conn::http2::handshake(executor, io).await?;
        tokio::spawn(connection);
        return Ok(Sender::Http2(sender));
    }
    let _ = http2;
    let (sender, connection) = http1::handshake(io).await?;
    tokio::spawn(connection);
    Ok(Sender::Http1(sender))
}
