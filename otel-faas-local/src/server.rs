//! The loopback HTTP/1.1 server the platform doubles (the Runtime API emulator and the OTLP
//! collector) run on: 127.0.0.1 on an ephemeral port, one task per keep-alive connection,
//! and one switch that closes the listener and every open connection at once. The collector
//! may also serve TLS and HTTP/2 beside HTTP/1.1 (for OTLP/gRPC), and may close a reused
//! connection without answering ([`Connections`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Body;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};

/// What a request handler answers.
pub(crate) type HttpResponse = Response<Full<Bytes>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Binds 127.0.0.1 on an ephemeral port.
pub(crate) async fn bind_loopback() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves every request on `listener` with `handle`, on the current tokio runtime, until
/// `shutdown` turns true. `name` labels the log lines of failures.
pub(crate) fn serve<H, Fut, B>(
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    name: &'static str,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    serve_with(listener, shutdown, name, Connections::default(), handle);
}

/// How the connections of a server are served beyond plain keep-alive HTTP/1.1.
#[derive(Clone, Default)]
pub(crate) struct Connections {
    /// Serve TLS with this configuration.
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
    /// Answer one request per connection, and close the connection, without answering, when
    /// the client sends a second one on it: what a client sees when a server dropped an idle
    /// keep-alive connection it did not notice (a frozen environment's, say).
    pub(crate) drop_reused: bool,
    /// Connections accepted (and, with TLS, through their handshake).
    pub(crate) accepted: Arc<AtomicU64>,
    /// Serve HTTP/2 as well as HTTP/1.1, told apart by the HTTP/2 connection preface
    /// (h2c by prior knowledge, or after ALPN `h2`).
    pub(crate) http2: bool,
}

/// [`serve`], with [`Connections`] options.
pub(crate) fn serve_with<H, Fut, B>(
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    name: &'static str,
    connections: Connections,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    tokio::spawn(accept_connections(
        listener,
        shutdown,
        name,
        connections,
        handle,
    ));
}

async fn accept_connections<H, Fut, B>(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    name: &'static str,
    connections: Connections,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    loop {
        tokio::select! {
            () = wait_for_shutdown(&mut shutdown) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    tokio::spawn(accept_connection(
                        stream,
                        shutdown.clone(),
                        name,
                        connections.clone(),
                        handle.clone(),
                    ));
                }
                Err(error) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(%error, "{name}: accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Completes the TLS handshake, when there is one, then serves the connection.
async fn accept_connection<H, Fut, B>(
    stream: TcpStream,
    shutdown: watch::Receiver<bool>,
    name: &'static str,
    connections: Connections,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    // Small request/response exchanges: don't let Nagle delay them.
    let _ = stream.set_nodelay(true);
    match &connections.tls {
        None => {
            connections.accepted.fetch_add(1, Ordering::SeqCst);
            serve_connection(stream, shutdown, name, &connections, handle).await;
        }
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(stream) => {
                connections.accepted.fetch_add(1, Ordering::SeqCst);
                serve_connection(stream, shutdown, name, &connections, handle).await;
            }
            Err(error) => tracing::debug!(%error, "{name}: TLS handshake failed"),
        },
    }
}

/// Serves one keep-alive HTTP/1.1 (or, with `http2`, HTTP/2) connection until the client
/// closes it or the server stops (or, with `drop_reused`, until a second request arrives on
/// it).
async fn serve_connection<IO, H, Fut, B>(
    stream: IO,
    mut shutdown: watch::Receiver<bool>,
    name: &'static str,
    connections: &Connections,
    handle: H,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    let drop_reused = connections.drop_reused;
    let served = Arc::new(AtomicU64::new(0));
    let vanish = Arc::new(Notify::new());
    let handle = Arc::new(handle);
    let service = {
        let vanish = Arc::clone(&vanish);
        service_fn(move |request| {
            let reused = served.fetch_add(1, Ordering::SeqCst) > 0;
            let answer: Pin<Box<dyn Future<Output = _> + Send>> = match drop_reused && reused {
                true => {
                    vanish.notify_one();
                    Box::pin(std::future::pending())
                }
                false => Box::pin(handle(request)),
            };
            answer
        })
    };
    let connection: Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> =
        match connections.http2 {
            false => {
                let connection = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service);
                Box::pin(async move { connection.await.map_err(BoxError::from) })
            }
            true => {
                let mut builder = auto::Builder::new(TokioExecutor::new());
                builder.http1().keep_alive(true);
                Box::pin(
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned(),
                )
            }
        };
    tokio::select! {
        served = connection => {
            if let Err(error) = served {
                tracing::debug!(%error, "{name}: connection ended with an error");
            }
        }
        // Dropping the connection closes the socket, the request unanswered.
        () = vanish.notified() => {}
        () = wait_for_shutdown(&mut shutdown) => {}
    }
}

/// Resolves once the server is told to stop.
pub(crate) async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    // Fails only once the sender is gone, which means stopped as well.
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}
