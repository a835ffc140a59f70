//! Each WebSocket dialect's codec plugged into the connection loop, and its
//! upgrade handler.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use switchboard_core::{Command, Event, Request};
use switchboard_dialects::Incoming;
use switchboard_dialects::calling::{self, Calling, Keepalive};
use switchboard_dialects::chatroulette::{Chatroulette, error_frame};
use switchboard_dialects::ecall::{self, DeviceQuery, Ecall};

use crate::app::AppState;
use crate::ws::{self, TextDialect};

/// What `hello` calls the server.
const SERVER_NAME: &str = concat!("switchboard ", env!("CARGO_PKG_VERSION"));

const NO_BINARY: &str = "binary frames are not part of this dialect: send JSON text";

impl TextDialect for Chatroulette {
    fn on_text(&mut self, text: &str) -> Incoming {
        match self.decode(text) {
            Ok((request, command)) => Incoming::Command(request, command),
            Err(error) => Incoming::Answer(self.encode_error(&error)),
        }
    }

    fn on_binary(&mut self) -> String {
        error_frame(self.form(), NO_BINARY, None)
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<String>) {
        out.extend(self.encode(event));
    }
}

impl TextDialect for Calling {
    fn on_open(&mut self) -> Option<(Request, Command)> {
        Some(self.open())
    }

    fn on_text(&mut self, text: &str) -> Incoming {
        self.decode(text)
    }

    fn on_binary(&mut self) -> String {
        format!(r#"{{"type":"error","error":"{NO_BINARY}"}}"#)
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<String>) {
        self.encode(event, out);
    }

    fn keepalive(&self) -> Keepalive {
        Calling::keepalive(self)
    }

    fn keepalive_ping(&self) -> &'static str {
        calling::PING_FRAME
    }
}

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

impl TextDialect for Ecall {
    fn on_open(&mut self) -> Option<(Request, Command)> {
        Some(self.open())
    }

    fn on_text(&mut self, text: &str) -> Incoming {
        self.decode(text)
    }

    fn on_binary(&mut self) -> String {
        ecall::error_frame(NO_BINARY)
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<String>) {
        out.extend(self.encode(event));
    }

    fn peer_id(&self) -> Option<std::sync::Arc<str>> {
        Some(Ecall::peer_id(self))
    }
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
