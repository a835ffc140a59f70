//! The `switchboard` binary itself: its help, its logs, and a graceful stop
//! on SIGTERM and SIGINT with open WebSockets told "going away".

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};
use support::Client;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const BINARY: &str = env!("CARGO_BIN_EXE_switchboard");

#[test]
fn help_explains_every_option() {
    let output = Command::new(BINARY).args(["serve", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--listen",
        "SWITCHBOARD_LISTEN",
        "127.0.0.1:8080",
        "--chatroulette-listen",
        "--ring-timeout",
        "30s",
        "--empty-room-ttl",
        "--max-frame-bytes",
        "65536",
        "--session-queue",
        "--resume-window",
        "SWITCHBOARD_RESUME_WINDOW",
        "--resume-buffer",
        "--ws-ping-after",
        "--ws-idle-timeout",
        "--ws-write-timeout",
        "--header-timeout",
        "SWITCHBOARD_HEADER_TIMEOUT",
        "--log-format",
        "json",
        "--log-filter",
    ] {
        assert!(help.contains(option), "--help does not mention {option}:\n{help}");
    }
    let top = Command::new(BINARY).arg("--help").output().unwrap();
    assert!(String::from_utf8(top.stdout).unwrap().contains("serve"));
}

#[test]
fn a_bad_option_is_refused_with_a_message() {
    let output = Command::new(BINARY).args(["serve", "--ring-timeout", "soon"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--ring-timeout"));
    // A room of no place would admit nobody, its creator included.
    let output = Command::new(BINARY).args(["serve", "--room-capacity", "0"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("must be at least 1"));
}

/// Starts the binary on an ephemeral port with JSON logs and returns it with
/// the address it logged.
fn start() -> (Child, String, BufReader<std::process::ChildStderr>) {
    let mut child = Command::new(BINARY)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut logs = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let entry: Option<Value> = match logs.read_line(&mut line) {
            Ok(n) if n > 0 => serde_json::from_str(&line).ok(),
            _ => None,
        };
        let Some(entry) = entry else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server exited before it listened, or logged a line that is not JSON: {line}");
        };
        if let Some(addr) = entry["fields"]["listen"].as_str() {
            return (child, addr.to_owned(), logs);
        }
    }
}

async fn stops_gracefully_on(signal: &str) {
    let (mut child, addr, logs) = start();
    let mut client = Client::connect(&format!("ws://{addr}/ws/chatroulette")).await;
    client.send(json!({"type":"CONNECT","payload":{"as":"alice"}})).await;
    assert_eq!(client.recv().await["type"], "CONNECTED");

    let killed = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let close = client.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Away);
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = logs.lines().map(Result::unwrap).collect();
    assert!(rest.iter().any(|line| line.contains("shutting down")), "{rest:?}");
}

#[tokio::test]
async fn sigterm_stops_the_server_gracefully() {
    stops_gracefully_on("-TERM").await;
}

#[tokio::test]
async fn sigint_stops_the_server_gracefully() {
    stops_gracefully_on("-INT").await;
}
