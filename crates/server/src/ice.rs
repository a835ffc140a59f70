//! The ICE servers the browser pages use (`GET /api/config`), with
//! time-limited TURN credentials in coturn's REST form: username
//! `<expiry unix seconds>:<user>`, password base64(HMAC-SHA1(secret, username)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

use crate::app::AppState;

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
}

impl IceConfig {
    /// The `RTCConfiguration.iceServers` list for a client, at `now` (unix
    /// seconds): STUN URLs as they are, TURN URLs with credentials when a
    /// secret is configured. Empty: host candidates only.
    pub fn ice_servers(&self, now: u64, user: &str) -> Value {
        let (turn, stun): (Vec<&String>, Vec<&String>) =
            self.servers.iter().partition(|url| url.starts_with("turn:") || url.starts_with("turns:"));
        let mut servers = Vec::new();
        if !stun.is_empty() {
            servers.push(json!({ "urls": stun }));
        }
        if !turn.is_empty() {
            match &self.turn_secret {
                Some(secret) => {
                    let username = format!("{}:{user}", now + self.turn_ttl.as_secs());
                    servers.push(
                        json!({ "urls": turn, "username": username, "credential": turn_password(secret, &username) }),
                    );
                }
                None => servers.push(json!({ "urls": turn })),
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

/// `GET /api/config`: `{iceServers: [...]}` for the pages.
pub(crate) async fn client_config(State(state): State<AppState>) -> Json<Value> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
    Json(json!({ "iceServers": state.ice.ice_servers(now, "switchboard") }))
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
        };
        let servers = config.ice_servers(1_000, "alice");
        assert_eq!(servers[0], json!({ "urls": ["stun:stun.example:3478"] }));
        assert_eq!(servers[1]["username"], "4600:alice");
        assert_eq!(servers[1]["credential"], turn_password("s3cret", "4600:alice"));
        assert_eq!(IceConfig::default().ice_servers(0, "x"), json!([]));
    }
}
