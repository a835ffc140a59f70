//! Calls between cloudkibo phones (socket.io, as CloudKibo's Android client
//! sends its events) and chatroulette or calling users, over real sockets:
//! the server plays cloudkibo's media room for the other party, so the SDP
//! and ICE cross as `msg` on one side and the other dialect's own frames on
//! the other (Step 13).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::signals::{candidate, kibo_candidate, kibo_status as status, sdp};
use support::socketio::Sio;
use support::*;

/// A cloudkibo socket registered as `phone`.
async fn phone(server: &TestServer, phone: &str) -> Sio {
    let mut sio = Sio::connect(server.addr).await;
    sio.emit("join global chatroom", json!({"room": "globalchatroom", "user": {"phone": phone, "_id": phone}})).await;
    assert_eq!(sio.expect("youareonline").await, json!([]));
    sio
}

fn call_message(to: &str, callerphone: &str, calleephone: &str, status: &str) -> Value {
    json!({"to": to, "msg": {"callerphone": callerphone, "calleephone": calleephone, "type": "call", "status": status}})
}

#[tokio::test]
async fn a_chatroulette_user_calls_a_cloudkibo_phone_and_media_is_negotiated_through_its_room() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut kibo = phone(&server, "+2").await;

    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"+2"}})).await;
    let ring = kibo.expect("areyoufreeforcall").await;
    assert_eq!((&ring["callerphone"], &ring["calleephone"]), (&json!("alice"), &json!("+2")), "{ring}");
    // Trickle ICE may start while the call rings: it waits for the phone too.
    alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"+2","candidate":candidate(0)}})).await;

    // What the Android client sends at once, then on the user's answer.
    kibo.emit("message", call_message("alice", "alice", "+2", "calleeisavailable")).await;
    kibo.emit("message", call_message("alice", "alice", "+2", "callaccepted")).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":"+2"}}));
    let named = kibo.expect("message").await;
    assert_eq!(
        (&named["type"], &named["callerphone"], &named["calleephone"]),
        (&json!("room_name"), &json!("alice"), &json!("+2"))
    );
    let room = named["room_name"].as_str().expect("a room name").to_owned();

    // alice offers before the phone has joined the media room: it is held.
    alice.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"+2","sdp":sdp("offer")}})).await;
    alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"+2","candidate":candidate(1)}})).await;
    let ack = kibo.emit_with_ack("init", json!({"room": room, "username": "+2"})).await;
    assert_eq!(kibo.expect_ack(ack).await, vec![json!(room), json!(2), json!(false)]);
    let early = json!({"to": 2, "by": 1, "username": "alice", "type": "ice", "ice": kibo_candidate(0)});
    assert_eq!(kibo.expect("msg").await, early);
    assert_eq!(
        kibo.expect("msg").await,
        json!({"to": 2, "by": 1, "username": "alice", "type": "offer", "sdp": sdp("offer")})
    );
    assert_eq!(
        kibo.expect("msg").await,
        json!({"to": 2, "by": 1, "username": "alice", "type": "ice", "ice": kibo_candidate(1)})
    );

    // The phone answers and trickles; alice hears her own dialect only.
    kibo.emit("msg", json!({"to": 1, "by": 2, "type": "answer", "sdp": sdp("answer")})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from":"+2","sdp":sdp("answer")}})
    );
    kibo.emit("msg", json!({"to": 1, "by": 2, "type": "ice", "ice": kibo_candidate(2)})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"+2","candidate":candidate(2)}})
    );
    alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"+2","candidate":candidate(3)}})).await;
    assert_eq!(
        kibo.expect("msg").await,
        json!({"to": 2, "by": 1, "username": "alice", "type": "ice", "ice": kibo_candidate(3)})
    );

    // The phone hangs up.
    kibo.emit("message", call_message("alice", "alice", "+2", "callended")).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"+2","reason":"hangup"}}));
    let stats = server.driver.stats().await.unwrap();
    assert_eq!((stats.rooms, stats.invites), (0, 0));
    server.stop().await;
}

