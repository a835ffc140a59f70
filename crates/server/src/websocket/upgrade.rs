//! The WebSocket upgrade (RFC 6455 §4.2): an axum extractor that checks the
//! handshake request and answers 101, then hands the upgraded connection to
//! a task as a [`ServerSocket`]. axum's own `WebSocketUpgrade` does the same
//! but keeps tungstenite out of reach, and the connection loop needs it in
//! reach to rebuild it when a session idles (see `aligned.rs`).
//!
//! Refusals match axum's, which this replaced: 405 for a method other than
//! GET, 400 for a missing or wrong `Connection`, `Upgrade`,
//! `Sec-WebSocket-Version` or `Sec-WebSocket-Key`, and 426 when the
//! connection cannot be upgraded.

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::WebSocketConfig;

use super::ServerSocket;
use super::aligned::FrameAligned;

/// A checked WebSocket handshake request, to be answered with
/// [`WebSocketUpgrade::on_upgrade`].
pub(crate) struct WebSocketUpgrade {
    accept_key: HeaderValue,
    on_upgrade: OnUpgrade,
    config: WebSocketConfig,
}

/// Why a request is not a WebSocket handshake.
#[derive(Debug)]
pub(crate) struct Refused(StatusCode, &'static str);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// Whether header `name` lists `token` (comma-separated, any case).
fn lists(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Refused> {
        if parts.method != Method::GET {
            return Err(Refused(StatusCode::METHOD_NOT_ALLOWED, "Request method must be `GET`"));
        }
        let headers = &parts.headers;
        if !lists(headers, header::CONNECTION, "upgrade") {
            return Err(Refused(StatusCode::BAD_REQUEST, "Connection header did not include 'upgrade'"));
        }
        if !lists(headers, header::UPGRADE, "websocket") {
            return Err(Refused(StatusCode::BAD_REQUEST, "`Upgrade` header did not include 'websocket'"));
        }
        if headers.get(header::SEC_WEBSOCKET_VERSION).is_none_or(|version| version != "13") {
            return Err(Refused(StatusCode::BAD_REQUEST, "`Sec-WebSocket-Version` header did not include '13'"));
        }
        let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
            return Err(Refused(StatusCode::BAD_REQUEST, "`Sec-WebSocket-Key` header missing"));
        };
        let accept_key = HeaderValue::from_str(&derive_accept_key(key.as_bytes())).expect("base64 is a header value");
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return Err(Refused(
                StatusCode::UPGRADE_REQUIRED,
                "WebSocket request couldn't be upgraded since no upgrade state was present",
            ));
        };
        Ok(Self { accept_key, on_upgrade, config: WebSocketConfig::default() })
    }
}

impl WebSocketUpgrade {
    /// The connection's limits and buffer sizes.
    pub(crate) fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// Answers 101 Switching Protocols and, once the connection is
    /// upgraded, runs `serve` on it in a task of its own. A connection that
    /// fails to upgrade is logged and dropped.
    pub(crate) fn on_upgrade<F, Fut>(self, serve: F) -> Response
    where
        F: FnOnce(ServerSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Self { accept_key, on_upgrade, config } = self;
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                Err(error) => return tracing::debug!(%error, "WebSocket upgrade failed"),
            };
            let max_frame = config.max_frame_size.unwrap_or(usize::MAX);
            let io = FrameAligned::new(TokioIo::new(upgraded), max_frame);
            serve(ServerSocket::new(io, config)).await;
        });
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept_key);
        response
    }
}
