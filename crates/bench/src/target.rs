//! What the scenarios talk to: switchboard in one of its dialects, the
//! original calling-signaling server, or the bare relay, which forwards
//! whatever it gets between the two connections of a pair.
//!
//! Every scenario is written against [`Call`]: two connections that can relay
//! to each other, and the frames each dialect uses for an ICE candidate, an
//! SDP offer or answer, and a hang-up. Frames are built once as text; the
//! generator never parses a relayed frame, only the short answers of call
//! setup, so that the server, not the generator, is what gets measured.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::{calling, chatroulette, cloudkibo, ecall, matchbox, tringtring};

/// A client connection.
pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Which server, in which dialect, a scenario measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// `switchboard-bench baseline-relay`: pairs the two connections asking
    /// for one path and forwards frames unparsed.
    Baseline,
    /// switchboard at `/ws/chatroulette` (seed 002).
    Chatroulette,
    /// switchboard at `/ws/calling` (seed 003).
    Calling,
    /// The original calling-signaling server, from npm (seed 003).
    CallingSignaling,
    /// switchboard's tringtring over socket.io (Engine.IO 4 over WebSocket;
    /// seed 001).
    Tringtring,
    /// switchboard's cloudkibo over socket.io (Engine.IO 4 over WebSocket;
    /// seed 000), its calls negotiated in a media room.
    Cloudkibo,
    /// switchboard at `/ws/ecall` (seed 004), one device per connection.
    Ecall,
    /// matchbox_server 0.15 (Rust, axum), a peer of switchboard's
    /// WebSocket dialects: rooms by path, relays by peer id.
    Matchbox,
    /// `scripts/tringtring-node.mjs`: a Node socket.io 4 server doing what
    /// Tring-Tring's own server does, the server a Tring-Tring user would
    /// run instead; spoken to as [`Target::Tringtring`] is.
    TringtringNode,
}

impl Target {
    /// The server, for reports.
    pub fn server(self) -> &'static str {
        match self {
            Target::Baseline => "bare relay",
            Target::CallingSignaling => "calling-signaling 0.1.4",
            Target::Matchbox => "matchbox_server 0.15.0",
            Target::TringtringNode => "socket.io 4.8.4 (Node)",
            Target::Chatroulette | Target::Calling | Target::Tringtring | Target::Cloudkibo | Target::Ecall => {
                "switchboard"
            }
        }
    }

    /// The dialect, for reports.
    pub fn dialect(self) -> &'static str {
        match self {
            Target::Baseline => "raw frames",
            Target::Chatroulette => "chatroulette",
            Target::Calling | Target::CallingSignaling => "calling",
            Target::Tringtring | Target::TringtringNode => "tringtring (socket.io)",
            Target::Matchbox => "matchbox",
            Target::Cloudkibo => "cloudkibo (socket.io)",
            Target::Ecall => "ecall",
        }
    }

    fn path(self, key: &str) -> String {
        match self {
            Target::Baseline | Target::Matchbox => format!("/{key}"),
            Target::Chatroulette => "/ws/chatroulette".into(),
            // The original takes upgrades on any path.
            Target::Calling | Target::CallingSignaling => "/ws/calling".into(),
            Target::Tringtring | Target::TringtringNode | Target::Cloudkibo => {
                "/socket.io/?EIO=4&transport=websocket".into()
            }
            Target::Ecall => format!("/ws/ecall?user={key}&client={}", ecall::CLIENT),
        }
    }
}

/// The server a scenario measures, and where it listens: every scenario's
/// `--target` and `--addr`.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Server {
    /// The server (and dialect) to measure.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Its address (`127.0.0.1:8080`).
    #[arg(long)]
    pub addr: SocketAddr,
    /// Where the second party of each pair (the callee) connects, when not
    /// to `--addr`: another node of a switchboard cluster, so that every
    /// call and relay crosses Redis.
    #[arg(long)]
    pub peer_addr: Option<SocketAddr>,
}

impl Server {
    /// Where the callee of each pair connects.
    pub fn callee_addr(&self) -> SocketAddr {
        self.peer_addr.unwrap_or(self.addr)
    }
}

/// One side of a call: its connection, how the other side addresses it in
/// a relay (a user name, a calling user id, a socket.io id, a cloudkibo
/// media-room member id), and the name it connected as (a user name, a
/// phone number).
pub struct Peer {
    pub socket: Socket,
    pub id: String,
    pub name: String,
}

