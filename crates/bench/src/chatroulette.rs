//! The chatroulette dialect (seed 002) from the generator's side.

use crate::target::{Peer, Signal, Socket, Target, send, wait_for};

const T: Target = Target::Chatroulette;

/// `CONNECT as <name>`; the user's name is its id.
pub async fn register(socket: &mut Socket, name: &str) -> anyhow::Result<String> {
    send(socket, format!(r#"{{"type":"CONNECT","payload":{{"as":"{name}"}}}}"#)).await?;
    wait_for(T, socket, "CONNECTED").await?;
    Ok(name.to_owned())
}

/// The caller requests a call, the callee accepts. There is no room.
pub async fn call(caller: &mut Peer, callee: &mut Peer) -> anyhow::Result<String> {
    send(&mut caller.socket, format!(r#"{{"type":"REQUEST_CALL","payload":{{"to":"{}"}}}}"#, callee.id)).await?;
    wait_for(T, &mut callee.socket, "CALL_REQUESTED").await?;
    send(&mut callee.socket, format!(r#"{{"type":"ACCEPT_CALL","payload":{{"from":"{}"}}}}"#, caller.id)).await?;
    wait_for(T, &mut caller.socket, "CALL_ACCEPTED").await?;
    Ok(String::new())
}

/// The frame relaying `text` (a candidate string, or an SDP escaped for
/// JSON) to `to`.
pub fn frame(to: &str, signal: Signal, text: &str) -> String {
    match signal {
        Signal::IceCandidate => {
            format!(r#"{{"type":"SEND_ICE_CANDIDATE","payload":{{"to":"{to}","candidate":{{"candidate":"{text}"}}}}}}"#)
        }
        Signal::Offer => format!(
            r#"{{"type":"SEND_CALLER_DESCRIPTOR","payload":{{"to":"{to}","sdp":{{"type":"offer","sdp":"{text}"}}}}}}"#
        ),
        Signal::Answer => format!(
            r#"{{"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{{"to":"{to}","sdp":{{"type":"answer","sdp":"{text}"}}}}}}"#
        ),
    }
}

pub async fn hang_up(caller: &mut Peer, callee: &mut Peer) -> anyhow::Result<()> {
    send(&mut caller.socket, format!(r#"{{"type":"HANG_UP","payload":{{"to":"{}"}}}}"#, callee.id)).await?;
    wait_for(T, &mut callee.socket, "CALL_ENDED").await.map(drop)
}
