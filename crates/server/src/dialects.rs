//! The WebSocket dialects' upgrade handlers: each checks the request's
//! access token when the server checks tokens (401 before the upgrade when
//! it is missing or invalid), then starts the connection loop (`ws.rs`) with
//! its dialect's codec.

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use switchboard_dialects::calling::Calling;
use switchboard_dialects::chatroulette::Chatroulette;
use switchboard_dialects::ecall::{DeviceQuery, Ecall};

use crate::app::AppState;
use crate::auth::{AuthError, Grants};
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
            Err(error)
        }
    }
}

/// `GET /ws/calling`, and any path on the calling drop-in listener.
pub(crate) async fn calling(
    upgrade: WebSocketUpgrade,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    let grants = match authenticate(&state, query.as_deref(), &headers) {
        Ok(grants) => grants,
        Err(refusal) => return refusal.into_response(),
    };
    let context = state.connection_context();
    context
        .limits
        .configure(upgrade)
        .on_upgrade(move |socket| ws::run(socket, Calling::new(SERVER_NAME), context, grants))
}

/// `GET /ws/chatroulette`, and any path on the drop-in listener.
pub(crate) async fn chatroulette(
    upgrade: WebSocketUpgrade,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    let grants = match authenticate(&state, query.as_deref(), &headers) {
        Ok(grants) => grants,
        Err(refusal) => return refusal.into_response(),
    };
    let context = state.connection_context();
    context.limits.configure(upgrade).on_upgrade(move |socket| ws::run(socket, Chatroulette::new(), context, grants))
}

/// `GET /ws/ecall?user=USER&client=CLIENT`: one device of a user. A query
/// that does not name one device strictly ([`DeviceQuery::parse`],
/// [`Ecall::new`]) is refused with 400 before the upgrade.
pub(crate) async fn ecall(
    upgrade: WebSocketUpgrade,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    let grants = match authenticate(&state, query.as_deref(), &headers) {
        Ok(grants) => grants,
        Err(refusal) => return refusal.into_response(),
    };
    let device = match DeviceQuery::parse(query.as_deref().unwrap_or_default()) {
        Ok(device) => device,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    };
    let codec = match Ecall::new(&device.user, &device.client) {
        Ok(codec) => codec,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    };
    let context = state.connection_context();
    context.limits.configure(upgrade).on_upgrade(move |socket| ws::run(socket, codec, context, grants))
}
