//! Several nodes over a real `redis-server`: in-process nodes sharing one
//! Redis, with real WebSocket clients on different nodes.

mod support;

use serde_json::json;
use support::redis_server::{RedisServer, cluster, node_config};
use support::*;
use switchboard_server::Config;

async fn connect_as(server: &TestServer, name: &str) -> Client {
    chatroulette_as(&server.addr.to_string(), name).await
}

/// A chatroulette call with its parties on two nodes goes exactly as on
/// one: ring, accept, SDP both ways, trickle ICE both ways, hang-up; and
/// nothing is left on either node after it.
#[tokio::test]
async fn a_chatroulette_call_between_two_nodes() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["node-a", "node-b"]).await;
    let mut alice = connect_as(&nodes[0], "alice").await;
    let mut bob = connect_as(&nodes[1], "bob").await;

    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"alice"}}));
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":"bob"}}));

    let offer = json!({"type":"offer","sdp":"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"});
    alice.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"bob","sdp":offer}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALLER_DESCRIPTOR_RECEIVED","payload":{"from":"alice","sdp":offer}}));
    let answer = json!({"type":"answer","sdp":"v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\n"});
    bob.send(json!({"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{"to":"alice","sdp":answer}})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from":"bob","sdp":answer}})
    );
    for n in 0..3 {
        let candidate = json!({"candidate": format!("candidate:{n} 1 udp 1 127.0.0.1 5000{n} typ host"), "sdpMid":"0", "sdpMLineIndex":0});
        alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"bob","candidate":candidate}})).await;
        assert_eq!(
            bob.recv().await,
            json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"alice","candidate":candidate}})
        );
        bob.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"alice","candidate":candidate}})).await;
        assert_eq!(
            alice.recv().await,
            json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"bob","candidate":candidate}})
        );
    }

    bob.send(json!({"type":"HANG_UP","payload":{"to":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"bob","reason":"hangup"}}));
    // Each node counts what crossed Redis, under its own node label:
    // node A sent the ring, the offer and three candidates, and received
    // the answer to the ring, the SDP answer, three candidates and the
    // hang-up (a message or two more may be in flight).
    let scrape = support::prometheus::parse(&http_get(nodes[0].addr, "/metrics").await);
    let node_a = [("node", "node-a")];
    assert!(support::prometheus::sum(&scrape, "switchboard_cluster_messages_sent_total", &node_a) >= 5.0);
    assert!(support::prometheus::sum(&scrape, "switchboard_cluster_messages_received_total", &node_a) >= 5.0);
    assert_eq!(support::prometheus::sum(&scrape, "switchboard_cluster_redis_up", &node_a), 1.0);
    // The stand-ins are gone after the hang-up: each core holds its own
    // user only (each check is a round trip through that node's driver).
    for node in &nodes {
        let stats = node.driver.stats().await.unwrap();
        assert_eq!((stats.sessions, stats.users, stats.rooms, stats.invites), (1, 1, 0, 0), "{stats:?}");
    }
    for node in nodes {
        node.stop().await;
    }
}

/// Busy holds across nodes: a user in a call on one node is busy to a
/// caller on a third, and a caller in a call cannot ring anyone elsewhere.
#[tokio::test]
async fn busy_holds_across_nodes() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["busy-a", "busy-b", "busy-c"]).await;
    let mut alice = connect_as(&nodes[0], "alice").await;
    let mut bob = connect_as(&nodes[1], "bob").await;
    let mut carol = connect_as(&nodes[2], "carol").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"alice"}}));

    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(carol.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"bob","reason":"busy"}}));
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"alice"}})).await;
    assert_eq!(carol.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"alice","reason":"busy"}}));

    // The caller's side ends it: the callee hears the cancel on its node.
    alice.send(json!({"type":"CANCEL_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_CANCELLED","payload":{"by":"alice"}}));
    for node in nodes {
        node.stop().await;
    }
}

