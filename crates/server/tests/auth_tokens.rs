//! Access tokens over real sockets: what is refused before the upgrade (a
//! missing token, a bad signature, an expired or not yet valid token, a
//! wrong audience or issuer), HS256 and ES256 keys, the two places a
//! WebSocket client may put its token, and the TURN credentials of
//! `/api/config`. Every hostile request comes while two other users are in
//! a call, which must still relay both ways afterwards.

mod auth_support;
mod support;

use std::time::Duration;

use auth_support::*;
use base64::Engine as _;
use serde_json::{Value, json};
use support::*;
use switchboard_server::Config;

/// The WebSocket endpoints of a server started with both drop-in
/// listeners, as (address, path) pairs.
fn endpoints(server: &TestServer) -> Vec<(std::net::SocketAddr, &'static str)> {
    vec![
        (server.addr, "/ws/chatroulette"),
        (server.addr, "/ws/calling"),
        (server.addr, "/ws/ecall?user=mallory&client=c1"),
        (server.dropin.expect("a chatroulette drop-in"), "/any/path"),
        (server.calling.expect("a calling drop-in"), "/"),
    ]
}

fn with_drop_ins(config: Config) -> Config {
    let loopback = "127.0.0.1:0".parse().ok();
    Config { chatroulette_listen: loopback, calling_listen: loopback, ..config }
}

/// `path` with `?access_token=` (or `&access_token=`) appended.
fn with_token(path: &str, token: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    format!("{path}{separator}access_token={token}")
}

#[tokio::test]
async fn every_endpoint_refuses_a_request_without_a_token_before_the_upgrade() {
    let server = TestServer::start_with(with_drop_ins(hs256_config())).await;
    let mut bystanders = Bystanders::call(&server, true).await;
    for (addr, path) in endpoints(&server) {
        let response = raw_get(addr, path, &[], true).await;
        assert_refused(&response, "an access token is needed");
        // A bearer token of another scheme is no token.
        let response = raw_get(addr, path, &["Authorization: Basic bWFsbG9yeTpwdw=="], true).await;
        assert_refused(&response, "an access token is needed");
    }
    assert_refused(&raw_get(server.addr, "/api/config", &[], false).await, "an access token is needed");
    let stats = server.driver.stats().await.unwrap();
    assert_eq!((stats.sessions, stats.users), (2, 2), "no refused request opened a session");
    bystanders.still_relays().await;
    server.stop().await;
}

#[tokio::test]
async fn a_token_with_a_bad_signature_or_shape_is_refused() {
    let server = TestServer::start_with(with_drop_ins(hs256_config())).await;
    let mut bystanders = Bystanders::call(&server, true).await;
    let forged = hs256("a secret mallory guessed", &json!({"sub": "carol", "exp": now() + 3600}));
    // The payload of a good token with another sub, the signature kept.
    let good = token("mallory");
    let mut parts: Vec<&str> = good.split('.').collect();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(json!({"sub": "carol", "exp": now() + 3600}).to_string());
    parts[1] = &claims;
    let tampered = parts.join(".");
    // An unsigned token (`alg: none`), which no key checks.
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{header}.{claims}.");
    for (addr, path) in endpoints(&server) {
        for (token, reason) in [
            (&forged, "signature is not valid"),
            (&tampered, "signature is not valid"),
            (&unsigned, "malformed"),
            (&"not-a-jwt".to_owned(), "malformed"),
        ] {
            assert_refused(&raw_get(addr, &with_token(path, token), &[], true).await, reason);
            let bearer = format!("Authorization: Bearer {token}");
            assert_refused(&raw_get(addr, path, &[&bearer], true).await, reason);
        }
    }
    assert_eq!(server.driver.stats().await.unwrap().sessions, 2);
    bystanders.still_relays().await;
    server.stop().await;
}

