//! What every WebSocket upgrade and socket.io handshake passes before a
//! session is made: its `Origin` ([`OriginPolicy`]) and the session caps
//! ([`Admissions`]).
//!
//! | refused because | WebSocket | socket.io (polling and websocket) |
//! |---|---|---|
//! | `Origin` not allowed | 403 | 403, on every request |
//! | the address holds `--max-connections-per-ip` | 429 | 429 at the handshake |
//! | the node holds `--max-sessions` | upgraded, then close 1013 | 503 at the handshake |
//! | the node drains (SIGTERM) | upgraded, then close 1013 | 503 at the handshake |
//!
//! A full node closes a WebSocket with 1013 (try again later) after the
//! upgrade rather than refusing the upgrade: a browser shows a page's script
//! only a close code, never the status of a refused handshake. socket.io
//! clients do see a refused handshake (`connect_error`) and retry it, so
//! they get the 503 before any session exists.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::admission::{Admission, Admissions, Refused};
use crate::origin::{OriginPolicy, OriginRefused};
use switchboard_dialects::resume::ResumeAsk;

/// The client's address, put in every request's extensions by the serve
/// loop (`serve.rs`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerAddr(pub(crate) SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for PeerAddr {
    type Rejection = Infallible;

    /// The address from the serve loop; `0.0.0.0:0` for a request that did
    /// not come through it (a router called directly, in unit tests).
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let unknown = PeerAddr(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        Ok(parts.extensions.get::<PeerAddr>().copied().unwrap_or(unknown))
    }
}

/// The checks, shared by every listener.
#[derive(Clone, Debug)]
pub(crate) struct Edge {
    pub(crate) origins: OriginPolicy,
    pub(crate) admissions: Admissions,
}

/// What a WebSocket upgrade that passed its checks gets.
pub(crate) enum WebSocketAdmission {
    /// A place: the connection task holds it for the session's life.
    Admitted(Admission),
    /// A resume, let in without a place: it takes the held session's.
    Resuming,
    /// The node is full: upgrade, then close with 1013.
    NodeFull,
    /// The node drains before it stops: upgrade, then close with 1013.
    Draining,
}

/// Why an upgrade is refused before it happens; both are the client's doing.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UpgradeRefused {
    /// 403.
    Origin(OriginRefused),
    /// 429.
    TooManyFrom(IpAddr),
}

impl IntoResponse for UpgradeRefused {
    fn into_response(self) -> Response {
        match self {
            UpgradeRefused::Origin(refused) => refused.into_response(),
            UpgradeRefused::TooManyFrom(peer) => too_many(peer),
        }
    }
}

impl Edge {
    /// Checks a WebSocket upgrade. One that resumes (`resumes`) is let in
    /// without a place of its own: it takes the held session's.
    pub(crate) fn websocket(
        &self,
        headers: &HeaderMap,
        peer: IpAddr,
        resumes: bool,
    ) -> Result<WebSocketAdmission, UpgradeRefused> {
        self.origins.check(headers).map_err(UpgradeRefused::Origin)?;
        if resumes && !self.admissions.draining() {
            return Ok(WebSocketAdmission::Resuming);
        }
        match self.admissions.admit(peer) {
            Ok(admission) => Ok(WebSocketAdmission::Admitted(admission)),
            Err(Refused::PerIp) => Err(UpgradeRefused::TooManyFrom(peer)),
            Err(Refused::NodeFull) => {
                tracing::warn!(%peer, "the node holds --max-sessions sessions: a WebSocket is closed with 1013");
                Ok(WebSocketAdmission::NodeFull)
            }
            Err(Refused::Draining) => {
                tracing::debug!(%peer, "draining: a WebSocket is closed with 1013");
                Ok(WebSocketAdmission::Draining)
            }
        }
    }
}

