//! The `ECallMessage`: the JSON content of a Wire `calling` message (seed 004, "Calling v3").
//!
//! ```json
//! {"version":"3.0","resp":false,"sessid":"a1B2","type":"SETUP","props":{"videosend":"true"},"sdp":"v=0..."}
//! ```
//!
//! [`ECallMessage::parse`] is the one validation both this crate's state machine and the server use.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The only protocol version this crate speaks: the `version` field of every message.
pub const VERSION: &str = "3.0";

/// Call properties: `{"videosend": "true"}`. Keys are property names (`videosend`, `audiosend`,
/// `screensend`, ...), values are strings, by convention `"true"` or `"false"`. A message carries
/// only the keys that changed.
pub type Props = BTreeMap<String, String>;

/// The `type` of an [`ECallMessage`]. The group types of later Wire versions (`GROUP*`) are not
/// known here: [`ECallMessage::parse`] refuses them with [`MessageError::UnknownType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MessageType {
    /// `SETUP`: an SDP offer (`resp: false`, starts a call) or answer (`resp: true`, accepts it).
    /// Needs `sdp`; may carry `props`.
    #[serde(rename = "SETUP")]
    Setup,
    /// `CANCEL`: the caller stops ringing (`resp: false`); a callee confirms (`resp: true`).
    #[serde(rename = "CANCEL")]
    Cancel,
    /// `HANGUP`: one side ends an answered call (`resp: false`); the other confirms (`resp: true`).
    #[serde(rename = "HANGUP")]
    Hangup,
    /// `PROPSYNC`: the sender's properties changed (`resp: false`), or a confirmation carrying the
    /// confirmer's properties (`resp: true`). May carry `props`.
    #[serde(rename = "PROPSYNC")]
    PropSync,
    /// `UPDATE`: a renegotiation offer (`resp: false`) or its answer (`resp: true`). Needs `sdp`;
    /// may carry `props`.
    #[serde(rename = "UPDATE")]
    Update,
    /// `REJECT`: the callee declined the call.
    #[serde(rename = "REJECT")]
    Reject,
}

impl MessageType {
    /// Every known type, in the order of the seed and `PROTOCOLS.md`.
    pub const ALL: [MessageType; 6] = [
        MessageType::Setup,
        MessageType::Cancel,
        MessageType::Hangup,
        MessageType::PropSync,
        MessageType::Update,
        MessageType::Reject,
    ];

