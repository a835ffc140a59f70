//! For the hostile_* tests: an attacker on another loopback address, plain
//! HTTP and WebSocket handshakes with the headers an attacker chooses, and a
//! legitimate call between two other users that must go on relaying.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Client, PATIENCE, TestServer};

/// The attacker's address. All of 127.0.0.0/8 is loopback on Linux, so its
/// sessions count apart from the legitimate users' 127.0.0.1.
pub const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The legitimate users' address.
pub const USERS: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
const ANSWER: &str = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";

/// A TCP connection from `source` to `to`.
pub async fn tcp_from(source: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(to).await.unwrap_or_else(|error| panic!("{source} to {to}: {error}"))
}

/// A WebSocket handshake over `stream` to `url`, with an `Origin` header if
/// given: the open stream, or the status that refused it.
pub async fn handshake<S>(stream: S, url: &str, origin: Option<&str>) -> Result<WebSocketStream<S>, u16>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = url.into_client_request().unwrap();
    if let Some(origin) = origin {
        request.headers_mut().insert("Origin", origin.parse().unwrap());
    }
    let handshake = tokio_tungstenite::client_async(request, stream);
    match tokio::time::timeout(PATIENCE, handshake).await.expect("a handshake answer") {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(response)) => Err(response.status().as_u16()),
        Err(error) => panic!("{url}: {error}"),
    }
}

/// A WebSocket to `path` on `addr` from `source`: the client, or the
/// status that refused it.
pub async fn upgrade_from(source: IpAddr, addr: SocketAddr, path: &str, origin: Option<&str>) -> Result<Client, u16> {
    let stream = tcp_from(source, addr).await;
    handshake(MaybeTlsStream::Plain(stream), &format!("ws://{addr}{path}"), origin).await.map(Client::from_stream)
}

/// `caller` and `callee` register, the call is accepted, and the SDP offer
/// and answer are relayed each way.
pub async fn set_up_call<S: AsyncRead + AsyncWrite + Unpin>(
    alice: &mut Client<S>,
    caller: &str,
    bob: &mut Client<S>,
    callee: &str,
) {
    for (client, name) in [(&mut *alice, caller), (&mut *bob, callee)] {
        client.send(json!({"type":"CONNECT","payload":{"as":name}})).await;
        assert_eq!(client.recv().await, json!({"type":"CONNECTED","payload":{"as":name}}));
    }
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":callee}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":caller}}));
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":caller}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":callee}}));
    let offer = json!({"type":"offer","sdp":OFFER});
    alice.send(json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":callee,"sdp":offer}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALLER_DESCRIPTOR_RECEIVED","payload":{"from":caller,"sdp":offer}}));
    let answer = json!({"type":"answer","sdp":ANSWER});
    bob.send(json!({"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{"to":caller,"sdp":answer}})).await;
    assert_eq!(
        alice.recv().await,
        json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from":callee,"sdp":answer}})
    );
}

/// A legitimate call on `/ws/chatroulette` from 127.0.0.1: `alice` calls
/// `bob`, who accepts; offer and answer are relayed.
pub async fn legit_call(server: &TestServer) -> (Client, Client) {
    let mut alice = upgrade_from(USERS, server.addr, "/ws/chatroulette", None).await.expect("alice connects");
    let mut bob = upgrade_from(USERS, server.addr, "/ws/chatroulette", None).await.expect("bob connects");
    set_up_call(&mut alice, "alice", &mut bob, "bob").await;
    (alice, bob)
}

/// The call between `caller` and `callee` still relays both ways: a trickle
/// ICE candidate each way, numbered `round`.
pub async fn still_relays<S: AsyncRead + AsyncWrite + Unpin>(
    alice: &mut Client<S>,
    caller: &str,
    bob: &mut Client<S>,
    callee: &str,
    round: u32,
) {
    let candidate = |n: u32| json!({"candidate": format!("candidate:{n} 1 udp 2122260223 127.0.0.1 5{n:04} typ host"), "sdpMid": "0", "sdpMLineIndex": 0});
    alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":callee,"candidate":candidate(round)}})).await;
    bob.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":caller,"candidate":candidate(round + 1)}})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":caller,"candidate":candidate(round)}}),
        "{caller} to {callee}"
    );
    assert_eq!(
        alice.recv().await,
        json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":callee,"candidate":candidate(round + 1)}}),
        "{callee} to {caller}"
    );
}

