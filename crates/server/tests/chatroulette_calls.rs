//! Whole chatroulette calls over real WebSockets: clients written from the
//! seed's table, clients that speak only the original's short codes, and
//! the two calling each other.

mod support;

use std::time::Duration;

use serde_json::json;
use support::*;

const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
const ANSWER: &str = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

fn candidate(n: u32) -> serde_json::Value {
    json!({"candidate": format!("candidate:{n} 1 udp 2122260223 127.0.0.1 5{n:04} typ host"), "sdpMid": "0", "sdpMLineIndex": 0})
}

#[tokio::test]
async fn two_seed_clients_complete_a_call() {
    let server = TestServer::start().await;
    let mut alice = server.chatroulette().await;
    let mut bob = server.chatroulette().await;
    alice.send(json!({"type":"CONNECT","payload":{"as":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CONNECTED","payload":{"as":"alice"}}));
    bob.send(json!({"type":"CONNECT","payload":{"as":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CONNECTED","payload":{"as":"bob"}}));

    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"alice"}}));
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":"bob"}}));

    let offer = json!({"type":"offer","sdp":OFFER});
    alice.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"bob","sdp":offer}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALLER_DESCRIPTOR_RECEIVED","payload":{"from":"alice","sdp":offer}}));
    let answer = json!({"type":"answer","sdp":ANSWER});
    bob.send(json!({"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{"to":"alice","sdp":answer}})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from":"bob","sdp":answer}})
    );

    for n in 0..3 {
        alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"bob","candidate":candidate(n)}})).await;
        bob.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"alice","candidate":candidate(10 + n)}})).await;
    }
    for n in 0..3 {
        assert_eq!(
            bob.recv().await,
            json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"alice","candidate":candidate(n)}})
        );
        assert_eq!(
            alice.recv().await,
            json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"bob","candidate":candidate(10 + n)}})
        );
    }

    alice.send(json!({"type":"HANG_UP","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"alice","reason":"hangup"}}));

    let stats = server.driver.stats().await.unwrap();
    assert_eq!((stats.sessions, stats.users, stats.rooms, stats.invites), (2, 2, 0, 0));
    server.stop().await;
}

#[tokio::test]
async fn two_clients_of_the_original_short_codes_complete_a_call() {
    let server = TestServer::start().await;
    let mut alice = server.chatroulette().await;
    let mut bob = server.chatroulette().await;
    alice.send(json!({"type":"c","payload":"alice"})).await;
    assert_eq!(alice.recv().await, json!({"type":"cd"}));
    bob.send(json!({"type":"c","payload":"bob"})).await;
    assert_eq!(bob.recv().await, json!({"type":"cd"}));

    alice.send(json!({"type":"rc","payload":"bob"})).await;
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":"alice"}));
    bob.send(json!({"type":"ac","payload":"alice"})).await;
    assert_eq!(alice.recv().await, json!({"type":"ca","payload":"bob"}));

    let offer = json!({"type":"offer","sdp":OFFER});
    alice.send(json!({"type":"scd","payload":{"to":"bob","sdp":offer}})).await;
    assert_eq!(bob.recv().await, json!({"type":"cdr","payload":{"from":"alice","sdp":offer}}));
    let answer = json!({"type":"answer","sdp":ANSWER});
    bob.send(json!({"type":"srd","payload":{"to":"alice","sdp":answer}})).await;
    assert_eq!(alice.recv().await, json!({"type":"rdr","payload":{"from":"bob","sdp":answer}}));

    alice.send(json!({"type":"sic","payload":{"to":"bob","candidate":candidate(1)}})).await;
    assert_eq!(bob.recv().await, json!({"type":"icr","payload":{"from":"alice","candidate":candidate(1)}}));
    bob.send(json!({"type":"sic","payload":{"to":"alice","candidate":candidate(2)}})).await;
    assert_eq!(alice.recv().await, json!({"type":"icr","payload":{"from":"bob","candidate":candidate(2)}}));

    bob.send(json!({"type":"hu","payload":"alice"})).await;
    assert_eq!(alice.recv().await, json!({"type":"ce","payload":"bob","reason":"hangup"}));
    server.stop().await;
}

#[tokio::test]
async fn a_seed_client_and_a_short_client_each_hear_their_own_form() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online_short("bob").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":"alice"}));
    bob.send(json!({"type":"ac","payload":"alice"})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":"bob"}}));
    bob.send(json!({"type":"sic","payload":{"to":"alice","candidate":candidate(7)}})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"bob","candidate":candidate(7)}})
    );
    // A short-form client that writes a seed-form frame is still answered in short form.
    bob.send(json!({"type":"HANG_UP","payload":{"to":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"bob","reason":"hangup"}}));
    server.stop().await;
}

