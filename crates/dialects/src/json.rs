//! Writing JSON objects that embed client data verbatim.
//!
//! A relayed SDP or ICE candidate is a [`Payload`](switchboard_core::Payload)
//! that a codec made from a JSON value it had parsed, so it is written back
//! as it is: no second parse, no re-serialisation (DESIGN.md: "an SDP is
//! never parsed or re-serialized on its way through").

/// Builds one JSON object, key by key. Keys are the codec's own constants.
pub(crate) struct ObjectWriter {
    out: String,
    first: bool,
}

impl ObjectWriter {
    pub(crate) fn new() -> Self {
        Self::with_capacity(64)
    }

    pub(crate) fn with_capacity(bytes: usize) -> Self {
        let mut out = String::with_capacity(bytes);
        out.push('{');
        Self { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_quoted(&mut self.out, key);
        self.out.push(':');
    }

    /// Adds `"key":"value"`, escaping the value.
    pub(crate) fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        push_quoted(&mut self.out, value);
        self
    }

    /// Adds `"key":<json>`, where `json` is one JSON value already.
    pub(crate) fn raw(mut self, key: &str, json: &str) -> Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    /// Adds `"key":true` or `"key":false`.
    pub(crate) fn boolean(self, key: &str, value: bool) -> Self {
        self.raw(key, if value { "true" } else { "false" })
    }

    /// Adds `"key":<number>`.
    pub(crate) fn number(self, key: &str, value: u64) -> Self {
        let text = value.to_string();
        self.raw(key, &text)
    }

    /// Adds a resume token (Step 11), the same in every dialect:
    /// `"resume":TOKEN`, and `"resumed":true` when the session was resumed;
    /// nothing without a token.
    pub(crate) fn resume(self, token: Option<&str>, resumed: bool) -> Self {
        match token {
            Some(token) if resumed => self.string("resume", token).boolean("resumed", true),
            Some(token) => self.string("resume", token),
            None => self,
        }
    }

    /// Closes the object.
    pub(crate) fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// The bytes a JSON string literal must escape: `"`, `\\` and the control
/// characters below 0x20. A table rather than a `match` per byte, as
/// serde_json has, because this runs over every name and text the server
/// writes.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// Appends `value` as a JSON string literal.
pub(crate) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (index, byte) in value.bytes().enumerate() {
        if !NEEDS_ESCAPE[usize::from(byte)] {
            continue;
        }
        out.push_str(&value[start..index]);
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => out.push_str(&format!("\\u{byte:04x}")),
        }
        start = index + 1;
    }
    out.push_str(&value[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_serde_json() {
        for sample in ["plain", "quote \" and \\ back", "tab\tnew\nline\r", "\u{1}\u{1f}", "ünïcødé ☎", ""] {
            let mut out = String::new();
            push_quoted(&mut out, sample);
            assert_eq!(out, serde_json::to_string(sample).unwrap());
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), sample);
        }
    }

    #[test]
    fn objects_embed_raw_values() {
        let inner = ObjectWriter::new().string("from", "a\"b").raw("sdp", r#"{"type":"offer"}"#).finish();
        let outer = ObjectWriter::new().string("type", "cdr").raw("payload", &inner).finish();
        let value: serde_json::Value = serde_json::from_str(&outer).unwrap();
        assert_eq!(value, serde_json::json!({"type": "cdr", "payload": {"from": "a\"b", "sdp": {"type": "offer"}}}));
        assert_eq!(ObjectWriter::new().finish(), "{}");
    }
}
