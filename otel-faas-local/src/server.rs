//! The loopback HTTP/1.1 server the platform doubles (the Runtime API emulator and the OTLP
//! collector) run on: 127.0.0.1 on an ephemeral port, one task per keep-alive connection,
//! and one switch that closes the listener and every open connection at once.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What a request handler answers.
pub(crate) type HttpResponse = Response<Full<Bytes>>;

/// Binds 127.0.0.1 on an ephemeral port.
pub(crate) async fn bind_loopback() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

/// Serves every request on `listener` with `handle`, on the current tokio runtime, until
/// `shutdown` turns true. `name` labels the log lines of failures.
pub(crate) fn serve<H, Fut>(
    listener: TcpListener,
    shutdown: watch::Receiver<bool>,
    name: &'static str,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<HttpResponse, Infallible>> + Send + 'static,
{
    tokio::spawn(accept_connections(listener, shutdown, name, handle));
}

async fn accept_connections<H, Fut>(
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    name: &'static str,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<HttpResponse, Infallible>> + Send + 'static,
{
    loop {
        tokio::select! {
            () = wait_for_shutdown(&mut shutdown) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    tokio::spawn(serve_connection(stream, shutdown.clone(), name, handle.clone()));
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

/// Serves one keep-alive HTTP/1.1 connection until the client closes it or the server stops.
async fn serve_connection<H, Fut>(
    stream: TcpStream,
    mut shutdown: watch::Receiver<bool>,
    name: &'static str,
    handle: H,
) where
    H: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<HttpResponse, Infallible>> + Send + 'static,
{
    // Small request/response exchanges: don't let Nagle delay them.
    let _ = stream.set_nodelay(true);
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service_fn(handle));
    tokio::select! {
        served = connection => {
            if let Err(error) = served {
                tracing::debug!(%error, "{name}: connection ended with an error");
            }
        }
        () = wait_for_shutdown(&mut shutdown) => {}
    }
}

/// Resolves once the server is told to stop.
pub(crate) async fn wait_for_shutdown(shutdown: &mut watch::Receiver<bool>) {
    // Fails only once the sender is gone, which means stopped as well.
    let _ = shutdown.wait_for(|stopped| *stopped).await;
}
