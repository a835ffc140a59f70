//! Frames from a chatroulette client to core commands. Pure: no state.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use switchboard_core::{
    Command, EndReason, InviteRef, NameError, Payload, RelayTarget, RoomRef, Signal, SignalKind, UserId,
};

use super::types::{Form, MessageType};

/// Why a frame could not be turned into a command. The client gets an
/// `ERROR` frame with this message and the connection goes on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame is not JSON.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The JSON is not `{"type": "<string>", ...}`.
    #[error("a frame is a JSON object {{\"type\": T, \"payload\": P}} with a string type")]
    NotAFrame,
    /// The type is not one a client may send.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    /// The payload does not have the type's shape.
    #[error("{ty} needs a payload {expected}")]
    BadPayload {
        /// The type as the client spelled it.
        ty: String,
        /// The shapes accepted.
        expected: &'static str,
    },
    /// A user name in the payload is not acceptable.
    #[error("{ty}: bad user name: {error}")]
    BadName {
        /// The type as the client spelled it.
        ty: String,
        /// What is wrong with the name.
        error: NameError,
    },
}

impl DecodeError {
    /// The type that failed, as the client spelled it, when it is known.
    pub fn request(&self) -> Option<&str> {
        match self {
            DecodeError::UnknownType(ty) | DecodeError::BadPayload { ty, .. } | DecodeError::BadName { ty, .. } => {
                Some(ty)
            }
            DecodeError::Json(_) | DecodeError::NotAFrame => None,
        }
    }
}

/// A decoded frame.
#[derive(Clone, Debug)]
pub struct Decoded {
    /// The message type.
    pub ty: MessageType,
    /// The spelling the client used for it.
    pub form: Form,
    /// What the core is asked to do.
    pub command: Command,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// A name given bare (the original code) or inside an object (the seed).
#[derive(Deserialize)]
#[serde(untagged)]
enum NamePayload<'a> {
    Bare(#[serde(borrow)] Cow<'a, str>),
    Object {
        #[serde(default, borrow, alias = "as", alias = "to", alias = "from")]
        name: Option<Cow<'a, str>>,
    },
}

#[derive(Deserialize)]
struct SdpPayload<'a> {
    #[serde(borrow)]
    to: Cow<'a, str>,
    #[serde(borrow)]
    sdp: &'a RawValue,
}

#[derive(Deserialize)]
struct CandidatePayload<'a> {
    #[serde(borrow)]
    to: Cow<'a, str>,
    #[serde(borrow)]
    candidate: &'a RawValue,
}

/// Decodes one text frame.
///
/// # Errors
/// [`DecodeError`] for malformed JSON, a frame without a string `type`, a
/// type a client may not send, a payload of the wrong shape, or a bad name.
pub fn decode(text: &str) -> Result<Decoded, DecodeError> {
    let frame: Frame<'_> = serde_json::from_str(text)
        .map_err(|error| if error.is_data() { DecodeError::NotAFrame } else { DecodeError::Json(error.to_string()) })?;
    let ty_text = frame.ty.as_ref();
    let (ty, form) = MessageType::parse(ty_text)
        .filter(|(ty, _)| ty.is_request())
        .ok_or_else(|| DecodeError::UnknownType(ty_text.to_owned()))?;
    let payload = frame.payload.filter(|raw| raw.get() != "null");
    let bad = |expected| DecodeError::BadPayload { ty: ty_text.to_owned(), expected };
    let name = |text: &str| UserId::parse(text).map_err(|error| DecodeError::BadName { ty: ty_text.to_owned(), error });

    const NAMED: &str = "with a user name: {\"to\": name} / {\"from\": name}, or the bare name";
    let named = || -> Result<UserId, DecodeError> {
        match payload.map(|raw| serde_json::from_str::<NamePayload<'_>>(raw.get())) {
            Some(Ok(NamePayload::Bare(text))) | Some(Ok(NamePayload::Object { name: Some(text) })) => name(&text),
            _ => Err(bad(NAMED)),
        }
    };

    let command = match ty {
        MessageType::Connect => {
            let wanted = match payload.map(|raw| serde_json::from_str::<NamePayload<'_>>(raw.get())) {
                None | Some(Ok(NamePayload::Object { name: None })) => None,
                Some(Ok(NamePayload::Bare(text))) | Some(Ok(NamePayload::Object { name: Some(text) })) => {
                    Some(name(&text)?)
                }
                Some(Err(_)) => return Err(bad("{\"as\": name}, a bare name, or none to be given one")),
            };
            Command::Register { user: wanted, shared: false }
        }
        MessageType::RequestCall => Command::Call { to: named()?, data: Payload::null() },
        MessageType::AcceptCall => Command::Accept { invite: InviteRef::From(named()?), status: None, note: None },
        MessageType::RejectCall => {
            Command::Reject { invite: InviteRef::From(named()?), reason: EndReason::Rejected, note: None }
        }
        MessageType::CancelCall => Command::Cancel { invite: InviteRef::To(named()?), note: None },
        MessageType::HangUp => Command::Leave { room: RoomRef::CallWith(named()?) },
        MessageType::SendCallerDescriptor | MessageType::SendRecipientDescriptor => {
            const SDP: &str = "{\"to\": name, \"sdp\": {\"type\": ..., \"sdp\": ...}}";
            let parsed: SdpPayload<'_> =
                payload.and_then(|raw| serde_json::from_str(raw.get()).ok()).ok_or_else(|| bad(SDP))?;
            if !is_object(parsed.sdp) {
                return Err(bad(SDP));
            }
            let kind = if ty == MessageType::SendCallerDescriptor { SignalKind::Offer } else { SignalKind::Answer };
            relay(name(&parsed.to)?, kind, parsed.sdp)
        }
        MessageType::SendIceCandidate => {
            const CANDIDATE: &str = "{\"to\": name, \"candidate\": {\"candidate\": ..., ...}}";
            let parsed: CandidatePayload<'_> =
                payload.and_then(|raw| serde_json::from_str(raw.get()).ok()).ok_or_else(|| bad(CANDIDATE))?;
            if !is_object(parsed.candidate) {
                return Err(bad(CANDIDATE));
            }
            relay(name(&parsed.to)?, SignalKind::IceCandidate, parsed.candidate)
        }
        _ => unreachable!("filtered by is_request"),
    };
    Ok(Decoded { ty, form, command })
}

fn relay(to: UserId, kind: SignalKind, data: &RawValue) -> Command {
    Command::Relay { to: RelayTarget::CallPeer(to), signal: Signal { kind, payload: Payload::new(data.get()) } }
}

fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}