/// One HTTP/1.1 response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The head, header names lower-cased.
    pub head: String,
    pub body: String,
}

impl Response {
    /// A header's value, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.eq_ignore_ascii_case(name)).then(|| value.trim())
        })
    }
}

/// A keep-alive HTTP/1.1 connection, one request at a time: what an
/// attacker opening many polling sessions over few connections does.
pub struct Http {
    stream: TcpStream,
    read: Vec<u8>,
}

impl Http {
    pub async fn connect(source: IpAddr, addr: SocketAddr) -> Self {
        Self { stream: tcp_from(source, addr).await, read: Vec::new() }
    }

    /// GET `path` with extra headers; the response (bodies by
    /// Content-Length only).
    pub async fn get(&mut self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        self.stream.write_all(request.as_bytes()).await.unwrap();
        tokio::time::timeout(PATIENCE, self.response()).await.expect("a response")
    }

    /// POST `body` as text to `path`; the response.
    pub async fn post(&mut self, path: &str, body: &str) -> Response {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(request.as_bytes()).await.unwrap();
        tokio::time::timeout(PATIENCE, self.response()).await.expect("a response")
    }

    async fn response(&mut self) -> Response {
        let head_end = loop {
            if let Some(at) = self.read.windows(4).position(|window| window == b"\r\n\r\n") {
                break at + 4;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.read[..head_end].to_vec()).unwrap();
        let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).expect("a status line");
        let mut response = Response { status, head, body: String::new() };
        let length: usize = response.header("content-length").map_or(0, |length| length.parse().unwrap());
        assert!(response.header("transfer-encoding").is_none(), "chunked bodies are not read here");
        while self.read.len() < head_end + length {
            self.fill().await;
        }
        response.body = String::from_utf8(self.read[head_end..head_end + length].to_vec()).unwrap();
        self.read.drain(..head_end + length);
        response
    }

    async fn fill(&mut self) {
        let mut chunk = [0; 4096];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection");
        self.read.extend_from_slice(&chunk[..n]);
    }
}

/// One plain GET from `source` on a connection of its own.
pub async fn get_from(source: IpAddr, addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Response {
    Http::connect(source, addr).await.get(path, headers).await
}

/// socket.io over a WebSocket, spoken raw (Engine.IO v4, socket.io v5):
/// what a script that does not run socket.io-client sends.
pub struct RawSocketIo {
    pub client: Client,
}

impl RawSocketIo {
    /// A handshake on `/socket.io/?EIO=4&transport=websocket`: the client
    /// past its open packet, or the status that refused it.
    pub async fn open(source: IpAddr, addr: SocketAddr, origin: Option<&str>) -> Result<Self, u16> {
        let mut client = upgrade_from(source, addr, "/socket.io/?EIO=4&transport=websocket", origin).await?;
        let open = client.recv_text().await;
        assert!(open.starts_with("0{\"sid\":"), "{open}");
        Ok(Self { client })
    }

    /// Joins namespace `/` and waits for the answer.
    pub async fn join_namespace(&mut self) {
        self.client.send_text("40").await;
        let connected = self.next_packet().await;
        assert!(connected.starts_with("0{\"sid\":"), "a namespace connect: {connected}");
    }

    /// The next socket.io packet, Engine.IO pings answered.
    pub async fn next_packet(&mut self) -> String {
        loop {
            let text = self.client.recv_text().await;
            if text == "2" {
                self.client.send_text("3").await;
                continue;
            }
            return text.strip_prefix('4').unwrap_or_else(|| panic!("not a message packet: {text}")).to_owned();
        }
    }
}

/// The RSS of this process, in KiB (the test runs the server in-process).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).expect("VmRSS in /proc/self/status");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