#[tokio::test]
async fn a_cloudkibo_phone_calls_a_chatroulette_user_and_offers_when_the_room_shows_its_peer() {
    let server = TestServer::start().await;
    let mut kibo = phone(&server, "+1").await;
    let mut bob = server.online_short("bob").await;

    let ack = kibo
        .emit_with_ack("callthisperson", json!({"room": "globalchatroom", "callerphone": "+1", "calleephone": "bob"}))
        .await;
    assert_eq!(kibo.expect_ack(ack).await, vec![json!({"status": "ok", "calleephone": "bob"})]);
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":"+1"}));
    bob.send(json!({"type":"ac","payload":"+1"})).await;
    assert_eq!(kibo.expect("message").await, status("+1", "bob", "callaccepted"));

    // The caller names its media room and joins it: the server shows bob in it.
    kibo.emit("message", json!({"to": "bob", "msg": {"callerphone": "+1", "calleephone": "bob", "type": "room_name", "room_name": "kibo-7"}})).await;
    let ack = kibo.emit_with_ack("init", json!({"room": "kibo-7", "username": "+1"})).await;
    assert_eq!(kibo.expect_ack(ack).await, vec![json!("kibo-7"), json!(1), json!(false)]);
    assert_eq!(kibo.expect("peer.connected").await, json!({"id": 2, "username": "bob"}));

    kibo.emit("msg", json!({"to": 2, "by": 1, "type": "offer", "sdp": sdp("offer")})).await;
    assert_eq!(bob.recv().await, json!({"type":"cdr","payload":{"from":"+1","sdp":sdp("offer")}}));
    bob.send(json!({"type":"srd","payload":{"to":"+1","sdp":sdp("answer")}})).await;
    assert_eq!(
        kibo.expect("msg").await,
        json!({"to": 1, "by": 2, "username": "bob", "type": "answer", "sdp": sdp("answer")})
    );
    kibo.emit("msg", json!({"to": 2, "by": 1, "type": "ice", "ice": kibo_candidate(4)})).await;
    assert_eq!(bob.recv().await, json!({"type":"icr","payload":{"from":"+1","candidate":candidate(4)}}));
    bob.send(json!({"type":"sic","payload":{"to":"+1","candidate":candidate(5)}})).await;
    assert_eq!(
        kibo.expect("msg").await,
        json!({"to": 1, "by": 2, "username": "bob", "type": "ice", "ice": kibo_candidate(5)})
    );

    // What bob's app cannot take is refused, and the call goes on.
    kibo.emit("msg", json!({"to": 2, "by": 1, "type": "conference.chat", "message": "hi"})).await;
    let refused = kibo.expect("error").await;
    assert!(refused["message"].as_str().unwrap().contains("bob's app takes only offers"), "{refused}");
    kibo.emit("message", json!({"to": "bob", "msg": {"type": "chat", "text": "hi"}})).await;
    let refused = kibo.expect("error").await;
    assert!(refused["message"].as_str().unwrap().contains("bob's app takes no cloudkibo message"), "{refused}");

    // bob hangs up: the room loses its peer, and the call ends.
    bob.send(json!({"type":"hu","payload":"+1"})).await;
    assert_eq!(kibo.expect("peer.disconnected").await, json!({"id": 2}));
    let mut ended = status("+1", "bob", "callended");
    ended["reason"] = json!("hangup");
    assert_eq!(kibo.expect("message").await, ended);
    server.stop().await;
}

