//! Reading a socket.io event packet's name and first argument, the
//! argument as raw JSON text, in one pass over the packet.
//!
//! socketioxide hands a handler the packet's JSON array, `["event", arg0,
//! arg1, …]`, unparsed. Its `Data<Value>` extractor would parse `arg0` into
//! a tree of `serde_json::Value`, SDP and all; this keeps `arg0` as the
//! client's text, so that a relayed SDP or ICE candidate reaches the core
//! as it came (DESIGN.md: an SDP is never parsed or re-serialized). Its
//! `Event` extractor would scan the whole packet again for the name alone
//! (a 4 KB SDP's relay spent 8 % of the server's time there).

use std::fmt;

use serde::Deserializer as _;
use serde::de::{Error as _, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use socketioxide::handler::Value as RawPacket;

/// An event packet's parts.
#[derive(Debug)]
pub(super) struct EventPacket {
    /// The event's name, unescaped.
    pub(super) name: String,
    /// Its first argument as JSON text; the reason, for the client's
    /// `error` event, when it has none (`["cut-the-call"]`; socketioxide's
    /// own extractor says "first element not found" too).
    pub(super) first_argument: Result<Box<RawValue>, String>,
}

/// Reads an event packet's name and first argument.
///
/// # Errors
/// The reason, as text for the client's `error` event, when the packet is
/// not JSON or has no name. socketioxide's common parser hands a binary
/// event over as its text, the attachments apart; switchboard's dialects
/// carry none, so a placeholder stays its `{"_placeholder":true}` object.
/// A packet that is not text at all (another parser's) is refused.
pub(super) fn read(packet: &RawPacket) -> Result<EventPacket, String> {
    let Some(text) = packet.as_str() else { return Err("binary packets are not taken".to_owned()) };
    let mut reader = serde_json::Deserializer::from_str(text);
    let event = reader.deserialize_seq(NameAndFirstArgument).map_err(|error| error.to_string())?;
    reader.end().map_err(|error| error.to_string())?;
    Ok(event)
}

/// Reads the event name, keeps the next element raw, skips the rest.
struct NameAndFirstArgument;

impl<'de> Visitor<'de> for NameAndFirstArgument {
    type Value = EventPacket;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an event packet [name, argument, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EventPacket, A::Error> {
        let name = seq.next_element::<String>()?.ok_or_else(|| A::Error::custom("event name not found"))?;
        let first_argument = seq.next_element::<Box<RawValue>>()?.ok_or_else(|| "first element not found".to_owned());
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(EventPacket { name, first_argument })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(text: &str) -> RawPacket {
        RawPacket::Str(text.to_owned().into(), None)
    }

    #[test]
    fn the_first_argument_is_kept_as_the_clients_text() {
        let text = r#"["off\u0065r",{"to":"b","sdp":{"type":"offer","sdp":"v=0\r\n"}} , 7, [1]]"#;
        let event = read(&packet(text)).unwrap();
        assert_eq!(event.name, "offer");
        assert_eq!(event.first_argument.unwrap().get(), r#"{"to":"b","sdp":{"type":"offer","sdp":"v=0\r\n"}}"#);
    }

    #[test]
    fn an_event_without_an_argument_is_refused_as_socketioxide_refuses_it() {
        let event = read(&packet(r#"["cut-the-call"]"#)).unwrap();
        assert_eq!(event.name, "cut-the-call");
        let refusal = event.first_argument.unwrap_err();
        assert!(refusal.contains("first element not found"), "{refusal}");
    }

    #[test]
    fn malformed_json_is_refused_with_serde_jsons_reason() {
        let refusal = read(&packet(r#"["offer",{"to":}]"#)).unwrap_err();
        assert!(refusal.contains("expected value"), "{refusal}");
        assert!(read(&packet(r#"["offer",{}] x"#)).is_err());
        assert!(read(&packet(r#"[7,{}]"#)).is_err(), "a name that is not a string");
        assert!(read(&packet(r#"[]"#)).unwrap_err().contains("event name not found"));
        assert!(read(&RawPacket::Bytes(vec![1u8, 2].into())).is_err());
    }
}
