//! What the scenarios talk to: switchboard over the chatroulette dialect, or
//! the bare relay, which forwards whatever it gets between the two
//! connections of a pair.

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Which server a scenario measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// switchboard at `<url>/ws/chatroulette`.
    Switchboard,
    /// `switchboard-bench baseline-relay` at `<url>`.
    Baseline,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Switchboard => "switchboard",
            Target::Baseline => "baseline",
        }
    }
}

/// Connects; `pair_key` names the pair for the baseline, which pairs the
/// two connections asking for the same path.
pub async fn connect(target: Target, base: &str, pair_key: &str) -> anyhow::Result<Socket> {
    let url = match target {
        Target::Switchboard => format!("{base}/ws/chatroulette"),
        Target::Baseline => format!("{base}/{pair_key}"),
    };
    let (socket, _) = tokio_tungstenite::connect_async(&url).await.with_context(|| format!("connecting {url}"))?;
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream.set_nodelay(true)?;
    }
    Ok(socket)
}

/// The next text frame. The generator does not parse it unless told to.
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

/// Waits for a frame whose text contains `marker` (a type name), failing on
/// an `ERROR`.
pub async fn expect(socket: &mut Socket, marker: &str) -> anyhow::Result<()> {
    let text = next_text(socket).await?;
    if !text.contains(marker) {
        bail!("expected {marker}, got {text}");
    }
    Ok(())
}

pub async fn send(socket: &mut Socket, text: String) -> anyhow::Result<()> {
    socket.send(Message::text(text)).await?;
    Ok(())
}

/// Two connections that relay to each other: for switchboard, two users
/// `caller`/`callee` in an accepted call; for the baseline, two
/// connections on the path `/<caller>`, which it pairs.
pub async fn pair(target: Target, base: &str, caller: &str, callee: &str) -> anyhow::Result<(Socket, Socket)> {
    let mut a = connect(target, base, caller).await?;
    let mut b = connect(target, base, caller).await?;
    if target == Target::Baseline {
        return Ok((a, b));
    }
    send(&mut a, format!(r#"{{"type":"CONNECT","payload":{{"as":"{caller}"}}}}"#)).await?;
    expect(&mut a, "CONNECTED").await?;
    send(&mut b, format!(r#"{{"type":"CONNECT","payload":{{"as":"{callee}"}}}}"#)).await?;
    expect(&mut b, "CONNECTED").await?;
    send(&mut a, format!(r#"{{"type":"REQUEST_CALL","payload":{{"to":"{callee}"}}}}"#)).await?;
    expect(&mut b, "CALL_REQUESTED").await?;
    send(&mut b, format!(r#"{{"type":"ACCEPT_CALL","payload":{{"from":"{caller}"}}}}"#)).await?;
    expect(&mut a, "CALL_ACCEPTED").await?;
    Ok((a, b))
}

/// A relayed frame of `size` bytes from the sender to `to`: an ICE
/// candidate for switchboard, padded in its candidate string; a JSON text of
/// the same size for the baseline.
pub fn candidate_frame(target: Target, to: &str, size: usize) -> String {
    match target {
        Target::Switchboard => {
            let skeleton =
                format!(r#"{{"type":"SEND_ICE_CANDIDATE","payload":{{"to":"{to}","candidate":{{"candidate":""}}}}}}"#);
            let pad = "x".repeat(size.saturating_sub(skeleton.len()));
            format!(r#"{{"type":"SEND_ICE_CANDIDATE","payload":{{"to":"{to}","candidate":{{"candidate":"{pad}"}}}}}}"#)
        }
        Target::Baseline => format!(r#"{{"candidate":"{}"}}"#, "x".repeat(size.saturating_sub(16))),
    }
}

/// An SDP of about `size` bytes, as `type` sends it to `to`.
pub fn sdp_frame(target: Target, kind: &str, to: &str, size: usize) -> String {
    let sdp = "a=x\\r\\n".repeat(size / 7 + 1);
    let sdp_type = if kind == "SEND_CALLER_DESCRIPTOR" { "offer" } else { "answer" };
    match target {
        Target::Switchboard => {
            format!(r#"{{"type":"{kind}","payload":{{"to":"{to}","sdp":{{"type":"{sdp_type}","sdp":"{sdp}"}}}}}}"#)
        }
        Target::Baseline => format!(r#"{{"type":"{sdp_type}","sdp":"{sdp}"}}"#),
    }
}
