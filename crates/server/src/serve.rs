//! The HTTP listener loop: each accepted connection served by hyper's
//! HTTP/1.1 server with upgrades (WebSocket), and the request head bounded
//! in time.
//!
//! `axum::serve` sets no timer on the request head, so a client that sends
//! part of one and stalls (slowloris) held its connection for ever: 2,000 of
//! them were all kept. Here hyper's `header_read_timeout` closes a
//! connection whose head has not arrived within the timeout, counted from
//! the connection's start or from the end of its previous response. hyper
//! closes it without a response, as nginx does for its
//! `client_header_timeout` (nginx logs a 408 and sends nothing); switchboard
//! logs it too.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 over TLS alone, and serving
//! cleartext HTTP/2 would mean sniffing the first bytes of every connection
//! with no timer at all.
//!
//! With TLS the handshake comes first, in the connection's own task (a slow
//! one must not hold up `accept`), and it too must finish within the header
//! timeout: a client that opens a connection and sends nothing, or half a
//! ClientHello, is closed then. The request head then has its own timeout.
//!
//! Every request carries the client's address ([`PeerAddr`]) for the
//! per-address session cap.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use crate::edge::PeerAddr;
use crate::lazy_read::LazyReadStream;
use crate::tls::MaybeTls;

/// Serves `router` on `listener` until `shutdown` completes, then asks every
/// open HTTP connection to finish its request in flight and close, and
/// returns once they all have. (Upgraded WebSockets are no longer HTTP
/// connections: their tasks see the shutdown themselves.) With `tls`, every
/// connection is TLS.
pub(crate) async fn serve<L>(
    mut listener: L,
    router: Router,
    header_timeout: Duration,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin,
{
    let (stopping, stop_signal) = watch::channel(false);
    // Every connection task holds a sender; all are gone once `recv` ends.
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    let mut shutdown = pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service =
            TowerToHyperService::new(router.clone().map_request(move |request: axum::http::Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(PeerAddr(peer));
                request
            }));
        let mut stop_signal = stop_signal.clone();
        let open = open.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _open = open;
            let io = match tls {
                None => MaybeTls::Plain(io),
                Some(acceptor) => match tokio::time::timeout(header_timeout, acceptor.accept(io)).await {
                    Ok(Ok(stream)) => MaybeTls::Tls(Box::new(stream)),
                    Ok(Err(error)) => return tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => {
                        return tracing::debug!(%peer, "TLS handshake not finished within {header_timeout:?}: closed");
                    }
                },
            };
            // Below tungstenite: see lazy_read.rs.
            let io = LazyReadStream::new(io);
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
            let mut connection = pin!(builder.serve_connection(TokioIo::new(io), service).with_upgrades());
            let result = tokio::select! {
                result = connection.as_mut() => result,
                // The guard `wait_for` returns is not Send: drop it inside.
                () = async { let _ = stop_signal.wait_for(|stopping| *stopping).await; } => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            match result {
                Err(error) if error.is_timeout() => {
                    tracing::debug!("request head not received within {header_timeout:?}: closed (408)");
                }
                Err(error) => tracing::debug!(%error, "HTTP connection failed"),
                Ok(()) => {}
            }
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    drop(open);
    let _ = all_closed.recv().await;
    Ok(())
}
