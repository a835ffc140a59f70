//! The browser client, served from inside the binary: `web/` (plain ES
//! modules, no build step, nothing from a CDN) embedded at compile time.
//!
//! - `GET /`: create a room or join one (seed 001), and the way to the phone app;
//! - `GET /r/<room_id>/`: the room's call page if the room exists, else 302 to `/`;
//! - `POST /r/<room_id>` (and `/r/<room_id>/`): creates the room if it is free
//!   and answers with its call page, as the original `server.js` did for its
//!   landing page's forms;
//! - `GET /call/`: the phone app over the chatroulette dialect (seed 002);
//! - `GET /socket.io/socket.io.js`: the vendored socket.io-client bundle;
//! - any other path: the embedded file of that name, or 404.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::Embed;
use switchboard_core::RoomId;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;
use crate::edge::PeerAddr;

/// Everything under `web/`.
#[derive(Embed)]
#[folder = "../../web/"]
struct Assets;

/// The pages' Content-Security-Policy. Everything they load is theirs
/// (`web/`, no inline script or style, nothing from a CDN); their WebSocket
/// and socket.io go to the same host (`connect-src 'self'` covers `ws:` and
/// `wss:` there, CSP Level 3); video plays from `srcObject`, which no
/// directive governs. No page may frame them.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The security headers on every response of the main listener (a
/// handler's own value wins): the CSP above, `X-Frame-Options: DENY` for
/// browsers without `frame-ancestors`, no `Referer` (a room's address is
/// all it takes to join it), and no MIME sniffing.
pub(crate) fn with_security_headers(router: Router) -> Router {
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    headers.into_iter().fold(router, |router, (name, value): (HeaderName, &'static str)| {
        router.layer(SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value)))
    })
}

fn asset(path: &str) -> Option<Response> {
    let file = Assets::get(path)?;
    let mime = file.metadata.mimetype().to_owned();
    Some(([(header::CONTENT_TYPE, mime)], file.data).into_response())
}

fn page(path: &str) -> String {
    Assets::get(path).map(|file| String::from_utf8_lossy(&file.data).into_owned()).unwrap_or_default()
}

/// `GET /socket.io/socket.io.js`, as a Node socket.io server serves it.
pub(crate) async fn socketio_bundle() -> Response {
    asset("vendor/socket.io-client/socket.io.min.js").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// `GET /`: create a room or join one.
pub(crate) async fn landing() -> Html<String> {
    Html(page("index.html"))
}

/// `GET /call/`: the phone app.
pub(crate) async fn phone() -> Html<String> {
    Html(page("call/index.html"))
}

/// `GET /r/<room_id>/`: the call page when the room exists, else back to
/// `/` (302, as the original Express server's `res.redirect`).
pub(crate) async fn room(State(state): State<AppState>, Path(room): Path<String>) -> Response {
    let exists = match RoomId::parse(&room) {
        Ok(room) => state.driver().room_exists(room).await.unwrap_or(false),
        Err(_) => false,
    };
    if !exists {
        return (StatusCode::FOUND, [(header::LOCATION, "/")]).into_response();
    }
    call_page(&room)
}

/// `POST /r/<room_id>` and `POST /r/<room_id>/`: the original Tring-Tring
/// landing page's create and join forms post here (`server.js`), and its call
/// page then only emits `join`. The room is created with the default capacity
/// if it does not exist, and the answer is the call page (200), whatever the
/// form body says; a room id that is not a valid name goes back to `/` (302).
///
/// Unlike the original, a form for a room that exists leaves it as it is
/// (the original replaced it, peers and all), and room passwords are not kept:
/// the original checked them only here, never on the socket's `join`.
///
/// One client address may open `--open-room-rate` rooms a minute; one more
/// gets 429, and the room is not made.
pub(crate) async fn open_room(State(state): State<AppState>, peer: PeerAddr, Path(room): Path<String>) -> Response {
    let Ok(room_id) = RoomId::parse(&room) else {
        return (StatusCode::FOUND, [(header::LOCATION, "/")]).into_response();
    };
    if !state.room_openings().allow(peer.0.ip()) {
        let message = "too many rooms opened from your address; try again in a minute\n";
        return (StatusCode::TOO_MANY_REQUESTS, message).into_response();
    }
    if state.driver().open_room(room_id, state.room_capacity()).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response();
    }
    call_page(&room)
}

fn call_page(room: &str) -> Response {
    (StatusCode::OK, Html(page("room.html").replace("{{ROOM}}", &html_escape(room)))).into_response()
}

/// Any other path: an embedded file, or 404.
pub(crate) async fn file(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    asset(path).unwrap_or_else(|| (StatusCode::NOT_FOUND, "not found\n").into_response())
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}
