//! Calls between the calling dialect (frames as rtc-lib sends them: join a
//! room, invite into it, `room_peer_to` the SDP and ICE) and chatroulette
//! (the original client's short codes), over real WebSockets, each side
//! hearing only its own dialect (Step 13).

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::*;

const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
const ANSWER: &str = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

fn candidate(n: u32) -> Value {
    json!({"candidate": format!("candidate:{n} 1 udp 2122260223 127.0.0.1 5{n:04} typ host"), "sdpMid": "0", "sdpMLineIndex": 0})
}

/// The next frame of `type`, skipping the room events rtc-lib also gets
/// (`room_peer_update`, `room_update`), which are not what a step checks.
async fn next_of(client: &mut Client, kind: &str) -> Value {
    loop {
        let frame = client.recv().await;
        if frame["type"] == kind {
            return frame;
        }
        let skippable = ["room_peer_update", "room_update", "ns_room_peer_update", "ns_room_user_update"];
        assert!(skippable.contains(&frame["type"].as_str().unwrap_or_default()), "waiting for {kind}, got {frame}");
    }
}

/// `ask`, past the room events that came before the answer.
async fn ask_past_room_events(client: &mut Client, mut request: Value, tid: u64) -> Value {
    request["tid"] = json!(tid);
    client.send(request).await;
    loop {
        let frame = client.recv().await;
        if frame["type"] == "answer" {
            assert_eq!(frame["tid"].as_u64(), Some(tid), "{frame}");
            return frame;
        }
        assert!(frame["type"].as_str().is_some_and(|kind| kind.starts_with("room_")), "waiting for an answer: {frame}");
    }
}

/// A calling user in a room of its own, as rtc-lib's `calling.room()` and
/// `room.connect()` make it.
async fn calling_in_own_room(server: &TestServer, room: &str) -> (Client, String) {
    let (mut client, id) = server.calling().await;
    let answer = ask(&mut client, json!({"type":"room_join","room":room,"status":{}}), 1).await;
    assert_eq!(answer["data"]["room"], room, "{answer}");
    (client, id)
}

/// `invite_send` into `room`: the room hears of the pending peer first, as
/// from the original server; returns the answer.
async fn invite(client: &mut Client, room: &str, user: &str) -> Value {
    client.send(json!({"type":"invite_send","room":room,"user":user,"data":{},"tid":2})).await;
    let first = client.recv().await;
    if first["type"] == "answer" {
        return first; // refused: no pending peer
    }
    assert_eq!(
        (first["type"].as_str(), first["user"].as_str(), first["pending"].as_bool()),
        (Some("room_peer_add"), Some(user), Some(true)),
        "{first}"
    );
    let answer = client.recv().await;
    assert_eq!((answer["type"].as_str(), answer["tid"].as_u64()), (Some("answer"), Some(2)), "{answer}");
    answer
}

#[tokio::test]
async fn a_calling_user_calls_a_chatroulette_user_and_the_whole_call_crosses() {
    let server = TestServer::start().await;
    let (mut ann, ann_id) = calling_in_own_room(&server, "r1").await;
    let mut bob = server.online_short("bob").await;

    let answer = invite(&mut ann, "r1", "bob").await;
    let handle = answer["data"]["handle"].clone();
    assert!(handle.is_number(), "{answer}");
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":ann_id}));

    bob.send(json!({"type":"ac","payload":ann_id})).await;
    assert_eq!(
        next_of(&mut ann, "invite_response").await,
        json!({"type":"invite_response","handle":handle,"accepted":true})
    );

    // rtc-lib offers once the invitee accepted; the answer and ICE come back.
    let offer = json!({"type":"offer","sdp":OFFER});
    ann.send(json!({"type":"room_peer_to","room":"r1","user":"bob","event":"signaling","data":offer})).await;
    assert_eq!(bob.recv().await, json!({"type":"cdr","payload":{"from":ann_id,"sdp":offer}}));
    let sdp_answer = json!({"type":"answer","sdp":ANSWER});
    bob.send(json!({"type":"srd","payload":{"to":ann_id,"sdp":sdp_answer}})).await;
    assert_eq!(
        next_of(&mut ann, "room_peer_from").await,
        json!({"type":"room_peer_from","room":"r1","user":"bob","event":"signaling","data":sdp_answer})
    );
    for n in 0..3 {
        ann.send(json!({"type":"room_peer_to","room":"r1","user":"bob","event":"ice_candidate","data":candidate(n)}))
            .await;
        bob.send(json!({"type":"sic","payload":{"to":ann_id,"candidate":candidate(10 + n)}})).await;
    }
    for n in 0..3 {
        assert_eq!(bob.recv().await, json!({"type":"icr","payload":{"from":ann_id,"candidate":candidate(n)}}));
        assert_eq!(
            next_of(&mut ann, "room_peer_from").await,
            json!({"type":"room_peer_from","room":"r1","user":"bob","event":"ice_candidate","data":candidate(10 + n)})
        );
    }

    // bob hangs up: ann's room loses its peer, and her room stays hers.
    bob.send(json!({"type":"hu","payload":ann_id})).await;
    assert_eq!(next_of(&mut ann, "room_peer_rm").await, json!({"type":"room_peer_rm","room":"r1","user":"bob"}));
    let stats = server.driver.stats().await.unwrap();
    assert_eq!((stats.rooms, stats.invites), (1, 0));
    server.stop().await;
}

