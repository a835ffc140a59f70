//! The soak against a real switchboard over real sockets, and through a
//! proxy that breaks one relayed message (drops it, sends it twice, or
//! swaps it with the next), to show that each fault fails the soak.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use super::ledger::seq_of;
use super::{Args, soak};
use crate::tests::switchboard;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

/// Soak options for a short, counted run against `addr`.
fn args(addr: SocketAddr, extra: &[&str]) -> Args {
    let addr = addr.to_string();
    let base = ["soak", "--addr", &addr, "--calls", "3", "--churn-rate", "1000", "--long-rate", "200"];
    Cli::parse_from(base.iter().chain(extra)).args
}

#[tokio::test]
async fn every_dialect_soaks_clean_against_switchboard() {
    let (addr, _stop) = switchboard().await;
    let outcome = soak(&args(addr, &["--long-calls", "1"])).await.expect("the soak runs");
    assert!(outcome.ok, "{}", outcome.report);
    // Per dialect: 3 churned calls and one long-lived call of 3 messages,
    // each way; a churned call sends an SDP and 4 candidates.
    let per_dialect = 2 * (3 * 5 + 3);
    assert_eq!(outcome.messages.sent, 5 * per_dialect, "{}", outcome.report);
    assert_eq!(outcome.messages.delivered, outcome.messages.sent);
    assert_eq!(outcome.failed_calls, 0);
}

/// What the proxy does to the first client frame that carries message 1
/// of its stream.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Drop,
    Duplicate,
    /// Holds it back until the connection's next relayed message has gone.
    Swap,
}

/// A WebSocket proxy in front of `upstream` that forwards every frame
/// both ways, and breaks one relayed message, once, with `fault`.
async fn faulty_proxy(upstream: SocketAddr, fault: Fault) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
    let addr = listener.local_addr().expect("an address");
    let armed = Arc::new(Mutex::new(Some(fault)));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let armed = armed.clone();
            tokio::spawn(async move {
                let mut path = String::new();
                // tungstenite's callback type, whose error is a whole HTTP response.
                #[allow(clippy::result_large_err)]
                let record_path = |request: &Request, response: Response| {
                    path = request.uri().to_string();
                    Ok(response)
                };
                let Ok(client) = tokio_tungstenite::accept_hdr_async(stream, record_path).await else { return };
                let url = format!("ws://{upstream}{path}");
                let Ok((server, _)) = tokio_tungstenite::connect_async(url).await else { return };
                let (mut to_client, mut from_client) = client.split();
                let (mut to_server, mut from_server) = server.split();
                tokio::spawn(async move {
                    while let Some(Ok(message)) = from_server.next().await {
                        if to_client.send(message).await.is_err() {
                            break;
                        }
                    }
                });
                let mut held = None;
                while let Some(Ok(message)) = from_client.next().await {
                    let seq = message.to_text().ok().and_then(seq_of);
                    let fault = if seq == Some(1) { armed.lock().expect("armed").take() } else { None };
                    let mut out = vec![];
                    match fault {
                        Some(Fault::Drop) => {}
                        Some(Fault::Duplicate) => out.extend([message.clone(), message]),
                        Some(Fault::Swap) => held = Some(message),
                        None => {
                            let relayed = seq.is_some();
                            out.push(message);
                            if relayed && let Some(late) = held.take() {
                                out.push(late);
                            }
                        }
                    }
                    for message in out {
                        if to_server.send(message).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

async fn soak_through(fault: Fault) -> super::Outcome {
    let (addr, _stop) = switchboard().await;
    let proxy = faulty_proxy(addr, fault).await;
    let args = args(proxy, &["--dialects", "chatroulette", "--long-calls", "0", "--loss-timeout", "60s"]);
    soak(&args).await.expect("the soak runs")
}

#[tokio::test]
async fn a_dropped_relay_fails_the_soak() {
    let outcome = soak_through(Fault::Drop).await;
    assert!(!outcome.ok, "{}", outcome.report);
    assert_eq!((outcome.messages.lost, outcome.messages.duplicated, outcome.messages.reordered), (1, 0, 0));
    assert_eq!(outcome.messages.delivered, outcome.messages.sent - 1);
}

#[tokio::test]
async fn a_duplicated_relay_fails_the_soak() {
    let outcome = soak_through(Fault::Duplicate).await;
    assert!(!outcome.ok, "{}", outcome.report);
    assert_eq!((outcome.messages.lost, outcome.messages.duplicated, outcome.messages.reordered), (0, 1, 0));
}

#[tokio::test]
async fn a_reordered_relay_fails_the_soak() {
    let outcome = soak_through(Fault::Swap).await;
    assert!(!outcome.ok, "{}", outcome.report);
    assert_eq!((outcome.messages.lost, outcome.messages.duplicated, outcome.messages.reordered), (0, 0, 1));
}
