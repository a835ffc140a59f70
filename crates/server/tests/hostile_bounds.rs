//! What one socket may hold, under attack: rooms (`--rooms-per-session`)
//! and mail to made-up offline users (`--mailboxes-per-sender`), with the
//! process's RSS before and after. A test binary of its own, with one test,
//! so that the RSS it reads is this attack's alone. The call between two
//! other users set up first still relays both ways after it.

mod support;

use serde_json::json;
use support::hostile::*;
use support::*;
use switchboard_server::Config;

#[tokio::test]
async fn rooms_from_one_socket_and_mail_to_made_up_users_are_bounded() {
    // The ring and message rates are off: the bounds are under test.
    let server = TestServer::start_with(Config { ring_burst: 0, rate_limit: 0, ..Config::default() }).await;
    let (mut alice, mut bob) = legit_call(&server).await;
    let before = rss_kib();

    // 20,000 rooms from one socket were kept for 10 minutes: the bound is
    // --rooms-per-session (32) rooms joined (and the ring rate, off here).
    let (mut mallory, _) = {
        let mut client = upgrade_from(ATTACKER, server.addr, "/ws/calling", None).await.unwrap();
        let hello = client.recv().await;
        let id = hello["id"].as_str().unwrap().to_owned();
        (client, id)
    };
    let (mut joined, mut refused) = (0, 0);
    for n in 0..2_000 {
        let tid = n;
        mallory.send(json!({"type":"room_join","tid":tid,"room":format!("room-{n}")})).await;
        let answer = mallory.recv().await;
        assert_eq!(answer["tid"], tid, "{answer}");
        match answer["error"].as_str() {
            None => joined += 1,
            Some("you are in 32 rooms, the most allowed") => refused += 1,
            Some(other) => panic!("{other}"),
        }
    }
    println!("2,000 room_join from one socket: {joined} joined, {refused} refused");
    assert_eq!((joined, refused), (32, 1_968));
    assert_eq!(server.driver.stats().await.unwrap().rooms, 32 + 1, "mallory's rooms and the call");

    // Mail to 400 made-up ecall users held 90 MB: one sender may hold mail
    // for --mailboxes-per-sender (16) offline users.
    let mut sender = upgrade_from(ATTACKER, server.addr, "/ws/ecall?user=m&client=c", None).await.unwrap();
    // 60 KB each: without the bound, 400 of them would hold 24 MB.
    let body = "x".repeat(60 * 1024);
    let content = format!(r#"{{"version":"3.0","resp":false,"sessid":"{body}","type":"HANGUP"}}"#);
    let mut held_refused = 0;
    for n in 0..400 {
        sender.send(json!({"type":"calling","to":format!("made-up-{n}"),"content":content})).await;
        if n >= 16 {
            let value = sender.recv().await;
            assert_eq!(
                value,
                json!({"type":"error","error":"you have messages waiting for 16 offline users, the most allowed"})
            );
            held_refused += 1;
        }
    }
    let stats = server.driver.stats().await.unwrap();
    let grown = rss_kib().saturating_sub(before);
    println!("mail to 400 made-up users: {} held, {held_refused} refused; RSS +{grown} KiB", stats.held);
    assert_eq!(stats.held, 16);
    assert!(grown < 8 * 1024, "RSS grew {grown} KiB");
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    server.stop().await;
}
