//! matchbox_server (johanhelsing/matchbox, `matchbox_protocol`) from the
//! generator's side: the fastest Rust signaling server we know of, measured
//! beside switchboard (`scripts/bench` installs it from crates.io).
//!
//! A peer connects to `/<room>` and is told `{"IdAssigned":"<uuid>"}`; the
//! peers already in the room are told `{"NewPeer":"<uuid>"}`. A relay is
//! `{"Signal":{"receiver":"<uuid>","data":…}}`, delivered as
//! `{"Signal":{"sender":"<uuid>","data":…}}`, with `data` what matchbox's
//! own client sends (`{"Offer":"<sdp>"}`, `{"Answer":…}`,
//! `{"IceCandidate":…}`). There is no registration, ringing or hang-up: a
//! peer that leaves is `{"PeerLeft":"<uuid>"}` to the others.

use anyhow::Context;
use serde_json::Value;

use crate::target::{Peer, Signal, Socket, Target, wait_for};

const T: Target = Target::Matchbox;

/// The id the server assigns on connect.
pub async fn open(socket: &mut Socket) -> anyhow::Result<String> {
    let assigned = wait_for(T, socket, "IdAssigned").await?;
    let value: Value = serde_json::from_str(&assigned)?;
    value["IdAssigned"].as_str().map(str::to_owned).context("no id in IdAssigned")
}

/// Both peers are in the caller's room (the path): the caller is told of
/// the callee.
pub async fn call(caller: &mut Peer, callee: &Peer) -> anyhow::Result<String> {
    wait_for(T, &mut caller.socket, &format!(r#"{{"NewPeer":"{}"}}"#, callee.id)).await?;
    Ok(String::new())
}

/// The frame relaying `text` (a candidate string, or an SDP escaped for
/// JSON) to `to`.
pub fn frame(to: &str, signal: Signal, text: &str) -> String {
    let kind = match signal {
        Signal::IceCandidate => "IceCandidate",
        Signal::Offer => "Offer",
        Signal::Answer => "Answer",
    };
    format!(r#"{{"Signal":{{"receiver":"{to}","data":{{"{kind}":"{text}"}}}}}}"#)
}

/// The caller leaves (matchbox has no hang-up); the callee hears
/// `PeerLeft`.
pub async fn hang_up(caller: &mut Peer, callee: &mut Peer) -> anyhow::Result<()> {
    caller.socket.close(None).await?;
    wait_for(T, &mut callee.socket, &format!(r#"{{"PeerLeft":"{}"}}"#, caller.id)).await.map(drop)
}
