//! The WebSocket dialects' upgrade handlers: each starts the connection
//! loop (`ws.rs`) with its dialect's codec.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use switchboard_dialects::calling::Calling;
use switchboard_dialects::chatroulette::Chatroulette;
use switchboard_dialects::ecall::{DeviceQuery, Ecall};

use crate::app::AppState;
use crate::ws;

/// What `hello` calls the server.
const SERVER_NAME: &str = concat!("switchboard ", env!("CARGO_PKG_VERSION"));

/// `GET /ws/calling`, and any path on the calling drop-in listener.
pub(crate) async fn calling(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let context = state.connection_context();
    context.limits.configure(upgrade).on_upgrade(move |socket| ws::run(socket, Calling::new(SERVER_NAME), context))
}

/// `GET /ws/chatroulette`, and any path on the drop-in listener.
pub(crate) async fn chatroulette(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let context = state.connection_context();
    context.limits.configure(upgrade).on_upgrade(move |socket| ws::run(socket, Chatroulette::new(), context))
}

/// `GET /ws/ecall?user=USER&client=CLIENT`: one device of a user. A query
/// that does not name one device strictly ([`DeviceQuery::parse`],
/// [`Ecall::new`]) is refused with 400 before the upgrade.
pub(crate) async fn ecall(
    upgrade: WebSocketUpgrade,
    RawQuery(query): RawQuery,
    State(state): State<AppState>,
) -> Response {
    let device = match DeviceQuery::parse(query.as_deref().unwrap_or_default()) {
        Ok(device) => device,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    };
    let codec = match Ecall::new(&device.user, &device.client) {
        Ok(codec) => codec,
        Err(error) => return (StatusCode::BAD_REQUEST, format!("{error}\n")).into_response(),
    };
    let context = state.connection_context();
    context.limits.configure(upgrade).on_upgrade(move |socket| ws::run(socket, codec, context))
}