    /// The wire name: `"SETUP"`, `"CANCEL"`, `"HANGUP"`, `"PROPSYNC"`, `"UPDATE"` or `"REJECT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Setup => "SETUP",
            MessageType::Cancel => "CANCEL",
            MessageType::Hangup => "HANGUP",
            MessageType::PropSync => "PROPSYNC",
            MessageType::Update => "UPDATE",
            MessageType::Reject => "REJECT",
        }
    }

    /// The type of a wire name (exact, upper case), or `None` for an unknown name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Whether a message of this type must carry an `sdp` (SETUP and UPDATE).
    pub fn needs_sdp(self) -> bool {
        matches!(self, MessageType::Setup | MessageType::Update)
    }

    /// Whether messages of this type carry `props` (SETUP, PROPSYNC and UPDATE).
    pub fn carries_props(self) -> bool {
        matches!(self, MessageType::Setup | MessageType::PropSync | MessageType::Update)
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message content is not a valid `ECallMessage`. Every variant is the sender's fault; the
/// `Display` text names the field and what was expected, fit to send back to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The content is not JSON at all; the text is serde_json's description.
    #[error("the ecall message is not JSON: {0}")]
    NotJson(String),
    /// The content is JSON, but not an object.
    #[error("the ecall message must be a JSON object")]
    NotAnObject,
    /// A required field (`version`, `type`, `resp`, `sessid`) is absent.
    #[error("the ecall message has no `{0}` field")]
    MissingField(&'static str),
    /// A field has the wrong JSON type, e.g. `"resp": "false"`.
    #[error("the `{field}` field of the ecall message must be {expected}")]
    WrongType {
        /// The field's name.
        field: &'static str,
        /// What it must be, in words.
        expected: &'static str,
    },
    /// `version` is a string other than `"3.0"`.
    #[error("unsupported ecall version {0:?}: only \"3.0\" is supported")]
    UnsupportedVersion(String),
    /// `type` is a string that is not one of the known types.
    #[error("unknown ecall message type {0:?}: expected SETUP, CANCEL, HANGUP, PROPSYNC, UPDATE or REJECT")]
    UnknownType(String),
    /// `sessid` is the empty string.
    #[error("the `sessid` of the ecall message must not be empty")]
    EmptySessid,
    /// A value in `props` is not a string (e.g. `{"videosend": true}`); the text is its key.
    #[error("the ecall property `{0}` must be a string such as \"true\" or \"false\"")]
    PropNotString(String),
    /// A SETUP or UPDATE without `sdp`.
    #[error("an ecall {0} message needs an `sdp`")]
    MissingSdp(MessageType),
}

/// One ECall message, validated. Field names follow the JSON, except `type`, which is `kind`.
///
/// Serde both ways: serializing writes `version: "3.0"` first and leaves out absent `props` and
/// `sdp`; deserializing (e.g. `serde_json::from_str`) runs the same checks as [`parse`](Self::parse).
/// Unknown extra fields are accepted and dropped, so later protocol additions do not break parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "WireMessage")]
pub struct ECallMessage {
    /// The `type`.
    pub kind: MessageType,
    /// `resp`: `true` for a response (a confirmation, or the SDP answer of SETUP / UPDATE).
    pub resp: bool,
    /// `sessid`: the id of the call, drawn by the caller; never empty.
    pub sessid: String,
    /// `props`, when present (`null` counts as absent).
    pub props: Option<Props>,
    /// `sdp`, when present (`null` counts as absent); always present on SETUP and UPDATE.
    pub sdp: Option<String>,
}

impl ECallMessage {
    /// A message of `kind` with no `props` and no `sdp`. Add them with [`with_props`](Self::with_props)
    /// and [`with_sdp`](Self::with_sdp); SETUP and UPDATE need an SDP to be valid.
    pub fn new(kind: MessageType, resp: bool, sessid: impl Into<String>) -> Self {
        ECallMessage { kind, resp, sessid: sessid.into(), props: None, sdp: None }
    }

    /// This message with `props` set.
    pub fn with_props(mut self, props: Props) -> Self {
        self.props = Some(props);
        self
    }

    /// This message with `sdp` set.
    pub fn with_sdp(mut self, sdp: impl Into<String>) -> Self {
        self.sdp = Some(sdp.into());
        self
    }

    /// Parses and validates a message content (a JSON string).
    ///
    /// Checks, in this order: JSON ([`MessageError::NotJson`]), an object ([`NotAnObject`]),
    /// `version` present ([`MissingField`]), a string ([`WrongType`]), `"3.0"`
    /// ([`UnsupportedVersion`]); `type` present, a string, known ([`UnknownType`]); `resp` present
    /// and a bool; `sessid` present, a string, not empty ([`EmptySessid`]); `props`, if present and
    /// not null, an object whose values are strings ([`PropNotString`]); `sdp`, if present and not
    /// null, a string; and `sdp` present on SETUP and UPDATE ([`MissingSdp`]).
    ///
    /// [`NotAnObject`]: MessageError::NotAnObject
    /// [`MissingField`]: MessageError::MissingField
    /// [`WrongType`]: MessageError::WrongType
    /// [`UnsupportedVersion`]: MessageError::UnsupportedVersion
    /// [`UnknownType`]: MessageError::UnknownType
    /// [`EmptySessid`]: MessageError::EmptySessid
    /// [`PropNotString`]: MessageError::PropNotString
    /// [`MissingSdp`]: MessageError::MissingSdp
    pub fn parse(content: &str) -> Result<Self, MessageError> {
        let value: Value = serde_json::from_str(content).map_err(|e| MessageError::NotJson(e.to_string()))?;
        Self::from_value(&value)
    }

    /// Validates an already decoded JSON value, with the checks of [`parse`](Self::parse).
    pub fn from_value(value: &Value) -> Result<Self, MessageError> {
        let object = value.as_object().ok_or(MessageError::NotAnObject)?;

        let version = required_str(object, "version", "the string \"3.0\"")?;
        if version != VERSION {
            return Err(MessageError::UnsupportedVersion(version.to_owned()));
        }

        let name = required_str(object, "type", "a string such as \"SETUP\"")?;
        let kind = MessageType::from_name(name).ok_or_else(|| MessageError::UnknownType(name.to_owned()))?;

        let resp = match object.get("resp") {
            None => return Err(MessageError::MissingField("resp")),
            Some(Value::Bool(resp)) => *resp,
            Some(_) => return Err(MessageError::WrongType { field: "resp", expected: "a boolean" }),
        };

        let sessid = required_str(object, "sessid", "a string")?;
        if sessid.is_empty() {
            return Err(MessageError::EmptySessid);
        }

        let props = match object.get("props") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => {
                let mut props = Props::new();
                for (key, value) in map {
                    match value {
                        Value::String(value) => props.insert(key.clone(), value.clone()),
                        _ => return Err(MessageError::PropNotString(key.clone())),
                    };
                }
                Some(props)
            }
            Some(_) => return Err(MessageError::WrongType { field: "props", expected: "an object of strings" }),
        };

        let sdp = match object.get("sdp") {
            None | Some(Value::Null) => None,
            Some(Value::String(sdp)) => Some(sdp.clone()),
            Some(_) => return Err(MessageError::WrongType { field: "sdp", expected: "a string" }),
        };
        if kind.needs_sdp() && sdp.is_none() {
            return Err(MessageError::MissingSdp(kind));
        }

        Ok(ECallMessage { kind, resp, sessid: sessid.to_owned(), props, sdp })
    }

    /// The message content: compact JSON, `version` first, then `resp`, `sessid`, `type`, and
    /// `props` and `sdp` when present.
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings, bools and a string map cannot fail.
        serde_json::to_string(&WireMessage::from(self.clone())).unwrap_or_default()
    }
}

impl TryFrom<Value> for ECallMessage {
    type Error = MessageError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::from_value(&value)
    }
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
    expected: &'static str,
) -> Result<&'a str, MessageError> {
    match object.get(field) {
        None => Err(MessageError::MissingField(field)),
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(MessageError::WrongType { field, expected }),
    }
}

/// The serialized form: the fields in the order Wire writes them.
#[derive(Serialize)]
struct WireMessage {
    version: &'static str,
    resp: bool,
    sessid: String,
    #[serde(rename = "type")]
    kind: MessageType,
    #[serde(skip_serializing_if = "Option::is_none")]
    props: Option<Props>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sdp: Option<String>,
}

impl From<ECallMessage> for WireMessage {
    fn from(message: ECallMessage) -> Self {
        WireMessage {
            version: VERSION,
            resp: message.resp,
            sessid: message.sessid,
            kind: message.kind,
            props: message.props,
            sdp: message.sdp,
        }
    }
}
