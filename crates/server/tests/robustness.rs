//! Bad input, limits, slow and silent clients, shutdown, and the drop-in
//! listener: each over real sockets against a real server.

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::*;
use switchboard_server::Config;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The message of an error frame: `ERROR`, or `er` answering a frame spelled
/// in the short form.
fn error_message(frame: &Value) -> &str {
    assert!(matches!(frame["type"].as_str(), Some("ERROR" | "er")), "{frame}");
    frame["payload"]["message"].as_str().expect("a message")
}

#[tokio::test]
async fn health_check_answers_200() {
    let server = TestServer::start().await;
    let response = http_get(server.addr, "/healthz").await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("ok"), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_what_the_core_holds() {
    let server = TestServer::start().await;
    let _alice = server.online("alice").await;
    let _anonymous = server.chatroulette().await;
    let response = http_get(server.addr, "/metrics").await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert_eq!(prometheus::sessions(&response), 2, "{response}");
    assert!(response.contains("\nswitchboard_users 1\n"), "{response}");
    assert!(response.contains("# TYPE switchboard_rooms gauge\nswitchboard_rooms 0\n"), "{response}");
    assert!(response.contains("\nswitchboard_held_messages_expired_total 0\n"), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn every_kind_of_bad_frame_gets_an_error_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let mut client = server.chatroulette().await;
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("{not json", "malformed JSON", None),
        ("[]", "a frame is a JSON object", None),
        (r#"{"type":"FLY"}"#, "unknown message type \"FLY\"", Some("FLY")),
        (r#"{"type":"REQUEST_CALL","payload":42}"#, "REQUEST_CALL needs a payload", Some("REQUEST_CALL")),
        (r#"{"type":"scd","payload":{"to":"x","sdp":"bare"}}"#, "scd needs a payload", Some("scd")),
        (r#"{"type":"REQUEST_CALL","payload":{"to":"bob"}}"#, "send CONNECT first", Some("REQUEST_CALL")),
        (r#"{"type":"hu","payload":"bob"}"#, "send CONNECT first", Some("hu")),
    ];
    for (frame, message, request) in cases {
        client.send_text(frame).await;
        let reply = client.recv().await;
        assert!(error_message(&reply).contains(message), "{frame}: {reply}");
        assert_eq!(reply["payload"]["request"].as_str(), *request, "{frame}: {reply}");
        // The connection's form is the seed's (its first good frame was
        // REQUEST_CALL); only a short frame that fails to decode is answered
        // in its own spelling.
        let expected = if *request == Some("scd") { "er" } else { "ERROR" };
        assert_eq!(reply["type"], expected, "{frame}: {reply}");
    }
    client.send_message(Message::binary(vec![1, 2, 3])).await;
    assert!(error_message(&client.recv().await).contains("binary frames"));

    // Still open, and still usable.
    client.send(json!({"type":"CONNECT","payload":{"as":"survivor"}})).await;
    assert_eq!(client.recv().await, json!({"type":"CONNECTED","payload":{"as":"survivor"}}));
    server.stop().await;
}

#[tokio::test]
async fn relays_outside_a_call_are_refused_and_deliver_nothing() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online("bob").await;
    let mut mallory = server.online("mallory").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;

    let sdp = json!({"type":"offer","sdp":"v=0"});
    mallory.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"bob","sdp":sdp}})).await;
    let reply = mallory.recv().await;
    assert_eq!(
        reply,
        json!({"type":"ERROR","payload":{"message":"you have no call with bob","request":"SEND_CALLER_DESCRIPTOR"}})
    );
    mallory.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"nobody","candidate":{"candidate":""}}})).await;
    assert_eq!(error_message(&mallory.recv().await), "you have no call with nobody");

    // mallory's refusals were processed before this probe; bob's next frame
    // is the probe's answer, so nothing of mallory's reached him.
    bob.send(json!({"type":"FLY"})).await;
    assert_eq!(error_message(&bob.recv().await), "unknown message type \"FLY\"");
    server.stop().await;
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_with_1009() {
    let server = TestServer::start_with(Config { max_frame_bytes: 1024, ..Config::default() }).await;
    let mut client = server.online("big").await;
    client.send_text(&format!(r#"{{"type":"REQUEST_CALL","payload":{{"to":"{}"}}}}"#, "x".repeat(2000))).await;
    let close = client.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Size);
    // The server lives on, and the name is free again.
    server.online("big").await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_not_buffered() {
    // No rate limit for the flooder (this is about the reader, not the
    // sender), and no idle timeout, so that only not reading can drop sloth.
    let hour = std::time::Duration::from_secs(3600);
    let config =
        Config { session_queue: 8, rate_limit: 0, ws_idle_timeout: hour, ws_ping_after: hour, ..Config::default() };
    let grace = config.ws_write_timeout;
    let server = TestServer::start_with(config).await;
    let mut sloth = server.online("sloth").await;
    // The flooder reads and writes at once, so it uses a split socket.
    let url = format!("ws://{}/ws/chatroulette", server.addr);
    let (mut sink, mut stream) = tokio_tungstenite::connect_async(url).await.unwrap().0.split();
    let mut next_text = async move || -> Option<Value> {
        loop {
            match stream.next().await? {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    };
    for frame in
        [json!({"type":"CONNECT","payload":{"as":"flooder"}}), json!({"type":"REQUEST_CALL","payload":{"to":"sloth"}})]
    {
        sink.send(Message::text(frame.to_string())).await.unwrap();
    }
    assert_eq!(next_text().await.unwrap()["type"], "CONNECTED");
    sloth.recv().await;
    sloth.send(json!({"type":"ACCEPT_CALL","payload":{"from":"flooder"}})).await;
    assert_eq!(next_text().await.unwrap()["type"], "CALL_ACCEPTED");

    // sloth never reads again. The flooder sends SDP-sized frames: the
    // socket buffers fill, then the relay room of sloth's 8-event queue,
    // and the flooder is told its messages find no room. Once sloth has
    // taken nothing for the reader grace, the server gives up on it.
    let sdp = json!({"type":"offer","sdp":"a".repeat(16 * 1024)});
    let frame = json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"sloth","sdp":sdp}}).to_string();
    let writer = tokio::spawn(async move {
        // Bounded: far more than the socket buffers and the queue hold.
        for _ in 0..20_000 {
            if sink.send(Message::text(frame.clone())).await.is_err() {
                break;
            }
        }
    });
    let clock = server.clock.clone();
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            let value = next_text().await.expect("the flooder's connection stays open");
            if value["type"] != "ERROR" {
                return value;
            }
            // A relay found no room: sloth's grace runs on the server's
            // clock, and a later relay sees that it has not read meanwhile.
            assert_eq!(value["payload"]["message"], "too many messages; slow down", "{value}");
            clock.advance(grace);
        }
    })
    .await
    .expect("the slow client is dropped");
    assert_eq!(ended, json!({"type":"CALL_ENDED","payload":{"by":"sloth","reason":"disconnected"}}));
    writer.abort();
    // sloth's session is gone from the core: its name can be taken again.
    server.online("sloth").await;
    drop(sloth);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_sends_going_away_to_open_websockets() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut idle = server.chatroulette().await;
    let stopping = tokio::spawn(server.stop());
    for client in [&mut alice, &mut idle] {
        let close = client.recv_close().await.expect("a close frame");
        assert_eq!(close.code, CloseCode::Away);
    }
    stopping.await.unwrap();
}