#[tokio::test]
async fn trickle_ice_may_start_before_the_answer() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online("bob").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;
    alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"bob","candidate":candidate(1)}})).await;
    assert_eq!(bob.recv().await["type"], "ICE_CANDIDATE_RECEIVED");
    bob.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"alice","candidate":candidate(2)}})).await;
    assert_eq!(alice.recv().await["type"], "ICE_CANDIDATE_RECEIVED");
    server.stop().await;
}

#[tokio::test]
async fn connect_without_a_name_gets_an_unguessable_one() {
    let server = TestServer::start().await;
    let mut anon = server.chatroulette().await;
    anon.send(json!({"type":"CONNECT"})).await;
    let reply = anon.recv().await;
    assert_eq!(reply["type"], "CONNECTED");
    let name = reply["payload"]["as"].as_str().expect("a name").to_owned();
    assert_eq!(name.len(), 36, "a UUID v4: {name}");

    let mut other = server.chatroulette().await;
    other.send(json!({"type":"c"})).await;
    let reply = other.recv().await;
    assert_eq!(reply["type"], "cd");
    assert_ne!(reply["payload"].as_str().unwrap(), name);

    // The drawn name can be called like any other.
    let mut caller = server.online("caller").await;
    caller.send(json!({"type":"REQUEST_CALL","payload":{"to":name}})).await;
    assert_eq!(anon.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"caller"}}));
    server.stop().await;
}

#[tokio::test]
async fn a_taken_name_and_a_second_connect_are_refused() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut impostor = server.chatroulette().await;
    impostor.send(json!({"type":"CONNECT","payload":{"as":"alice"}})).await;
    assert_eq!(impostor.recv().await, json!({"type":"USERNAME_TAKEN","payload":{"as":"alice"}}));
    impostor.send(json!({"type":"c","payload":"alice"})).await;
    assert_eq!(
        impostor.recv().await,
        json!({"type":"USERNAME_TAKEN","payload":{"as":"alice"}}),
        "answered in its first form"
    );
    let mut short = server.chatroulette().await;
    short.send(json!({"type":"c","payload":"alice"})).await;
    assert_eq!(short.recv().await, json!({"type":"ut"}));

    alice.send(json!({"type":"CONNECT","payload":{"as":"alice2"}})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"ERROR","payload":{"message":"this connection is already connected as alice","request":"CONNECT"}})
    );
    // The impostor can still pick another name on the same connection.
    impostor.send(json!({"type":"CONNECT","payload":{"as":"eve"}})).await;
    assert_eq!(impostor.recv().await["type"], "CONNECTED");
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_recipient_is_reported() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"nobody"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"UNKNOWN_RECIPIENT","payload":{"to":"nobody"}}));
    let mut short = server.online_short("bob").await;
    short.send(json!({"type":"rc","payload":"nobody"})).await;
    assert_eq!(short.recv().await, json!({"type":"ur"}));
    server.stop().await;
}