#[tokio::test]
async fn expiry_and_not_before_are_checked_with_the_leeway() {
    let server = TestServer::start_with(hs256_config()).await;
    let mut bystanders = Bystanders::call(&server, true).await;
    let cases = [
        (json!({"sub": "mallory", "exp": now() - 3600}), Some("has expired")),
        (json!({"sub": "mallory", "exp": now() + 3600, "nbf": now() + 3600}), Some("not valid yet")),
        (json!({"sub": "mallory"}), Some("lacks a valid exp claim")),
        (json!({"exp": now() + 3600}), Some("lacks a valid sub claim")),
        (json!({"sub": "mallory", "exp": "tomorrow"}), Some("lacks a valid exp claim")),
        (json!({"sub": 42, "exp": now() + 3600}), Some("malformed")),
        // Within the default 30 s of leeway, either way.
        (json!({"sub": "mallory", "exp": now() - 10}), None),
        (json!({"sub": "mallory", "exp": now() + 3600, "nbf": now() + 10}), None),
    ];
    for (claims, refused) in cases {
        let path = with_token("/ws/chatroulette", &hs256(SECRET, &claims));
        let response = raw_get(server.addr, &path, &[], true).await;
        match refused {
            Some(reason) => assert_refused(&response, reason),
            None => assert_eq!(response.status, 101, "{claims}: {response:?}"),
        }
    }
    bystanders.still_relays().await;
    server.stop().await;

    // A leeway of 0: ten seconds past expiry is past.
    let server = TestServer::start_with(Config { auth_leeway: Duration::ZERO, ..hs256_config() }).await;
    let late = hs256(SECRET, &json!({"sub": "mallory", "exp": now() - 10}));
    assert_refused(&raw_get(server.addr, &with_token("/ws/calling", &late), &[], true).await, "has expired");
    server.stop().await;
}

#[tokio::test]
async fn audience_and_issuer_are_checked() {
    let config = Config {
        auth_audience: Some("switchboard".into()),
        auth_issuer: Some("https://issuer.example".into()),
        ..hs256_config()
    };
    let server = TestServer::start_with(config).await;
    let mut bystanders = Bystanders::call_with(&server, |sub| {
        hs256(SECRET, &json!({"sub": sub, "exp": now() + 3600, "aud": "switchboard", "iss": "https://issuer.example"}))
    })
    .await;
    let exp = now() + 3600;
    let cases = [
        (
            json!({"sub": "mallory", "exp": exp, "aud": "another-app", "iss": "https://issuer.example"}),
            Some("another audience"),
        ),
        (
            json!({"sub": "mallory", "exp": exp, "aud": ["another-app"], "iss": "https://issuer.example"}),
            Some("another audience"),
        ),
        (json!({"sub": "mallory", "exp": exp, "iss": "https://issuer.example"}), Some("lacks a valid aud claim")),
        (
            json!({"sub": "mallory", "exp": exp, "aud": "switchboard", "iss": "https://evil.example"}),
            Some("another issuer"),
        ),
        (json!({"sub": "mallory", "exp": exp, "aud": "switchboard"}), Some("lacks a valid iss claim")),
        (
            json!({"sub": "mallory", "exp": exp, "aud": ["another-app", "switchboard"], "iss": "https://issuer.example"}),
            None,
        ),
    ];
    for (claims, refused) in cases {
        let response = raw_get(server.addr, &with_token("/ws/calling", &hs256(SECRET, &claims)), &[], true).await;
        match refused {
            Some(reason) => assert_refused(&response, reason),
            None => assert_eq!(response.status, 101, "{claims}: {response:?}"),
        }
    }
    bystanders.still_relays().await;
    server.stop().await;

    // No audience configured: a token meant for an audience is someone else's.
    let server = TestServer::start_with(hs256_config()).await;
    let elsewhere = hs256(SECRET, &json!({"sub": "mallory", "exp": exp, "aud": "another-app"}));
    assert_refused(&raw_get(server.addr, &with_token("/ws/calling", &elsewhere), &[], true).await, "another audience");
    server.stop().await;
}

#[tokio::test]
async fn es256_tokens_are_checked_against_the_public_key_file() {
    let keys = Es256::generate();
    let server = TestServer::start_with(keys.config()).await;
    let mut bystanders =
        Bystanders::call_with(&server, |sub| keys.sign(&json!({"sub": sub, "exp": now() + 3600}))).await;

    // A good token, in a header and in the query.
    let alice = keys.sign(&json!({"sub": "alice", "exp": now() + 3600}));
    let mut client = connect_bearer(&format!("ws://{}/ws/chatroulette", server.addr), &alice).await;
    client.send(json!({"type": "CONNECT"})).await;
    assert_eq!(client.recv().await, json!({"type": "CONNECTED", "payload": {"as": "alice"}}));
    let bob = keys.sign(&json!({"sub": "bob", "exp": now() + 3600}));
    let mut calling = Client::connect(&format!("ws://{}/ws/calling?access_token={bob}", server.addr)).await;
    let hello = calling.recv().await;
    assert_eq!((hello["type"].as_str(), hello["id"].as_str()), (Some("hello"), Some("bob")), "{hello}");

    // Another key pair's token; an HS256 token whose secret is the public
    // key itself (the algorithm confusion attack); an HS256 token at all.
    let other = Es256::generate().sign(&json!({"sub": "mallory", "exp": now() + 3600}));
    let pem = std::fs::read_to_string(&keys.public_pem).unwrap();
    let confused = hs256(&pem, &json!({"sub": "mallory", "exp": now() + 3600}));
    let plain = token("mallory");
    for forged in [&other, &confused, &plain] {
        let response = raw_get(server.addr, &with_token("/ws/chatroulette", forged), &[], true).await;
        assert_refused(&response, "signature is not valid");
    }
    bystanders.still_relays().await;
    server.stop().await;
}