/// Ten clients on three nodes claim one name at once: exactly one gets it,
/// the others get chatroulette's own `USERNAME_TAKEN`.
#[tokio::test]
async fn one_name_claimed_at_once_on_three_nodes_goes_to_exactly_one() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["race-a", "race-b", "race-c"]).await;
    let mut clients = Vec::new();
    for n in 0..10 {
        clients.push(nodes[n % 3].chatroulette().await);
    }
    for client in &mut clients {
        client.send(json!({"type":"CONNECT","payload":{"as":"zoe"}})).await;
    }
    let mut granted = 0;
    for client in &mut clients {
        let answer = client.recv().await;
        if answer == json!({"type":"CONNECTED","payload":{"as":"zoe"}}) {
            granted += 1;
        } else {
            assert_eq!(answer, json!({"type":"USERNAME_TAKEN","payload":{"as":"zoe"}}));
        }
    }
    assert_eq!(granted, 1);
    for node in nodes {
        node.stop().await;
    }
}

/// Redis dies and comes back empty: no node exits; a request that needs
/// Redis meanwhile gets a clear error in its dialect; a call wholly on one
/// node goes on; once Redis is back the nodes announce themselves and
/// claim their names again by themselves, and calls across nodes work.
#[tokio::test]
async fn a_redis_restart_is_survived() {
    let mut redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["outage-a", "outage-b"]).await;
    let mut alice = connect_as(&nodes[0], "alice").await;
    let mut carol = connect_as(&nodes[0], "carol").await;
    let mut bob = connect_as(&nodes[1], "bob").await;

    // A calling room wholly on node A, made before the outage.
    let (mut erin, _) = nodes[0].calling().await;
    let (mut frank, frank_id) = nodes[0].calling().await;
    ask(&mut erin, json!({"type":"room_join","room":"local"}), 1).await;
    ask(&mut frank, json!({"type":"room_join","room":"local"}), 1).await;
    let _joined = erin.recv().await;

    redis.kill();
    // Its relays need no Redis.
    let sent = json!({"type":"room_peer_to","room":"local","user":frank_id,"event":"hello","data":{"n":2}});
    ask(&mut erin, sent, 2).await;
    assert_eq!(frank.recv().await["data"], json!({"n":2}));
    let mut dave = nodes[1].chatroulette().await;
    dave.send(json!({"type":"CONNECT","payload":{"as":"dave"}})).await;
    let refused = dave.recv().await;
    assert_eq!(refused["type"], "ERROR", "{refused}");
    assert!(refused["payload"]["message"].as_str().unwrap().contains("cluster is unreachable"), "{refused}");

    // alice and carol share node A: their call needs no Redis.
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"carol"}})).await;
    assert_eq!(carol.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"alice"}}));
    carol.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":"carol"}}));
    carol.send(json!({"type":"HANG_UP","payload":{"to":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"carol","reason":"hangup"}}));

    redis.restart().await;
    redis.wait_for_nodes(&["outage-a", "outage-b"]).await;
    // bob's name comes back with node B's first announcement to the empty
    // Redis; then a call from node A finds him.
    redis.wait_for_name("bob").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"alice"}}));
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":"bob"}}));
    for node in nodes {
        node.stop().await;
    }
}

/// socket.io's long-polling needs sticky sessions in a cluster: a node
/// asked to poll a session it does not hold answers with Engine.IO's own
/// error, and goes on serving.
#[tokio::test]
async fn a_poll_for_a_session_of_another_node_gets_engine_io_s_error() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["poll-a", "poll-b"]).await;
    let mut stream = tokio::net::TcpStream::connect(nodes[0].addr).await.unwrap();
    let request = format!(
        "GET /socket.io/?EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        nodes[0].addr
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("Session ID unknown"), "{response}");
    let _still_serving = connect_as(&nodes[0], "alice").await;
    for node in nodes {
        node.stop().await;
    }
}

