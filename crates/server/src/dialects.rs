//! The WebSocket dialects' upgrade handlers: each checks the upgrade at the
//! edge (`edge.rs`: origin, session caps), then the request's access token
//! when the server checks tokens (401 before the upgrade when it is missing
//! or invalid), then starts the connection loop (`ws.rs`) with its
//! dialect's codec.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use switchboard_dialects::calling::Calling;
use switchboard_dialects::chatroulette::Chatroulette;
use switchboard_dialects::codec::{Codec, TextFrame};
use switchboard_dialects::ecall::{DeviceQuery, Ecall};
use switchboard_dialects::resume::ResumeAsk;

use crate::app::AppState;
use crate::auth::{AuthError, Authenticator, Grants, request_token};
use crate::cluster::pipes::{self, PipeOpened, PipedSocket};
use crate::edge::{PeerAddr, WebSocketAdmission};
use crate::metrics::DropCause;
use crate::websocket::upgrade::WebSocketUpgrade;
use crate::ws;

/// What `hello` calls the server.
const SERVER_NAME: &str = concat!("switchboard ", env!("CARGO_PKG_VERSION"));

/// The grants of the request's token; `Ok(None)` when the server runs
/// open; why not (answered 401) when the token is missing or invalid.
fn authenticate(state: &AppState, query: Option<&str>, headers: &HeaderMap) -> Result<Option<Arc<Grants>>, AuthError> {
    let Some(auth) = state.auth() else { return Ok(None) };
    match auth.verify_request(query, headers) {
        Ok(grants) => Ok(Some(Arc::new(grants))),
        Err(error) => {
            tracing::debug!(%error, "connection refused before the upgrade");
            state.metrics().dropped(DropCause::Auth);
            Err(error)
        }
    }
}

/// `GET /ws/calling`, and any path on the calling drop-in listener.
pub(crate) async fn calling(
    upgrade: WebSocketUpgrade,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    peer: PeerAddr,
    State(state): State<AppState>,
) -> Response {
    accept(upgrade, query.as_deref(), &headers, peer, &state, Calling::new(SERVER_NAME))
}

/// `GET /ws/chatroulette`, and any path on the drop-in listener.
pub(crate) async fn chatroulette(
    upgrade: WebSocketUpgrade,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    peer: PeerAddr,
    State(state): State<AppState>,
) -> Response {
    accept(upgrade, query.as_deref(), &headers, peer, &state, Chatroulette::new())
}

/// `GET /ws/ecall?user=USER&client=CLIENT`: one device of a user. A query
/// that does not name one device strictly ([`DeviceQuery::parse`],
/// [`Ecall::new`]) is refused with 400 before the upgrade, except one that
/// resumes (`?resume=<token>`): the held session knows its device.
pub(crate) async fn ecall(
    upgrade: WebSocketUpgrade,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    peer: PeerAddr,
    State(state): State<AppState>,
) -> Response {
    let query_text = query.as_deref().unwrap_or_default();
    if let Ok(Some(ResumeAsk::Token(_))) = ResumeAsk::from_query(query_text) {
        return accept(upgrade, query.as_deref(), &headers, peer, &state, Ecall::resuming());
    }
    let device = match DeviceQuery::parse(query_text) {
        Ok(device) => device,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    };
    let codec = match Ecall::new(&device.user, &device.client) {
        Ok(codec) => codec.with_ring_timeout(state.ring_timeout),
        Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    };
    accept(upgrade, query.as_deref(), &headers, peer, &state, codec)
}

/// Checks the upgrade at the edge, then its token, and if both pass,
/// upgrades: to the connection loop with a place and the token's grants, or,
/// when the node is full, to a close 1013. A `resume` parameter that does
/// not read ([`ResumeAsk::from_query`]) is answered 400.
fn accept<C>(
    upgrade: WebSocketUpgrade,
    query: Option<&str>,
    headers: &HeaderMap,
    peer: PeerAddr,
    state: &AppState,
    mut codec: C,
) -> Response
where
    C: for<'a> Codec<Inbound<'a> = TextFrame<'a>, Outbound = String>,
{
    let resume = match ResumeAsk::from_query(query.unwrap_or_default()) {
        Ok(resume) => resume,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    };
    let context = state.connection_context();
    let upgrade = upgrade.config(context.limits.websocket_config());
    let resuming = matches!(resume, Some(ResumeAsk::Token(_)));
    let admission = match state.edge().websocket(headers, peer.0.ip(), resuming) {
        Err(refused) => return refused.into_response(),
        Ok(admission) => admission,
    };
    let grants = match authenticate(state, query, headers) {
        Ok(grants) => grants,
        Err(refusal) => return refusal.into_response(),
    };
    let admission = match admission {
        WebSocketAdmission::Admitted(admission) => Some(admission),
        WebSocketAdmission::Resuming => None,
        WebSocketAdmission::NodeFull => {
            let write_timeout = context.limits.write_timeout;
            let reason = "server full: try again later";
            return upgrade.on_upgrade(move |socket| ws::try_again_later(socket, write_timeout, reason));
        }
        WebSocketAdmission::Draining => {
            let write_timeout = context.limits.write_timeout;
            let reason = "server shutting down: try again later";
            return upgrade.on_upgrade(move |socket| ws::try_again_later(socket, write_timeout, reason));
        }
    };
    // A session held on another node: pipe the connection there.
    if let Some(ResumeAsk::Token(token)) = &resume
        && let Some(cluster) = context.driver.cluster()
        && let Some(node) = cluster.other_node_of_token(token)
        && let Some(dialect) = codec.dialect()
    {
        let open = (token.clone(), dialect.as_str(), request_token(query, headers));
        let mut refusal = Vec::new();
        codec.resume_refused(&mut refusal);
        let refusal = ws::frames_of(refusal);
        let (cluster, patience) = (cluster.clone(), context.limits.write_timeout);
        return upgrade.on_upgrade(move |socket| pipes::forward(socket, cluster, node, open, refusal, patience));
    }
    upgrade.on_upgrade(move |socket| ws::run(socket, codec, context, admission, grants, resume))
}

/// Serves a connection that another node pipes here: a client resuming a
/// session this node holds (`cluster/pipes.rs`). Its access token, when
/// this node checks them, is checked here as at an upgrade; a refused one
/// ends the pipe.
pub(crate) async fn serve_pipe(opened: PipeOpened, context: ws::ConnectionContext, auth: Option<Authenticator>) {
    let grants = opened.grants(auth.as_ref());
    let PipeOpened { token, dialect, end, incoming, .. } = opened;
    let mut socket = PipedSocket::new(end, incoming);
    let Ok(grants) = grants else {
        context.metrics.dropped(DropCause::Auth);
        let _ = futures_util::SinkExt::close(&mut socket).await;
        return;
    };
    let resume = Some(ResumeAsk::Token(token));
    match dialect.as_str() {
        "chatroulette" => ws::run(socket, Chatroulette::new(), context, None, grants, resume).await,
        "calling" => ws::run(socket, Calling::new(SERVER_NAME), context, None, grants, resume).await,
        "ecall" => ws::run(socket, Ecall::resuming(), context, None, grants, resume).await,
        _ => {
            let _ = futures_util::SinkExt::close(&mut socket).await;
        }
    }
}
