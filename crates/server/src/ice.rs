//! The ICE servers the browser pages use (`GET /api/config`), with
//! time-limited TURN credentials in coturn's REST form: username
//! `<expiry unix seconds>:<user>`, password base64(HMAC-SHA1(secret, username)).
//!
//! TURN credentials let their holder relay any traffic through the TURN
//! server, so they go only to someone the server knows: with token checks
//! on, `/api/config` needs a valid access token, and the credential's user is
//! the token's `sub`. With the server open, credentials go to anyone only
//! with `--turn-open`; otherwise the `turn:` URLs are left out (a `turn:` URL
//! without credentials would make a browser's `RTCPeerConnection` throw) and
//! the pages get the STUN URLs alone.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

use crate::app::AppState;
use crate::config::Config;

/// How long TURN credentials last by default with token checks on.
pub const AUTHENTICATED_TURN_TTL: Duration = Duration::from_secs(3600);

/// How long TURN credentials last by default with `--turn-open`.
pub const OPEN_TURN_TTL: Duration = Duration::from_secs(24 * 3600);

/// The TURN credential's user when the server is open and has no names to
/// give (`--turn-open`).
pub const OPEN_TURN_USER: &str = "switchboard";

/// ICE settings from the command line.
#[derive(Clone, Debug, Default)]
pub struct IceConfig {
    /// `stun:` and `turn:`/`turns:` URLs.
    pub servers: Vec<String>,
    /// The secret shared with the TURN server (coturn `static-auth-secret`),
    /// if credentials are to be minted.
    pub turn_secret: Option<String>,
    /// How long minted credentials stay valid.
    pub turn_ttl: Duration,
    /// With the server open: whether anyone gets credentials (`--turn-open`).
    pub turn_open: bool,
}

impl IceConfig {
    /// The settings in `config`; `authenticated` when the server checks
    /// tokens, which sets the default `--turn-ttl` (1 h, else 24 h).
    pub fn from_config(config: &Config, authenticated: bool) -> Self {
        let default_ttl = if authenticated { AUTHENTICATED_TURN_TTL } else { OPEN_TURN_TTL };
        Self {
            servers: config.ice_servers.clone(),
            turn_secret: config.turn_secret.clone(),
            turn_ttl: config.turn_ttl.unwrap_or(default_ttl),
            turn_open: config.turn_open,
        }
    }

    /// The `RTCConfiguration.iceServers` list for a client, at `now` (unix
    /// seconds): STUN URLs as they are; TURN URLs with credentials for `user`
    /// when a secret is configured, left out when a secret is configured
    /// but there is no `user` to give them to (credentials withheld), and
    /// listed bare when there is no secret. Empty: host candidates only.
    pub fn ice_servers(&self, now: u64, user: Option<&str>) -> Value {
        let (turn, stun): (Vec<&String>, Vec<&String>) =
            self.servers.iter().partition(|url| url.starts_with("turn:") || url.starts_with("turns:"));
        let mut servers = Vec::new();
        if !stun.is_empty() {
            servers.push(json!({ "urls": stun }));
        }
        if !turn.is_empty() {
            match (&self.turn_secret, user) {
                (Some(secret), Some(user)) => {
                    let username = format!("{}:{user}", now + self.turn_ttl.as_secs());
                    servers.push(
                        json!({ "urls": turn, "username": username, "credential": turn_password(secret, &username) }),
                    );
                }
                (Some(_), None) => {}
                (None, _) => servers.push(json!({ "urls": turn })),
            }
        }
        Value::Array(servers)
    }
}

/// base64(HMAC-SHA1(secret, username)), coturn's `use-auth-secret` scheme.
pub fn turn_password(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `GET /api/config`: `{iceServers: [...]}` for the pages. With token checks
/// on, a request without a valid token (`?access_token=` or
/// `Authorization: Bearer`) gets 401 and a one-line reason.
pub(crate) async fn client_config(
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    State(state): State<AppState>,
) -> Response {
    let grants = match state.auth().map(|auth| auth.verify_request(query.as_deref(), &headers)) {
        Some(Ok(grants)) => Some(grants),
        Some(Err(error)) => return error.into_response(),
        None => None,
    };
    let user = match &grants {
        Some(grants) => Some(grants.sub.as_str()),
        None => state.ice.turn_open.then_some(OPEN_TURN_USER),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    Json(json!({ "iceServers": state.ice.ice_servers(now, user) })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_the_coturn_rest_scheme() {
        // RFC 2202 test case 2: HMAC-SHA1("Jefe", "what do ya want for nothing?").
        assert_eq!(turn_password("Jefe", "what do ya want for nothing?"), "7/zfauXrL6LSdBbV8YTfnCWafHk=");
        let config = IceConfig {
            servers: vec!["stun:stun.example:3478".into(), "turn:turn.example:3478?transport=udp".into()],
            turn_secret: Some("s3cret".into()),
            turn_ttl: Duration::from_secs(3600),
            turn_open: false,
        };
        let servers = config.ice_servers(1_000, Some("alice"));
        assert_eq!(servers[0], json!({ "urls": ["stun:stun.example:3478"] }));
        assert_eq!(servers[1]["username"], "4600:alice");
        assert_eq!(servers[1]["credential"], turn_password("s3cret", "4600:alice"));
        assert_eq!(IceConfig::default().ice_servers(0, Some("x")), json!([]));
        // Nobody to give them to: the TURN URLs are left out.
        assert_eq!(config.ice_servers(1_000, None), json!([{ "urls": ["stun:stun.example:3478"] }]));
    }

    #[test]
    fn the_default_ttl_is_an_hour_with_tokens_and_a_day_without() {
        let config = Config::default();
        assert_eq!(IceConfig::from_config(&config, true).turn_ttl, Duration::from_secs(3600));
        assert_eq!(IceConfig::from_config(&config, false).turn_ttl, Duration::from_secs(86_400));
        let config = Config { turn_ttl: Some(Duration::from_secs(60)), ..Config::default() };
        assert_eq!(IceConfig::from_config(&config, true).turn_ttl, Duration::from_secs(60));
    }
}
