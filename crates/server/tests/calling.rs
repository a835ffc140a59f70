//! The calling dialect over real WebSockets: greeting, answers, the
//! heartbeat, room expiry and the client's own keepalive on the server's
//! manual clock, and a call between a calling user and a chatroulette user.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;
use switchboard_server::Config;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test]
async fn hello_names_the_user_and_the_server() {
    let server = TestServer::start().await;
    let (_, first) = server.calling().await;
    let mut client = Client::connect(&format!("ws://{}/ws/calling", server.addr)).await;
    let hello = client.recv().await;
    assert_eq!(hello["server"], concat!("switchboard ", env!("CARGO_PKG_VERSION")));
    let id = hello["id"].as_str().unwrap();
    assert_eq!((id.len(), &id[14..15]), (36, "4"), "a UUID v4: {id}");
    assert_ne!(id, first);
    server.stop().await;
}

#[tokio::test]
async fn requests_are_answered_and_refused_as_the_original_did() {
    let server = TestServer::start().await;
    let (mut alice, _) = server.calling().await;
    assert_eq!(ask(&mut alice, json!({"type":"ping"}), 1).await, json!({"type":"answer","tid":1}));
    let answer = ask(&mut alice, json!({"type":"room_join","room":"r","status":{"mic":true}}), 2).await;
    assert_eq!(answer["data"], json!({"room":"r","peers":{},"status":{}}));
    let answer = ask(&mut alice, json!({"type":"room_leave","room":"r","extra":1}), 3).await;
    assert_eq!(answer["error"], "Unexpected field in message");
    let answer = ask(&mut alice, json!({"type":"room_leave","room":"nowhere"}), 4).await;
    assert_eq!(answer["error"], "Room does not exist");
    let answer = ask(&mut alice, json!({"type":"dance"}), 5).await;
    assert_eq!(answer["error"], "Unknown command");
    server.stop().await;
}

#[tokio::test]
async fn a_request_without_tid_is_carried_out_unanswered_and_bad_json_is_an_error() {
    let server = TestServer::start().await;
    let (mut alice, alice_id) = server.calling().await;
    let (mut bob, _) = server.calling().await;
    ask(&mut bob, json!({"type":"ns_subscribe","namespace":"lobby"}), 1).await;

    // No tid: carried out (bob hears of it), nothing answered to alice.
    alice.send(json!({"type":"ns_user_register","namespace":"lobby"})).await;
    assert_eq!(bob.recv().await, json!({"type":"ns_user_add","namespace":"lobby","user":alice_id,"status":{}}));
    // Refused without tid: nothing either. Then bad JSON: an error, and the
    // connection goes on; alice's next frame is the error, so nothing came
    // before it.
    alice.send(json!({"type":"room_leave"})).await;
    alice.send_text("{oops").await;
    let error = alice.recv().await;
    assert_eq!(error["type"], "error");
    assert!(error["error"].as_str().unwrap().starts_with("malformed JSON"), "{error}");
    alice.send_text("[1,2]").await;
    assert_eq!(alice.recv().await, json!({"type":"error","error":"a message must be a JSON object"}));
    assert_eq!(ask(&mut alice, json!({"type":"ping"}), 9).await, json!({"type":"answer","tid":9}));
    server.stop().await;
}

#[tokio::test]
async fn a_silent_calling_client_is_pinged_then_dropped_after_55_seconds() {
    const PING: u8 = 0x9;
    const CLOSE: u8 = 0x8;
    let server = TestServer::start().await;
    let mut silent = SilentClient::connect(server.addr, "/ws/calling").await;
    let (opcode, hello) = silent.frame().await;
    assert_eq!(opcode, 0x1, "a text frame: {}", String::from_utf8_lossy(&hello));

    server.clock.advance(Duration::from_secs(30));
    assert_eq!(silent.frame().await.0, PING);
    server.clock.advance(Duration::from_secs(15));
    assert_eq!(silent.frame().await.0, PING);
    server.clock.advance(Duration::from_secs(10));
    let (opcode, payload) = silent.frame().await;
    assert_eq!((opcode, u16::from_be_bytes([payload[0], payload[1]])), (CLOSE, 1001));
    server.stop().await;
}

