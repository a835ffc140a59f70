//! The `switchboard` binary's access-token options: `--help` explains them,
//! an open server says so in one warning line at startup, and no token ever
//! reaches the log, not even at the `trace` level.

mod auth_support;
mod support;

use std::process::Command;

use auth_support::*;
use serde_json::{Value, json};
use support::Client;
use support::binary::{BINARY, start, stop};

#[test]
fn help_explains_the_token_and_turn_options() {
    let output = Command::new(BINARY).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--auth-jwt-secret",
        "SWITCHBOARD_AUTH_JWT_SECRET",
        "--auth-jwt-public-key",
        "SWITCHBOARD_AUTH_JWT_PUBLIC_KEY",
        "--auth-audience",
        "--auth-issuer",
        "--auth-leeway",
        "[default: 30s]",
        "--turn-open",
        "SWITCHBOARD_TURN_OPEN",
        "open relay",
        "--turn-ttl",
    ] {
        assert!(help.contains(option), "--help does not mention {option}:\n{help}");
    }
    let both = ["serve", "--auth-jwt-secret", "s", "--auth-jwt-public-key", "k.pem"];
    let output = Command::new(BINARY).args(both).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"), "{output:?}");
}

/// The startup warnings about tokens and TURN (the one about origins,
/// `--allowed-origin`, is not this test's subject).
fn warnings(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|line| line["level"] == "WARN")
        .map(|line| line["fields"]["message"].as_str().unwrap_or_default().to_owned())
        .filter(|message| !message.contains("--allowed-origin"))
        .collect()
}

#[tokio::test]
async fn an_open_server_warns_once_at_startup_and_a_checking_one_does_not() {
    let (child, _, seen, logs) = start(&[]);
    let open = warnings(&seen);
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(open[0].contains("the server is open"), "{open:?}");
    stop(child, logs).await;

    let (child, _, seen, logs) = start(&["--turn-secret", "t", "--ice-server", "turn:127.0.0.1:3478"]);
    let withheld = warnings(&seen);
    assert_eq!(withheld.len(), 2, "{withheld:?}");
    assert!(withheld[1].contains("TURN credentials are withheld"), "{withheld:?}");
    stop(child, logs).await;

    let (child, _, seen, logs) = start(&["--auth-jwt-secret", SECRET]);
    assert_eq!(warnings(&seen), Vec::<String>::new());
    stop(child, logs).await;
}

/// One HTTP/1.1 request over a fresh connection; the whole response.
async fn http(addr: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(support::PATIENCE, socket.read_to_string(&mut response)).await.unwrap().unwrap();
    response
}

#[tokio::test]
async fn no_token_reaches_the_log_even_at_trace_level() {
    let (child, addr, seen, logs) = start(&["--auth-jwt-secret", SECRET, "--log-filter", "trace"]);
    let good = token("alice");
    let forged = hs256("guessed", &json!({"sub": "mallory", "exp": now() + 3600}));

    let mut alice = Client::connect(&format!("ws://{addr}/ws/chatroulette?access_token={good}")).await;
    alice.send(json!({"type": "CONNECT"})).await;
    assert_eq!(alice.recv().await["payload"]["as"], "alice");
    let path = format!("/ws/calling?access_token={forged}");
    let refused = raw_get(addr.parse().unwrap(), &path, &[], true).await;
    assert_eq!(refused.status, 401, "{refused:?}");
    let bearer = http(
        &addr,
        &format!("GET /api/config HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {good}\r\n\r\n"),
    )
    .await;
    assert!(bearer.starts_with("HTTP/1.1 200"), "{bearer}");

    // socket.io: a v4 handshake over polling, then a connect packet with
    // `auth: {token}`, once forged and once good.
    let open =
        http(&addr, "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let sid = open.split("\"sid\":\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a sid").to_owned();
    for token in [&forged, &good] {
        let body = format!("40{{\"token\":\"{token}\"}}");
        let post = format!(
            "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        assert!(http(&addr, &post).await.starts_with("HTTP/1.1 200"));
        let get = format!(
            "GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        );
        // A poll may bring the server's Engine.IO ping first (on a slow run
        // the ping interval can pass): answer it with a pong, as a client
        // does, and poll again.
        let answer = loop {
            let answer = http(&addr, &get).await;
            if !answer.ends_with("\r\n\r\n2") {
                break answer;
            }
            let pong = format!(
                "POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 1\r\n\r\n3"
            );
            assert!(http(&addr, &pong).await.starts_with("HTTP/1.1 200"));
        };
        let expected = if token == &forged {
            "44{\"message\":\"the access token's signature is not valid\"}"
        } else {
            "40{\"sid\":"
        };
        assert!(answer.contains(expected), "{answer}");
    }
    alice.close().await;

    let mut lines: Vec<String> = seen.iter().map(Value::to_string).collect();
    lines.extend(stop(child, logs).await);
    assert!(lines.len() > 10, "trace logs were written: {lines:?}");
    for token in [&good, &forged] {
        let signature = token.rsplit('.').next().unwrap();
        let leaks: Vec<&String> = lines.iter().filter(|line| line.contains(signature)).collect();
        assert!(leaks.is_empty(), "a token in the log: {leaks:?}");
    }
}
