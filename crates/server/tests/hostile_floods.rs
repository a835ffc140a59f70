//! Floods under attack: the sender is throttled, never the receiver. A
//! stranger who floods a user who reads is limited (`--rate-limit`, then
//! 1008 after `--rate-abuse-after` refusals in a row) and the user stays;
//! ringing and cancelling fast is refused (`--ring-rate`). Rooms and mail to
//! made-up users are in `hostile_bounds.rs`, a binary of its own so that its
//! RSS is its own. Each test first sets up a call between two other users
//! and shows after the attack that it still relays both ways.

mod support;

use serde_json::{Value, json};
use support::hostile::*;
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// A valid ECall message, as a Wire device sends it.
const PROPSYNC: &str = r#"{"version":"3.0","resp":false,"sessid":"s1","type":"PROPSYNC","props":{"videosend":"true"}}"#;

fn ecall_message(to: &str) -> Value {
    json!({"type":"calling","to":to,"content":PROPSYNC})
}

#[tokio::test]
async fn a_stranger_flooding_a_reading_user_is_limited_and_the_user_stays() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = legit_call(&server).await;
    let device = |user: &str, client: &str| format!("/ws/ecall?user={user}&client={client}");
    let mut victim = upgrade_from(USERS, server.addr, &device("victim", "v1"), None).await.unwrap();
    // The stranger reads and writes at once, so it uses a split socket: a
    // close frame is read while sending goes on.
    let url = format!("ws://{}{}", server.addr, device("stranger", "s1"));
    let stranger = handshake(tcp_from(ATTACKER, server.addr).await, &url, None).await.unwrap();
    let (mut to_server, mut from_server) = futures_util::StreamExt::split(stranger);

    // The stranger sends as fast as it can while the victim reads. The
    // stranger's bucket holds 200 messages; they all reach the victim, then
    // the stranger is refused, and closed after 100 refusals in a row.
    let flood = 2_000;
    let frame = ecall_message("victim").to_string();
    let closed = std::sync::atomic::AtomicBool::new(false);
    let sending = async {
        let mut sent = 0;
        while sent < flood && !closed.load(std::sync::atomic::Ordering::Relaxed) {
            if futures_util::SinkExt::send(&mut to_server, Message::text(frame.clone())).await.is_err() {
                break;
            }
            sent += 1;
        }
        sent
    };
    let hearing = async {
        let (mut refusals, mut close) = (0, None);
        while let Some(Ok(message)) = futures_util::StreamExt::next(&mut from_server).await {
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(value, json!({"type":"error","error":"too many messages; slow down"}));
                    refusals += 1;
                }
                Message::Close(frame) => {
                    close = frame;
                    break;
                }
                _ => {}
            }
        }
        closed.store(true, std::sync::atomic::Ordering::Relaxed);
        (refusals, close)
    };
    let attack = async {
        let (sent, (refusals, close)) = tokio::join!(sending, hearing);
        // The victim hears from a friend once the stranger is done.
        let mut friend = upgrade_from(USERS, server.addr, &device("friend", "f1"), None).await.unwrap();
        friend.send(ecall_message("victim")).await;
        (sent, refusals, close)
    };
    let reading = async {
        let mut received = 0;
        loop {
            let value = victim.recv().await;
            match value["from"].as_str() {
                Some("stranger") => received += 1,
                Some("friend") => break received,
                _ => panic!("the victim got {value}"),
            }
        }
    };
    let ((sent, refusals, close), received) = tokio::join!(attack, reading);
    println!("stranger sent {sent}, victim read {received}, stranger refused {refusals} times, then {close:?}");
    // The stranger's burst, at most: its relays go out only while its bucket
    // holds (the manual clock stands still, so it never refills).
    assert!((1..=200).contains(&received), "the victim read {received}");
    assert!(refusals >= 99, "the stranger is told it is limited ({refusals})");
    let close = close.expect("the stranger is closed with a close frame");
    assert_eq!((close.code, close.reason.as_str()), (CloseCode::Policy, "rate limit: too many messages"));
    // The victim is still served: a message from a friend reached it above,
    // and it can still send.
    victim.send(ecall_message("friend")).await;
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    server.stop().await;
}

#[tokio::test]
async fn ringing_and_cancelling_fast_is_refused_and_others_still_ring() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = legit_call(&server).await;
    let mut mallory = upgrade_from(ATTACKER, server.addr, "/ws/chatroulette", None).await.unwrap();
    let mut target = upgrade_from(USERS, server.addr, "/ws/chatroulette", None).await.unwrap();
    for (client, name) in [(&mut mallory, "mallory"), (&mut target, "target")] {
        client.send(json!({"type":"CONNECT","payload":{"as":name}})).await;
        assert_eq!(client.recv().await["type"], "CONNECTED");
    }
    // 1,000 rings of a call and cancel took 85 ms before the limit.
    let mut rung = 0;
    let mut refused = 0;
    // 90 rounds: 181 messages, within mallory's message burst of 200.
    for _ in 0..90 {
        mallory.send(json!({"type":"REQUEST_CALL","payload":{"to":"target"}})).await;
        mallory.send(json!({"type":"CANCEL_CALL","payload":{"to":"target"}})).await;
    }
    // Every ring that went out is followed by its cancel at the target.
    mallory.send(json!({"type":"HANG_UP","payload":{"to":"nobody"}})).await;
    loop {
        let value = mallory.recv().await;
        match value["payload"]["message"].as_str() {
            Some("too many calls and invites; wait and try again") => refused += 1,
            Some(text) if text.contains("nobody") => break,
            // Cancelling a call that was refused finds no call.
            Some(_) => {}
            None => panic!("mallory got {value}"),
        }
    }
    loop {
        let value = target.recv().await;
        match value["type"].as_str() {
            Some("CALL_REQUESTED") => rung += 1,
            Some("CALL_CANCELLED") if rung == 20 => break,
            Some("CALL_CANCELLED") => {}
            _ => panic!("the target got {value}"),
        }
    }
    println!("90 rings: {rung} rang, {refused} refused");
    assert_eq!((rung, refused), (20, 70), "a burst of 20 rings, then the ring rate");
    // Another caller is not throttled by mallory's ringing.
    let mut carol = upgrade_from(USERS, server.addr, "/ws/chatroulette", None).await.unwrap();
    carol.send(json!({"type":"CONNECT","payload":{"as":"carol"}})).await;
    carol.recv().await;
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"target"}})).await;
    assert_eq!(target.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"carol"}}));
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    server.stop().await;
}

#[tokio::test]
async fn rooms_opened_over_http_are_limited_per_address() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = legit_call(&server).await;
    let rooms_before = server.driver.stats().await.unwrap().rooms;
    // Tring-Tring's landing form needs no session: 100 POSTs from one
    // address open 30 rooms (a minute's worth), the rest get 429.
    let mut http = Http::connect(ATTACKER, server.addr).await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for n in 0..100 {
        *statuses.entry(http.post(&format!("/r/flood-{n}"), "").await.status).or_default() += 1;
    }
    println!("100 POST /r/<id> from one address: {statuses:?}");
    assert_eq!(statuses, std::collections::BTreeMap::from([(200, 30), (429, 70)]));
    assert_eq!(server.driver.stats().await.unwrap().rooms, rooms_before + 30);
    // Another address is not limited by the first one's rooms.
    let mut other = Http::connect(USERS, server.addr).await;
    assert_eq!(other.post("/r/mine", "").await.status, 200);
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    // A minute later, on the server's clock, the address may open more.
    server.clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(http.post("/r/later", "").await.status, 200);
    server.stop().await;
}
