//! What the access-token tests share: tokens made here (HS256 with a
//! secret, ES256 with a key pair drawn here), a server that checks them, raw
//! HTTP requests whose status and body a test reads, and a legitimate call
//! between two bystanders that must still relay both ways after an attack.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use switchboard_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::support::{Client, PATIENCE, TestServer};

/// The HS256 secret of the servers these tests start.
pub const SECRET: &str = "a secret the token issuer and switchboard share";

/// Seconds since the epoch, as JWT times are counted.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Signs `claims` with HS256 and `secret`.
pub fn hs256(secret: &str, claims: &Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
}

/// A token for `sub` from [`SECRET`], valid for an hour.
pub fn token(sub: &str) -> String {
    hs256(SECRET, &json!({ "sub": sub, "exp": now() + 3600 }))
}

/// A token for `sub` limited to `rooms`.
pub fn token_with_rooms(sub: &str, rooms: &[&str]) -> String {
    hs256(SECRET, &json!({ "sub": sub, "exp": now() + 3600, "rooms": rooms }))
}

/// Server settings that check HS256 tokens from [`SECRET`].
pub fn hs256_config() -> Config {
    Config { auth_jwt_secret: Some(SECRET.into()), ..Config::default() }
}

/// An ES256 key pair drawn for one test: the private key signs, the public
/// key's PEM file is what the server is given.
pub struct Es256 {
    key: EncodingKey,
    /// The PEM file of the public key.
    pub public_pem: PathBuf,
}

impl Es256 {
    /// A fresh key pair, its public key written to a file of its own.
    pub fn generate() -> Self {
        static FILES: AtomicUsize = AtomicUsize::new(0);
        let secret = loop {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).unwrap();
            // Almost every 32 bytes are a scalar below the curve's order.
            if let Ok(secret) = p256::SecretKey::from_slice(&bytes) {
                break secret;
            }
        };
        let private = secret.to_pkcs8_pem(LineEnding::LF).unwrap();
        let public = secret.public_key().to_public_key_pem(LineEnding::LF).unwrap();
        let n = FILES.fetch_add(1, Ordering::Relaxed);
        let public_pem = std::env::temp_dir().join(format!("switchboard-es256-{}-{n}.pem", std::process::id()));
        std::fs::write(&public_pem, public).unwrap();
        Self { key: EncodingKey::from_ec_pem(private.as_bytes()).unwrap(), public_pem }
    }

    /// Signs `claims` with ES256.
    pub fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &self.key).unwrap()
    }

    /// Server settings that check tokens against this key.
    pub fn config(&self) -> Config {
        Config { auth_jwt_public_key: Some(self.public_pem.clone()), ..Config::default() }
    }
}

impl Drop for Es256 {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.public_pem);
    }
}

/// A raw HTTP/1.1 response: its status and its body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends a GET for `path` with `headers` ("Name: value" lines), as a
/// WebSocket upgrade when `upgrade`, and reads the response head and, when
/// it is not a 101, its whole body.
pub async fn raw_get(addr: SocketAddr, path: &str, headers: &[&str], upgrade: bool) -> RawResponse {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if upgrade {
        request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        );
    }
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tokio::time::timeout(PATIENCE, socket.read_u8()).await.expect("a response").unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    let status = head[9..12].parse().unwrap();
    let mut body = String::new();
    if status != 101 {
        let length = head
            .lines()
            .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
            .map(|length| length.trim().parse::<usize>().unwrap());
        let mut bytes = vec![0; length.unwrap_or(0)];
        tokio::time::timeout(PATIENCE, socket.read_exact(&mut bytes)).await.expect("a body").unwrap();
        body = String::from_utf8(bytes).unwrap();
    }
    RawResponse { status, head, body }
}

