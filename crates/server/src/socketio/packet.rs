//! Reading a socket.io event packet's first argument as raw JSON text.
//!
//! socketioxide hands a handler the packet's JSON array, `["event", arg0,
//! arg1, …]`, unparsed. Its `Data<Value>` extractor would parse `arg0` into
//! a tree of `serde_json::Value`, SDP and all; this keeps `arg0` as the
//! client's text, so that a relayed SDP or ICE candidate reaches the core
//! as it came (DESIGN.md: an SDP is never parsed or re-serialized).

use std::fmt;

use serde::Deserializer as _;
use serde::de::{Error as _, IgnoredAny, SeqAccess, Visitor};
use serde_json::value::RawValue;
use socketioxide::handler::Value as RawPacket;

/// The first argument of an event packet, as JSON text.
///
/// # Errors
/// The reason, as text for the client's `error` event, when the packet has
/// no argument (`["cut-the-call"]`; socketioxide's own extractor says
/// "first element not found" too), is not JSON, or is binary (switchboard's
/// dialects carry no binary attachments; a placeholder of a binary event
/// would stay as its `{"_placeholder":true}` object).
pub(super) fn first_argument(packet: &RawPacket) -> Result<Box<RawValue>, String> {
    let Some(text) = packet.as_str() else { return Err("binary packets are not taken".to_owned()) };
    let mut reader = serde_json::Deserializer::from_str(text);
    let argument = reader.deserialize_seq(FirstArgument).map_err(|error| error.to_string())?;
    reader.end().map_err(|error| error.to_string())?;
    Ok(argument)
}

/// Skips the event name, keeps the next element raw, skips the rest.
struct FirstArgument;

impl<'de> Visitor<'de> for FirstArgument {
    type Value = Box<RawValue>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an event packet [name, argument, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Box<RawValue>, A::Error> {
        seq.next_element::<IgnoredAny>()?;
        let first = seq.next_element::<Box<RawValue>>()?.ok_or_else(|| A::Error::custom("first element not found"));
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        first
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
        let text = r#"["offer",{"to":"b","sdp":{"type":"offer","sdp":"v=0\r\n"}} , 7, [1]]"#;
        let argument = first_argument(&packet(text)).unwrap();
        assert_eq!(argument.get(), r#"{"to":"b","sdp":{"type":"offer","sdp":"v=0\r\n"}}"#);
    }

    #[test]
    fn an_event_without_an_argument_is_refused_as_socketioxide_refuses_it() {
        let refusal = first_argument(&packet(r#"["cut-the-call"]"#)).unwrap_err();
        assert!(refusal.contains("first element not found"), "{refusal}");
    }

    #[test]
    fn malformed_json_is_refused_with_serde_jsons_reason() {
        let refusal = first_argument(&packet(r#"["offer",{"to":}]"#)).unwrap_err();
        assert!(refusal.contains("expected value"), "{refusal}");
        assert!(first_argument(&packet(r#"["offer",{}] x"#)).is_err());
        assert!(first_argument(&RawPacket::Bytes(vec![1u8, 2].into())).is_err());
    }
}
