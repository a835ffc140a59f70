//! The request head's deadline (`--header-timeout`) on the main and drop-in
//! listeners, on a paused tokio clock: the ten seconds pass in no time, and
//! only when every task is waiting.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use support::*;
use switchboard_server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `partial` and reads until the server closes; returns what it sent
/// back and how long (on the paused clock) the connection lasted.
async fn stall(addr: SocketAddr, partial: &[u8]) -> (Vec<u8>, Duration) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(partial).await.unwrap();
    let start = Instant::now();
    let mut answer = Vec::new();
    // A reset counts as closed too: the server gave up on the head. Without a
    // deadline the read would never end; a minute on the paused clock says so.
    let read = tokio::time::timeout(Duration::from_secs(60), socket.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "{addr}: still open a minute later");
    (answer, start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn a_stalled_request_head_is_closed_after_the_timeout_on_every_listener() {
    let config = Config {
        chatroulette_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        calling_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..Config::default()
    };
    assert_eq!(config.header_timeout, HEADER_TIMEOUT, "the default");
    let server = TestServer::start_with(config).await;
    let listeners = [server.addr, server.dropin.unwrap(), server.calling.unwrap()];
    for addr in listeners {
        for partial in [&b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow"[..], b"G", b""] {
            let (answer, lasted) = stall(addr, partial).await;
            assert!(answer.is_empty(), "{addr}: nothing is answered to half a head: {answer:?}");
            assert!(lasted >= HEADER_TIMEOUT, "{addr}: closed after {lasted:?}");
            assert!(lasted < HEADER_TIMEOUT + Duration::from_secs(1), "{addr}: closed only after {lasted:?}");
        }
    }
    // A whole head in time is served as before.
    let response = http_get(server.addr, "/healthz").await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    server.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_keep_alive_connection_gets_the_same_deadline_for_its_next_head() {
    let server = TestServer::start_with(Config { header_timeout: Duration::from_secs(3), ..Config::default() }).await;
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buffer = vec![0; 4096];
    let read = socket.read(&mut buffer).await.unwrap();
    assert!(buffer[..read].starts_with(b"HTTP/1.1 200 OK"), "{:?}", String::from_utf8_lossy(&buffer[..read]));
    let start = Instant::now();
    socket.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(60), socket.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "still open a minute later");
    assert!(rest.is_empty(), "{rest:?}");
    assert!(start.elapsed() >= Duration::from_secs(3), "closed after {:?}", start.elapsed());
    server.stop().await;
}