#[tokio::test]
async fn the_heartbeat_is_configurable() {
    let config =
        Config { ws_ping_after: Duration::from_secs(4), ws_idle_timeout: Duration::from_secs(6), ..Config::default() };
    let server = TestServer::start_with(config).await;
    let mut silent = SilentClient::connect(server.addr, "/ws/calling").await;
    silent.frame().await;
    server.clock.advance(Duration::from_secs(4));
    assert_eq!(silent.frame().await.0, 0x9);
    server.clock.advance(Duration::from_secs(2));
    assert_eq!(silent.frame().await.0, 0x8);
    server.stop().await;
}

#[tokio::test]
async fn an_empty_room_is_deleted_after_ten_minutes() {
    // Keep the clients' connections through the long jumps of the clock.
    let hour = Duration::from_secs(3600);
    let server =
        TestServer::start_with(Config { ws_ping_after: hour, ws_idle_timeout: 2 * hour, ..Config::default() }).await;
    let (mut alice, _) = server.calling().await;
    let (mut bob, _) = server.calling().await;
    ask(&mut alice, json!({"type":"room_join","room":"r"}), 1).await;
    ask(&mut alice, json!({"type":"room_status","room":"r","key":"topic","value":"rust"}), 2).await;
    ask(&mut alice, json!({"type":"room_leave","room":"r"}), 3).await;

    // 9:59 later the empty room still has its status.
    server.clock.advance(Duration::from_secs(599));
    let answer = ask(&mut bob, json!({"type":"room_join","room":"r"}), 1).await;
    assert_eq!(answer["data"]["status"], json!({"topic":"rust"}));
    ask(&mut bob, json!({"type":"room_leave","room":"r"}), 2).await;

    // Ten minutes after it emptied again, it is gone: joining makes a new one.
    server.clock.advance(Duration::from_secs(600));
    let answer = ask(&mut bob, json!({"type":"room_status","room":"r","key":"k","value":1}), 3).await;
    assert_eq!(answer["error"], "Room does not exist");
    let answer = ask(&mut bob, json!({"type":"room_join","room":"r"}), 4).await;
    assert_eq!(answer["data"]["status"], json!({}));
    server.stop().await;
}

#[tokio::test]
async fn remote_ping_and_remote_timeout_follow_the_clients_times() {
    let server = TestServer::start().await;
    let (mut alice, _) = server.calling().await;
    ask(&mut alice, json!({"type":"remote_ping","time":1000}), 1).await;
    server.clock.advance(Duration::from_secs(1));
    assert_eq!(alice.recv().await, json!({"type":"ping"}));
    ask(&mut alice, json!({"type":"remote_timeout","time":5000}), 2).await;
    server.clock.advance(Duration::from_secs(5));
    let close = alice.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Normal);
    server.stop().await;
}

/// `time` outside 1 s to 1 h once panicked the connection task (1e300 in
/// `Duration::from_secs_f64`), leaking its session, or pinged a thousand
/// times a second (1e-300).
#[tokio::test]
async fn remote_times_out_of_range_are_refused_and_leak_nothing() {
    let server = TestServer::start().await;
    let (mut alice, _) = server.calling().await;
    let mut tid = 0;
    for time in [json!(1e300), json!(-1), json!(1e-300), json!(0), json!(999), json!(3_600_001)] {
        for kind in ["remote_ping", "remote_timeout"] {
            tid += 1;
            let answer = ask(&mut alice, json!({"type": kind, "time": time}), tid).await;
            assert_eq!(answer["error"], "Type mismatch in message", "{kind} {time}: {answer}");
        }
    }
    let metrics = http_get(server.addr, "/metrics").await;
    assert_eq!(prometheus::sessions(&metrics), 1, "the connection lives on, nothing leaked: {metrics}");
    assert!(metrics.contains("\nswitchboard_users 1\n"), "{metrics}");
    // No keepalive was set: 20 s on (a 1e-300 ms one would have pinged by
    // now), the next frame is still the answer to the client's request.
    server.clock.advance(Duration::from_secs(20));
    assert_eq!(ask(&mut alice, json!({"type":"ping"}), 99).await, json!({"type":"answer","tid":99}));
    // The ends of the range are taken.
    assert!(ask(&mut alice, json!({"type":"remote_ping","time":3_600_000}), 100).await.get("error").is_none());
    assert!(ask(&mut alice, json!({"type":"remote_timeout","time":1000}), 101).await.get("error").is_none());
    alice.close().await;
    while server.driver.stats().await.unwrap().sessions != 0 {
        tokio::task::yield_now().await;
    }
    server.stop().await;
}

