//! The sans-IO signaling model of switchboard.
//!
//! One model serves every dialect: a 1:1 call is a room of capacity 2 plus an
//! invite. Calling is inviting into a new room, ringing is the invite
//! delivered, accepting is joining, rejecting is declining, cancelling
//! withdraws the invite, hanging up is leaving, and SDP and ICE are relays
//! between the members. Codecs in `switchboard-dialects` map each dialect's
//! frames onto [`Command`]s and encode [`Event`]s for the receiving session in
//! that session's own dialect, so users of different dialects can call each
//! other.
//!
//! The core does no I/O and reads no clock: time is an argument. The driver
//! feeds [`Core::handle_input`] with the current time, drains
//! [`Core::poll_output`] until it returns `None`, and sleeps until
//! [`Core::poll_timeout`], when it feeds [`Input::Timeout`]. A 30-second ring
//! timeout is tested by passing a later `now` (the str0m model).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use switchboard_core::*;
//!
//! // `now` is whatever clock the driver (or a test) keeps.
//! fn ring_timeout(now: Instant) {
//!     let mut core = Core::new(CoreConfig::default());
//!     let (alice, bob) = (SessionId::new(1), SessionId::new(2));
//!     for (session, name) in [(alice, "alice"), (bob, "bob")] {
//!         core.handle_input(now, Input::Connected { session, peer_id: None, style: Some(CallStyle::Signals) });
//!         let user = Some(UserId::parse(name).unwrap());
//!         let command = Command::Register { user, shared: false };
//!         core.handle_input(now, Input::Command { session, request: Request::quiet(0), command });
//!     }
//!     let command = Command::Call { to: UserId::parse("bob").unwrap(), data: Payload::null() };
//!     core.handle_input(now, Input::Command { session: alice, request: Request::quiet(0), command });
//!     assert!(matches!(core.poll_output(), Some(Output { to, event: Event::Ringing { .. } }) if to == bob));
//!
//!     // Nobody answers: 30 s later both sides are told, and nothing is left.
//!     core.handle_input(now + Duration::from_secs(30), Input::Timeout);
//!     let declined = core.poll_output().unwrap().event;
//!     assert!(matches!(declined, Event::CallDeclined { reason: EndReason::Timeout, .. }));
//!     let stopped = core.poll_output().unwrap().event;
//!     assert!(matches!(stopped, Event::RingingStopped { reason: EndReason::Timeout, .. }));
//!     assert_eq!(core.stats().rooms, 0);
//! }
//! ```

#![warn(missing_docs)]

mod calls;
mod core;
mod ids;
mod input;
mod invariants;
mod invites;
mod limits;
mod mailbox;
mod named_calls;
mod namespaces;
mod output;
mod payload;
mod presence;
mod relay;
mod rooms;
mod state;
mod style;

pub use crate::core::{Core, CoreConfig, Stats};
pub use calls::{CallId, CallNote, CallOutcome, CallParty, CallStage};
pub use ids::{InviteId, MAX_NAME_BYTES, NameError, NamespaceId, RoomId, SessionId, SessionMap, UserId};
pub use input::{Command, Input, InviteRef, RelayTarget, Request, RoomRef};
pub use invariants::InvariantError;
pub use output::{
    CommandError, EndReason, Event, NamespaceEvent, Output, PeerInfo, PeerStatus, PeerUpdate, Reply, RoomView,
};
pub use payload::{Payload, Signal, SignalKind};
pub use state::Rate;
pub use style::CallStyle;