/// Asserts a 401 whose one-line body contains `reason`, and returns the body.
pub fn assert_refused(response: &RawResponse, reason: &str) {
    assert_eq!(response.status, 401, "{response:?}");
    assert!(response.head.to_ascii_lowercase().contains("www-authenticate: bearer"), "{response:?}");
    assert!(response.body.contains(reason), "{reason:?} not in {response:?}");
    assert_eq!(response.body.lines().count(), 1, "one line: {response:?}");
}

/// A WebSocket client with `token` in an `Authorization: Bearer` header.
pub async fn connect_bearer(url: &str, token: &str) -> Client {
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("authorization", HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    Client::from_request(request).await
}

/// A chatroulette client with `token` in `?access_token=`, CONNECTed as
/// `name` (sent by name).
pub async fn online_with(server: &TestServer, name: &str, token: &str) -> Client {
    let mut client = Client::connect(&format!("ws://{}/ws/chatroulette?access_token={token}", server.addr)).await;
    client.send(json!({"type": "CONNECT", "payload": {"as": name}})).await;
    assert_eq!(client.recv().await, json!({"type": "CONNECTED", "payload": {"as": name}}));
    client
}

/// [`online_with`] a [`token`] for `name`.
pub async fn online(server: &TestServer, name: &str) -> Client {
    online_with(server, name, &token(name)).await
}

/// A legitimate call between two users the attack is not about, set up
/// before it: the attack must leave it relaying both ways.
pub struct Bystanders {
    caller: Client,
    callee: Client,
    names: (&'static str, &'static str),
    round: u32,
}

const NAMES: (&str, &str) = ("carol", "dave");

impl Bystanders {
    /// carol calls dave on chatroulette (with [`token`]s of their own when
    /// the server checks them) and dave accepts.
    pub async fn call(server: &TestServer, authenticated: bool) -> Self {
        if authenticated {
            return Self::call_with(server, token).await;
        }
        Self::between(server.online(NAMES.0).await, server.online(NAMES.1).await).await
    }

    /// carol calls dave, each with the token `token` makes for them.
    pub async fn call_with(server: &TestServer, token: impl Fn(&str) -> String) -> Self {
        let caller = online_with(server, NAMES.0, &token(NAMES.0)).await;
        let callee = online_with(server, NAMES.1, &token(NAMES.1)).await;
        Self::between(caller, callee).await
    }

    async fn between(mut caller: Client, mut callee: Client) -> Self {
        let names = NAMES;
        caller.send(json!({"type":"REQUEST_CALL","payload":{"to": names.1}})).await;
        assert_eq!(callee.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from": names.0}}));
        callee.send(json!({"type":"ACCEPT_CALL","payload":{"from": names.0}})).await;
        assert_eq!(caller.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by": names.1}}));
        let mut call = Self { caller, callee, names, round: 0 };
        call.still_relays().await;
        call
    }

    /// An SDP offer one way, an answer and an ICE candidate the other, each
    /// received as sent.
    pub async fn still_relays(&mut self) {
        self.round += 1;
        let (from, to) = self.names;
        let offer = json!({"type": "offer", "sdp": format!("v=0\r\no=- {} 1 IN IP4 127.0.0.1\r\n", self.round)});
        self.caller.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to": to, "sdp": offer}})).await;
        assert_eq!(
            self.callee.recv().await,
            json!({"type":"CALLER_DESCRIPTOR_RECEIVED","payload":{"from": from, "sdp": offer}})
        );
        let answer = json!({"type": "answer", "sdp": format!("v=0\r\no=- {} 2 IN IP4 127.0.0.1\r\n", self.round)});
        self.callee.send(json!({"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{"to": from, "sdp": answer}})).await;
        assert_eq!(
            self.caller.recv().await,
            json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from": to, "sdp": answer}})
        );
        let candidate = json!({"candidate": format!("candidate:{} 1 udp 1 127.0.0.1 5000 typ host", self.round)});
        self.callee.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to": from, "candidate": candidate}})).await;
        assert_eq!(
            self.caller.recv().await,
            json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from": to, "candidate": candidate}})
        );
    }
}
