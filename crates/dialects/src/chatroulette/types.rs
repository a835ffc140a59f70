//! The chatroulette message types in both spellings: the seed's full names
//! and the original code's short codes (`src/common/messageTypes.js`), plus
//! switchboard's hang-up extensions.

/// Which spelling a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// Seed 002: full type names, object payloads (`{"type":"CONNECT","payload":{"as":"alice"}}`).
    Seed,
    /// The original code: short codes, bare-string payloads (`{"type":"c","payload":"alice"}`).
    Short,
}

macro_rules! message_types {
    ($( $(#[$doc:meta])* $variant:ident = $long:literal / $short:literal, )*) => {
        /// Every chatroulette message type.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum MessageType {
            $( $(#[$doc])* $variant, )*
        }

        impl MessageType {
            /// Every type, in the order of the README's table.
            pub const ALL: &'static [MessageType] = &[$(MessageType::$variant),*];

            /// The seed's full name.
            pub fn long(self) -> &'static str {
                match self { $(MessageType::$variant => $long,)* }
            }

            /// The short code.
            pub fn short(self) -> &'static str {
                match self { $(MessageType::$variant => $short,)* }
            }
        }
    };
}

message_types! {
    /// client → server: claim a name (`{as}` or a bare name; none draws one).
    Connect = "CONNECT" / "c",
    /// server → client: the name is held by another connection.
    UsernameTaken = "USERNAME_TAKEN" / "ut",
    /// server → client: registered.
    Connected = "CONNECTED" / "cd",
    /// client → server: call a user (`{to}`).
    RequestCall = "REQUEST_CALL" / "rc",
    /// server → client: nobody of that name is online.
    UnknownRecipient = "UNKNOWN_RECIPIENT" / "ur",
    /// server → callee: a call rings (`{from}`).
    CallRequested = "CALL_REQUESTED" / "cr",
    /// callee → server: answer (`{from}`).
    AcceptCall = "ACCEPT_CALL" / "ac",
    /// server → caller: answered (`{by}`).
    CallAccepted = "CALL_ACCEPTED" / "ca",
    /// callee → server: decline (`{from}`).
    RejectCall = "REJECT_CALL" / "rjc",
    /// server → caller: declined, busy, timed out or gone (`{by, [reason]}`).
    CallRejected = "CALL_REJECTED" / "crj",
    /// caller → server: SDP offer (`{to, sdp}`).
    SendCallerDescriptor = "SEND_CALLER_DESCRIPTOR" / "scd",
    /// server → callee: SDP offer (`{from, sdp}`).
    CallerDescriptorReceived = "CALLER_DESCRIPTOR_RECEIVED" / "cdr",
    /// callee → server: SDP answer (`{to, sdp}`).
    SendRecipientDescriptor = "SEND_RECIPIENT_DESCRIPTOR" / "srd",
    /// server → caller: SDP answer (`{from, sdp}`).
    RecipientDescriptorReceived = "RECIPIENT_DESCRIPTOR_RECEIVED" / "rdr",
    /// either → server: trickle ICE candidate (`{to, candidate}`).
    SendIceCandidate = "SEND_ICE_CANDIDATE" / "sic",
    /// server → either: trickle ICE candidate (`{from, candidate}`).
    IceCandidateReceived = "ICE_CANDIDATE_RECEIVED" / "icr",
    /// Extension. caller → server: withdraw a ringing call (`{to}`).
    CancelCall = "CANCEL_CALL" / "cc",
    /// Extension. server → callee: the call stopped ringing (`{by, [reason]}`).
    CallCancelled = "CALL_CANCELLED" / "ccd",
    /// Extension. either → server: end an accepted call (`{to}`).
    HangUp = "HANG_UP" / "hu",
    /// Extension. server → the other party: the call is over (`{by, reason}`).
    CallEnded = "CALL_ENDED" / "ce",
    /// Extension. server → client: a request failed (`{message, [request]}`).
    ///
    /// The short code is `er`, not `ERROR`: the original client
    /// (`src/client/Signal.js`) emits each frame's type as a local event, and
    /// its own lost-connection event is `Signal.ERROR = 'ERROR'`, so an
    /// `ERROR` frame sent it back to its connect screen. Short codes are
    /// lower case and the client's local events (`OPEN`, `CLOSE`, `ERROR`,
    /// `LOCAL_STREAM`, `REMOTE_STREAM`) upper case, so no short code can be
    /// taken for one.
    Error = "ERROR" / "er",
}

impl MessageType {
    /// The type's name in `form`.
    pub fn name(self, form: Form) -> &'static str {
        match form {
            Form::Seed => self.long(),
            Form::Short => self.short(),
        }
    }

    /// Finds a type by either spelling, and says which one it was.
    pub fn parse(name: &str) -> Option<(MessageType, Form)> {
        Self::ALL.iter().find_map(|&ty| {
            if ty.long() == name {
                Some((ty, Form::Seed))
            } else if ty.short() == name {
                Some((ty, Form::Short))
            } else {
                None
            }
        })
    }

    /// Whether clients send this type (the others are the server's).
    pub fn is_request(self) -> bool {
        use MessageType::*;
        matches!(
            self,
            Connect
                | RequestCall
                | AcceptCall
                | RejectCall
                | SendCallerDescriptor
                | SendRecipientDescriptor
                | SendIceCandidate
                | CancelCall
                | HangUp
        )
    }

    /// A number for the type, used as the core request tag.
    pub(crate) fn index(self) -> u64 {
        Self::ALL.iter().position(|&ty| ty == self).expect("listed in ALL") as u64
    }

    pub(crate) fn from_index(index: u64) -> Option<Self> {
        Self::ALL.get(usize::try_from(index).ok()?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_parse_and_names_are_unique() {
        for &ty in MessageType::ALL {
            assert_eq!(MessageType::parse(ty.long()), Some((ty, Form::Seed)));
            assert_eq!(MessageType::parse(ty.short()), Some((ty, Form::Short)));
            assert_eq!(MessageType::from_index(ty.index()), Some(ty));
        }
        let mut names: Vec<&str> = MessageType::ALL.iter().flat_map(|t| [t.long(), t.short()]).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), MessageType::ALL.len() * 2, "every spelling names one type in one form");
    }

    /// webrtc-one-to-one's client emits every frame's type as a local event
    /// (`Signal.js` `onMessage`); these are the events it raises itself
    /// (`Signal.OPEN`/`CLOSE`/`ERROR`, `Client.LOCAL_STREAM`/`REMOTE_STREAM`).
    #[test]
    fn no_short_code_is_one_of_the_original_clients_local_events() {
        let local_events = ["OPEN", "CLOSE", "ERROR", "LOCAL_STREAM", "REMOTE_STREAM"];
        for &ty in MessageType::ALL {
            assert!(!local_events.contains(&ty.short()), "{ty:?} is spelled {:?} in the short form", ty.short());
        }
    }

    #[test]
    fn the_original_short_codes_are_kept() {
        let original = [
            ("CONNECT", "c"),
            ("USERNAME_TAKEN", "ut"),
            ("CONNECTED", "cd"),
            ("REQUEST_CALL", "rc"),
            ("UNKNOWN_RECIPIENT", "ur"),
            ("CALL_REQUESTED", "cr"),
            ("ACCEPT_CALL", "ac"),
            ("CALL_ACCEPTED", "ca"),
            ("REJECT_CALL", "rjc"),
            ("CALL_REJECTED", "crj"),
            ("SEND_CALLER_DESCRIPTOR", "scd"),
            ("CALLER_DESCRIPTOR_RECEIVED", "cdr"),
            ("SEND_RECIPIENT_DESCRIPTOR", "srd"),
            ("RECIPIENT_DESCRIPTOR_RECEIVED", "rdr"),
            ("SEND_ICE_CANDIDATE", "sic"),
            ("ICE_CANDIDATE_RECEIVED", "icr"),
        ];
        for (long, short) in original {
            let (ty, _) = MessageType::parse(long).unwrap();
            assert_eq!(ty.short(), short, "{long}");
        }
    }
}
