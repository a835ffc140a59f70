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
pub use encode::{connected, encode, error_frame};
pub use types::{Form, MessageType};

use switchboard_core::{Command, Event, Reply, Request, UserId};

use crate::codec::{
    CLOSE_REPLACED, CLOSE_RESUME_REFUSED, Codec, Dialect, Effect, NO_BINARY, RESUME_REFUSED_REASON, TextFrame,
};
use crate::replies::{Answers, Label, Replies};

/// One connection's codec state: the form it answers in, and its requests.
#[derive(Clone, Debug, Default)]
pub struct Chatroulette {
    form: Option<Form>,
    /// Each request's label is its type and spelling, so that a failure can
    /// name the request as the client spelled it.
    replies: Replies<Label>,
    /// The name the core accepted in `CONNECT`, once it has.
    user: Option<UserId>,
    /// The resume token that goes in `CONNECTED`, until it has gone.
    resume: Option<Box<str>>,
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

    /// Decodes a text frame into a core request and command. The request
    /// is labelled with its type and spelling, so that a reply can name the
    /// request that failed; only `CONNECT` is answered on success.
    ///
    /// # Errors
    /// See [`decode`]; answer the error with [`Chatroulette::encode_error`].
    pub fn decode(&mut self, text: &str) -> Result<(Request, Command), DecodeError> {
        let Decoded { ty, form, command } = decode(text)?;
        self.form.get_or_insert(form);
        let label = request_label(ty, form);
        let request = if ty == MessageType::Connect { self.replies.track(label) } else { self.replies.quiet(label) };
        Ok((request, command))
    }

    /// Encodes a core event for this connection, or `None` when it has no
    /// chatroulette form.
    pub fn encode(&mut self, event: &Event) -> Option<String> {
        if let Event::Reply { tag, result: Ok(Reply::Registered { user, drawn }) } = event {
            self.replies.answer(*tag);
            self.user = Some(user.clone());
            let resume = self.resume.take();
            return Some(encode::connected(self.form(), user, *drawn, resume.as_deref(), false));
        }
        let request = match event {
            Event::Reply { tag, .. } => match self.replies.answer(*tag) {
                Answers::Tracked(label) | Answers::Quiet(label) => request_name(label),
                Answers::Unknown => None,
            },
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

/// A request's label: its type's index and whether it was spelled short.
fn request_label(ty: MessageType, form: Form) -> Label {
    let index = Label::try_from(ty.index()).expect("fewer than 128 message types");
    index << 1 | Label::from(form == Form::Short)
}

/// The type a label names, spelled as the client spelled it.
fn request_name(label: Label) -> Option<&'static str> {
    let ty = MessageType::from_index(u64::from(label >> 1))?;
    Some(if label & 1 == 1 { ty.short() } else { ty.long() })
}

/// A chatroulette connection over WebSocket text frames.
impl Codec for Chatroulette {
    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Chatroulette)
    }

    type Inbound<'a> = TextFrame<'a>;
    type Outbound = String;

    fn on_client(&mut self, message: TextFrame<'_>, out: &mut Vec<Effect<String>>) {
        out.push(match message {
            TextFrame::Text(text) => match self.decode(text) {
                Ok((request, command)) => Effect::Command(request, command),
                Err(error) => Effect::Send(self.encode_error(&error)),
            },
            TextFrame::Binary => Effect::Send(error_frame(self.form(), NO_BINARY, None)),
        });
    }

    fn on_core(&mut self, event: &Event, out: &mut Vec<Effect<String>>) {
        if let Event::Replaced = event {
            return out.push(Effect::Close(CLOSE_REPLACED, crate::codec::REPLACED_REASON));
        }
        if let Some(frame) = self.encode(event) {
            out.push(Effect::Send(frame));
        }
    }

    /// Once the core accepted its `CONNECT`.
    fn registered(&self) -> bool {
        self.user.is_some()
    }

    /// The token rides in `CONNECTED`: inside the payload in the seed form,
    /// beside it in the short form.
    fn offer_resume(&mut self, token: Box<str>, _: &mut Vec<Effect<String>>) {
        self.resume = Some(token);
    }

    /// `CONNECTED {as, resume, resumed: true}`, in the form the connection
    /// spoke before; no `CONNECT` is needed.
    fn resumed(&mut self, token: Box<str>, out: &mut Vec<Effect<String>>) {
        let Some(user) = &self.user else { return };
        out.push(Effect::Send(encode::connected(self.form(), user, true, Some(&token), true)));
    }

    fn resume_refused(&mut self, out: &mut Vec<Effect<String>>) {
        out.push(Effect::Send(error_frame(self.form(), RESUME_REFUSED_REASON, None)));
        out.push(Effect::Close(CLOSE_RESUME_REFUSED, RESUME_REFUSED_REASON));
    }
}
