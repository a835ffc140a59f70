//! Each WebSocket dialect's codec plugged into the connection loop, and its
//! upgrade handler.

use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use switchboard_core::Event;
use switchboard_dialects::chatroulette::{Chatroulette, error_frame};

use crate::app::AppState;
use crate::ws::{self, Inbound, TextDialect};

impl TextDialect for Chatroulette {
    fn on_text(&mut self, text: &str) -> Inbound {
        match self.decode(text) {
            Ok((request, command)) => Inbound::Command(request, command),
            Err(error) => Inbound::Answer(self.encode_error(&error)),
        }
    }

    fn on_binary(&mut self) -> String {
        error_frame("binary frames are not part of this dialect: send JSON text", None)
    }

    fn on_event(&mut self, event: &Event) -> Option<String> {
        self.encode(event)
    }
}

/// `GET /ws/chatroulette`, and any path on the drop-in listener.
pub(crate) async fn chatroulette(upgrade: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    let context = state.connection_context();
    context.limits.configure(upgrade).on_upgrade(move |socket| ws::run(socket, Chatroulette::new(), context))
}
