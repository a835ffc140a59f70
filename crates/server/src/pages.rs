//! HTTP pages: tringtring's landing and call pages (seed 001, `GET /` and
//! `GET /r/<room_id>/`), and the socket.io client bundle.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use switchboard_core::RoomId;

use crate::app::AppState;

/// socket.io-client's browser bundle, vendored from npm (see
/// `web/vendor/socket.io-client/README.md`).
const SOCKETIO_BUNDLE: &str = include_str!("../../../web/vendor/socket.io-client/socket.io.min.js");

/// `GET /socket.io/socket.io.js`, as a Node socket.io server serves it.
pub(crate) async fn socketio_bundle() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/javascript; charset=utf-8")], SOCKETIO_BUNDLE)
}

/// `GET /`: create a room or join one.
pub(crate) async fn landing() -> Html<&'static str> {
    Html(include_str!("pages/landing.html"))
}

/// `GET /r/<room_id>/`: the call page when the room exists, else back to
/// `/` (302).
pub(crate) async fn room(State(state): State<AppState>, Path(room): Path<String>) -> Response {
    let exists = match RoomId::parse(&room) {
        Ok(room) => state.driver().room_exists(room).await.unwrap_or(false),
        Err(_) => false,
    };
    if !exists {
        // 302, as the original Express server's res.redirect answered.
        return (StatusCode::FOUND, [(header::LOCATION, "/")]).into_response();
    }
    let page = include_str!("pages/room.html").replace("{{ROOM}}", &html_escape(&room));
    (StatusCode::OK, Html(page)).into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
