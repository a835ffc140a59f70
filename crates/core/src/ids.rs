//! Newtype identifiers with parsing constructors.
//!
//! A name that crosses the wire (`UserId`, `RoomId`) is checked once, when a
//! codec builds it, so the rest of the core can trust it. Ids the server makes
//! up (`SessionId`, `InviteId`) are plain counters.

use std::fmt;
use std::sync::Arc;

/// Longest user or room name accepted, in bytes. Names are echoed to other
/// clients and kept in maps, so an unbounded one would be a memory lever.
pub const MAX_NAME_BYTES: usize = 256;

/// Why a name was refused by [`UserId::parse`] or [`RoomId::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is the empty string.
    #[error("name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_BYTES`].
    #[error("name is longer than {MAX_NAME_BYTES} bytes")]
    TooLong,
    /// The name holds a control character (U+0000–U+001F, U+007F–U+009F).
    #[error("name contains a control character")]
    ControlCharacter,
}

fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    Ok(())
}

macro_rules! name_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Checks `name` (1 to [`MAX_NAME_BYTES`] bytes, no control
            /// characters) and wraps it.
            ///
            /// # Errors
            /// [`NameError`] says which rule the name broke.
            pub fn parse(name: &str) -> Result<Self, NameError> {
                check_name(name)?;
                Ok(Self(Arc::from(name)))
            }

            /// The name as the client spelled it.
            pub fn as_str(&self) -> &str {
                &self.0
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
pub struct SessionId([u64; 2]);

impl SessionId {
    /// The id of these 128 bits.
    pub const fn new(bits: u128) -> Self {
        Self([(bits >> 64) as u64, bits as u64])
    }
}

/// One invite (a ringing call is an invite), numbered by the core from 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
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
}
