//! cloudkibo (seed 000) over socket.io from the generator's side: the same
//! hand-written Engine.IO 4 packets as tringtring (see `tringtring`), and
//! the CloudKibo client's call flow: `join global chatroom` as a phone
//! number, `callthisperson` with an ack, the callee's `calleeisavailable`
//! and `callaccepted`, the caller's `room_name`, then both `init` the media
//! room, where SDP and ICE travel as `msg {to, by, type, ...}` between the
//! members' numeric ids.

use anyhow::Context;
use serde_json::Value;

use crate::target::{Peer, Signal, Socket, Target, send, wait_for};
use crate::tringtring;

const T: Target = Target::Cloudkibo;

/// Opens the socket.io connection and joins as phone `phone`; the peer's
/// id is its phone number until the call's media room gives it another.
pub async fn open(socket: &mut Socket, phone: &str) -> anyhow::Result<String> {
    tringtring::open(socket).await?;
    let user = format!(r#"{{"phone":"{phone}","_id":"id-{phone}"}}"#);
    send(socket, format!(r#"42["join global chatroom",{{"room":"globalchatroom","user":{user}}}]"#)).await?;
    wait_for(T, socket, "youareonline").await?;
    Ok(phone.to_owned())
}

/// A call status `message` from `from` about the call `caller` → `callee`.
fn status(to: &str, caller: &str, callee: &str, status: &str) -> String {
    format!(
        r#"42["message",{{"to":"{to}","msg":{{"callerphone":"{caller}","calleephone":"{callee}","type":"call","status":"{status}"}}}}]"#
    )
}

/// Rings `callee`, who answers as the CloudKibo client does; the caller
/// names the media room and both join it. Afterwards each peer's `id` is
/// its member id in that room (what `msg {to}` names), and the room's name
/// is returned.
pub async fn call(caller: &mut Peer, callee: &mut Peer) -> anyhow::Result<String> {
    let (pa, pb) = (caller.name.clone(), callee.name.clone());
    send(
        &mut caller.socket,
        format!(r#"420["callthisperson",{{"room":"globalchatroom","callerphone":"{pa}","calleephone":"{pb}"}}]"#),
    )
    .await?;
    wait_for(T, &mut caller.socket, "430[").await?;
    wait_for(T, &mut callee.socket, "areyoufreeforcall").await?;
    send(&mut callee.socket, status(&pa, &pa, &pb, "calleeisavailable")).await?;
    send(&mut callee.socket, status(&pa, &pa, &pb, "callaccepted")).await?;
    wait_for(T, &mut caller.socket, "callaccepted").await?;
    let room = format!("media{pa}");
    send(
        &mut caller.socket,
        format!(
            r#"42["message",{{"to":"{pb}","msg":{{"callerphone":"{pa}","calleephone":"{pb}","type":"room_name","room_name":"{room}"}}}}]"#
        ),
    )
    .await?;
    wait_for(T, &mut callee.socket, "room_name").await?;
    caller.id = init(&mut caller.socket, &room, &pa).await?;
    callee.id = init(&mut callee.socket, &room, &pb).await?;
    wait_for(T, &mut caller.socket, "peer.connected").await?;
    Ok(room)
}

/// `init {room, username}`; its ack is `(room, id, locked)`.
async fn init(socket: &mut Socket, room: &str, phone: &str) -> anyhow::Result<String> {
    send(socket, format!(r#"421["init",{{"room":"{room}","username":"{phone}"}}]"#)).await?;
    let ack = wait_for(T, socket, "431[").await?;
    let args: Value = serde_json::from_str(&ack[3..])?;
    args[1].as_u64().map(|id| id.to_string()).with_context(|| format!("no member id in the init ack {ack}"))
}

/// A `msg` in the media room from member `by` to member `to`; `text` is
/// the candidate string, or the SDP escaped for JSON.
pub fn frame(by: &str, to: &str, signal: Signal, text: &str) -> String {
    match signal {
        Signal::IceCandidate => {
            format!(
                r#"42["msg",{{"to":{to},"by":{by},"type":"ice","ice":{{"candidate":"{text}","sdpMLineIndex":0}}}}]"#
            )
        }
        Signal::Offer | Signal::Answer => {
            let (kind, sdp_type) =
                if signal == Signal::Offer { ("sdp-offer", "offer") } else { ("sdp-answer", "answer") };
            format!(r#"42["msg",{{"to":{to},"by":{by},"type":"{kind}","sdp":{{"type":"{sdp_type}","sdp":"{text}"}}}}]"#)
        }
    }
}

/// The caller's `callended`; the callee gets it as a `message`.
pub async fn hang_up(caller: &mut Peer, callee: &mut Peer) -> anyhow::Result<()> {
    let (pa, pb) = (&caller.name, &callee.name);
    send(&mut caller.socket, status(pb, pa, pb, "callended")).await?;
    wait_for(T, &mut callee.socket, "callended").await.map(drop)
}