#[tokio::test]
async fn the_calling_sides_room_leave_is_the_chatroulette_sides_hang_up() {
    let server = TestServer::start().await;
    let (mut ann, ann_id) = calling_in_own_room(&server, "r2").await;
    let mut bob = server.online_short("bob").await;
    invite(&mut ann, "r2", "bob").await;
    bob.recv().await;
    bob.send(json!({"type":"ac","payload":ann_id})).await;
    next_of(&mut ann, "invite_response").await;

    let answer = ask_past_room_events(&mut ann, json!({"type":"room_leave","room":"r2"}), 3).await;
    assert!(answer.get("error").is_none(), "{answer}");
    assert_eq!(bob.recv().await, json!({"type":"ce","payload":ann_id,"reason":"hangup"}));
    // bob is free again: he can be called at once.
    let (mut cy, cy_id) = calling_in_own_room(&server, "r3").await;
    let answer = invite(&mut cy, "r3", "bob").await;
    assert!(answer["data"]["handle"].is_number(), "{answer}");
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":cy_id}));
    server.stop().await;
}

#[tokio::test]
async fn a_calling_invite_to_a_chatroulette_user_rings_until_the_ring_timeout() {
    let server = TestServer::start().await;
    let (mut ann, ann_id) = calling_in_own_room(&server, "r4").await;
    let mut bob = server.online("bob").await;
    let handle = invite(&mut ann, "r4", "bob").await["data"]["handle"].clone();
    assert_eq!(bob.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":ann_id}}));

    server.clock.advance(Duration::from_secs(30));
    assert_eq!(bob.recv().await, json!({"type":"CALL_CANCELLED","payload":{"by":ann_id,"reason":"timeout"}}));
    assert_eq!(
        next_of(&mut ann, "invite_response").await,
        json!({"type":"invite_response","handle":handle,"accepted":false})
    );
    assert_eq!(next_of(&mut ann, "room_peer_rm").await, json!({"type":"room_peer_rm","room":"r4","user":"bob"}));
    server.stop().await;
}

#[tokio::test]
async fn rejects_cancels_and_busy_cross_between_calling_and_chatroulette() {
    let server = TestServer::start().await;
    let (mut ann, ann_id) = calling_in_own_room(&server, "r5").await;
    let mut bob = server.online("bob").await;

    // bob rejects.
    let handle = invite(&mut ann, "r5", "bob").await["data"]["handle"].clone();
    bob.recv().await;
    bob.send(json!({"type":"REJECT_CALL","payload":{"from":ann_id}})).await;
    assert_eq!(
        next_of(&mut ann, "invite_response").await,
        json!({"type":"invite_response","handle":handle,"accepted":false})
    );
    assert_eq!(ann.recv().await, json!({"type":"room_peer_rm","room":"r5","user":"bob"}));

    // ann cancels.
    let handle = invite(&mut ann, "r5", "bob").await["data"]["handle"].clone();
    bob.recv().await;
    let answer = ask_past_room_events(&mut ann, json!({"type":"invite_cancel","handle":handle}), 4).await;
    assert!(answer.get("error").is_none(), "{answer}");
    assert_eq!(bob.recv().await, json!({"type":"CALL_CANCELLED","payload":{"by":ann_id}}));

    // bob is in a call with cy: ann's invite is refused as busy.
    let mut cy = server.online("cy").await;
    cy.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"cy"}})).await;
    cy.recv().await;
    let answer = invite(&mut ann, "r5", "bob").await;
    assert_eq!(answer["error"], "bob is busy", "{answer}");

    // ann in a room of two (with another calling user) is busy to cy.
    bob.send(json!({"type":"HANG_UP","payload":{"to":"cy"}})).await;
    cy.recv().await;
    let (mut dee, _) = server.calling().await;
    ask(&mut dee, json!({"type":"room_join","room":"r5","status":{}}), 1).await;
    cy.send(json!({"type":"REQUEST_CALL","payload":{"to":ann_id}})).await;
    assert_eq!(cy.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":ann_id,"reason":"busy"}}));
    server.stop().await;
}

#[tokio::test]
async fn a_custom_event_a_chatroulette_user_cannot_take_is_refused_in_the_callings_words() {
    let server = TestServer::start().await;
    let mut bob = server.online("bob").await;
    let (mut ann, ann_id) = server.calling().await;
    bob.send(json!({"type":"REQUEST_CALL","payload":{"to":ann_id}})).await;
    let ring = ann.recv().await;
    assert_eq!(ring["type"], "invite_incoming", "{ring}");
    let room = ring["room"].as_str().unwrap().to_owned();
    ask(&mut ann, json!({"type":"invite_accept","handle":ring["handle"],"status":{}}), 5).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":ann_id}}));

    let answer =
        ask(&mut ann, json!({"type":"room_peer_to","room":room,"user":"bob","event":"chat","data":{"text":"hi"}}), 6)
            .await;
    assert_eq!(answer["error"], "bob's app cannot take the event \"chat\" of another app", "{answer}");
    // The call goes on: SDP still crosses.
    let offer = json!({"type":"offer","sdp":OFFER});
    bob.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":ann_id,"sdp":offer}})).await;
    let relayed = ann.recv().await;
    assert_eq!((relayed["type"].as_str(), &relayed["data"]), (Some("room_peer_from"), &offer), "{relayed}");
    server.stop().await;
}