/// calling's rooms and namespaces with members on three nodes: the room and
/// the namespace each live on the node that made them, and members of the
/// other nodes act there, each hearing what it would on one node.
#[tokio::test]
async fn calling_rooms_and_namespaces_across_nodes() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["calling-a", "calling-b", "calling-c"]).await;
    let (mut alice, alice_id) = nodes[0].calling().await;
    let (mut bob, bob_id) = nodes[1].calling().await;
    let (mut carol, carol_id) = nodes[2].calling().await;

    // A namespace on node C, subscribed from node A; bob (node B) lists
    // himself in it, and alice hears it.
    let answer = ask(&mut carol, json!({"type":"ns_subscribe","namespace":"lobby"}), 1).await;
    assert_eq!(answer["data"], json!({"users":{},"rooms":{}}), "{answer}");
    let answer = ask(&mut alice, json!({"type":"ns_subscribe","namespace":"lobby"}), 1).await;
    assert_eq!(answer["data"], json!({"users":{},"rooms":{}}), "{answer}");
    ask(&mut bob, json!({"type":"ns_user_register","namespace":"lobby"}), 1).await;
    let added = json!({"type":"ns_user_add","namespace":"lobby","user":bob_id,"status":{}});
    assert_eq!(alice.recv().await, added);
    assert_eq!(carol.recv().await, added);
    // His status reaches the namespace's node too.
    ask(&mut bob, json!({"type":"status","status":{"away":true}}), 2).await;
    for subscriber in [&mut alice, &mut carol] {
        for kind in ["ns_user_update", "user_update"] {
            let update = json!({"type":kind,"namespace":"lobby","user":bob_id,"status":{"away":true}});
            assert_eq!(subscriber.recv().await, update);
        }
    }

    // A room made on node A, joined from B and C.
    ask(&mut alice, json!({"type":"room_join","room":"r"}), 2).await;
    let answer = ask(&mut bob, json!({"type":"room_join","room":"r"}), 3).await;
    assert_eq!(answer["data"]["peers"].as_object().unwrap().len(), 1, "{answer}");
    let joined = alice.recv().await;
    assert_eq!(
        (joined["type"].as_str(), joined["user"].as_str()),
        (Some("room_peer_add"), Some(bob_id.as_str())),
        "{joined}"
    );
    ask(&mut carol, json!({"type":"room_join","room":"r"}), 2).await;
    for member in [&mut alice, &mut bob] {
        let joined = member.recv().await;
        assert_eq!(joined["user"], json!(carol_id), "{joined}");
    }

    // room_status compare-and-set, decided on the room's node: of two sets
    // that both expect the key unset, the second is refused.
    let first = json!({"type":"room_status","room":"r","key":"lock","value":"bob","check":true});
    assert!(ask(&mut bob, first, 4).await.get("error").is_none());
    for member in [&mut alice, &mut carol] {
        assert_eq!(member.recv().await, json!({"type":"room_update","room":"r","status":{"lock":"bob"}}));
    }
    let second = json!({"type":"room_status","room":"r","key":"lock","value":"carol","check":true});
    let refused = ask(&mut carol, second, 3).await;
    assert!(refused["error"].is_string(), "{refused}");

    // A relay between two members of other nodes than the room's.
    let sent = json!({"type":"room_peer_to","room":"r","user":carol_id,"event":"hello","data":{"n":1}});
    ask(&mut bob, sent, 5).await;
    let got = carol.recv().await;
    assert_eq!((got["user"].as_str(), got["data"].clone()), (Some(bob_id.as_str()), json!({"n":1})), "{got}");

    // bob disconnects: the room and the namespace hear he left.
    drop(bob);
    let left = alice.recv().await;
    assert_eq!(left["user"], json!(bob_id), "{left}");
    let _ = alice_id;
    for node in nodes {
        node.stop().await;
    }
}

fn ecall_device(server: &TestServer, user: &str, client: &str) -> String {
    format!("ws://{}/ws/ecall?user={user}&client={client}", server.addr)
}