#[tokio::test]
async fn the_drop_in_listener_accepts_any_path() {
    let config = Config { chatroulette_listen: Some("127.0.0.1:0".parse().unwrap()), ..Config::default() };
    let server = TestServer::start_with(config).await;
    let dropin = server.dropin.expect("a drop-in listener");
    let mut alice = Client::connect(&format!("ws://{dropin}/")).await;
    let mut bob = Client::connect(&format!("ws://{dropin}/any/path/at/all")).await;
    alice.send(json!({"type":"c","payload":"alice"})).await;
    assert_eq!(alice.recv().await, json!({"type":"cd"}));
    bob.send(json!({"type":"c","payload":"bob"})).await;
    assert_eq!(bob.recv().await, json!({"type":"cd"}));
    // Users on the drop-in listener and on /ws/chatroulette share one core.
    let mut carol = server.online("carol").await;
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":"carol"}));
    server.stop().await;
}

#[tokio::test]
async fn a_silent_client_is_pinged_then_dropped() {
    const PING: u8 = 0x9;
    const CLOSE: u8 = 0x8;
    // Never registered: the register timeout would close it first.
    let config = switchboard_server::Config { register_timeout: Duration::from_secs(3600), ..Default::default() };
    let server = TestServer::start_with(config).await;
    let mut silent = SilentClient::connect(server.addr, "/ws/chatroulette").await;
    // The TCP stream stays open, so the connection task has registered; the
    // health check round-trip below makes sure the driver has seen it.
    while server.driver.stats().await.unwrap().sessions == 0 {
        tokio::task::yield_now().await;
    }

    server.clock.advance(Duration::from_secs(30));
    assert_eq!(silent.frame().await.0, PING, "a ping after 30 s of silence");
    server.clock.advance(Duration::from_secs(15));
    assert_eq!(silent.frame().await.0, PING, "another 15 s later");
    server.clock.advance(Duration::from_secs(10));
    let (opcode, payload) = silent.frame().await;
    assert_eq!(opcode, CLOSE, "closed after 55 s without a word");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
    assert_eq!(&payload[2..], b"idle timeout");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_answers_pings_stays() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    for round in 0..4u8 {
        server.clock.advance(Duration::from_secs(30));
        assert!(matches!(alice.next_message().await, Some(Message::Ping(_))), "round {round}");
        // tungstenite queued a pong while reading the ping. A ping of our own
        // flushes it, and its echo proves the server has read the pong before
        // the clock moves again.
        alice.send_message(Message::Ping(vec![round].into())).await;
        assert_eq!(alice.next_message().await, Some(Message::Pong(vec![round].into())));
    }
    // Twice the idle timeout has passed, and alice is still online.
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"alice"}})).await;
    assert_eq!(error_message(&alice.recv().await), "you cannot call yourself");
    server.stop().await;
}

