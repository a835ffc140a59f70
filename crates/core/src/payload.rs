//! Opaque client data that the core carries but never reads.

use std::fmt;
use std::sync::Arc;

/// A client's data as text: an SDP, an ICE candidate, a status object, an
/// invite's custom data. The core never parses it; a codec makes it from the
/// frame it decoded and promises it is one JSON value, so the receiver's codec
/// can write it back without parsing it again. Cloning is a reference-count
/// increment, so fanning a relay out to several devices copies no bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Payload(Arc<str>);

impl Payload {
    /// Wraps text that the caller vouches is one JSON value.
    pub fn new(json: impl Into<Arc<str>>) -> Self {
        Self(json.into())
    }

    /// The JSON `null`, for commands that carry no data.
    pub fn null() -> Self {
        Self(Arc::from("null"))
    }

    /// The text as it came in.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Length of the text in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty (a codec never makes one).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 48;
        match self.0.char_indices().nth(SHOWN) {
            Some((cut, _)) => write!(f, "Payload({:?}… {} bytes)", &self.0[..cut], self.0.len()),
            None => write!(f, "Payload({:?})", &*self.0),
        }
    }
}

/// What a relayed message means, so that the receiver's codec can name it in
/// its own dialect (chatroulette `SEND_CALLER_DESCRIPTOR` arrives at a
/// tringtring client as `offer`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum SignalKind {
    /// An SDP offer; payload: an `RTCSessionDescriptionInit`,
    /// `{"type":"offer","sdp":"v=0…"}`.
    Offer,
    /// An SDP answer; payload as for [`SignalKind::Offer`] with `"answer"`.
    Answer,
    /// A trickle ICE candidate; payload: an `RTCIceCandidateInit`,
    /// `{"candidate":"candidate:…","sdpMid":"0","sdpMLineIndex":0}`.
    IceCandidate,
    /// A dialect's own named event (calling `room_peer_to`'s `event`);
    /// payload: its data.
    Custom(Arc<str>),
}

/// One relayed message: its meaning and the client's data.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Signal {
    /// What the message means.
    pub kind: SignalKind,
    /// The data, in the canonical shape [`SignalKind`] names.
    pub payload: Payload,
}

/// On the cluster link a payload is a JSON string holding its text: a
/// node of the same cluster wrote it, from a payload a codec vouched for.
#[cfg(feature = "serde")]
impl serde::Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Payload::new(text.as_ref()))
    }
}