/// Two connections that relay to each other: for switchboard and
/// calling-signaling, two users in an accepted call (or a room); for the
/// baseline, the two connections of a pair.
pub struct Call {
    pub target: Target,
    pub caller: Peer,
    pub callee: Peer,
    /// The room the call is in, where the dialect names one.
    pub room: String,
}

/// What a relayed frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Offer,
    Answer,
    IceCandidate,
}

/// Opens a connection from `source` (any loopback address when `None`) and
/// completes the dialect's own handshake; `key` names the pair for the
/// baseline and the user for chatroulette.
pub async fn connect(target: Target, addr: SocketAddr, source: Option<Ipv4Addr>, key: &str) -> anyhow::Result<Peer> {
    let socket = TcpSocket::new_v4()?;
    if let Some(source) = source {
        socket.bind(SocketAddr::from((source, 0)))?;
    }
    let stream = socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{addr}{}", target.path(key));
    let (mut socket, _) =
        tokio_tungstenite::client_async(&url, MaybeTlsStream::Plain(stream)).await.with_context(|| url.clone())?;
    let id = match target {
        Target::Baseline => key.to_owned(),
        Target::Chatroulette => chatroulette::register(&mut socket, key).await?,
        Target::Calling | Target::CallingSignaling => calling::hello(&mut socket).await?,
        Target::Tringtring | Target::TringtringNode => tringtring::open(&mut socket).await?,
        Target::Cloudkibo => cloudkibo::open(&mut socket, key).await?,
        Target::Matchbox => matchbox::open(&mut socket).await?,
        Target::Ecall => {
            ecall::open(&mut socket).await?;
            key.to_owned()
        }
    };
    Ok(Peer { socket, id, name: key.to_owned() })
}

/// Two connections in a call: `caller` (on `server.addr`) called `callee`
/// (on `server.callee_addr()`), who accepted.
pub async fn call(server: Server, caller: &str, callee: &str) -> anyhow::Result<Call> {
    call_from(server, None, caller, callee).await
}

/// [`call`], both connections from `source` (any loopback address when
/// `None`).
pub async fn call_from(server: Server, source: Option<Ipv4Addr>, caller: &str, callee: &str) -> anyhow::Result<Call> {
    let target = server.target;
    let mut a = connect(target, server.addr, source, caller).await?;
    // The baseline pairs the two connections that ask for one path;
    // matchbox puts the two in one room, named by the path.
    let key = if matches!(target, Target::Baseline | Target::Matchbox) { caller } else { callee };
    let mut b = connect(target, server.callee_addr(), source, key).await?;
    let room = match target {
        Target::Baseline => String::new(),
        Target::Chatroulette => chatroulette::call(&mut a, &mut b).await?,
        Target::Calling | Target::CallingSignaling => calling::call(&mut a, &mut b).await?,
        Target::Tringtring | Target::TringtringNode => tringtring::call(&mut a, &mut b, caller).await?,
        Target::Cloudkibo => cloudkibo::call(&mut a, &mut b).await?,
        Target::Matchbox => matchbox::call(&mut a, &b).await?,
        Target::Ecall => ecall::call(&mut a, &mut b).await?,
    };
    Ok(Call { target, caller: a, callee: b, room })
}

impl Call {
    /// A frame of about `size` bytes (padding the candidate string or the
    /// SDP) that the caller (or the callee) sends to the other side.
    pub fn frame(&self, from_caller: bool, signal: Signal, size: usize) -> String {
        match signal {
            Signal::IceCandidate => padded(size, |pad| self.signal_frame(from_caller, signal, pad)),
            Signal::Offer | Signal::Answer => self.signal_frame(from_caller, signal, &sdp(size)),
        }
    }

