//! Newtype identifiers with parsing constructors.
//!
//! A name that crosses the wire (`UserId`, `RoomId`, `NamespaceId`) is
//! checked once, when a codec builds it, so the rest of the core can trust
//! it. Ids the server makes up (`SessionId`, `InviteId`) are plain counters.
//!
//! Names are compared in Unicode normalization form NFKC: a name is stored
//! as its NFKC form, so `ｂｏｂ` (fullwidth) and `bob` are one user. A name
//! that would look like another is refused: one that mixes scripts (`аlice`
//! with a Cyrillic `а`), or holds an invisible character (a zero-width space,
//! a soft hyphen, a variation selector: Unicode's default-ignorable code
//! points) or a bidirectional control (an RTL mark, an override). Mixed
//! scripts are judged as Unicode's UTS #39 does (augmented script sets), so
//! digits, punctuation and spaces go with any script, and Japanese may mix
//! Han, Hiragana and Katakana.

use std::fmt;
use std::sync::Arc;

use unicode_normalization::UnicodeNormalization as _;
use unicode_security::MixedScript as _;
use unicode_security::general_security_profile::{GeneralSecurityProfile as _, IdentifierType};

/// Longest user or room name accepted, in bytes (as sent, and in NFKC).
/// Names are echoed to other clients and kept in maps, so an unbounded one
/// would be a memory lever.
pub const MAX_NAME_BYTES: usize = 256;

/// Why a name was refused by [`UserId::parse`], [`RoomId::parse`] or
/// [`NamespaceId::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is the empty string.
    #[error("name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_BYTES`], as sent or in NFKC.
    #[error("name is longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
    /// The name holds a control character (U+0000–U+001F, U+007F–U+009F).
    #[error("name contains a control character")]
    ControlCharacter,
    /// The name holds a bidirectional control (U+061C, U+200E, U+200F,
    /// U+202A–U+202E, U+2066–U+2069), which can make it display as another.
    #[error("name contains a bidirectional control character")]
    BidiControl,
    /// The name holds an invisible character (a default-ignorable code
    /// point: U+200B zero-width space, U+00AD soft hyphen, U+FE0F, ...).
    #[error("name contains an invisible character")]
    Invisible,
    /// The name mixes scripts (UTS #39 mixed-script detection): Latin with a
    /// Cyrillic letter, say, which would make it a lookalike of another.
    #[error("name mixes scripts")]
    MixedScripts,
}

/// The bidirectional formatting characters of Unicode (UAX #9): marks,
/// embeddings, overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks `name` and gives back its NFKC form, or `None` when that is the
/// name itself (always so for ASCII, the common case, which costs no copy).
fn check_name(name: &str) -> Result<Option<String>, NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if name.is_ascii() {
        // NFKC leaves ASCII as it is, and ASCII is one script (Latin, with
        // digits and punctuation common to all).
        return Ok(None);
    }
    if name.chars().any(is_bidi_control) {
        return Err(NameError::BidiControl);
    }
    if name.chars().any(|c| c.identifier_type() == Some(IdentifierType::Default_Ignorable)) {
        return Err(NameError::Invisible);
    }
    let normal: String = name.nfkc().collect();
    // NFKC can lengthen a name (U+FDFA becomes 18 letters), or bring in a
    // character refused above (a compatibility form of one).
    if normal.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong);
    }
    if normal.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if normal.chars().any(is_bidi_control) {
        return Err(NameError::BidiControl);
    }
    if !normal.as_str().is_single_script() {
        return Err(NameError::MixedScripts);
    }
    Ok((normal != name).then_some(normal))
}

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Checks `name` (1 to [`MAX_NAME_BYTES`] bytes; no control,
            /// invisible or bidirectional control character; one script)
            /// and wraps its NFKC form, so that names equal in NFKC are
            /// the same name.
            ///
            /// # Errors
            /// [`NameError`] says which rule the name broke.
            pub fn parse(name: &str) -> Result<Self, NameError> {
                Ok(Self(match check_name(name)? {
                    Some(normal) => Arc::from(normal),
                    None => Arc::from(name),
                }))
            }

            /// The name in NFKC, as every client is shown it: the client's
            /// own spelling when that was already NFKC (ASCII always is).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        /// Serialized as its text; deserialized through [`Self::parse`],
        /// so that the cluster link carries only names a node would take.
        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }
    };
}

name_id!(
    /// A user's identity: a chatroulette username, a cloudkibo phone number,
    /// a calling user id, an ecall user. Unique among online users.
    UserId
);

