//! The decoder targets. A frame is whatever bytes came, read as UTF-8
//! (lossily: a WebSocket text frame is UTF-8 by the time a codec sees it).

use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use switchboard_dialects::calling::Calling;
use switchboard_dialects::chatroulette::Chatroulette;
use switchboard_dialects::codec::{Codec, Effect, TextFrame};
use switchboard_dialects::ecall::{DeviceQuery, Ecall};
use switchboard_dialects::resume::ResumeAsk;
use switchboard_dialects::socketio::{SocketEvent, SocketIoSession, SocketOut};
use switchboard_ecall::ECallMessage;

/// Frames of one connection: the bytes split at `\n`, so that one input
/// carries several frames and a codec's state (a chatroulette connection's
/// form, calling's pending requests) is exercised too.
fn frames(data: &[u8]) -> impl Iterator<Item = String> + '_ {
    data.split(|&byte| byte == b'\n').map(|frame| String::from_utf8_lossy(frame).into_owned())
}

/// Feeds a text codec `data`'s frames; what it sends back must be valid
/// JSON, and when `answers_all`, every frame must be carried out (a command)
/// or answered (an error).
fn text_codec(
    mut codec: impl for<'a> Codec<Inbound<'a> = TextFrame<'a>, Outbound = String>,
    data: &[u8],
    answers_all: bool,
) {
    for frame in frames(data) {
        let mut out = Vec::new();
        codec.on_client(TextFrame::Text(&frame), &mut out);
        assert!(!answers_all || !out.is_empty(), "a frame neither carried out nor answered: {frame:?}");
        for effect in out {
            if let Effect::Send(text) = effect {
                // IgnoredAny reads the whole text as strictly as Value would,
                // without building the tree (allocations the target need not make).
                assert!(serde_json::from_str::<IgnoredAny>(&text).is_ok(), "an answer that is not JSON: {text}");
            }
        }
    }
}

/// chatroulette frames, either form, several per connection.
pub fn chatroulette(data: &[u8]) {
    text_codec(Chatroulette::new(), data, true);
}

/// calling requests, several per connection. A request with no `tid` that
/// only sets the connection's own timers (`remote_timeout`) has nothing to
/// carry out or answer.
pub fn calling(data: &[u8]) {
    text_codec(Calling::new("switchboard"), data, false);
}

/// ecall frames, several per connection.
pub fn ecall(data: &[u8]) {
    let codec = Ecall::new("alice", "phone").expect("a valid device");
    text_codec(codec, data, true);
}

/// The ECall message inside an ecall frame's `content`; one that parses
/// must write back to a message that parses again the same.
pub fn ecall_message(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(message) = ECallMessage::parse(&text) {
        let again = ECallMessage::parse(&message.to_json());
        assert_eq!(again.as_ref(), Ok(&message), "{text} wrote back as {}", message.to_json());
    }
}

/// socket.io events of cloudkibo and tringtring: the first line names the
/// event, the rest is its payload (JSON, or what socketioxide would report
/// as unreadable).
pub fn socketio(data: &[u8]) {
    let mut session = SocketIoSession::new("peer", 2);
    let mut lines = data.split(|&byte| byte == 0);
    let mut ack = 0;
    while let (Some(name), Some(payload)) = (lines.next(), lines.next()) {
        let name = String::from_utf8_lossy(name);
        let parsed: Result<Box<RawValue>, String> = serde_json::from_slice(payload).map_err(|error| error.to_string());
        let data = parsed.as_deref().map_err(String::as_str);
        ack += 1;
        let mut out = Vec::new();
        session.on_client(SocketEvent { name: &name, data, ack }, &mut out);
        for effect in out {
            if let Effect::Send(SocketOut::Emit(event, _) | SocketOut::EmitRaw(event, _)) = effect {
                assert!(!event.is_empty(), "an emit names its event");
            }
        }
    }
}

/// The HTTP query of `/ws/ecall` and of every resume: parsed strictly, or
/// refused with an error, never a panic.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(device) = DeviceQuery::parse(&text) {
        let _ = Ecall::new(&device.user, &device.client);
    }
    if let Ok(Some(ResumeAsk::Token(token))) = ResumeAsk::from_query(&text) {
        assert!(!token.is_empty(), "an empty token is refused");
    }
}
