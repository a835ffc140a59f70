//! A real server on an ephemeral loopback port with a manual clock, and a
//! WebSocket client over a real socket.

#![allow(dead_code)]

pub mod binary;
pub mod hostile;
pub mod prometheus;
pub mod redis_server;
pub mod signals;
pub mod socketio;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use switchboard_server::{Application, Clock, Config, DriverHandle, ManualClock};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for something that should come at once before it
/// fails (a bound on a hang, never a way to wait for time to pass).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub struct TestServer {
    pub addr: SocketAddr,
    pub dropin: Option<SocketAddr>,
    pub calling: Option<SocketAddr>,
    pub metrics: Option<SocketAddr>,
    pub clock: ManualClock,
    pub driver: DriverHandle,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Self {
        let clock = ManualClock::new();
        let app = Application::build(config, Clock::Manual(clock.clone())).await.expect("server builds");
        let (addr, dropin, calling, metrics, driver) =
            (app.local_addr(), app.chatroulette_addr(), app.calling_addr(), app.metrics_addr(), app.driver());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self { addr, dropin, calling, metrics, clock, driver, stop, task }
    }

    /// A client on `/ws/calling`, past its `hello`; returns it with its id.
    pub async fn calling(&self) -> (Client, String) {
        let mut client = Client::connect(&format!("ws://{}/ws/calling", self.addr)).await;
        let hello = client.recv().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        let id = hello["id"].as_str().expect("an id").to_owned();
        (client, id)
    }

    /// A client on `/ws/chatroulette`.
    pub async fn chatroulette(&self) -> Client {
        Client::connect(&format!("ws://{}/ws/chatroulette", self.addr)).await
    }

    /// A client that has sent `CONNECT` as `name` in the seed form.
    pub async fn online(&self, name: &str) -> Client {
        let mut client = self.chatroulette().await;
        client.send(serde_json::json!({"type": "CONNECT", "payload": {"as": name}})).await;
        assert_eq!(client.recv().await["type"], "CONNECTED");
        client
    }

    /// A client that has sent `CONNECT` as `name` in the short form.
    pub async fn online_short(&self, name: &str) -> Client {
        let mut client = self.chatroulette().await;
        client.send(serde_json::json!({"type": "c", "payload": name})).await;
        assert_eq!(client.recv().await, serde_json::json!({"type": "cd"}));
        client
    }

    /// Waits until the driver holds `held` sessions for a resume (each
    /// check is one round trip through the driver: this waits for the
    /// event, never for time).
    pub async fn wait_for_held(&self, held: usize) {
        let wait = async {
            while self.driver.gauges().await.expect("driver running").1.held() != held {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(PATIENCE, wait).await.unwrap_or_else(|_| panic!("never {held} held sessions"));
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task).await.expect("server stops").unwrap().unwrap();
    }
}

/// A plain HTTP/1.1 GET over a real socket; the whole response as text.
pub async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, socket.read_to_string(&mut response)).await.expect("a response").unwrap();
    response
}

/// A plain HTTP/1.1 POST of a form body over a real socket; the whole
/// response as text.
pub async fn http_post_form(addr: SocketAddr, path: &str, body: &str) -> String {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(PATIENCE, socket.read_to_string(&mut response)).await.expect("a response").unwrap();
    response
}

/// A WebSocket client over a TCP stream, or over any stream (TLS).
pub struct Client<S = MaybeTlsStream<TcpStream>> {
    ws: WebSocketStream<S>,
}

impl Client {
    pub async fn connect(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        Self { ws }
    }

    /// Connects with a request of the test's own making (headers added).
    pub async fn from_request(request: tokio_tungstenite::tungstenite::handshake::client::Request) -> Self {
        let url = request.uri().to_string();
        let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        Self { ws }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client over a stream whose handshake is done.
    pub fn from_stream(ws: WebSocketStream<S>) -> Self {
        Self { ws }
    }

    pub async fn send(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// Sends, or says why the connection cannot take it (closed).
    pub async fn try_send_text(&mut self, text: &str) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(Message::text(text)).await
    }

    pub async fn send_message(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// The next frame, whatever it is (pings included).
    pub async fn next_message(&mut self) -> Option<Message> {
        match tokio::time::timeout(PATIENCE, self.ws.next()).await {
            Ok(Some(Ok(message))) => Some(message),
            Ok(Some(Err(_)) | None) => None,
            Err(_) => panic!("nothing arrived within {PATIENCE:?}"),
        }
    }

    /// The next text frame as JSON; pings and pongs are skipped.
    pub async fn recv(&mut self) -> Value {
        loop {
            match self.next_message().await {
                Some(Message::Text(text)) => return serde_json::from_str(&text).expect("JSON from the server"),
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next text frame as it came; pings and pongs are skipped.
    pub async fn recv_text(&mut self) -> String {
        loop {
            match self.next_message().await {
                Some(Message::Text(text)) => return text.to_string(),
                Some(Message::Ping(_) | Message::Pong(_)) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Waits for the server's close frame.
    pub async fn recv_close(&mut self) -> Option<CloseFrame> {
        loop {
            match self.next_message().await {
                Some(Message::Close(frame)) => return frame,
                Some(Message::Text(_) | Message::Ping(_) | Message::Pong(_)) => continue,
                Some(other) => panic!("expected a close frame, got {other:?}"),
                None => return None,
            }
        }
    }

    /// Drops the TCP connection with no close frame, as a phone that
    /// changes networks does: the server sees the socket end, nothing more.
    pub fn drop_connection(self) {
        drop(self.ws);
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
        // Read until the server's side of the close arrives.
        while let Ok(Some(Ok(_))) = tokio::time::timeout(PATIENCE, self.ws.next()).await {}
    }
}

/// A client that completes the WebSocket handshake and then never answers
/// anything, not even pings: what a dead peer behind a live TCP connection
/// looks like. It reads raw frames.
pub struct SilentClient {
    socket: TcpStream,
}

impl SilentClient {
    pub async fn connect(addr: std::net::SocketAddr, path: &str) -> Self {
        let mut socket = TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(socket.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
        Self { socket }
    }

    /// The next server frame's opcode and payload (server frames are unmasked
    /// and, here, short).
    pub async fn frame(&mut self) -> (u8, Vec<u8>) {
        let read = async {
            let first = self.socket.read_u8().await.unwrap();
            let len = self.socket.read_u8().await.unwrap();
            assert!(len < 126, "short frames only");
            let mut payload = vec![0; len as usize];
            self.socket.read_exact(&mut payload).await.unwrap();
            (first & 0x0f, payload)
        };
        tokio::time::timeout(PATIENCE, read).await.expect("a frame")
    }
}

/// Sends a calling request with `tid` and returns its answer.
/// A chatroulette client on the server at `addr` that has registered as
/// `name` (`CONNECT`, then `CONNECTED`, the seed's long form).
pub async fn chatroulette_as(addr: &str, name: &str) -> Client {
    let mut client = Client::connect(&format!("ws://{addr}/ws/chatroulette")).await;
    client.send(json!({"type":"CONNECT","payload":{"as":name}})).await;
    assert_eq!(client.recv().await, json!({"type":"CONNECTED","payload":{"as":name}}));
    client
}

pub async fn ask(client: &mut Client, mut request: Value, tid: u64) -> Value {
    request["tid"] = json!(tid);
    client.send(request).await;
    let answer = client.recv().await;
    assert_eq!((answer["type"].as_str(), answer["tid"].as_u64()), (Some("answer"), Some(tid)), "{answer}");
    answer
}