#[tokio::test]
async fn ring_timeout_reject_and_busy_cross_between_cloudkibo_and_chatroulette() {
    let server = TestServer::start().await;
    let mut kibo = phone(&server, "+1").await;
    let mut bob = server.online("bob").await;
    let call = json!({"room": "globalchatroom", "callerphone": "+1", "calleephone": "bob"});

    // Nobody answers within the ring timeout.
    let ack = kibo.emit_with_ack("callthisperson", call.clone()).await;
    kibo.expect_ack(ack).await;
    bob.recv().await;
    server.clock.advance(Duration::from_secs(30));
    assert_eq!(kibo.expect("message").await, status("+1", "bob", "noanswer"));
    assert_eq!(bob.recv().await, json!({"type":"CALL_CANCELLED","payload":{"by":"+1","reason":"timeout"}}));

    // bob rejects.
    let ack = kibo.emit_with_ack("callthisperson", call.clone()).await;
    kibo.expect_ack(ack).await;
    bob.recv().await;
    bob.send(json!({"type":"REJECT_CALL","payload":{"from":"+1"}})).await;
    assert_eq!(kibo.expect("message").await, status("+1", "bob", "callrejected"));

    // The phone cancels (Android's `missing`).
    let ack = kibo.emit_with_ack("callthisperson", call.clone()).await;
    kibo.expect_ack(ack).await;
    bob.recv().await;
    kibo.emit("message", call_message("bob", "+1", "bob", "missing")).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_CANCELLED","payload":{"by":"+1"}}));

    // bob is in a call: the phone hears busy; and a busy phone to bob.
    let mut cy = server.online("cy").await;
    cy.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"cy"}})).await;
    cy.recv().await;
    let ack = kibo.emit_with_ack("callthisperson", call).await;
    kibo.expect_ack(ack).await;
    assert_eq!(kibo.expect("message").await, status("+1", "bob", "calleeisbusy"));
    // A phone whose user is busy elsewhere says so (Android's `amInCall`).
    let mut dee = server.online("dee").await;
    dee.send(json!({"type":"REQUEST_CALL","payload":{"to":"+1"}})).await;
    kibo.expect("areyoufreeforcall").await;
    kibo.emit("message", call_message("dee", "dee", "+1", "calleeisbusy")).await;
    assert_eq!(dee.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"+1","reason":"busy"}}));
    server.stop().await;
}

#[tokio::test]
async fn a_calling_user_calls_a_cloudkibo_phone_from_its_room() {
    let server = TestServer::start().await;
    let (mut ann, ann_id) = server.calling().await;
    let mut kibo = phone(&server, "+2").await;
    ask(&mut ann, json!({"type":"room_join","room":"ann-room","status":{}}), 1).await;
    ann.send(json!({"type":"invite_send","room":"ann-room","user":"+2","data":{},"tid":2})).await;
    assert_eq!(ann.recv().await["type"], "room_peer_add");
    let handle = ann.recv().await["data"]["handle"].clone();
    let ring = kibo.expect("areyoufreeforcall").await;
    assert_eq!(ring["callerphone"], json!(ann_id));

    kibo.emit("message", call_message(&ann_id, &ann_id, "+2", "calleeisavailable")).await;
    kibo.emit("message", call_message(&ann_id, &ann_id, "+2", "callaccepted")).await;
    assert_eq!(ann.recv().await, json!({"type":"invite_response","handle":handle,"accepted":true}));
    let named = kibo.expect("message").await;
    assert_eq!(named["room_name"], "ann-room", "{named}");
    let ack = kibo.emit_with_ack("init", json!({"room": "ann-room", "username": "+2"})).await;
    assert_eq!(kibo.expect_ack(ack).await, vec![json!("ann-room"), json!(2), json!(false)]);

    // rtc-lib offers; the phone answers.
    ann.send(json!({"type":"room_peer_to","room":"ann-room","user":"+2","event":"signaling","data":sdp("offer")}))
        .await;
    assert_eq!(
        kibo.expect("msg").await,
        json!({"to": 2, "by": 1, "username": ann_id, "type": "offer", "sdp": sdp("offer")})
    );
    kibo.emit("msg", json!({"to": 1, "by": 2, "type": "answer", "sdp": sdp("answer")})).await;
    let answer = loop {
        let frame = ann.recv().await;
        if frame["type"] == "room_peer_from" {
            break frame;
        }
        assert!(frame["type"].as_str().unwrap().starts_with("room_peer_update"), "{frame}");
    };
    assert_eq!(
        answer,
        json!({"type":"room_peer_from","room":"ann-room","user":"+2","event":"signaling","data":sdp("answer")})
    );

    // ann leaves her room: the phone's call ends.
    ask(&mut ann, json!({"type":"room_leave","room":"ann-room"}), 3).await;
    assert_eq!(kibo.expect("peer.disconnected").await, json!({"id": 1}));
    let mut ended = status(&ann_id, "+2", "callended");
    ended["reason"] = json!("hangup");
    assert_eq!(kibo.expect("message").await, ended);
    server.stop().await;
}