/// The HTTP status a WebSocket upgrade to `path` is answered with.
async fn upgrade_status(server: &TestServer, path: &str) -> u16 {
    let url = format!("ws://{}{path}", server.addr);
    match tokio_tungstenite::connect_async(url).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("{path}: {other}"),
    }
}

/// A `/` in the user made `a/b` with client `c1` arrive as `from_client:
/// "b/c1"`; lossy percent-decoding made `%FF` and `%FE` one user.
#[tokio::test]
async fn ecall_devices_are_named_strictly() {
    let server = TestServer::start().await;
    for path in [
        "/ws/ecall?user=a%2Fb&client=c1",
        "/ws/ecall?user=a/b&client=c1",
        "/ws/ecall?user=%FF&client=c1",
        "/ws/ecall?user=alice&client=%FE",
        "/ws/ecall?user=alice&client=c%2F1",
        "/ws/ecall?user=alice",
        "/ws/ecall?user=alice&user=bob&client=c1",
    ] {
        assert_eq!(upgrade_status(&server, path).await, 400, "{path}");
    }
    assert_eq!(upgrade_status(&server, "/ws/ecall?user=al%C3%AFce&client=c1").await, 101);
    assert_eq!(server.driver.stats().await.unwrap().sessions, 1, "only the good device got a session");
    server.stop().await;
}
