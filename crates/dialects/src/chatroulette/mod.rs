//! The `chatroulette` dialect (seed `002_78068bda285e4f50.txt`; original
//! project 0xc14m1z/webrtc-one-to-one, client `src/client/Signal.js`).
//!
//! Frames are WebSocket text messages `{"type": T, "payload": P}`. Clients
//! speak one of two spellings ([`Form`]): the seed's full names with object
//! payloads, or the original code's short codes with bare-string payloads.
//! Both are accepted on every connection; each connection is answered in the
//! form of its first well-formed request (seed form until then).
//!
//! The seed has no hang-up; switchboard adds `CANCEL_CALL`, `CALL_CANCELLED`,
//! `HANG_UP`, `CALL_ENDED` and `ERROR` (short code `er`; see [`MessageType`]).

mod decode;
mod encode;
mod types;

pub use decode::{DecodeError, Decoded, decode};
pub use encode::{encode, error_frame};
pub use types::{Form, MessageType};

use switchboard_core::{Command, Event, Request};

/// One connection's codec state: the form it answers in.
#[derive(Clone, Debug, Default)]
pub struct Chatroulette {
    form: Option<Form>,
}

impl Chatroulette {
    /// A codec for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// The form this connection is answered in: the one its first
    /// well-formed request used, or the seed's until then.
    pub fn form(&self) -> Form {
        self.form.unwrap_or(Form::Seed)
    }

    /// Decodes a text frame into a core request and command. The request's
    /// tag records the type and its spelling, so that a reply can name the
    /// request that failed; only `CONNECT` is answered on success.
    ///
    /// # Errors
    /// See [`decode`]; answer the error with [`Chatroulette::encode_error`].
    pub fn decode(&mut self, text: &str) -> Result<(Request, Command), DecodeError> {
        let Decoded { ty, form, command } = decode(text)?;
        self.form.get_or_insert(form);
        let tag = ty.index() << 1 | u64::from(form == Form::Short);
        let request = if ty == MessageType::Connect { Request::answered(tag) } else { Request::quiet(tag) };
        Ok((request, command))
    }

    /// Encodes a core event for this connection, or `None` when it has no
    /// chatroulette form.
    pub fn encode(&self, event: &Event) -> Option<String> {
        let request = match event {
            Event::Reply { tag, .. } => request_name(*tag),
            _ => None,
        };
        encode(self.form(), event, request)
    }

    /// The error frame answering a frame that did not decode: in the form
    /// the failed request was spelled in when that is known (a short-form
    /// client's first frame may be the one that failed), else in this
    /// connection's form.
    pub fn encode_error(&self, error: &DecodeError) -> String {
        let form = error.request().and_then(MessageType::parse).map_or(self.form(), |(_, form)| form);
        error_frame(form, &error.to_string(), error.request())
    }
}

/// The type a reply's tag names, spelled as the client spelled it.
fn request_name(tag: u64) -> Option<&'static str> {
    let ty = MessageType::from_index(tag >> 1)?;
    Some(if tag & 1 == 1 { ty.short() } else { ty.long() })
}
