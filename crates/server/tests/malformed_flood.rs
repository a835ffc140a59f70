//! 10,000 random malformed frames into one session: every one is answered
//! with an error frame, nothing panics, the session stays usable, and a call
//! between two other sessions completes at the same time.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::*;
use switchboard_core::Command;
use tokio_tungstenite::tungstenite::Message;

const FRAMES: usize = 10_000;

/// xorshift64*: a deterministic source of variety, so a failure repeats.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn text(&mut self, alphabet: &[char], max_len: usize) -> String {
        (0..self.below(max_len) + 1).map(|_| alphabet[self.below(alphabet.len())]).collect()
    }
}

const REQUESTS: &[&str] = &[
    "CONNECT",
    "c",
    "REQUEST_CALL",
    "rc",
    "ACCEPT_CALL",
    "ac",
    "REJECT_CALL",
    "rjc",
    "SEND_CALLER_DESCRIPTOR",
    "scd",
    "SEND_RECIPIENT_DESCRIPTOR",
    "srd",
    "SEND_ICE_CANDIDATE",
    "sic",
    "CANCEL_CALL",
    "cc",
    "HANG_UP",
    "hu",
];

/// One frame a client must not get anything but an error frame for, on a session
/// that has not sent `CONNECT`.
fn malformed(random: &mut Random) -> Message {
    let soup: Vec<char> = "{}[]\":,\\ abc019tyepaoldsdp\u{0}\u{1f}é☎\n".chars().collect();
    let valid = [
        r#"{"type":"REQUEST_CALL","payload":{"to":"bob"}}"#,
        r#"{"type":"rc","payload":"bob"}"#,
        r#"{"type":"scd","payload":{"to":"bob","sdp":{"type":"offer","sdp":"v=0"}}}"#,
        r#"{"type":"sic","payload":{"to":"bob","candidate":{"candidate":"c"}}}"#,
        r#"{"type":"ACCEPT_CALL","payload":{"from":"x"}}"#,
        r#"{"type":"HANG_UP","payload":{"to":"x"}}"#,
    ];
    let text = match random.below(8) {
        // Not JSON at all.
        0 => format!("#{}", random.text(&soup, 40)),
        // A valid frame cut short.
        1 => {
            let frame = random.pick(&valid);
            frame[..random.below(frame.len() - 1) + 1].to_owned()
        }
        // JSON, but not an object.
        2 => random.pick(&["42", "-1.5e9", "\"CONNECT\"", "[1,{}]", "true", "null", "[]"]).to_owned(),
        // An object whose type is unknown, missing or not a string.
        3 => match random.below(3) {
            0 => json!({"type": format!("X{}", random.next()), "payload": random.next()}).to_string(),
            1 => json!({"payload": {"to": "bob"}}).to_string(),
            _ => json!({"type": random.next()}).to_string(),
        },
        // A request type with a payload of the wrong shape.
        4 => {
            let payload = match random.below(4) {
                0 => json!(random.next()),
                1 => json!([random.pick(&["alice", "bob"])]),
                2 => json!(false),
                _ => json!({"to": random.next(), "sdp": "flat string", "candidate": 7}),
            };
            json!({"type": random.pick(REQUESTS), "payload": payload}).to_string()
        }
        // A well-formed request before CONNECT.
        5 => random.pick(&valid).to_owned(),
        // Random soup: whatever it is, it is not a CONNECT.
        6 => loop {
            let text = random.text(&soup, 60);
            let connects = matches!(
                switchboard_dialects::chatroulette::decode(&text),
                Ok(decoded) if matches!(decoded.command, Command::Register { .. })
            );
            if !connects {
                break text;
            }
        },
        // Binary, which the dialect does not use.
        _ => return Message::binary((0..random.below(64)).map(|_| random.next() as u8).collect::<Vec<u8>>()),
    };
    Message::text(text)
}

#[tokio::test]
async fn ten_thousand_malformed_frames_are_each_answered_while_a_call_completes() {
    // The decoders are under test here, not the rate limit, which would
    // close a client this fast after a few hundred frames (hostile_rate.rs).
    let config = switchboard_server::Config { rate_limit: 0, ..switchboard_server::Config::default() };
    let server = TestServer::start_with(config).await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online("bob").await;
    let url = format!("ws://{}/ws/chatroulette", server.addr);
    let (mut sink, mut stream) = tokio_tungstenite::connect_async(url).await.unwrap().0.split();

    let flood = async {
        let mut random = Random(0x5EED_CA11);
        for _ in 0..FRAMES {
            sink.send(malformed(&mut random)).await.expect("the connection stays open");
        }
    };
    let answers = async {
        let mut errors = 0;
        while errors < FRAMES {
            let message = stream.next().await.expect("open").expect("readable");
            let Message::Text(text) = message else { continue };
            let value: Value = serde_json::from_str(&text).expect("JSON");
            // `er` answers a frame spelled in the short form.
            assert!(matches!(value["type"].as_str(), Some("ERROR" | "er")), "answer {errors}: {value}");
            assert!(value["payload"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{value}");
            errors += 1;
        }
        errors
    };
    let call = async {
        alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
        assert_eq!(bob.recv().await["type"], "CALL_REQUESTED");
        bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
        assert_eq!(alice.recv().await["type"], "CALL_ACCEPTED");
        let offer = json!({"type":"offer","sdp":"v=0\r\n"});
        alice.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"bob","sdp":offer}})).await;
        assert_eq!(bob.recv().await["payload"]["sdp"], offer);
        let answer = json!({"type":"answer","sdp":"v=0\r\n"});
        bob.send(json!({"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{"to":"alice","sdp":answer}})).await;
        assert_eq!(alice.recv().await["payload"]["sdp"], answer);
        let candidate = json!({"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host"});
        alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"bob","candidate":candidate}})).await;
        assert_eq!(bob.recv().await["payload"]["candidate"], candidate);
        bob.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"alice","candidate":candidate}})).await;
        assert_eq!(alice.recv().await["payload"]["candidate"], candidate);
        alice.send(json!({"type":"HANG_UP","payload":{"to":"bob"}})).await;
        assert_eq!(bob.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"alice","reason":"hangup"}}));
    };
    let ((), errors, ()) = tokio::time::timeout(PATIENCE * 3, async { tokio::join!(flood, answers, call) })
        .await
        .expect("the flood and the call finish");
    assert_eq!(errors, FRAMES);

    // The flooded session still works.
    sink.send(Message::text(json!({"type":"CONNECT","payload":{"as":"flooded"}}).to_string())).await.unwrap();
    let reply = stream.next().await.unwrap().unwrap();
    assert_eq!(reply.to_text().unwrap(), r#"{"type":"CONNECTED","payload":{"as":"flooded"}}"#);
    server.stop().await;
}