/// ecall with one user's devices on two nodes: a message reaches every
/// device, on every node, or just the one named; and a message for a user
/// online nowhere is held and handed to it when it connects to another node.
#[tokio::test]
async fn ecall_devices_on_several_nodes_and_messages_held_for_an_offline_user() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["ecall-a", "ecall-b", "ecall-c"]).await;
    let mut alice = Client::connect(&ecall_device(&nodes[0], "alice", "phone")).await;
    let mut bob_laptop = Client::connect(&ecall_device(&nodes[1], "bob", "laptop")).await;
    let mut bob_phone = Client::connect(&ecall_device(&nodes[2], "bob", "phone")).await;
    // Each device's first frames: ecall's hello, if any. A ping-pong proves
    // the registration is through before the test goes on.
    redis.wait_for_name("bob").await;
    redis.wait_for_name("alice").await;

    let setup = r#"{"version":"3.0","resp":false,"sessid":"s1","type":"SETUP","props":{},"sdp":"v=0"}"#;
    alice.send(json!({"type":"calling","to":"bob","content":setup})).await;
    let expected = json!({"type":"calling","from":"alice","from_client":"phone","content":setup});
    assert_eq!(bob_laptop.recv().await, expected);
    assert_eq!(bob_phone.recv().await, expected);

    // To one device: only that one, wherever it is.
    let hangup = r#"{"version":"3.0","resp":false,"sessid":"s1","type":"HANGUP"}"#;
    alice.send(json!({"type":"calling","to":"bob","to_client":"phone","content":hangup})).await;
    assert_eq!(bob_phone.recv().await, json!({"type":"calling","from":"alice","from_client":"phone","content":hangup}));
    // And back from bob's laptop: alice hears it (and bob's phone, his
    // own other device, sees what he sent).
    let reply = r#"{"version":"3.0","resp":true,"sessid":"s1","type":"HANGUP"}"#;
    bob_laptop.send(json!({"type":"calling","to":"alice","content":reply})).await;
    let from_laptop = json!({"type":"calling","from":"bob","from_client":"laptop","content":reply});
    assert_eq!(alice.recv().await, from_laptop);
    assert_eq!(bob_phone.recv().await, from_laptop);

    // carol is online nowhere: held on node A, then delivered on node C.
    let for_carol = r#"{"version":"3.0","resp":false,"sessid":"s2","type":"SETUP","props":{},"sdp":"v=0"}"#;
    alice.send(json!({"type":"calling","to":"carol","content":for_carol})).await;
    // The hold is noted in Redis once the message is held.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut connection = redis.connection().await.expect("redis answers");
        let held: bool = redis::AsyncCommands::exists(&mut connection, "sb:mail:carol").await.unwrap();
        if held {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the hold was not noted");
        tokio::task::yield_now().await;
    }
    let mut carol = Client::connect(&ecall_device(&nodes[2], "carol", "tablet")).await;
    assert_eq!(carol.recv().await, json!({"type":"calling","from":"alice","from_client":"phone","content":for_carol}));
    for node in nodes {
        node.stop().await;
    }
}

/// A call across dialects and nodes: a chatroulette user on node A rings a
/// calling user on node B, as on one node (tests/calling.rs): an invite
/// rings, SDP and ICE cross both ways, and leaving the room hangs up.
#[tokio::test]
async fn a_chatroulette_user_calls_a_calling_user_on_another_node() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["mixed-a", "mixed-b"]).await;
    let mut alice = connect_as(&nodes[0], "alice").await;
    let (mut bob, bob_id) = nodes[1].calling().await;
    redis.wait_for_name(&bob_id).await;

    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":bob_id}})).await;
    let invite = bob.recv().await;
    assert_eq!(
        (invite["type"].as_str(), invite["sender"].as_str()),
        (Some("invite_incoming"), Some("alice")),
        "{invite}"
    );
    let (handle, room) = (invite["handle"].clone(), invite["room"].as_str().unwrap().to_owned());
    ask(&mut bob, json!({"type":"invite_accept","handle":handle,"status":{}}), 1).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":bob_id}}));

    let offer = json!({"type":"offer","sdp":"v=0\r\n"});
    alice.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":bob_id,"sdp":offer}})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type":"room_peer_from","room":room,"user":"alice","event":"signaling","data":offer})
    );
    let answer = json!({"type":"answer","sdp":"v=0\r\n"});
    ask(&mut bob, json!({"type":"room_peer_to","room":room,"user":"alice","event":"signaling","data":answer}), 2).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from":bob_id,"sdp":answer}})
    );
    let candidate = json!({"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"});
    ask(
        &mut bob,
        json!({"type":"room_peer_to","room":room,"user":"alice","event":"ice_candidate","data":candidate}),
        3,
    )
    .await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":bob_id,"candidate":candidate}})
    );

    ask(&mut bob, json!({"type":"room_leave","room":room}), 4).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ENDED","payload":{"by":bob_id,"reason":"hangup"}}));
    for node in nodes {
        node.stop().await;
    }
}