#[tokio::test]
async fn a_busy_callee_rejects_with_reason_busy() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online("bob").await;
    let mut carol = server.online("carol").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;
    // bob is ringing: busy.
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(carol.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"bob","reason":"busy"}}));
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    alice.recv().await;
    // bob is in a call: busy; so is alice.
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"alice"}})).await;
    assert_eq!(carol.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"alice","reason":"busy"}}));
    let mut dave = server.online_short("dave").await;
    dave.send(json!({"type":"rc","payload":"bob"})).await;
    assert_eq!(dave.recv().await, json!({"type":"crj","payload":"bob","reason":"busy"}));
    server.stop().await;
}

#[tokio::test]
async fn a_rejected_call_tells_the_caller() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online("bob").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;
    bob.send(json!({"type":"REJECT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"bob"}}));
    // Nothing rings any more: accepting now fails.
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(bob.recv().await["payload"]["message"], "no such ringing call");
    server.stop().await;
}

#[tokio::test]
async fn short_form_clients_reject_and_cancel() {
    let server = TestServer::start().await;
    let mut alice = server.online_short("alice").await;
    let mut bob = server.online_short("bob").await;
    alice.send(json!({"type":"rc","payload":"bob"})).await;
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":"alice"}));
    bob.send(json!({"type":"rjc","payload":"alice"})).await;
    assert_eq!(alice.recv().await, json!({"type":"crj","payload":"bob"}));

    alice.send(json!({"type":"rc","payload":"bob"})).await;
    assert_eq!(bob.recv().await, json!({"type":"cr","payload":"alice"}));
    alice.send(json!({"type":"cc","payload":"bob"})).await;
    assert_eq!(bob.recv().await, json!({"type":"ccd","payload":"alice"}));

    alice.send(json!({"type":"rc","payload":"bob"})).await;
    bob.recv().await;
    server.clock.advance(Duration::from_secs(30));
    assert_eq!(alice.recv().await, json!({"type":"crj","payload":"bob","reason":"timeout"}));
    assert_eq!(bob.recv().await, json!({"type":"ccd","payload":"alice","reason":"timeout"}));
    server.stop().await;
}

#[tokio::test]
async fn the_caller_can_cancel_while_ringing() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online_short("bob").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;
    alice.send(json!({"type":"CANCEL_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"ccd","payload":"alice"}));
    // Cancelling again is an error.
    alice.send(json!({"type":"CANCEL_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(alice.recv().await["type"], "ERROR");
    server.stop().await;
}

#[tokio::test]
async fn nobody_answering_times_out_on_the_servers_clock() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online("bob").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await["type"], "CALL_REQUESTED");
    // The server's clock moves 30 s in an instant.
    server.clock.advance(Duration::from_secs(30));
    assert_eq!(alice.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"bob","reason":"timeout"}}));
    assert_eq!(bob.recv().await, json!({"type":"CALL_CANCELLED","payload":{"by":"alice","reason":"timeout"}}));
    server.stop().await;
}

#[tokio::test]
async fn disconnects_end_calls_in_every_phase() {
    let server = TestServer::start().await;

    // The caller goes while ringing: the callee stops ringing.
    let alice = server.online("alice").await;
    let mut bob = server.online("bob").await;
    let mut alice = alice;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;
    alice.close().await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_CANCELLED","payload":{"by":"alice","reason":"disconnected"}}));

    // The callee goes while ringing: the caller is told.
    let mut carol = server.online("carol").await;
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    bob.recv().await;
    bob.close().await;
    assert_eq!(carol.recv().await, json!({"type":"CALL_REJECTED","payload":{"by":"bob","reason":"disconnected"}}));

    // A party goes in a call: the other is told. A dropped TCP connection counts too.
    let mut dave = server.online("dave").await;
    dave.send(json!({"type":"REQUEST_CALL","payload":{"to":"carol"}})).await;
    carol.recv().await;
    carol.send(json!({"type":"ACCEPT_CALL","payload":{"from":"dave"}})).await;
    dave.recv().await;
    drop(carol);
    assert_eq!(dave.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"carol","reason":"disconnected"}}));

    // The names are free again.
    server.online("alice").await;
    server.online("bob").await;
    server.stop().await;
}