name_id!(
    /// A room's name: chosen by a client (tringtring, calling, cloudkibo) or
    /// drawn by the core for a 1:1 call.
    RoomId
);

name_id!(
    /// A calling-signaling namespace: a directory of users and rooms that
    /// subscribers are told about.
    NamespaceId
);

/// One connection to the server. A user may have several sessions (devices).
///
/// Opaque: the driver draws 128 random bits for each, so an id is
/// unguessable and unique across nodes, and it never goes on the wire or
/// comes from one (clients name peers by peer id, or cloudkibo's per-room
/// member numbers). Tests may use small numbers.
///
/// Two `u64`s rather than a `u128`, which would align every struct that
/// holds one to 16 bytes and pad it: an idle session pays for each byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SessionId([u64; 2]);

impl SessionId {
    /// The id of these 128 bits.
    pub const fn new(bits: u128) -> Self {
        Self([(bits >> 64) as u64, bits as u64])
    }
}

/// A map keyed by session id, hashed with FxHash rather than SipHash.
///
/// Session ids are random bits the driver drew, never taken from a client,
/// so nobody can choose keys that collide, and the keyed hash's cost (one
/// of the larger items in a relay's profile) buys nothing. Names, rooms and
/// peer ids, which clients choose, stay in SipHash maps.
pub type SessionMap<V> = std::collections::HashMap<SessionId, V, rustc_hash::FxBuildHasher>;

/// One invite (a ringing call is an invite), numbered by the core from 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct InviteId(pub u64);

impl fmt::Display for SessionId {
    /// `s` and 32 hex digits, for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{:016x}{:016x}", self.0[0], self.0[1])
    }
}

impl fmt::Display for InviteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "i{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(UserId::parse("alice").unwrap().as_str(), "alice");
        assert_eq!(UserId::parse(""), Err(NameError::Empty));
        assert_eq!(UserId::parse("a\u{0}b"), Err(NameError::ControlCharacter));
        assert_eq!(RoomId::parse(&"x".repeat(MAX_NAME_BYTES + 1)), Err(NameError::TooLong));
        assert!(RoomId::parse(&"x".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(UserId::parse("+49 170 1234567").is_ok());
    }

    #[test]
    fn names_equal_in_nfkc_are_one_name() {
        let fullwidth = UserId::parse("\u{FF42}\u{FF4F}\u{FF42}").unwrap();
        assert_eq!(fullwidth, UserId::parse("bob").unwrap());
        assert_eq!(fullwidth.as_str(), "bob");
        // A precomposed é and e + combining acute.
        assert_eq!(UserId::parse("caf\u{E9}").unwrap(), UserId::parse("cafe\u{301}").unwrap());
        assert_eq!(RoomId::parse("\u{FB01}le").unwrap().as_str(), "file");
    }

    #[test]
    fn lookalike_names_are_refused() {
        assert_eq!(UserId::parse("\u{430}lice"), Err(NameError::MixedScripts), "Cyrillic a");
        assert_eq!(UserId::parse("al\u{200B}ice"), Err(NameError::Invisible), "zero-width space");
        assert_eq!(UserId::parse("alice\u{AD}"), Err(NameError::Invisible), "soft hyphen");
        assert_eq!(UserId::parse("alice\u{FE0F}"), Err(NameError::Invisible), "variation selector");
        assert_eq!(UserId::parse("\u{200F}alice"), Err(NameError::BidiControl), "RTL mark");
        assert_eq!(UserId::parse("\u{202E}ecila"), Err(NameError::BidiControl), "RTL override");
        assert_eq!(NamespaceId::parse("team\u{2066}"), Err(NameError::BidiControl), "isolate");
        // NFKC of U+FDFA is 18 letters (33 bytes): 15 of them make 495 bytes.
        assert_eq!(UserId::parse(&"\u{FDFA}".repeat(15)), Err(NameError::TooLong));
    }

    #[test]
    fn names_of_one_script_pass_unchanged() {
        for name in [
            "alice",
            "Алиса",
            "山田たろう",
            "Σωκράτης_2",
            "\u{645}\u{62D}\u{645}\u{62F}",
            "3f2b1c9e-2c4d-4e8f-9a6b-7d5c3e1f0a2b",
            "+49 170 1234567",
            "Zoë ❤",
        ] {
            assert_eq!(UserId::parse(name).unwrap().as_str(), name, "{name}");
        }
    }
}
