//! How each session's dialect makes calls: the fact every cross-dialect rule
//! turns on (Step 13). The core keeps it per session, from
//! [`Input::Connected`](crate::Input::Connected), and puts the other party's
//! in the events a codec must translate for (`Ringing`, `CallAccepted`).

/// How a session's dialect calls and negotiates media. The core never asks
/// which dialect a session speaks, only this.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CallStyle {
    /// Named rooms and invites into them; SDP and ICE are relays between
    /// room members (calling, seed 003; tringtring, seed 001). A call from a
    /// one-to-one dialect rings it as an invite into the call's room; a
    /// member of a room of two counts as busy to callers.
    Rooms,
    /// 1:1 calls; the SDP offer, the answer and trickle ICE candidates are
    /// relayed as they come (chatroulette, seed 002). The default, and what
    /// a stand-in of a node that does not say is.
    #[default]
    Signals,
    /// 1:1 calls whose media negotiation runs in a second room the clients
    /// join by name (cloudkibo's `init` and `msg`, seed 000). Its codec plays
    /// that room itself when the other party is of another style.
    MediaRoom,
    /// Wire's ECall (seed 004): messages between devices with no call on the
    /// server; whole SDPs travel inside `SETUP`.
    Messages,
}

impl CallStyle {
    /// Whether the dialect knows only 1:1 calls: an invite into a named
    /// room rings it as a call (ring timeout, busy rule, two places), and
    /// that room's end reaches it as the call's end.
    pub fn one_to_one(self) -> bool {
        !matches!(self, CallStyle::Rooms)
    }

    /// Every style.
    pub const ALL: [CallStyle; 4] = [CallStyle::Rooms, CallStyle::Signals, CallStyle::MediaRoom, CallStyle::Messages];

    /// Its name, as the cluster stores it beside a user's name in Redis
    /// and as its JSON has it: `rooms`, `signals`, `media_room`, `messages`.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStyle::Rooms => "rooms",
            CallStyle::Signals => "signals",
            CallStyle::MediaRoom => "media_room",
            CallStyle::Messages => "messages",
        }
    }

    /// The style [`as_str`](Self::as_str) names; `None` for any other text.
    pub fn named(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|style| style.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::CallStyle;

    /// The cluster stores a style by name: every name reads back as its
    /// style, and no other text names one.
    #[test]
    fn each_style_is_read_back_from_its_name() {
        for style in CallStyle::ALL {
            assert_eq!(CallStyle::named(style.as_str()), Some(style));
        }
        assert_eq!(CallStyle::named("Rooms"), None);
        assert_eq!(CallStyle::named(""), None);
    }
}
