//! Who a connection may be, over real WebSockets: a token's `sub` is the one
//! name it may register in chatroulette, calling and ecall (socket.io's
//! dialects are tested with their real clients in tests/node/auth.test.mjs),
//! its `rooms` claim limits the calling rooms it may enter, and names that
//! look like others are refused in each dialect's own form. Every attack
//! comes while two other users are in a call, which must still relay both
//! ways afterwards.

mod auth_support;
mod support;

use auth_support::*;
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn chatroulette_url(server: &TestServer, token: &str) -> String {
    format!("ws://{}/ws/chatroulette?access_token={token}", server.addr)
}

fn calling_url(server: &TestServer, token: &str) -> String {
    format!("ws://{}/ws/calling?access_token={token}", server.addr)
}

#[tokio::test]
async fn chatroulette_registers_a_connection_only_under_its_sub() {
    let server = TestServer::start_with(hs256_config()).await;
    let mut bystanders = Bystanders::call(&server, true).await;
    // Each form's own refusal of a name: USERNAME_TAKEN, `ut` (the original
    // client's only answer to a CONNECT that failed).
    let mut short = Client::connect(&chatroulette_url(&server, &token("mallory"))).await;
    short.send(json!({"type": "c", "payload": "dave"})).await;
    assert_eq!(short.recv().await, json!({"type": "ut"}));
    short.close().await;
    let mut mallory = Client::connect(&chatroulette_url(&server, &token("mallory"))).await;
    mallory.send(json!({"type": "CONNECT", "payload": {"as": "carol"}})).await;
    assert_eq!(mallory.recv().await, json!({"type": "USERNAME_TAKEN", "payload": {"as": "carol"}}));
    mallory.send(json!({"type": "CONNECT", "payload": {"as": "erin"}})).await;
    assert_eq!(mallory.recv().await, json!({"type": "USERNAME_TAKEN", "payload": {"as": "erin"}}));
    // Nothing was registered: erin is nobody, and mallory is not connected.
    assert_eq!(server.driver.stats().await.unwrap().users, 2);
    mallory.send(json!({"type": "REQUEST_CALL", "payload": {"to": "dave"}})).await;
    let refused = mallory.recv().await;
    assert_eq!(refused["payload"]["message"], "send CONNECT first", "{refused}");
    bystanders.still_relays().await;

    // A CONNECT without a name is given the sub; in NFKC, `ｍａｌｌｏｒｙ` is it too.
    mallory.send(json!({"type": "CONNECT"})).await;
    assert_eq!(mallory.recv().await, json!({"type": "CONNECTED", "payload": {"as": "mallory"}}));
    let mut fullwidth = Client::connect(&chatroulette_url(&server, &token("erin"))).await;
    fullwidth.send(json!({"type": "c", "payload": "\u{FF45}\u{FF52}\u{FF49}\u{FF4E}"})).await;
    assert_eq!(fullwidth.recv().await, json!({"type": "cd"}));
    // A second connection with the same token: the name is held.
    let mut again = Client::connect(&chatroulette_url(&server, &token("mallory"))).await;
    again.send(json!({"type": "CONNECT"})).await;
    assert_eq!(again.recv().await, json!({"type": "USERNAME_TAKEN", "payload": {"as": "mallory"}}));
    bystanders.still_relays().await;
    server.stop().await;
}

#[tokio::test]
async fn a_calling_connection_is_its_sub_and_one_connection_holds_it() {
    let server = TestServer::start_with(hs256_config()).await;
    let mut bystanders = Bystanders::call(&server, true).await;
    let mut mallory = Client::connect(&calling_url(&server, &token("mallory"))).await;
    let hello = mallory.recv().await;
    assert_eq!((hello["type"].as_str(), hello["id"].as_str()), (Some("hello"), Some("mallory")), "{hello}");

    // Another connection under a name that is held, whether by this dialect
    // or another: told why, then closed (policy), and nothing registered.
    for held in ["mallory", "carol"] {
        let mut twin = Client::connect(&calling_url(&server, &token(held))).await;
        assert_eq!(twin.recv().await, json!({"type": "error", "error": format!("the name {held} is taken")}));
        let close = twin.recv_close().await.expect("a close frame");
        assert_eq!(close.code, CloseCode::Policy, "{close:?}");
    }
    assert_eq!(server.driver.stats().await.unwrap().users, 3);
    assert_eq!(ask(&mut mallory, json!({"type": "ping"}), 1).await, json!({"type": "answer", "tid": 1}));
    bystanders.still_relays().await;
    server.stop().await;
}