#[tokio::test]
async fn a_bad_key_setting_stops_the_server_from_starting() {
    let missing = Config { auth_jwt_public_key: Some("/nonexistent/key.pem".into()), ..Config::default() };
    let error = switchboard_server::Application::build(missing, switchboard_server::Clock::System).await.err();
    assert!(error.expect("refused").to_string().contains("--auth-jwt-public-key"));
    let dir = std::env::temp_dir().join(format!("switchboard-not-a-key-{}.pem", std::process::id()));
    std::fs::write(&dir, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").unwrap();
    let garbage = Config { auth_jwt_public_key: Some(dir.clone()), ..Config::default() };
    let error = switchboard_server::Application::build(garbage, switchboard_server::Clock::System).await.err();
    std::fs::remove_file(&dir).unwrap();
    assert!(error.expect("refused").to_string().contains("no RSA, EC or Ed25519 public key"));
    let audience_alone = Config { auth_audience: Some("switchboard".into()), ..Config::default() };
    let error = switchboard_server::Application::build(audience_alone, switchboard_server::Clock::System).await.err();
    assert!(error.expect("refused").to_string().contains("need --auth-jwt-secret or --auth-jwt-public-key"));
}

/// `/api/config`'s body as JSON, and its status.
async fn client_config(server: &TestServer, path: &str, headers: &[&str]) -> (u16, Value) {
    let response = raw_get(server.addr, path, headers, false).await;
    let body = if response.status == 200 { serde_json::from_str(&response.body).unwrap() } else { Value::Null };
    (response.status, body)
}

fn ice(config: Config) -> Config {
    Config {
        ice_servers: vec!["stun:127.0.0.1:3478".into(), "turn:127.0.0.1:3478".into()],
        turn_secret: Some("turn secret".into()),
        ..config
    }
}

#[tokio::test]
async fn turn_credentials_go_to_token_holders_named_by_sub_for_an_hour() {
    let server = TestServer::start_with(ice(hs256_config())).await;
    let mut bystanders = Bystanders::call(&server, true).await;
    assert_refused(&raw_get(server.addr, "/api/config", &[], false).await, "an access token is needed");
    let forged = hs256("guessed", &json!({"sub": "mallory", "exp": now() + 3600}));
    let path = format!("/api/config?access_token={forged}");
    assert_refused(&raw_get(server.addr, &path, &[], false).await, "signature is not valid");

    let alice = token("alice");
    let before = now();
    let (status, by_query) = client_config(&server, &format!("/api/config?access_token={alice}"), &[]).await;
    let bearer = format!("Authorization: Bearer {alice}");
    let (_, by_header) = client_config(&server, "/api/config", &[&bearer]).await;
    let after = now();
    assert_eq!(status, 200);
    for config in [by_query, by_header] {
        assert_eq!(config["iceServers"][0], json!({"urls": ["stun:127.0.0.1:3478"]}));
        let turn = &config["iceServers"][1];
        let username = turn["username"].as_str().unwrap();
        let (expiry, user) = username.split_once(':').unwrap();
        assert_eq!(user, "alice", "the token's sub: {username}");
        let expiry: u64 = expiry.parse().unwrap();
        assert!((before + 3600..=after + 3600).contains(&expiry), "an hour by default: {expiry} from {before}");
        assert_eq!(turn["credential"], switchboard_server::turn_password("turn secret", username));
    }
    bystanders.still_relays().await;
    server.stop().await;
}

#[tokio::test]
async fn an_open_server_hands_out_turn_credentials_only_with_turn_open() {
    // --turn-secret alone: the STUN URLs, and no turn: URL at all (a turn:
    // URL without credentials would make the browser's RTCPeerConnection throw).
    let server = TestServer::start_with(ice(Config::default())).await;
    let (status, config) = client_config(&server, "/api/config", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(config, json!({"iceServers": [{"urls": ["stun:127.0.0.1:3478"]}]}));
    server.stop().await;

    // With --turn-open: anyone gets them, for a day by default.
    let server = TestServer::start_with(ice(Config { turn_open: true, ..Config::default() })).await;
    let before = now();
    let (_, config) = client_config(&server, "/api/config", &[]).await;
    let username = config["iceServers"][1]["username"].as_str().unwrap().to_owned();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, "switchboard");
    assert!(expiry.parse::<u64>().unwrap() >= before + 24 * 3600, "{username}");
    server.stop().await;
}
