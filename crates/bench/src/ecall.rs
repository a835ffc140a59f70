//! ecall (seed 004, Wire's calling v3) from the generator's side: a device
//! per connection, `{"type":"calling","to","content"}` frames whose content
//! is an ECall message (a JSON string inside the JSON frame). The caller's
//! SETUP carries the SDP offer, the callee's SETUP `resp: true` the answer
//! (ECall does not trickle ICE); PROPSYNC stands in for the ICE-sized
//! messages of the other dialects; HANGUP is confirmed with `resp: true`.

use crate::target::{Peer, Signal, Socket, Target, next_text, send, wait_for};

const T: Target = Target::Ecall;

/// The client id of every generator device.
pub const CLIENT: &str = "bench";

/// A `calling` frame to `to` with an ECall message of `kind`; `extra` is the
/// rest of the message's fields, already escaped for the content string.
fn message(to: &str, kind: &str, resp: bool, sessid: &str, extra: &str) -> String {
    format!(
        r#"{{"type":"calling","to":"{to}","content":"{{\"version\":\"3.0\",\"type\":\"{kind}\",\"resp\":{resp},\"sessid\":\"{sessid}\"{extra}}}"}}"#
    )
}

/// `text` (a candidate string or an SDP escaped for JSON) escaped once
/// more, for the content string.
fn escaped(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The call's session id, drawn by the caller.
fn sessid(caller: &str) -> String {
    let id: String = caller.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("s{id}")
}

/// The caller's SETUP (a short offer) rings the callee, whose SETUP
/// `resp: true` (a short answer) accepts; returns the session id.
pub async fn call(caller: &mut Peer, callee: &mut Peer) -> anyhow::Result<String> {
    let sessid = sessid(&caller.name);
    send(&mut caller.socket, setup(&callee.name, false, &sessid, "v=0")).await?;
    wait_for(T, &mut callee.socket, r#"\"SETUP\""#).await?;
    send(&mut callee.socket, setup(&caller.name, true, &sessid, "v=0")).await?;
    wait_for(T, &mut caller.socket, r#"\"SETUP\""#).await?;
    Ok(sessid)
}

fn setup(to: &str, resp: bool, sessid: &str, sdp: &str) -> String {
    let extra = format!(r#",\"props\":{{\"videosend\":\"true\"}},\"sdp\":\"{}\""#, escaped(sdp));
    message(to, "SETUP", resp, sessid, &extra)
}

/// The frame relaying `text` to `to`: an SDP in an UPDATE (offer, or the
/// answer with `resp: true`), or a PROPSYNC carrying `text` as a property.
pub fn frame(to: &str, sessid: &str, signal: Signal, text: &str) -> String {
    match signal {
        Signal::IceCandidate => {
            let extra = format!(r#",\"props\":{{\"videosend\":\"true\",\"tag\":\"{}\"}}"#, escaped(text));
            message(to, "PROPSYNC", false, sessid, &extra)
        }
        Signal::Offer | Signal::Answer => {
            let extra = format!(r#",\"sdp\":\"{}\""#, escaped(text));
            message(to, "UPDATE", signal == Signal::Answer, sessid, &extra)
        }
    }
}

/// HANGUP from the caller; the callee confirms it as a Wire client does.
pub async fn hang_up(caller: &mut Peer, callee: &mut Peer, sessid: &str) -> anyhow::Result<()> {
    send(&mut caller.socket, message(&callee.name, "HANGUP", false, sessid, "")).await?;
    wait_for(T, &mut callee.socket, r#"\"HANGUP\""#).await?;
    send(&mut callee.socket, message(&caller.name, "HANGUP", true, sessid, "")).await?;
    wait_for(T, &mut caller.socket, r#"\"HANGUP\""#).await.map(drop)
}

/// Whether a frame is a relayed ECall message (not a refusal).
pub fn is_relayed(head: &str) -> bool {
    head.starts_with(r#"{"type":"calling""#)
}

/// Waits until the server has registered the device. ecall has no greeting
/// (the URL names the device), so a frame the server refuses stands in:
/// its refusal comes after the session started, and a SETUP sent before
/// that could find the callee not yet there.
pub async fn open(socket: &mut Socket) -> anyhow::Result<()> {
    send(socket, "{}".into()).await?;
    let refusal = next_text(socket).await?;
    anyhow::ensure!(refusal.starts_with(r#"{"type":"error""#), "expected a refusal, got {refusal}");
    Ok(())
}
