//! Session resume over real WebSockets, in each WebSocket dialect (README,
//! "Resume"), on the manual clock: a client whose TCP connection drops
//! mid-call comes back with its token and finds its call and every event
//! sent meanwhile; the other party is told nothing. The window, the buffer,
//! bad tokens and clean closes each end or refuse exactly as documented.
//!
//! Each scenario is written once, against [`Dialect`], and run for
//! chatroulette, calling and ecall. The socket.io dialects have the same
//! scenarios with real socket.io clients (`tests/node/resume_socketio.test.mjs`).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::redis_server::RedisServer;
use support::*;
use switchboard_server::{Config, NodeId};

/// The default window: tests move the manual clock across it.
const WINDOW: Duration = Duration::from_secs(30);

/// One party of a call: its connection, the name others reach it by, and
/// its latest resume token.
struct Member {
    client: Client,
    id: String,
    token: Option<String>,
}

/// What a scenario needs of a dialect: how to connect, call, relay and hang
/// up, and what the other side then receives, in the dialect's own frames.
trait Dialect {
    /// A connection named `name` (where the dialect lets the client name
    /// itself), opted in to resume when `resume`.
    async fn join(server: &TestServer, name: &str, resume: bool) -> Member;
    /// Connects with `resume=<token>`.
    async fn reconnect(server: &TestServer, token: &str) -> Client;
    /// Checks the first message after a resume and returns its new token.
    async fn resumed(member: &mut Member) -> String;
    /// `caller` calls `callee`, who answers: relays flow both ways after.
    async fn call(caller: &mut Member, callee: &mut Member);
    /// `from` sends `to` its ICE candidate number `n`.
    async fn send_ice(from: &mut Member, to: &str, n: u32);
    /// What `to` receives for it.
    fn ice(from: &str, n: u32) -> Value;
    /// A message of the dialect's own beyond SDP and ICE.
    async fn send_custom(from: &mut Member, to: &str);
    fn custom(from: &str) -> Value;
    /// `from` hangs up; `to` then receives [`Dialect::hung_up`].
    async fn hang_up(from: &mut Member, to: &str);
    fn hung_up(from: &str) -> Value;
    /// What the other party receives when `gone`'s session ends for a lost
    /// connection (`disconnected`); `None` where the dialect has no call to
    /// end (ecall), and the test checks that `gone` is offline instead.
    fn disconnected(gone: &str) -> Option<Value>;
    /// A request answered at once by an error: proof that nothing else was
    /// queued for the client before it.
    async fn probe(member: &mut Member) -> Value;
    /// The dialect's error before close 4004.
    fn refused() -> Value;
}

const REFUSED: &str = "resume refused: the token is wrong, used or expired";

struct Chatroulette;

impl Dialect for Chatroulette {
    async fn join(server: &TestServer, name: &str, resume: bool) -> Member {
        let query = if resume { "?resume=1" } else { "" };
        let mut client = Client::connect(&format!("ws://{}/ws/chatroulette{query}", server.addr)).await;
        client.send(json!({"type":"CONNECT","payload":{"as":name}})).await;
        let connected = client.recv().await;
        assert_eq!((&connected["type"], &connected["payload"]["as"]), (&json!("CONNECTED"), &json!(name)));
        let token = connected["payload"]["resume"].as_str().map(str::to_owned);
        assert_eq!(token.is_some(), resume, "{connected}");
        Member { client, id: name.to_owned(), token }
    }

    async fn reconnect(server: &TestServer, token: &str) -> Client {
        Client::connect(&format!("ws://{}/ws/chatroulette?resume={token}", server.addr)).await
    }

    async fn resumed(member: &mut Member) -> String {
        let connected = member.client.recv().await;
        assert_eq!(connected["type"], "CONNECTED", "{connected}");
        assert_eq!(connected["payload"]["as"], member.id.as_str());
        assert_eq!(connected["payload"]["resumed"], true);
        connected["payload"]["resume"].as_str().expect("a new token").to_owned()
    }