/// The session's place, in the extensions of a socket.io handshake request.
/// engineioxide keeps the handshake's request parts, extensions and all, in
/// its session for as long as the session lives, so the place is given back
/// exactly when the session goes, whether or not it ever joined a namespace.
/// (An `Arc` because extensions must be `Clone`.)
#[derive(Clone, Debug)]
struct SessionPlace(Arc<Admission>);

/// The place a socket.io handshake was given, from the request parts'
/// `extensions` its Engine.IO session keeps.
pub(crate) fn place_of(extensions: &axum::http::Extensions) -> Option<Arc<Admission>> {
    extensions.get::<SessionPlace>().map(|place| place.0.clone())
}

/// Middleware in front of socket.io (`/socket.io` and below; other paths
/// pass untouched): the `Origin` of every request, and a place for every
/// handshake (a request without `sid`, on either transport).
pub(crate) async fn socketio_gate(
    State(edge): State<Edge>,
    PeerAddr(peer): PeerAddr,
    mut request: Request,
    next: Next,
) -> Response {
    if !is_socketio(request.uri().path()) {
        return next.run(request).await;
    }
    if let Err(refused) = edge.origins.check(request.headers()) {
        return refused.into_response();
    }
    // A resume brings the held session's place (`session_start.rs`): it
    // needs none of its own, so that a full node still takes its clients
    // back.
    if is_handshake(request.uri().query()) && !resumes(request.uri().query()) {
        match edge.admissions.admit(peer.ip()) {
            Ok(admission) => {
                request.extensions_mut().insert(SessionPlace(Arc::new(admission)));
            }
            Err(Refused::PerIp) => return too_many(peer.ip()),
            Err(Refused::NodeFull) => {
                tracing::warn!(peer = %peer.ip(), "the node holds --max-sessions sessions: a socket.io handshake gets 503");
                let mut response =
                    (StatusCode::SERVICE_UNAVAILABLE, "too many sessions on this server\n").into_response();
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
                return response;
            }
            Err(Refused::Draining) => {
                tracing::debug!(peer = %peer.ip(), "draining: a socket.io handshake gets 503");
                return (StatusCode::SERVICE_UNAVAILABLE, "this server is shutting down: try another\n")
                    .into_response();
            }
        }
    }
    // engineioxide keeps the parts for the session's life: not as slices of
    // hyper's read buffer.
    crate::socketio::detach_request_head(&mut request);
    next.run(request).await
}

/// socketioxide's own path test for its default `/socket.io` path.
fn is_socketio(path: &str) -> bool {
    path.strip_prefix("/socket.io").is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether a query asks to resume a held session (`resume=<token>`, not
/// `resume=1`).
pub(crate) fn resumes(query: Option<&str>) -> bool {
    matches!(ResumeAsk::from_query(query.unwrap_or_default()), Ok(Some(ResumeAsk::Token(_))))
}

/// An Engine.IO request without a session id opens a session.
fn is_handshake(query: Option<&str>) -> bool {
    !query.unwrap_or_default().split('&').any(|pair| pair.split('=').next() == Some("sid"))
}

fn too_many(peer: IpAddr) -> Response {
    tracing::debug!(%peer, "refused a session over --max-connections-per-ip (429)");
    (StatusCode::TOO_MANY_REQUESTS, "too many sessions from this address\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_socketio_paths_are_gated() {
        assert!(is_socketio("/socket.io/") && is_socketio("/socket.io"));
        assert!(!is_socketio("/socket.iox") && !is_socketio("/ws/calling") && !is_socketio("/"));
    }

    #[test]
    fn a_request_without_sid_is_a_handshake() {
        assert!(is_handshake(Some("EIO=4&transport=polling")));
        assert!(is_handshake(Some("EIO=4&transport=websocket&sidx=1")));
        assert!(is_handshake(None));
        assert!(!is_handshake(Some("EIO=4&transport=polling&sid=abc")));
        assert!(!is_handshake(Some("sid=abc&EIO=3")));
    }
}
