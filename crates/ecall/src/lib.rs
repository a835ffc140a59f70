//! A sans-IO ECall state machine (Wire "Calling v3", seed 004) for one device: a client of a user,
//! in 1:1 calls with other users.
//!
//! In Wire, call signaling travels as `calling` messages whose content is an [`ECallMessage`] (JSON)
//! through the backend, which delivers each message to every client of the recipient (or one
//! client) and copies it to the sender's other clients. For switchboard the `ecall` endpoint plays
//! that channel. This crate is the client side: [`Device`] takes the user's [`Action`]s and the
//! message contents it receives, and emits [`Output`]s: messages to send, state changes, remote
//! properties and remote SDPs. It never reads a clock or an RNG and does no I/O; time is an
//! argument (the str0m model: `handle_*(now, ...)`, [`Device::poll_output`],
//! [`Device::poll_timeout`]).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use switchboard_ecall::*;
//!
//! fn ring_out(now: Instant) {
//!     let mut alice = Device::new("alice", "a1", DeviceConfig::default());
//!     let call = Action::Call { peer: "bob".into(), sdp_offer: "v=0...".into(), video: false };
//!     alice.handle_action(now, call).unwrap();
//!     let Some(Output::Send { to, to_client: None, content }) = alice.poll_output() else { panic!() };
//!     assert_eq!((to.as_str(), ECallMessage::parse(&content).unwrap().kind), ("bob", MessageType::Setup));
//!     assert_eq!(alice.poll_output(), Some(Output::State { peer: "bob".into(), state: CallState::Outgoing }));
//!
//!     // Nobody answers: at 30 s the caller sends CANCEL and the call ends.
//!     assert_eq!(alice.poll_timeout(), Some(now + Duration::from_secs(30)));
//!     alice.handle_timeout(now + Duration::from_secs(30));
//!     assert!(matches!(alice.poll_output(), Some(Output::Send { .. })));
//!     assert_eq!(alice.state("bob"), Some(CallState::Ended(EndReason::Timeout)));
//! }
//! # ring_out(Instant::now());
//! ```
//!
//! # Decisions
//!
//! - **Session ids.** The caller draws the call's `sessid`: four characters of `[0-9A-Za-z]`, as
//!   Wire does, derived from [`DeviceConfig::seed`], the user and client ids and a counter
//!   (splitmix64), never equal to the previous call's id with the same peer. Every message of a
//!   call carries it; a message with another `sessid` (e.g. a CANCEL of another call) is ignored.
//! - **Addressing.** SETUP offers, CANCEL and a PROPSYNC while outgoing go to every client of the
//!   peer; once the call is bound to one client of the peer (the caller's client on the callee's
//!   side, the first answering client on the caller's side), everything else goes to that client,
//!   and only messages from it count. Confirmations go to the sender's client.
//! - **Confirmations.** HANGUP and PROPSYNC with `resp: false` are confirmed with the same type and
//!   `resp: true`; so is CANCEL (seed: "Bob confirms with CANCEL resp true"). A PROPSYNC
//!   confirmation carries the confirmer's own properties, as in Wire.
//! - **Declining.** [`Action::Reject`] sends a REJECT to the caller's client. Wire sends REJECT only
//!   to the user's own clients (the caller rings on until its timeout); switchboard also tells the
//!   caller, which ends with `Rejected` at once, because the server's model has a "rejected" end.
//!   The backend's copy stops this user's other devices ringing, and a REJECT of another own client
//!   is honoured whoever it was addressed to, so both Wire forms work.
//! - **Answered or declined elsewhere.** A ringing device that sees, from another client of its own
//!   user, a SETUP `resp: true` with the call's `sessid` ends with `AnsweredElsewhere`; a REJECT,
//!   with `Rejected`. If two devices answer, the caller keeps the first answer and sends a HANGUP
//!   to the later client.
//! - **Glare.** When a SETUP offer comes from the peer while this device's own call to that peer is
//!   outgoing, the user ids are compared as strings. The lower one drops its own offer: it sends a
//!   CANCEL with its own `sessid` to every client of the peer (the peer's other devices stop
//!   ringing for it; the peer's calling device ignores it, the `sessid` being foreign) and its call
//!   becomes incoming for the peer's SETUP (state `Incoming`, the peer's props and SDP offer, its
//!   own `videosend` choice kept); the application then answers with [`Action::Accept`]. The higher
//!   one ignores the lower one's SETUP and stays outgoing. UPDATE offers that cross are resolved
//!   the same way.
//! - **Timeouts.** The caller rings for [`DeviceConfig::ring_timeout`] (30 s; it fires when
//!   `now >= start + 30 s`), then sends CANCEL and ends with `Timeout`. The callee ends on that
//!   CANCEL (`Cancelled`), or quietly with `Timeout` after `ring_timeout + incoming_grace` when no
//!   CANCEL arrives.
//! - **ICE.** The application reports the peer connection: [`Action::IceConnected`] makes a
//!   connecting call ongoing; [`Action::IceFailed`] ends a 1:1 call with a HANGUP.

#![warn(missing_docs)]

mod device;
mod message;
mod sessid;

pub use crate::device::{Action, ActionError, CallState, Device, DeviceConfig, EndReason, Output};
pub use crate::message::{ECallMessage, MessageError, MessageType, Props, VERSION};
