//! tringtring (seed 001) over socket.io from the generator's side: Engine.IO
//! 4 over WebSocket, written by hand (`0` open, `40` connect, `42` event,
//! `43` ack, `2`/`3` ping and pong), so that no socket.io client's own cost
//! is measured.

use anyhow::Context;
use serde_json::Value;

use crate::target::{Peer, Signal, Socket, Target, send, wait_for};

const T: Target = Target::Tringtring;

/// Engine.IO's open packet, then the namespace connect; the socket's id is
/// its peer id.
pub async fn open(socket: &mut Socket) -> anyhow::Result<String> {
    wait_for(T, socket, r#"0{"sid""#).await?;
    send(socket, "40".into()).await?;
    let connected = wait_for(T, socket, r#"40{"sid""#).await?;
    let value: Value = serde_json::from_str(&connected[2..])?;
    value["sid"].as_str().map(str::to_owned).context("no sid in the namespace connect")
}

/// Creates a room and joins it, as a user waiting for the other side does.
pub async fn wait_in_room(peer: &mut Peer, room: &str) -> anyhow::Result<()> {
    send(&mut peer.socket, format!(r#"420["create-room",{{"room_id":"{room}"}}]"#)).await?;
    wait_for(T, &mut peer.socket, "430[").await?;
    send(&mut peer.socket, format!(r#"421["join",{{"room_id":"{room}","peer_name":"{}"}}]"#, peer.id)).await?;
    wait_for(T, &mut peer.socket, "431[").await.map(drop)
}

/// The caller creates a room named after it and joins; the callee joins.
pub async fn call(caller: &mut Peer, callee: &mut Peer, name: &str) -> anyhow::Result<String> {
    let room = name.replace(|c: char| !c.is_ascii_alphanumeric(), "");
    wait_in_room(caller, &room).await?;
    send(&mut callee.socket, format!(r#"421["join",{{"room_id":"{room}","peer_name":"{}"}}]"#, callee.id)).await?;
    wait_for(T, &mut callee.socket, "431[").await?;
    wait_for(T, &mut caller.socket, "user-joined").await?;
    Ok(room)
}

/// The event relaying `text` (a candidate string, or an SDP escaped for
/// JSON) from `from` to `to`.
pub fn frame(from: &str, to: &str, signal: Signal, text: &str) -> String {
    match signal {
        Signal::IceCandidate => {
            format!(r#"42["ice-candidate",{{"from":"{from}","to":"{to}","candidate":{{"candidate":"{text}"}}}}]"#)
        }
        Signal::Offer | Signal::Answer => {
            let kind = if signal == Signal::Offer { "offer" } else { "answer" };
            format!(
                r#"42["{kind}",{{"from":{{"name":"{from}","id":"{from}"}},"to":"{to}","type":"{kind}","sdp":{{"type":"{kind}","sdp":"{text}"}}}}]"#
            )
        }
    }
}

/// `cut-the-call`, with what Tring-Tring's client sends beside it; the other
/// side gets `user-left`.
pub async fn hang_up(caller: &mut Peer, callee: &mut Peer, room: &str) -> anyhow::Result<()> {
    let id = &caller.id;
    send(
        &mut caller.socket,
        format!(r#"42["cut-the-call",{{"room_id":"{room}","peer_name":"{id}","peer_id":"{id}"}}]"#),
    )
    .await?;
    wait_for(T, &mut callee.socket, "user-left").await.map(drop)
}
