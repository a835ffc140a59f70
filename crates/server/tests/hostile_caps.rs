//! Caps at the edge, under attack: sessions per client address
//! (`--max-connections-per-ip`, 429), sessions per node (`--max-sessions`,
//! WebSocket close 1013 and socket.io 503), and connections that never
//! register (`--register-timeout`, close 1008 and socket.io disconnect).
//! Each test first sets up a call between two other users, and shows after
//! the attack that it still relays both ways.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use support::hostile::*;
use support::*;
use switchboard_server::Config;

#[tokio::test]
async fn websockets_over_the_per_address_cap_are_refused_with_429() {
    let server = TestServer::start_with(Config { max_connections_per_ip: 5, ..Config::default() }).await;
    let (mut alice, mut bob) = legit_call(&server).await;

    let mut held = Vec::new();
    let mut statuses = BTreeMap::<u16, usize>::new();
    for i in 0..25 {
        let path = match i % 3 {
            0 => "/ws/chatroulette".to_owned(),
            1 => "/ws/calling".to_owned(),
            _ => format!("/ws/ecall?user=mallory&client=c{i}"),
        };
        match upgrade_from(ATTACKER, server.addr, &path, None).await {
            Ok(client) => {
                held.push(client);
                *statuses.entry(101).or_default() += 1;
            }
            Err(status) => *statuses.entry(status).or_default() += 1,
        }
    }
    println!("25 WebSockets from one address with a cap of 5: {statuses:?}");
    assert_eq!(statuses, BTreeMap::from([(101, 5), (429, 20)]));
    // One cap for every transport: socket.io from that address is refused too.
    assert_eq!(RawSocketIo::open(ATTACKER, server.addr, None).await.err(), Some(429));
    let polling = get_from(ATTACKER, server.addr, "/socket.io/?EIO=4&transport=polling", &[]).await;
    assert_eq!(polling.status, 429, "{polling:?}");
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;

    // Other addresses are not throttled: a third user comes in from the
    // users' address.
    let mut carol = upgrade_from(USERS, server.addr, "/ws/chatroulette", None).await.expect("carol is admitted");
    carol.send(json!({"type":"CONNECT","payload":{"as":"carol"}})).await;
    assert_eq!(carol.recv().await["type"], "CONNECTED");

    // A place is given back when its session ends.
    held.pop().unwrap().close().await;
    let admitted = async {
        loop {
            match upgrade_from(ATTACKER, server.addr, "/ws/calling", None).await {
                Ok(client) => break client,
                Err(429) => tokio::task::yield_now().await,
                Err(status) => panic!("{status}"),
            }
        }
    };
    let _again = tokio::time::timeout(PATIENCE, admitted).await.expect("the freed place is taken again");
    still_relays(&mut alice, "alice", &mut bob, "bob", 10).await;
    server.stop().await;
}

#[tokio::test]
async fn a_full_node_closes_websockets_with_1013_and_refuses_socketio_handshakes_with_503() {
    let server = TestServer::start_with(Config { max_sessions: 4, ..Config::default() }).await;
    let (mut alice, mut bob) = legit_call(&server).await;
    // Two more sessions fill the node (a calling client's hello says its
    // session is open).
    let mut fillers = Vec::new();
    for _ in 0..2 {
        let mut client = upgrade_from(ATTACKER, server.addr, "/ws/calling", None).await.expect("a place is left");
        assert_eq!(client.recv().await["type"], "hello");
        fillers.push(client);
    }

    for path in ["/ws/chatroulette", "/ws/calling", "/ws/ecall?user=mallory&client=c1"] {
        let mut refused = upgrade_from(ATTACKER, server.addr, path, None).await.expect("upgraded, then closed");
        let close = refused.recv_close().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 1013, "{path}: {close:?}");
        assert_eq!(close.reason.as_str(), "server full: try again later");
    }
    let polling = get_from(ATTACKER, server.addr, "/socket.io/?EIO=4&transport=polling", &[]).await;
    assert_eq!(polling.status, 503, "{polling:?}");
    assert_eq!(polling.header("retry-after"), Some("10"));
    assert_eq!(RawSocketIo::open(ATTACKER, server.addr, None).await.err(), Some(503));
    assert_eq!(server.driver.stats().await.unwrap().sessions, 4, "no session past the cap");
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;

    // A place given back is free again.
    fillers.pop().unwrap().close().await;
    let admitted = async {
        loop {
            let mut client = upgrade_from(ATTACKER, server.addr, "/ws/calling", None).await.expect("upgraded");
            match client.next_message().await {
                Some(tokio_tungstenite::tungstenite::Message::Text(hello)) => break hello,
                _ => tokio::task::yield_now().await,
            }
        }
    };
    let hello = tokio::time::timeout(PATIENCE, admitted).await.expect("the freed place is taken again");
    assert!(hello.contains("\"hello\""), "{hello}");
    still_relays(&mut alice, "alice", &mut bob, "bob", 10).await;
    server.stop().await;
}

#[tokio::test]
async fn connections_that_do_not_register_in_time_are_closed() {
    let server = TestServer::start().await;
    assert_eq!(Config::default().register_timeout, Duration::from_secs(10), "the default");
    let (mut alice, mut bob) = legit_call(&server).await;

    // A chatroulette client that sends anything but CONNECT. Its answer also
    // says its connection task has started, and with it the timer.
    let mut lurker = upgrade_from(ATTACKER, server.addr, "/ws/chatroulette", None).await.unwrap();
    let poke = json!({"type":"REQUEST_CALL","payload":{"to":"bob"}});
    lurker.send(poke.clone()).await;
    assert_eq!(lurker.recv().await["type"], "ERROR");
    // A socket.io socket in namespace `/` that never registers.
    let mut sio = RawSocketIo::open(ATTACKER, server.addr, None).await.unwrap();
    sio.join_namespace().await;
    sio.client.send_text(r#"42["hello",{}]"#).await;
    assert_eq!(sio.next_packet().await, r#"2["error",{"message":"unknown event \"hello\""}]"#);
    // A calling client is registered as it connects.
    let (mut calling, _) = server.calling().await;

    server.clock.advance(Duration::from_secs(9));
    lurker.send(poke.clone()).await;
    assert_eq!(lurker.recv().await["type"], "ERROR", "still open after 9 s");
    sio.client.send_text(r#"42["hello",{}]"#).await;
    assert!(sio.next_packet().await.contains("unknown event"), "still open after 9 s");

    server.clock.advance(Duration::from_secs(1));
    let close = lurker.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    assert_eq!(close.reason.as_str(), "not registered within the register timeout");
    assert_eq!(sio.next_packet().await, r#"2["error",{"message":"not registered within 10s"}]"#);
    assert_eq!(sio.next_packet().await, "1", "a socket.io disconnect");

    calling.send(json!({"type":"room_join","room":"r1","tid":1})).await;
    assert_eq!(calling.recv().await["type"], "answer", "a registered connection stays");
    still_relays(&mut alice, "alice", &mut bob, "bob", 0).await;
    server.stop().await;
}