#[tokio::test]
async fn a_cloudkibo_phone_calls_a_calling_user_who_answers_in_the_call_room() {
    let server = TestServer::start().await;
    let mut kibo = phone(&server, "+1").await;
    let (mut ann, ann_id) = server.calling().await;
    let call = json!({"room": "globalchatroom", "callerphone": "+1", "calleephone": ann_id});
    let ack = kibo.emit_with_ack("callthisperson", call).await;
    kibo.expect_ack(ack).await;
    let ring = ann.recv().await;
    assert_eq!((ring["type"].as_str(), ring["sender"].as_str()), (Some("invite_incoming"), Some("+1")), "{ring}");
    let room = ring["room"].as_str().unwrap().to_owned();
    ask(&mut ann, json!({"type":"invite_accept","handle":ring["handle"],"status":{}}), 1).await;
    assert_eq!(kibo.expect("message").await, status("+1", &ann_id, "callaccepted"));

    kibo.emit("message", json!({"to": ann_id, "msg": {"callerphone": "+1", "calleephone": ann_id, "type": "room_name", "room_name": "k9"}})).await;
    let ack = kibo.emit_with_ack("init", json!({"room": "k9", "username": "+1"})).await;
    assert_eq!(kibo.expect_ack(ack).await, vec![json!("k9"), json!(1), json!(false)]);
    assert_eq!(kibo.expect("peer.connected").await, json!({"id": 2, "username": ann_id}));
    kibo.emit("msg", json!({"to": 2, "by": 1, "type": "offer", "sdp": sdp("offer")})).await;
    assert_eq!(
        ann.recv().await,
        json!({"type":"room_peer_from","room":room,"user":"+1","event":"signaling","data":sdp("offer")})
    );
    let to_kibo = json!({"type":"room_peer_to","room":room,"user":"+1","event":"signaling","data":sdp("answer")});
    ask(&mut ann, to_kibo, 2).await;
    assert_eq!(
        kibo.expect("msg").await,
        json!({"to": 1, "by": 2, "username": ann_id, "type": "answer", "sdp": sdp("answer")})
    );
    let ice = json!({"type":"room_peer_to","room":room,"user":"+1","event":"ice_candidate","data":candidate(6)});
    ask(&mut ann, ice, 3).await;
    assert_eq!(
        kibo.expect("msg").await,
        json!({"to": 1, "by": 2, "username": ann_id, "type": "ice", "ice": kibo_candidate(6)})
    );

    // The phone's user hangs up: ann's call room loses its peer.
    kibo.emit("message", call_message(&ann_id, "+1", &ann_id, "callended")).await;
    assert_eq!(ann.recv().await, json!({"type":"room_peer_rm","room":room,"user":"+1"}));
    server.stop().await;
}

#[tokio::test]
async fn a_cloudkibo_init_into_a_tringtring_room_is_told_its_messages_reach_no_one_who_reads_them() {
    let server = TestServer::start().await;
    let mut ring = Sio::connect(server.addr).await;
    let ack = ring.emit_with_ack("join", json!({"room_id": "tt-1", "peer_name": "tess"})).await;
    assert_eq!(ring.expect_ack(ack).await[0]["room_id"], "tt-1");
    let mut kibo = phone(&server, "+3").await;
    let ack = kibo.emit_with_ack("init", json!({"room": "tt-1", "username": "+3"})).await;
    let joined = kibo.expect_ack(ack).await;
    assert_eq!(joined[0], "tt-1");
    assert_eq!(ring.expect("user-arrived").await["peer_id"], json!(kibo.id));
    assert_eq!(ring.expect("user-joined").await["peer_id"], json!(kibo.id));

    // Each side's SDP is refused in its own dialect's words, not dropped.
    kibo.emit("msg", json!({"to": 1, "by": joined[1], "type": "offer", "sdp": sdp("offer")})).await;
    let refused = kibo.expect("error").await;
    assert!(refused["message"].as_str().unwrap().contains("cannot take the event \"msg\" of another app"), "{refused}");
    let offer =
        json!({"from": {"name": "tess", "id": ring.id}, "to": kibo.id, "type": "offer", "sdp": sdp("offer")["sdp"]});
    ring.emit("offer", offer).await;
    let refused = ring.expect("error").await;
    assert!(refused["message"].as_str().unwrap().contains("cannot take SDP or ICE outside a call"), "{refused}");
    server.stop().await;
}

