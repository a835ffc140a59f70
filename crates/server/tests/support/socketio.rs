//! A socket.io client over a real WebSocket, speaking the wire protocol a
//! socket.io-client 4 does on its WebSocket transport (Engine.IO v4
//! packets, socket.io v5 packets in namespace `/`): enough for the Rust
//! tests that need the manual clock. The Node tests drive the real
//! socket.io-client packages.

use serde_json::{Value, json};

use super::Client;

/// A socket.io socket connected to the default namespace.
pub struct Sio {
    ws: Client,
    next_ack: u64,
    /// The socket's id (`socket.id`), from the connect packet.
    pub id: String,
}

/// One packet from the server that a test reads.
#[derive(Debug, PartialEq)]
pub enum SioPacket {
    /// An event and its arguments.
    Event(String, Vec<Value>),
    /// The answer to one of this socket's acks.
    Ack(u64, Vec<Value>),
}

impl Sio {
    /// Opens `/socket.io/` over WebSocket and connects to `/`.
    pub async fn connect(addr: std::net::SocketAddr) -> Self {
        let mut ws = Client::connect(&format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")).await;
        let open = ws.recv_text().await;
        assert!(open.starts_with('0'), "an Engine.IO open packet: {open}");
        ws.send_text("40").await;
        let mut connected = ws.recv_text().await;
        while connected == "2" {
            ws.send_text("3").await;
            connected = ws.recv_text().await;
        }
        let body: Value = connected
            .strip_prefix("40")
            .and_then(|rest| serde_json::from_str(rest).ok())
            .unwrap_or_else(|| panic!("a socket.io connect packet: {connected}"));
        let id = body["sid"].as_str().expect("a socket id").to_owned();
        Self { ws, next_ack: 0, id }
    }

    /// `socket.emit(event, data)`.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.ws.send_text(&format!("42{}", json!([event, data]))).await;
    }

    /// `socket.emit(event, data, callback)`: returns the ack's number.
    pub async fn emit_with_ack(&mut self, event: &str, data: Value) -> u64 {
        let ack = self.next_ack;
        self.next_ack += 1;
        self.ws.send_text(&format!("42{ack}{}", json!([event, data]))).await;
        ack
    }

    /// The next event or ack; Engine.IO pings are answered on the way.
    pub async fn recv(&mut self) -> SioPacket {
        loop {
            let text = self.ws.recv_text().await;
            if text == "2" {
                self.ws.send_text("3").await;
                continue;
            }
            if let Some(rest) = text.strip_prefix("42") {
                let mut args: Vec<Value> = serde_json::from_str(rest).unwrap_or_else(|_| panic!("an event: {text}"));
                let name = args.remove(0).as_str().expect("an event name").to_owned();
                return SioPacket::Event(name, args);
            }
            if let Some(rest) = text.strip_prefix("43") {
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                let ack = rest[..digits].parse().expect("an ack number");
                let args = serde_json::from_str(&rest[digits..]).unwrap_or_else(|_| panic!("an ack: {text}"));
                return SioPacket::Ack(ack, args);
            }
            panic!("an unexpected packet: {text}");
        }
    }

    /// The next packet, which must be event `name`: its first argument.
    pub async fn expect(&mut self, name: &str) -> Value {
        match self.recv().await {
            SioPacket::Event(got, mut args) if got == name => args.drain(..).next().unwrap_or(Value::Null),
            other => panic!("expected {name}, got {other:?}"),
        }
    }

    /// The next packet, which must answer ack `ack`: its arguments.
    pub async fn expect_ack(&mut self, ack: u64) -> Vec<Value> {
        match self.recv().await {
            SioPacket::Ack(got, args) if got == ack => args,
            other => panic!("expected the answer to ack {ack}, got {other:?}"),
        }
    }
}