    /// The frame that relays `text` from the caller (or the callee) to the
    /// other side: `text` is the ICE candidate string, or the SDP escaped
    /// for a JSON string.
    pub fn signal_frame(&self, from_caller: bool, signal: Signal, text: &str) -> String {
        let (from, to) = if from_caller { (&self.caller, &self.callee) } else { (&self.callee, &self.caller) };
        match self.target {
            Target::Baseline => format!(r#"{{"signal":"{text}"}}"#),
            Target::Chatroulette => chatroulette::frame(&to.id, signal, text),
            Target::Calling | Target::CallingSignaling => calling::frame(&self.room, &to.id, signal, text),
            Target::Tringtring | Target::TringtringNode => tringtring::frame(&from.id, &to.id, signal, text),
            Target::Matchbox => matchbox::frame(&to.id, signal, text),
            Target::Cloudkibo => cloudkibo::frame(&from.id, &to.id, signal, text),
            Target::Ecall => ecall::frame(&to.id, &self.room, signal, text),
        }
    }

    /// Ends the call from the caller's side and waits until the callee
    /// hears of it.
    pub async fn hang_up(&mut self) -> anyhow::Result<()> {
        match self.target {
            Target::Baseline => {
                let bye = self.frame(true, Signal::IceCandidate, 64);
                send(&mut self.caller.socket, bye).await?;
                next_text(&mut self.callee.socket).await.map(drop)
            }
            Target::Chatroulette => chatroulette::hang_up(&mut self.caller, &mut self.callee).await,
            Target::Calling | Target::CallingSignaling => {
                calling::hang_up(&mut self.caller, &mut self.callee, &self.room).await
            }
            Target::Tringtring | Target::TringtringNode => {
                tringtring::hang_up(&mut self.caller, &mut self.callee, &self.room).await
            }
            Target::Matchbox => matchbox::hang_up(&mut self.caller, &mut self.callee).await,
            Target::Cloudkibo => cloudkibo::hang_up(&mut self.caller, &mut self.callee).await,
            Target::Ecall => ecall::hang_up(&mut self.caller, &mut self.callee, &self.room).await,
        }
    }

    /// Closes both connections.
    pub async fn close(mut self) {
        let _ = tokio::join!(self.caller.socket.close(None), self.callee.socket.close(None));
    }
}

/// Whether a frame a peer received is a relayed signal (not an answer to
/// its own request, nor a keepalive). Looks at the frame's first bytes only,
/// not a parse.
pub fn is_relayed(target: Target, text: &str) -> bool {
    let head = text.get(..64).unwrap_or(text);
    match target {
        Target::Baseline => true,
        Target::Chatroulette => head.contains("_RECEIVED"),
        Target::Calling | Target::CallingSignaling => head.contains("room_peer_from"),
        Target::Matchbox => head.starts_with(r#"{"Signal""#),
        Target::Tringtring | Target::TringtringNode => {
            head.starts_with("42[") && ["ice-candidate", "offer", "answer"].iter().any(|name| head.contains(name))
        }
        Target::Cloudkibo => head.starts_with(r#"42["msg""#),
        Target::Ecall => ecall::is_relayed(head),
    }
}

/// The answer a keepalive frame from the server needs, if it is one
/// (Engine.IO's ping).
pub fn keepalive_answer(target: Target, text: &str) -> Option<&'static str> {
    (matches!(target, Target::Tringtring | Target::TringtringNode | Target::Cloudkibo) && text == "2").then_some("3")
}

/// A frame built by `build` around a padding string, padded so that the
/// whole is about `size` bytes.
pub fn padded(size: usize, build: impl Fn(&str) -> String) -> String {
    let bare = build("").len();
    build(&"x".repeat(size.saturating_sub(bare)))
}

/// An SDP-like text of about `size` bytes, escaped for a JSON string.
pub fn sdp(size: usize) -> String {
    "a=x\\r\\n".repeat(size / 7 + 1)
}

/// The next text frame.
pub async fn next_text(socket: &mut Socket) -> anyhow::Result<String> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Close(_))) | None => bail!("connection closed"),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
        }
    }
}

/// Reads until a frame contains `marker`, skipping others (answers to
/// earlier requests, presence) and answering keepalives; fails on an error.
pub async fn wait_for(target: Target, socket: &mut Socket, marker: &str) -> anyhow::Result<String> {
    loop {
        let text = next_text(socket).await?;
        if text.contains(marker) {
            return Ok(text);
        }
        if let Some(answer) = keepalive_answer(target, &text) {
            send(socket, answer.to_owned()).await?;
        } else if text.contains("rror") {
            bail!("waiting for {marker}, got {text}");
        }
    }
}

pub async fn send(socket: &mut Socket, text: String) -> anyhow::Result<()> {
    socket.send(Message::text(text)).await?;
    Ok(())
}
