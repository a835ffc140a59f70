//! The calling dialect (seed 003, calling-signaling's protocol) from the
//! generator's side, for switchboard and for the original server alike.
//! Requests carry a `tid`, as rtc-lib's do, so each is answered.

use anyhow::Context;
use serde_json::Value;

use crate::target::{Peer, Signal, Socket, Target, next_text, send, wait_for};

const T: Target = Target::Calling;

/// The server greets first with `hello`, carrying the user's id.
pub async fn hello(socket: &mut Socket) -> anyhow::Result<String> {
    let hello = wait_for(T, socket, r#""hello""#).await?;
    field(&hello, &["id"])
}

/// The caller joins a new room and invites the callee, who accepts (and
/// so joins it). Returns the room's id.
pub async fn call(caller: &mut Peer, callee: &mut Peer) -> anyhow::Result<String> {
    send(&mut caller.socket, r#"{"type":"room_join","tid":1,"status":{}}"#.into()).await?;
    let joined = answer(&mut caller.socket, 1).await?;
    let room = field(&joined, &["data", "room"])?;
    send(
        &mut caller.socket,
        format!(r#"{{"type":"invite_send","tid":2,"room":"{room}","user":"{}","data":{{"video":true}}}}"#, callee.id),
    )
    .await?;
    let incoming = wait_for(T, &mut callee.socket, "invite_incoming").await?;
    let handle = serde_json::from_str::<Value>(&incoming)?["handle"].clone();
    send(&mut callee.socket, format!(r#"{{"type":"invite_accept","tid":1,"handle":{handle},"status":{{}}}}"#)).await?;
    answer(&mut callee.socket, 1).await?;
    wait_for(T, &mut caller.socket, "room_peer_add").await?;
    Ok(room)
}

/// The `room_peer_to` relaying `text` (a candidate string, or an SDP
/// escaped for JSON) to `to`.
pub fn frame(room: &str, to: &str, signal: Signal, text: &str) -> String {
    let head = format!(r#"{{"type":"room_peer_to","tid":3,"room":"{room}","user":"{to}""#);
    match signal {
        Signal::IceCandidate => format!(r#"{head},"event":"ice_candidate","data":{{"candidate":"{text}"}}}}"#),
        Signal::Offer => format!(r#"{head},"event":"signaling","data":{{"type":"offer","sdp":"{text}"}}}}"#),
        Signal::Answer => format!(r#"{head},"event":"signaling","data":{{"type":"answer","sdp":"{text}"}}}}"#),
    }
}

/// The caller leaves the room; the callee sees it go.
pub async fn hang_up(caller: &mut Peer, callee: &mut Peer, room: &str) -> anyhow::Result<()> {
    send(&mut caller.socket, format!(r#"{{"type":"room_leave","tid":4,"room":"{room}"}}"#)).await?;
    wait_for(T, &mut callee.socket, "room_peer_rm").await.map(drop)
}

/// The callee leaves the room too, as an rtc-lib app does once its peer
/// has gone; the room is then gone.
pub async fn leave(callee: &mut Peer, room: &str) -> anyhow::Result<()> {
    send(&mut callee.socket, format!(r#"{{"type":"room_leave","tid":5,"room":"{room}"}}"#)).await?;
    answer(&mut callee.socket, 5).await.map(drop)
}

/// Waits for the answer to request `tid`, failing on a negative one.
async fn answer(socket: &mut Socket, tid: u32) -> anyhow::Result<String> {
    loop {
        let text = next_text(socket).await?;
        let value: Value = serde_json::from_str(&text)?;
        if value["type"] == "answer" && value["tid"] == tid {
            anyhow::ensure!(value.get("error").is_none(), "request {tid} refused: {text}");
            return Ok(text);
        }
    }
}

/// A string at `path` in a JSON frame.
fn field(text: &str, path: &[&str]) -> anyhow::Result<String> {
    let value: Value = serde_json::from_str(text)?;
    let found = path.iter().try_fold(&value, |value, key| value.get(key));
    found.and_then(Value::as_str).map(str::to_owned).with_context(|| format!("no {path:?} in {text}"))
}