#[tokio::test]
async fn an_ecall_device_registers_only_under_its_sub() {
    let server = TestServer::start_with(hs256_config()).await;
    let mut bystanders = Bystanders::call(&server, true).await;
    let url = |user: &str, sub: &str| {
        format!("ws://{}/ws/ecall?user={user}&client=c1&access_token={}", server.addr, token(sub))
    };
    let mut mallory = Client::connect(&url("carol", "mallory")).await;
    assert_eq!(mallory.recv().await, json!({"type": "error", "error": "your token does not grant the name carol"}));
    assert_eq!(server.driver.stats().await.unwrap().users, 2, "nothing registered");
    // Unregistered, the device relays nothing.
    let content = r#"{"version":"3.0","resp":false,"sessid":"a1","type":"CANCEL"}"#;
    mallory.send(json!({"type": "calling", "to": "dave", "content": content})).await;
    assert_eq!(mallory.recv().await, json!({"type": "error", "error": "register first"}));

    // Its own name works, on several devices (ecall's users have many).
    let mut phone = Client::connect(&url("mallory", "mallory")).await;
    let mut laptop = Client::connect(&format!(
        "ws://{}/ws/ecall?user=mallory&client=c2&access_token={}",
        server.addr,
        token("mallory")
    ))
    .await;
    phone.send(json!({"type": "calling", "to": "mallory", "content": content})).await;
    let delivered = laptop.recv().await;
    assert_eq!((delivered["from"].as_str(), delivered["from_client"].as_str()), (Some("mallory"), Some("c1")));
    bystanders.still_relays().await;
    server.stop().await;
}

#[tokio::test]
async fn a_rooms_claim_limits_the_calling_rooms_a_connection_may_enter() {
    let server = TestServer::start_with(hs256_config()).await;
    let mut bystanders = Bystanders::call(&server, true).await;
    let mut mallory = Client::connect(&calling_url(&server, &token_with_rooms("mallory", &["team"]))).await;
    mallory.recv().await; // hello
    let mut erin = Client::connect(&calling_url(&server, &token("erin"))).await;
    erin.recv().await;

    let refused = |room: &str| json!(format!("your token does not grant {room}"));
    let answer = ask(&mut mallory, json!({"type": "room_join", "room": "board"}), 1).await;
    assert_eq!(answer["error"], refused("room board"), "{answer}");
    let answer = ask(&mut mallory, json!({"type": "room_join"}), 2).await;
    assert_eq!(answer["error"], refused("a new room"), "{answer}");
    let answer =
        ask(&mut mallory, json!({"type": "invite_send", "room": "board", "user": "erin", "data": {}}), 3).await;
    assert_eq!(answer["error"], refused("room board"), "{answer}");
    assert_eq!(server.driver.stats().await.unwrap().rooms, 1, "only the bystanders' call room");

    // Its own room, joined and invited into.
    let answer = ask(&mut mallory, json!({"type": "room_join", "room": "team"}), 4).await;
    assert_eq!(answer["data"]["room"], "team", "{answer}");
    mallory.send(json!({"type": "invite_send", "room": "team", "user": "erin", "data": {}, "tid": 5})).await;
    assert_eq!(mallory.recv().await["type"], "room_peer_add", "erin, pending");
    assert_eq!(mallory.recv().await, json!({"type": "answer", "tid": 5, "data": {"handle": 0}}));
    assert_eq!(erin.recv().await["type"], "invite_incoming");
    bystanders.still_relays().await;
    server.stop().await;
}

/// The message of a chatroulette error frame, seed (`ERROR`) or short (`er`).
fn error_message(frame: &Value) -> &str {
    assert!(matches!(frame["type"].as_str(), Some("ERROR" | "er")), "{frame}");
    frame["payload"]["message"].as_str().expect("a message")
}

/// Lookalikes of `alice`, each with what is wrong with it.
const LOOKALIKES: [(&str, &str); 4] = [
    ("\u{430}lice", "name mixes scripts"),
    ("al\u{200B}ice", "name contains an invisible character"),
    ("\u{200F}alice", "name contains a bidirectional control character"),
    ("alice\u{202E}", "name contains a bidirectional control character"),
];