/// The same bridge with the two parties on two nodes of a cluster: the
/// link carries each party's call style to the other node, whose stand-in
/// for it takes that style.
#[tokio::test]
async fn across_two_nodes_a_cloudkibo_phone_and_a_chatroulette_user_call_each_other_both_ways() {
    let redis = support::redis_server::RedisServer::start().await;
    let nodes = support::redis_server::cluster(&redis, &["kibo-a", "kibo-b"]).await;
    let mut kibo = phone(&nodes[0], "+1").await;
    let mut bob = nodes[1].online_short("bob").await;
    redis.wait_for_name("bob").await;

    // The phone calls: its room shows bob, its offer reaches him, his answer it.
    let call = json!({"room": "globalchatroom", "callerphone": "+1", "calleephone": "bob"});
    let ack = kibo.emit_with_ack("callthisperson", call).await;
    kibo.expect_ack(ack).await;
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":"+1"}));
    bob.send(json!({"type":"ac","payload":"+1"})).await;
    assert_eq!(kibo.expect("message").await, status("+1", "bob", "callaccepted"));
    let room_name = json!({"callerphone": "+1", "calleephone": "bob", "type": "room_name", "room_name": "x1"});
    kibo.emit("message", json!({"to": "bob", "msg": room_name})).await;
    let ack = kibo.emit_with_ack("init", json!({"room": "x1", "username": "+1"})).await;
    assert_eq!(kibo.expect_ack(ack).await, vec![json!("x1"), json!(1), json!(false)]);
    assert_eq!(kibo.expect("peer.connected").await, json!({"id": 2, "username": "bob"}));
    kibo.emit("msg", json!({"to": 2, "by": 1, "type": "offer", "sdp": sdp("offer")})).await;
    assert_eq!(bob.recv().await, json!({"type":"cdr","payload":{"from":"+1","sdp":sdp("offer")}}));
    bob.send(json!({"type":"srd","payload":{"to":"+1","sdp":sdp("answer")}})).await;
    let answer = json!({"to": 1, "by": 2, "username": "bob", "type": "answer", "sdp": sdp("answer")});
    assert_eq!(kibo.expect("msg").await, answer);
    bob.send(json!({"type":"hu","payload":"+1"})).await;
    assert_eq!(kibo.expect("peer.disconnected").await, json!({"id": 2}));
    kibo.expect("message").await;

    // And bob calls the phone: it is sent the room name, and gets his offer.
    bob.send(json!({"type":"rc","payload":"+1"})).await;
    assert_eq!(kibo.expect("areyoufreeforcall").await["callerphone"], "bob");
    kibo.emit("message", call_message("bob", "bob", "+1", "callaccepted")).await;
    assert_eq!(bob.recv().await, json!({"type":"ca","payload":"+1"}));
    let named = kibo.expect("message").await;
    assert_eq!(named["type"], "room_name", "{named}");
    bob.send(json!({"type":"scd","payload":{"to":"+1","sdp":sdp("offer")}})).await;
    let ack = kibo.emit_with_ack("init", json!({"room": named["room_name"], "username": "+1"})).await;
    assert_eq!(kibo.expect_ack(ack).await[1], json!(2));
    let offer = json!({"to": 2, "by": 1, "username": "bob", "type": "offer", "sdp": sdp("offer")});
    assert_eq!(kibo.expect("msg").await, offer);
    kibo.emit("msg", json!({"to": 1, "by": 2, "type": "answer", "sdp": sdp("answer")})).await;
    assert_eq!(bob.recv().await, json!({"type":"rdr","payload":{"from":"+1","sdp":sdp("answer")}}));
    for node in nodes {
        node.stop().await;
    }
}
