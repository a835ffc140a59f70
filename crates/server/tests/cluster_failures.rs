//! Nodes that die or stop, as real `switchboard` processes sharing a real
//! `redis-server`: SIGKILL and SIGTERM.

mod support;

use serde_json::json;
use support::binary::{self, Running};
use support::redis_server::RedisServer;
use support::*;

fn node(redis: &RedisServer, id: &str, node_timeout: &str) -> (Running, String, binary::Logs) {
    let url = redis.url();
    let (running, addr, _, logs) =
        binary::start(&["--redis-url", &url, "--node-id", id, "--node-timeout", node_timeout]);
    (running, addr, logs)
}

async fn connect_as(addr: &str, name: &str) -> Client {
    chatroulette_as(addr, name).await
}

/// A calling client past its `hello`, and its user id.
async fn calling_on(addr: &str) -> (Client, String) {
    let mut client = Client::connect(&format!("ws://{addr}/ws/calling")).await;
    let hello = client.recv().await;
    assert_eq!(hello["type"], "hello", "{hello}");
    (client, hello["id"].as_str().expect("an id").to_owned())
}

/// A chatroulette call between `caller` and `callee`, answered.
async fn in_a_call(caller: &mut Client, callee: &mut Client, (from, to): (&str, &str)) {
    caller.send(json!({"type":"REQUEST_CALL","payload":{"to":to}})).await;
    assert_eq!(callee.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":from}}));
    callee.send(json!({"type":"ACCEPT_CALL","payload":{"from":from}})).await;
    assert_eq!(caller.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":to}}));
}

/// A node killed with SIGKILL: within the node timeout the other party of
/// its call hears the call ended (`disconnected`), and its user's name is
/// free again; a call wholly on the surviving nodes goes on.
#[tokio::test]
async fn a_killed_node_ends_its_calls_and_frees_its_names() {
    let redis = RedisServer::start().await;
    let (_a, addr_a, _logs_a) = node(&redis, "kill-a", "4s");
    let (b, addr_b, _logs_b) = node(&redis, "kill-b", "4s");
    let (_c, addr_c, _logs_c) = node(&redis, "kill-c", "4s");
    redis.wait_for_nodes(&["kill-a", "kill-b", "kill-c"]).await;
    let mut alice = connect_as(&addr_a, "alice").await;
    let mut bob = connect_as(&addr_b, "bob").await;
    let mut carol = connect_as(&addr_a, "carol").await;
    let mut dave = connect_as(&addr_c, "dave").await;
    in_a_call(&mut alice, &mut bob, ("alice", "bob")).await;
    in_a_call(&mut carol, &mut dave, ("carol", "dave")).await;

    b.signal("-KILL");
    // Waits for the event; PATIENCE bounds it well past the 4 s timeout.
    assert_eq!(alice.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"bob","reason":"disconnected"}}));
    let _bob_again = connect_as(&addr_c, "bob").await;

    // carol (node A) and dave (node C) never touched node B.
    let offer = json!({"type":"offer","sdp":"v=0\r\n"});
    carol.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"dave","sdp":offer}})).await;
    assert_eq!(dave.recv().await, json!({"type":"CALLER_DESCRIPTOR_RECEIVED","payload":{"from":"carol","sdp":offer}}));
    dave.send(json!({"type":"HANG_UP","payload":{"to":"carol"}})).await;
    assert_eq!(carol.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"dave","reason":"hangup"}}));
}

/// A node stopped with SIGTERM frees its users' names as it exits, not
/// after the node timeout (a minute here, longer than the test waits).
#[tokio::test]
async fn a_stopped_node_frees_its_names_at_once() {
    let redis = RedisServer::start().await;
    let (a, addr_a, logs_a) = node(&redis, "term-a", "60s");
    let (_b, addr_b, _logs_b) = node(&redis, "term-b", "60s");
    redis.wait_for_nodes(&["term-a", "term-b"]).await;
    let _bob = connect_as(&addr_a, "bob").await;
    let mut other = Client::connect(&format!("ws://{addr_b}/ws/chatroulette")).await;
    other.send(json!({"type":"CONNECT","payload":{"as":"bob"}})).await;
    assert_eq!(other.recv().await, json!({"type":"USERNAME_TAKEN","payload":{"as":"bob"}}));

    binary::stop(a, logs_a).await;
    let _bob_again = connect_as(&addr_b, "bob").await;
}

/// A node killed and started again under the same id: what the killed
/// process held in Redis goes at the new start, so its users' names are
/// free at once, not held by sessions that no longer exist.
#[tokio::test]
async fn a_node_restarted_under_its_id_does_not_keep_its_dead_names() {
    let redis = RedisServer::start().await;
    let (_a, addr_a, _logs_a) = node(&redis, "again-a", "60s");
    let (b, addr_b, _logs_b) = node(&redis, "again-b", "60s");
    redis.wait_for_nodes(&["again-a", "again-b"]).await;
    let _bob = connect_as(&addr_b, "bob").await;
    b.signal("-KILL");
    let _ = b.exit().await;
    let (_b, _addr_b, _logs_b) = node(&redis, "again-b", "60s");
    redis.wait_for_nodes(&["again-a", "again-b"]).await;
    let _bob_again = connect_as(&addr_a, "bob").await;
}

/// A node killed and started again at once under its id, long before the
/// others would miss it (the node timeout is a minute, past the test's
/// patience): the new process tells them it started again, and the other
/// party of its former user's call hears the call ended (`disconnected`)
/// at once. Found by the chaos run (`switchboard-bench chaos`), where a
/// restarted node's calls went on for ever on the other side.
#[tokio::test]
async fn a_node_restarted_at_once_ends_its_former_calls() {
    let redis = RedisServer::start().await;
    let (_a, addr_a, _logs_a) = node(&redis, "quick-a", "60s");
    let (b, addr_b, _logs_b) = node(&redis, "quick-b", "60s");
    redis.wait_for_nodes(&["quick-a", "quick-b"]).await;
    let mut alice = connect_as(&addr_a, "alice").await;
    let mut bob = connect_as(&addr_b, "bob").await;
    in_a_call(&mut alice, &mut bob, ("alice", "bob")).await;

    b.signal("-KILL");
    let _ = b.exit().await;
    let (_b, _addr_b, _logs_b) = node(&redis, "quick-b", "60s");
    assert_eq!(alice.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"bob","reason":"disconnected"}}));
}

/// A room dies with the node that holds it: its members on other nodes
/// hear each peer leave, as from a room of a live node, rather than
/// nothing until they act. Found by the chaos run: a calling callee whose
/// caller's node was killed stayed in the room with nobody.
#[tokio::test]
async fn a_killed_nodes_rooms_tell_their_members_elsewhere_that_their_peers_left() {
    let redis = RedisServer::start().await;
    let (a, addr_a, _logs_a) = node(&redis, "home-a", "4s");
    let (_b, addr_b, _logs_b) = node(&redis, "home-b", "4s");
    redis.wait_for_nodes(&["home-a", "home-b"]).await;
    let (mut alice, alice_id) = calling_on(&addr_a).await;
    let (mut bob, _) = calling_on(&addr_b).await;
    ask(&mut alice, json!({"type":"room_join","room":"den"}), 1).await;
    let joined = ask(&mut bob, json!({"type":"room_join","room":"den"}), 1).await;
    assert_eq!(joined["data"]["peers"].as_object().unwrap().len(), 1, "{joined}");

    a.signal("-KILL");
    // Waits for the event; PATIENCE bounds it well past the 4 s timeout.
    assert_eq!(bob.recv().await, json!({"type":"room_peer_rm","room":"den","user":alice_id}));
}