#[tokio::test]
async fn lookalike_names_are_refused_in_each_dialects_form() {
    let server = TestServer::start().await;
    let mut bystanders = Bystanders::call(&server, false).await;
    let mut alice = server.online("alice").await;
    let mut chatroulette = server.chatroulette().await;
    let (mut calling, _) = server.calling().await;
    for (tid, (name, why)) in (1..).zip(LOOKALIKES) {
        chatroulette.send(json!({"type": "CONNECT", "payload": {"as": name}})).await;
        let frame = chatroulette.recv().await;
        assert_eq!(error_message(&frame), format!("CONNECT: bad user name: {why}"), "{name:?}");
        chatroulette.send(json!({"type": "rc", "payload": name})).await;
        let frame = chatroulette.recv().await;
        assert_eq!(
            (frame["type"].as_str(), error_message(&frame)),
            (Some("er"), &*format!("rc: bad user name: {why}"))
        );

        let invite = json!({"type": "invite_send", "room": "r", "user": name, "data": {}});
        assert_eq!(ask(&mut calling, invite, tid).await["error"], format!("Invalid user: {why}"));
        let join = json!({"type": "room_join", "room": format!("room-{name}")});
        assert_eq!(ask(&mut calling, join, 100 + tid).await["error"], format!("Invalid room: {why}"));

        let encoded: String = name.bytes().map(|byte| format!("%{byte:02X}")).collect();
        let device = raw_get(server.addr, &format!("/ws/ecall?user={encoded}&client=c1"), &[], true).await;
        assert_eq!((device.status, device.body.as_str()), (400, &*format!("bad user: {why}\n")));
    }
    let mut device = Client::connect(&format!("ws://{}/ws/ecall?user=bob&client=c1", server.addr)).await;
    let content = r#"{"version":"3.0","resp":false,"sessid":"a1","type":"CANCEL"}"#;
    device.send(json!({"type": "calling", "to": "al\u{200B}ice", "content": content})).await;
    let error = device.recv().await;
    assert_eq!(error, json!({"type": "error", "error": "bad to: name contains an invisible character"}));

    // None of them reached alice, who is still the only alice.
    chatroulette.send(json!({"type": "CONNECT", "payload": {"as": "frank"}})).await;
    assert_eq!(chatroulette.recv().await["type"], "CONNECTED");
    chatroulette.send(json!({"type": "REQUEST_CALL", "payload": {"to": "alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type": "CALL_REQUESTED", "payload": {"from": "frank"}}));
    bystanders.still_relays().await;
    server.stop().await;

    // A token whose sub is a lookalike is refused before the upgrade.
    let server = TestServer::start_with(hs256_config()).await;
    let path = format!("/ws/chatroulette?access_token={}", token("\u{430}lice"));
    assert_refused(&raw_get(server.addr, &path, &[], true).await, "sub is not an acceptable name: name mixes scripts");
    server.stop().await;
}

#[tokio::test]
async fn names_equal_in_nfkc_are_one_user() {
    let server = TestServer::start().await;
    let mut bystanders = Bystanders::call(&server, false).await;
    let mut alice = server.online("alice").await;
    // Fullwidth ａｌｉｃｅ is alice: taken.
    let mut twin = server.chatroulette().await;
    twin.send(json!({"type": "CONNECT", "payload": {"as": "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}"}})).await;
    assert_eq!(twin.recv().await, json!({"type": "USERNAME_TAKEN", "payload": {"as": "alice"}}));
    // é precomposed and e + U+0301 are one name, and so are ﬁ and fi.
    let mut cafe = server.chatroulette().await;
    cafe.send(json!({"type": "CONNECT", "payload": {"as": "caf\u{E9}"}})).await;
    assert_eq!(cafe.recv().await["type"], "CONNECTED");
    twin.send(json!({"type": "CONNECT", "payload": {"as": "cafe\u{301}"}})).await;
    assert_eq!(twin.recv().await, json!({"type": "USERNAME_TAKEN", "payload": {"as": "caf\u{E9}"}}));
    twin.send(json!({"type": "CONNECT", "payload": {"as": "\u{FB01}le"}})).await;
    assert_eq!(twin.recv().await, json!({"type": "CONNECTED", "payload": {"as": "file"}}));

    // A call to ａｌｉｃｅ rings alice.
    twin.send(json!({"type": "REQUEST_CALL", "payload": {"to": "\u{FF41}lice"}})).await;
    assert_eq!(alice.recv().await, json!({"type": "CALL_REQUESTED", "payload": {"from": "file"}}));
    bystanders.still_relays().await;
    server.stop().await;
}

/// With access tokens, a resume needs one too, of the held session's own
/// `sub`: another user's valid token and a resume token do not carry the
/// session on; its own token does.
#[tokio::test]
async fn a_resume_needs_an_access_token_of_the_same_sub() {
    let server = TestServer::start_with(hs256_config()).await;
    let url = |token: &str, resume: &str| {
        format!("ws://{}/ws/chatroulette?access_token={token}&resume={resume}", server.addr)
    };
    let mut alice = Client::connect(&url(&token("alice"), "1")).await;
    alice.send(json!({"type": "CONNECT", "payload": {"as": "alice"}})).await;
    let connected = alice.recv().await;
    let resume = connected["payload"]["resume"].as_str().expect("a resume token").to_owned();
    alice.drop_connection();
    server.wait_for_held(1).await;

    // Without an access token: refused before the upgrade, as any connection.
    let plain = format!("/ws/chatroulette?resume={resume}");
    assert_refused(&raw_get(server.addr, &plain, &[], true).await, "an access token is needed");
    // With mallory's: the resume is refused, and the session stays held.
    let mut mallory = Client::connect(&url(&token("mallory"), &resume)).await;
    let refusal = mallory.recv().await;
    assert_eq!(refusal["payload"]["message"], "resume refused: the token is wrong, used or expired");
    assert_eq!(mallory.recv_close().await.map(|frame| u16::from(frame.code)), Some(4004));
    server.wait_for_held(1).await;
    // With alice's own: back.
    let mut back = Client::connect(&url(&token("alice"), &resume)).await;
    let connected = back.recv().await;
    assert_eq!((&connected["payload"]["as"], &connected["payload"]["resumed"]), (&json!("alice"), &json!(true)));
    server.wait_for_held(0).await;
    server.stop().await;
}