#[tokio::test]
async fn a_chatroulette_user_and_a_calling_user_call_each_other() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let (mut bob, bob_id) = server.calling().await;

    // alice (chatroulette) calls bob (calling): an invite rings bob.
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":bob_id}})).await;
    let invite = bob.recv().await;
    assert_eq!(invite["type"], "invite_incoming");
    assert_eq!((invite["handle"].as_u64(), invite["sender"].as_str()), (Some(0), Some("alice")));
    assert_eq!(invite["peers"], json!({"alice":{"pending":false,"status":{}}}));
    let room = invite["room"].as_str().unwrap().to_owned();
    ask(&mut bob, json!({"type":"invite_accept","handle":0,"status":{}}), 1).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":bob_id}}));

    // SDP and ICE cross dialects: chatroulette descriptors are rtc-lib's
    // `signaling` events, candidates its `ice_candidate` events.
    let offer = json!({"type":"offer","sdp":"v=0\r\n"});
    alice.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":bob_id,"sdp":offer}})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type":"room_peer_from","room":room,"user":"alice","event":"signaling","data":offer})
    );
    let answer = json!({"type":"answer","sdp":"v=0\r\n","streams":{},"channels":{}});
    let to_alice = json!({"type":"room_peer_to","room":room,"user":"alice","event":"signaling","data":answer});
    ask(&mut bob, to_alice, 2).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from":bob_id,"sdp":answer}})
    );
    let candidate = json!({"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"});
    let ice = json!({"type":"room_peer_to","room":room,"user":"alice","event":"ice_candidate","data":candidate});
    ask(&mut bob, ice, 3).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":bob_id,"candidate":candidate}})
    );
    alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":bob_id,"candidate":candidate}})).await;
    assert_eq!(bob.recv().await["event"], "ice_candidate");

    // bob leaves the room: for alice the call has ended.
    ask(&mut bob, json!({"type":"room_leave","room":room}), 4).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ENDED","payload":{"by":bob_id,"reason":"hangup"}}));

    // And the other way, as rtc-lib calls: bob joins a room of his own and
    // invites alice into it; she accepts by name. (An invite into a room
    // bob is not in is refused: a call needs him in it, tests/cross_dialect.rs.)
    let refused =
        ask(&mut bob, json!({"type":"invite_send","room":"den","user":"alice","data":{"video":true}}), 5).await;
    assert_eq!(refused["error"], "Room does not exist", "{refused}");
    ask(&mut bob, json!({"type":"room_join","room":"den","status":{}}), 6).await;
    bob.send(json!({"type":"invite_send","room":"den","user":"alice","data":{"video":true},"tid":7})).await;
    assert_eq!(bob.recv().await["type"], "room_peer_add");
    assert_eq!(bob.recv().await, json!({"type":"answer","tid":7,"data":{"handle":1}}));
    assert_eq!(alice.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":bob_id}}));
    alice.send(json!({"type":"ACCEPT_CALL","payload":{"from":bob_id}})).await;
    assert_eq!(bob.recv().await, json!({"type":"invite_response","handle":1,"accepted":true}));
    server.stop().await;
}

#[tokio::test]
async fn the_calling_drop_in_listener_accepts_any_path() {
    let config = Config { calling_listen: Some("127.0.0.1:0".parse().unwrap()), ..Config::default() };
    let server = TestServer::start_with(config).await;
    let addr = server.calling.expect("a calling listener");
    let mut client = Client::connect(&format!("ws://{addr}/")).await;
    assert_eq!(client.recv().await["type"], "hello");
    server.stop().await;
}