    async fn call(caller: &mut Member, callee: &mut Member) {
        caller.client.send(json!({"type":"REQUEST_CALL","payload":{"to":callee.id}})).await;
        assert_eq!(callee.client.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":caller.id}}));
        callee.client.send(json!({"type":"ACCEPT_CALL","payload":{"from":caller.id}})).await;
        assert_eq!(caller.client.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":callee.id}}));
    }

    async fn send_ice(from: &mut Member, to: &str, n: u32) {
        from.client.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":to,"candidate":candidate(n)}})).await;
    }

    fn ice(from: &str, n: u32) -> Value {
        json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":from,"candidate":candidate(n)}})
    }

    /// chatroulette has no custom events: a renegotiating offer.
    async fn send_custom(from: &mut Member, to: &str) {
        from.client.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":to,"sdp":offer()}})).await;
    }

    fn custom(from: &str) -> Value {
        json!({"type":"CALLER_DESCRIPTOR_RECEIVED","payload":{"from":from,"sdp":offer()}})
    }

    async fn hang_up(from: &mut Member, to: &str) {
        from.client.send(json!({"type":"HANG_UP","payload":{"to":to}})).await;
    }

    fn hung_up(from: &str) -> Value {
        json!({"type":"CALL_ENDED","payload":{"by":from,"reason":"hangup"}})
    }

    fn disconnected(gone: &str) -> Option<Value> {
        Some(json!({"type":"CALL_ENDED","payload":{"by":gone,"reason":"disconnected"}}))
    }

    async fn probe(member: &mut Member) -> Value {
        member.client.send_text("not json").await;
        member.client.recv().await
    }

    fn refused() -> Value {
        json!({"type":"ERROR","payload":{"message":REFUSED}})
    }
}

/// calling's users are drawn by the server (`hello`); a call is an invite
/// into a room of the caller's, and relays are `room_peer_to` in it.
struct Calling;

const CALL_ROOM: &str = "call-room";

impl Dialect for Calling {
    async fn join(server: &TestServer, _: &str, resume: bool) -> Member {
        let query = if resume { "?resume=1" } else { "" };
        let mut client = Client::connect(&format!("ws://{}/ws/calling{query}", server.addr)).await;
        let hello = client.recv().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        let token = hello["resume"].as_str().map(str::to_owned);
        assert_eq!(token.is_some(), resume, "{hello}");
        Member { client, id: hello["id"].as_str().expect("an id").to_owned(), token }
    }

    async fn reconnect(server: &TestServer, token: &str) -> Client {
        Client::connect(&format!("ws://{}/ws/calling?resume={token}", server.addr)).await
    }

    async fn resumed(member: &mut Member) -> String {
        let hello = member.client.recv().await;
        assert_eq!(
            (&hello["type"], &hello["id"], &hello["resumed"]),
            (&json!("hello"), &json!(member.id), &json!(true))
        );
        hello["resume"].as_str().expect("a new token").to_owned()
    }

    async fn call(caller: &mut Member, callee: &mut Member) {
        ask(&mut caller.client, json!({"type":"room_join","room":CALL_ROOM}), 1).await;
        let invite = json!({"type":"invite_send","room":CALL_ROOM,"user":callee.id,"data":{},"tid":2});
        caller.client.send(invite).await;
        // The invitee shows in the room, pending, before the answer.
        assert_eq!(caller.client.recv().await["type"], "room_peer_add");
        assert_eq!(caller.client.recv().await["tid"], 2);
        let incoming = callee.client.recv().await;
        assert_eq!(incoming["type"], "invite_incoming", "{incoming}");
        let accept = json!({"type":"invite_accept","handle":incoming["handle"],"status":{}});
        ask(&mut callee.client, accept, 1).await;
        assert_eq!(caller.client.recv().await["type"], "invite_response");
        // Then the room's news of the answer (room_peer_update): read up to
        // a probe's error, so that each side has nothing else waiting.
        for member in [caller, callee] {
            member.client.send_text("not json").await;
            while member.client.recv().await["type"] != "error" {}
        }
    }

    async fn send_ice(from: &mut Member, to: &str, n: u32) {
        let relay =
            json!({"type":"room_peer_to","room":CALL_ROOM,"user":to,"event":"ice_candidate","data":candidate(n)});
        from.client.send(relay).await;
    }

    fn ice(from: &str, n: u32) -> Value {
        json!({"type":"room_peer_from","room":CALL_ROOM,"user":from,"event":"ice_candidate","data":candidate(n)})
    }

    async fn send_custom(from: &mut Member, to: &str) {
        let relay = json!({"type":"room_peer_to","room":CALL_ROOM,"user":to,"event":"chat","data":{"text":"hi"}});
        from.client.send(relay).await;
    }

    fn custom(from: &str) -> Value {
        json!({"type":"room_peer_from","room":CALL_ROOM,"user":from,"event":"chat","data":{"text":"hi"}})
    }

    async fn hang_up(from: &mut Member, _: &str) {
        from.client.send(json!({"type":"room_leave","room":CALL_ROOM})).await;
    }

    fn hung_up(from: &str) -> Value {
        json!({"type":"room_peer_rm","room":CALL_ROOM,"user":from})
    }

    /// calling's `room_peer_rm` carries no reason.
    fn disconnected(gone: &str) -> Option<Value> {
        Some(Self::hung_up(gone))
    }

    async fn probe(member: &mut Member) -> Value {
        member.client.send_text("not json").await;
        member.client.recv().await
    }

    fn refused() -> Value {
        json!({"type":"error","error":REFUSED})
    }
}

/// ecall devices exchange ECall messages; there is no call in the core, so
/// "mid-call" is between a SETUP and its HANGUP.
struct Ecall;

/// An ECall message as Wire clients send it: SETUP and UPDATE carry a
/// whole SDP, PROPSYNC properties.
fn ecall_message(kind: &str, n: u32) -> String {
    let extra = match kind {
        "SETUP" | "UPDATE" => format!(r#","props":{{}},"sdp":"v=0 {n}""#),
        "PROPSYNC" => r#","props":{"videosend":"true"}"#.to_owned(),
        _ => String::new(),
    };
    format!(r#"{{"version":"3.0","resp":false,"sessid":"s","type":"{kind}"{extra}}}"#)
}

impl Dialect for Ecall {
    async fn join(server: &TestServer, name: &str, resume: bool) -> Member {
        let query = if resume { "&resume=1" } else { "" };
        let url = format!("ws://{}/ws/ecall?user={name}&client=phone{query}", server.addr);
        let mut client = Client::connect(&url).await;
        let token = if resume {
            let session = client.recv().await;
            assert_eq!(session["type"], "session", "{session}");
            Some(session["resume"].as_str().expect("a token").to_owned())
        } else {
            None
        };
        let mut member = Member { client, id: name.to_owned(), token };
        // The registration is through once a request is answered.
        assert_eq!(Self::probe(&mut member).await["type"], "error");
        member
    }

    async fn reconnect(server: &TestServer, token: &str) -> Client {
        Client::connect(&format!("ws://{}/ws/ecall?resume={token}", server.addr)).await
    }

    async fn resumed(member: &mut Member) -> String {
        let session = member.client.recv().await;
        assert_eq!((&session["type"], &session["resumed"]), (&json!("session"), &json!(true)), "{session}");
        session["resume"].as_str().expect("a new token").to_owned()
    }

    async fn call(caller: &mut Member, callee: &mut Member) {
        let setup = ecall_message("SETUP", 0);
        caller.client.send(json!({"type":"calling","to":callee.id,"content":setup})).await;
        let expected = json!({"type":"calling","from":caller.id,"from_client":"phone","content":setup});
        assert_eq!(callee.client.recv().await, expected);
    }

    /// ECall sends whole SDPs, not trickled candidates: an UPDATE each.
    async fn send_ice(from: &mut Member, to: &str, n: u32) {
        from.client.send(json!({"type":"calling","to":to,"content":ecall_message("UPDATE", n)})).await;
    }

    fn ice(from: &str, n: u32) -> Value {
        json!({"type":"calling","from":from,"from_client":"phone","content":ecall_message("UPDATE", n)})
    }

    async fn send_custom(from: &mut Member, to: &str) {
        from.client.send(json!({"type":"calling","to":to,"content":ecall_message("PROPSYNC", 9)})).await;
    }

    fn custom(from: &str) -> Value {
        json!({"type":"calling","from":from,"from_client":"phone","content":ecall_message("PROPSYNC", 9)})
    }

    async fn hang_up(from: &mut Member, to: &str) {
        from.client.send(json!({"type":"calling","to":to,"content":ecall_message("HANGUP", 0)})).await;
    }

    fn hung_up(from: &str) -> Value {
        json!({"type":"calling","from":from,"from_client":"phone","content":ecall_message("HANGUP", 0)})
    }

    fn disconnected(_: &str) -> Option<Value> {
        None
    }

    /// A message to nobody online: refused at once... or held, so an
    /// unknown type instead, which the codec answers itself.
    async fn probe(member: &mut Member) -> Value {
        member.client.send(json!({"type":"nothing","to":"x","content":""})).await;
        member.client.recv().await
    }

    fn refused() -> Value {
        json!({"type":"error","error":REFUSED})
    }
}

fn candidate(n: u32) -> Value {
    json!({"candidate": format!("candidate:{n} 1 udp 2122260223 127.0.0.1 5{n:04} typ host"), "sdpMid": "0"})
}

fn offer() -> Value {
    json!({"type":"offer","sdp":"v=0\r\no=- 5 6 IN IP4 127.0.0.1\r\n"})
}

/// Where a scenario's parties are: alice connects to `home` and resumes on
/// `back`, bob connects to `his`; `redis` when they are nodes of a cluster.
#[derive(Clone, Copy)]
struct Nodes<'a> {
    home: &'a TestServer,
    his: &'a TestServer,
    back: &'a TestServer,
    redis: Option<&'a RedisServer>,
}

impl<'a> Nodes<'a> {
    fn one(server: &'a TestServer) -> Self {
        Self { home: server, his: server, back: server, redis: None }
    }
}

/// alice (resumable) and bob (not) in a call.
async fn in_a_call<D: Dialect>(nodes: Nodes<'_>) -> (Member, Member) {
    let mut alice = D::join(nodes.home, "alice", true).await;
    let mut bob = D::join(nodes.his, "bob", false).await;
    if let Some(redis) = nodes.redis {
        redis.wait_for_name(&alice.id).await;
        redis.wait_for_name(&bob.id).await;
    }
    D::call(&mut bob, &mut alice).await;
    (alice, bob)
}

/// alice's connection drops with no close frame; the server holds her.
async fn drop_alice(server: &TestServer, alice: Member) -> (String, String) {
    let Member { client, id, token } = alice;
    client.drop_connection();
    server.wait_for_held(1).await;
    (id, token.expect("alice opted in"))
}

/// The scenario on one node.
async fn resume_mid_call<D: Dialect>() {
    let server = TestServer::start().await;
    resume_mid_call_on::<D>(Nodes::one(&server)).await;
    server.stop().await;
}

/// alice in a call on `home` with bob on `his`; her connection drops and she
/// resumes on `back`, where her token takes her to `home`.
async fn resume_mid_call_on<D: Dialect>(nodes: Nodes<'_>) {
    let Nodes { home, back, .. } = nodes;
    let (alice, mut bob) = in_a_call::<D>(nodes).await;
    let (alice_id, token) = drop_alice(home, alice).await;

    // While alice is away, bob sends three candidates and a message.
    for n in 0..3 {
        D::send_ice(&mut bob, &alice_id, n).await;
    }
    D::send_custom(&mut bob, &alice_id).await;
    // bob is told nothing: the next thing he hears answers his own probe.
    assert_is_error(&D::probe(&mut bob).await);

    // alice resumes within the window: all four, in order, once.
    home.clock.advance(WINDOW - Duration::from_millis(1));
    let mut alice = Member { client: D::reconnect(back, &token).await, id: alice_id, token: None };
    let fresh = D::resumed(&mut alice).await;
    assert_ne!(fresh, token, "each resume rotates the token");
    for n in 0..3 {
        assert_eq!(alice.client.recv().await, D::ice(&bob.id, n));
    }
    assert_eq!(alice.client.recv().await, D::custom(&bob.id));
    assert_is_error(&D::probe(&mut alice).await);
    home.wait_for_held(0).await;

    // The call goes on past the old window: relays both ways, then a
    // hang-up ends it.
    home.clock.advance(Duration::from_secs(5));
    D::send_ice(&mut alice, &bob.id, 7).await;
    assert_eq!(bob.client.recv().await, D::ice(&alice.id, 7));
    D::send_ice(&mut bob, &alice.id, 8).await;
    assert_eq!(alice.client.recv().await, D::ice(&bob.id, 8));
    D::hang_up(&mut alice, &bob.id).await;
    assert_eq!(bob.client.recv().await, D::hung_up(&alice.id));

    // The old token is spent; the new one works, on her first node too.
    expect_refused::<D>(back, &token).await;
    alice.client.drop_connection();
    home.wait_for_held(1).await;
    let mut again = Member { client: D::reconnect(home, &fresh).await, id: alice.id, token: None };
    D::resumed(&mut again).await;
}

/// A token that resumes nothing: the dialect's error, then close 4004.
async fn expect_refused<D: Dialect>(server: &TestServer, token: &str) {
    let mut client = D::reconnect(server, token).await;
    assert_eq!(client.recv().await, D::refused());
    assert_eq!(client.recv_close().await.map(|frame| u16::from(frame.code)), Some(4004));
}

fn assert_is_error(frame: &Value) {
    assert!(matches!(frame["type"].as_str(), Some("ERROR" | "error")), "expected the probe's error, got {frame}");
}

/// The window passes: the session ends as a disconnect, at the window's
/// end and not before, and its token is expired.
async fn window_passes<D: Dialect>() {
    let server = TestServer::start().await;
    window_passes_on::<D>(Nodes::one(&server)).await;
    server.stop().await;
}

/// alice on `home`, bob on `his`; alice's token is tried on `back` after
/// the window.
async fn window_passes_on<D: Dialect>(nodes: Nodes<'_>) {
    let Nodes { home, his, back, .. } = nodes;
    let (alice, mut bob) = in_a_call::<D>(nodes).await;
    let (alice_id, token) = drop_alice(home, alice).await;
    home.clock.advance(WINDOW - Duration::from_millis(1));
    assert_is_error(&D::probe(&mut bob).await);
    home.wait_for_held(1).await;
    home.clock.advance(Duration::from_millis(1));
    home.wait_for_held(0).await;
    match D::disconnected(&alice_id) {
        Some(end) => assert_eq!(bob.client.recv().await, end),
        None => {
            let bob_here = usize::from(std::ptr::eq(home, his));
            assert_eq!(home.driver.stats().await.unwrap().users, bob_here, "alice is offline");
        }
    }
    expect_refused::<D>(back, &token).await;
}

/// More events than the buffer holds end the held session at once.
async fn buffer_overflows<D: Dialect>() {
    let config = Config { resume_buffer: 4, ..Config::default() };
    let server = TestServer::start_with(config).await;
    let (alice, mut bob) = in_a_call::<D>(Nodes::one(&server)).await;
    let (alice_id, token) = drop_alice(&server, alice).await;
    for n in 0..4 {
        D::send_ice(&mut bob, &alice_id, n).await;
    }
    assert_is_error(&D::probe(&mut bob).await);
    server.wait_for_held(1).await;
    D::send_ice(&mut bob, &alice_id, 4).await;
    server.wait_for_held(0).await;
    match D::disconnected(&alice_id) {
        Some(end) => assert_eq!(bob.client.recv().await, end),
        None => assert_eq!(server.driver.stats().await.unwrap().users, 1, "alice is offline"),
    }
    expect_refused::<D>(&server, &token).await;
    server.stop().await;
}

/// A wrong token resumes nothing and touches nobody; a clean close ends
/// the session at once.
async fn wrong_token_and_clean_close<D: Dialect>() {
    let server = TestServer::start().await;
    let (alice, mut bob) = in_a_call::<D>(Nodes::one(&server)).await;
    expect_refused::<D>(&server, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    expect_refused::<D>(&server, "not-a-token").await;
    // bob's token is nothing: he never asked for one.
    assert_eq!(server.driver.stats().await.unwrap().sessions, 2, "nobody was touched");
    let Member { client, id, .. } = alice;
    client.close().await;
    match D::disconnected(&id) {
        Some(end) => assert_eq!(bob.client.recv().await, end),
        None => {
            assert_is_error(&D::probe(&mut bob).await);
            assert_eq!(server.driver.stats().await.unwrap().users, 1, "alice is offline");
        }
    }
    server.wait_for_held(0).await;
    server.stop().await;
}

/// A client resumes while the server still thinks its old connection is up
/// (a half-open TCP connection): the old one is closed with 4001, and what
/// was queued goes to the new one.
async fn resume_while_still_connected<D: Dialect>() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = in_a_call::<D>(Nodes::one(&server)).await;
    let token = alice.token.clone().expect("opted in");
    let mut second = Member { client: D::reconnect(&server, &token).await, id: alice.id.clone(), token: None };
    D::resumed(&mut second).await;
    assert_eq!(alice.client.recv_close().await.map(|frame| u16::from(frame.code)), Some(4001));
    D::send_ice(&mut bob, &second.id, 1).await;
    assert_eq!(second.client.recv().await, D::ice(&bob.id, 1));
    D::send_ice(&mut second, &bob.id, 2).await;
    assert_eq!(bob.client.recv().await, D::ice(&second.id, 2));
    server.stop().await;
}

#[tokio::test]
async fn chatroulette_window_passes() {
    window_passes::<Chatroulette>().await;
}

#[tokio::test]
async fn calling_window_passes() {
    window_passes::<Calling>().await;
}

#[tokio::test]
async fn ecall_window_passes() {
    window_passes::<Ecall>().await;
}

#[tokio::test]
async fn chatroulette_buffer_overflows() {
    buffer_overflows::<Chatroulette>().await;
}

#[tokio::test]
async fn calling_buffer_overflows() {
    buffer_overflows::<Calling>().await;
}

#[tokio::test]
async fn ecall_buffer_overflows() {
    buffer_overflows::<Ecall>().await;
}

#[tokio::test]
async fn chatroulette_wrong_token_and_clean_close() {
    wrong_token_and_clean_close::<Chatroulette>().await;
}

#[tokio::test]
async fn calling_wrong_token_and_clean_close() {
    wrong_token_and_clean_close::<Calling>().await;
}

#[tokio::test]
async fn ecall_wrong_token_and_clean_close() {
    wrong_token_and_clean_close::<Ecall>().await;
}

#[tokio::test]
async fn chatroulette_resume_while_still_connected() {
    resume_while_still_connected::<Chatroulette>().await;
}

#[tokio::test]
async fn calling_resume_while_still_connected() {
    resume_while_still_connected::<Calling>().await;
}

#[tokio::test]
async fn ecall_resume_while_still_connected() {
    resume_while_still_connected::<Ecall>().await;
}

#[tokio::test]
async fn chatroulette_resumes_mid_call_with_nothing_lost() {
    resume_mid_call::<Chatroulette>().await;
}

#[tokio::test]
async fn calling_resumes_mid_call_with_nothing_lost() {
    resume_mid_call::<Calling>().await;
}

#[tokio::test]
async fn ecall_resumes_mid_call_with_nothing_lost() {
    resume_mid_call::<Ecall>().await;
}

/// Two nodes of a cluster: alice on A, bob on B.
async fn two_nodes(redis: &RedisServer, prefix: &str) -> (TestServer, TestServer) {
    let node = |name: String| Config {
        redis_url: Some(redis.url()),
        node_id: Some(NodeId::parse(&name).unwrap()),
        ..Config::default()
    };
    let (a, b) = (format!("{prefix}-a"), format!("{prefix}-b"));
    let nodes = (TestServer::start_with(node(a.clone())).await, TestServer::start_with(node(b.clone())).await);
    redis.wait_for_nodes(&[&a, &b]).await;
    nodes
}

/// Drop on node A, resume on node B: B pipes the connection to A, where
/// the session is held (docs/cluster.md, "Resume").
async fn resume_on_another_node<D: Dialect>(prefix: &str) {
    let redis = RedisServer::start().await;
    let (a, b) = two_nodes(&redis, prefix).await;
    resume_mid_call_on::<D>(Nodes { home: &a, his: &b, back: &b, redis: Some(&redis) }).await;
    a.stop().await;
    b.stop().await;
}

async fn window_passes_across_nodes<D: Dialect>(prefix: &str) {
    let redis = RedisServer::start().await;
    let (a, b) = two_nodes(&redis, prefix).await;
    window_passes_on::<D>(Nodes { home: &a, his: &b, back: &b, redis: Some(&redis) }).await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn chatroulette_resumes_on_another_node() {
    resume_on_another_node::<Chatroulette>("cr").await;
}

#[tokio::test]
async fn calling_resumes_on_another_node() {
    resume_on_another_node::<Calling>("ca").await;
}

#[tokio::test]
async fn ecall_resumes_on_another_node() {
    resume_on_another_node::<Ecall>("ec").await;
}

#[tokio::test]
async fn chatroulette_window_passes_across_nodes() {
    window_passes_across_nodes::<Chatroulette>("crw").await;
}

#[tokio::test]
async fn calling_window_passes_across_nodes() {
    window_passes_across_nodes::<Calling>("caw").await;
}

#[tokio::test]
async fn ecall_window_passes_across_nodes() {
    window_passes_across_nodes::<Ecall>("ecw").await;
}

/// `/metrics` counts held sessions, resumes, and held sessions that ended
/// for the window or the buffer.
#[tokio::test]
async fn metrics_count_held_sessions_resumes_and_expiries() {
    use support::prometheus::{parse, sum};
    let config = Config { resume_buffer: 1, ..Config::default() };
    let server = TestServer::start_with(config).await;
    let metric = |text: &str, name: &str, labels: &[(&str, &str)]| sum(&parse(text), name, labels);
    let (alice, mut bob) = in_a_call::<Chatroulette>(Nodes::one(&server)).await;
    let (alice_id, token) = drop_alice(&server, alice).await;
    let text = http_get(server.addr, "/metrics").await;
    assert_eq!(metric(&text, "switchboard_sessions_held", &[]), 1.0);
    let mut alice = Member { client: Chatroulette::reconnect(&server, &token).await, id: alice_id, token: None };
    let fresh = Chatroulette::resumed(&mut alice).await;
    let text = http_get(server.addr, "/metrics").await;
    assert_eq!(metric(&text, "switchboard_sessions_held", &[]), 0.0);
    assert_eq!(metric(&text, "switchboard_resumes_total", &[]), 1.0);

    // Held again: two events overflow a buffer of one.
    alice.client.drop_connection();
    server.wait_for_held(1).await;
    for n in 0..2 {
        Chatroulette::send_ice(&mut bob, &alice.id, n).await;
    }
    assert_eq!(bob.client.recv().await, Chatroulette::disconnected(&alice.id).unwrap());
    let text = http_get(server.addr, "/metrics").await;
    assert_eq!(metric(&text, "switchboard_held_sessions_expired_total", &[("cause", "buffer")]), 1.0);
    assert_eq!(metric(&text, "switchboard_held_sessions_expired_total", &[("cause", "window")]), 0.0);
    expect_refused::<Chatroulette>(&server, &fresh).await;

    // And once more, for the window.
    let mut carol = Chatroulette::join(&server, "carol", true).await;
    let token = carol.token.take().unwrap();
    carol.client.drop_connection();
    server.wait_for_held(1).await;
    server.clock.advance(WINDOW);
    server.wait_for_held(0).await;
    let text = http_get(server.addr, "/metrics").await;
    assert_eq!(metric(&text, "switchboard_held_sessions_expired_total", &[("cause", "window")]), 1.0);
    expect_refused::<Chatroulette>(&server, &token).await;
    server.stop().await;
}

/// A held session keeps its place under `--max-sessions`: connections that
/// drop cannot pile up sessions past the cap. Its place comes back when it
/// ends.
#[tokio::test]
async fn a_held_session_counts_against_the_session_cap() {
    let config = Config { max_sessions: 2, ..Config::default() };
    let server = TestServer::start_with(config).await;
    let alice = Chatroulette::join(&server, "alice", true).await;
    let _bob = Chatroulette::join(&server, "bob", false).await;
    let (_, token) = drop_alice(&server, alice).await;
    let mut third = server.chatroulette().await;
    let refused = third.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(refused.code), 1013, "the node is full: alice's held session has its place");
    // Resuming needs a place too, and the held session gives its own back.
    server.clock.advance(WINDOW);
    server.wait_for_held(0).await;
    expect_refused::<Chatroulette>(&server, &token).await;
    Chatroulette::join(&server, "carol", false).await;
    server.stop().await;
}

/// An Engine.IO 4 client over WebSocket, frame by frame: enough of
/// socket.io to drive tringtring on the manual clock (the real clients'
/// tests are in tests/node, on real time).
struct RawSocketIo {
    client: Client,
    sid: String,
}

impl RawSocketIo {
    async fn connect(server: &TestServer, query: &str) -> Self {
        let mut client =
            Client::connect(&format!("ws://{}/socket.io/?EIO=4&transport=websocket{query}", server.addr)).await;
        assert!(client.recv_text().await.starts_with("0{"), "Engine.IO's open packet");
        client.send_text("40").await;
        let mut connected = client.recv_text().await;
        while connected == "2" {
            client.send_text("3").await;
            connected = client.recv_text().await;
        }
        let sid = connected.strip_prefix("40").and_then(|rest| serde_json::from_str::<Value>(rest).ok());
        let sid = sid.and_then(|body| body["sid"].as_str().map(str::to_owned));
        let sid = sid.unwrap_or_else(|| panic!("expected 40{{\"sid\":…}}, got {connected}"));
        Self { client, sid }
    }

    async fn emit(&mut self, event: &str, data: Value) {
        self.client.send_text(&format!("42{}", json!([event, data]))).await;
    }

    /// The next event, answering Engine.IO pings on the way.
    async fn event(&mut self) -> (String, Value) {
        loop {
            let text = self.client.recv_text().await;
            if text == "2" {
                self.client.send_text("3").await;
                continue;
            }
            let packet: Value = serde_json::from_str(text.strip_prefix("42").expect("an event packet")).unwrap();
            return (packet[0].as_str().unwrap().to_owned(), packet[1].clone());
        }
    }
}

/// tringtring (socket.io): the window passes on the manual clock, and the
/// other peer hears `user-left` at its end and not before.
#[tokio::test]
async fn tringtring_window_passes_at_its_end() {
    let server = TestServer::start().await;
    let mut bob = RawSocketIo::connect(&server, "").await;
    bob.emit("join", json!({"room_id": "resume-room", "peer_name": "bob"})).await;
    // Answered after the join, which is then in: bob is in the room first.
    bob.emit("offer", json!({"to": "nobody"})).await;
    assert_eq!(bob.event().await.0, "error");
    let mut alice = RawSocketIo::connect(&server, "&resume=1").await;
    let (event, session) = alice.event().await;
    assert_eq!(event, "session");
    let token = session["resume"].as_str().expect("a token").to_owned();
    alice.emit("join", json!({"room_id": "resume-room", "peer_name": "alice"})).await;
    assert_eq!(bob.event().await.0, "user-arrived");
    assert_eq!(bob.event().await.0, "user-joined");
    let alice_id = alice.sid.clone();
    alice.client.drop_connection();
    server.wait_for_held(1).await;

    server.clock.advance(WINDOW - Duration::from_millis(1));
    // bob's next event answers his own bad offer: nobody left.
    bob.emit("offer", json!({"to": "nobody"})).await;
    assert_eq!(bob.event().await.0, "error");
    server.wait_for_held(1).await;
    server.clock.advance(Duration::from_millis(1));
    server.wait_for_held(0).await;
    assert_eq!(bob.event().await, ("user-left".to_owned(), json!({"peer_id": alice_id})));
    let mut late = RawSocketIo::connect(&server, &format!("&resume={token}")).await;
    let (event, refusal) = late.event().await;
    assert_eq!((event.as_str(), &refusal["code"]), ("error", &json!(4004)));
    server.stop().await;
}