/// The ring timeout holds across nodes: each node's core times out its own
/// party, on its own clock, and both hear `timeout` as on one node, once.
/// Only the caller's node's clock moves here: the callee's node hears the
/// timeout over the link.
#[tokio::test]
async fn the_ring_timeout_holds_across_nodes() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["ring-a", "ring-b"]).await;
    let mut alice = connect_as(&nodes[0], "alice").await;
    let mut bob = connect_as(&nodes[1], "bob").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await["type"], "CALL_REQUESTED");
    nodes[0].clock.advance(std::time::Duration::from_secs(30));
    assert_eq!(alice.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"bob","reason":"timeout"}}));
    assert_eq!(bob.recv().await, json!({"type":"CALL_CANCELLED","payload":{"by":"alice","reason":"timeout"}}));
    // The other clock catches up: its core has nothing left to time out.
    nodes[1].clock.advance(std::time::Duration::from_secs(30));
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await["type"], "CALL_REQUESTED", "bob is free again, and heard nothing more");
    for node in nodes {
        node.stop().await;
    }
}

/// The empty-room TTL holds across nodes: a room lives on one node, whose
/// clock ends it; a member of another node finds it gone after the TTL.
#[tokio::test]
async fn the_empty_room_ttl_holds_across_nodes() {
    let redis = RedisServer::start().await;
    let hour = std::time::Duration::from_secs(3600);
    let mut servers = Vec::new();
    for node in ["ttl-a", "ttl-b"] {
        let config = Config { ws_ping_after: hour, ws_idle_timeout: 2 * hour, ..node_config(&redis, node) };
        servers.push(TestServer::start_with(config).await);
    }
    redis.wait_for_nodes(&["ttl-a", "ttl-b"]).await;
    let (mut alice, _) = servers[0].calling().await;
    let (mut bob, _) = servers[1].calling().await;
    ask(&mut alice, json!({"type":"room_join","room":"kept"}), 1).await;
    ask(&mut alice, json!({"type":"room_status","room":"kept","key":"topic","value":"rust"}), 2).await;
    ask(&mut alice, json!({"type":"room_leave","room":"kept"}), 3).await;
    // 9:59 on the room's node: bob, on node B, finds it with its status.
    servers[0].clock.advance(std::time::Duration::from_secs(599));
    let answer = ask(&mut bob, json!({"type":"room_join","room":"kept"}), 1).await;
    assert_eq!(answer["data"]["status"], json!({"topic":"rust"}));
    ask(&mut bob, json!({"type":"room_leave","room":"kept"}), 2).await;
    // Ten minutes after it emptied again, it is gone.
    servers[0].clock.advance(std::time::Duration::from_secs(600));
    let answer = ask(&mut bob, json!({"type":"room_status","room":"kept","key":"k","value":1}), 3).await;
    assert_eq!(answer["error"], "Room does not exist");
    for server in servers {
        server.stop().await;
    }
}

/// A name the server draws is claimed across the cluster before its
/// session is told it, so a user of another node may invite a calling user
/// the moment its `hello` arrives. Found by the chaos run, where the claim
/// came just after the `hello` and an invite in between was refused ("no
/// user"). Redis holds its writes for a moment here (`CLIENT PAUSE`), so
/// the `hello` can only come once the claim is in.
#[tokio::test]
async fn a_drawn_calling_id_is_claimed_before_its_hello() {
    let redis = RedisServer::start().await;
    let nodes = cluster(&redis, &["drawn-a", "drawn-b"]).await;
    let mut watcher = redis.connection().await.expect("redis answers");
    let paused: String =
        redis::cmd("CLIENT").arg("PAUSE").arg(300).arg("WRITE").query_async(&mut watcher).await.unwrap();
    assert_eq!(paused, "OK");
    let (mut bob, bob_id) = nodes[1].calling().await;
    let holders: i64 = redis::cmd("HLEN").arg(format!("sb:user:{bob_id}")).query_async(&mut watcher).await.unwrap();
    assert_eq!(holders, 1, "{bob_id} was told its name before the cluster knew it");

    let (mut alice, _) = nodes[0].calling().await;
    let joined = ask(&mut alice, json!({"type":"room_join","status":{}}), 1).await;
    let room = joined["data"]["room"].as_str().expect("a room").to_owned();
    alice.send(json!({"type":"invite_send","tid":2,"room":room,"user":bob_id,"data":{}})).await;
    assert_eq!(bob.recv().await["type"], "invite_incoming");
    for node in nodes {
        node.stop().await;
    }
}
