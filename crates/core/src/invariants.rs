//! Self-checks of the core's state: every back-index agrees with the thing it
//! indexes, both ways, and every deadline with the thing it is for.
//!
//! The core keeps each relation twice, once on either side, so that every
//! question is a lookup (a session's rooms and a room's members; an invite and
//! the session, user and room that hold it; …). Each part of the state
//! (`state/`) owns both sides of its relations and checks them itself; what
//! is checked here is what ties the parts together: a room's members are
//! live, registered sessions; an invite rings an online user from the name
//! its sender holds; every deadline is for something that waits for it. A
//! drift that no single test sees would otherwise surface much later as an
//! event sent to nobody. [`Core::check_invariants`] walks the whole state and
//! names the first drift it finds. It is for tests (the core's own, and model
//! tests that drive it with random inputs); it never panics and changes
//! nothing.

use std::collections::HashMap;

use crate::state::{Deadline, RoomKind, duplicate};
use crate::{Core, RoomId, UserId};

/// A broken invariant of the core's state, found by
/// [`Core::check_invariants`]. Each variant names the relation that drifted;
/// the text says which ids disagree. It is always a bug of the core, never a
/// client's fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvariantError {
    /// `sessions[s].user` ⇔ `users[u].sessions`, and what a user must be.
    #[error("session ⇔ user: {0}")]
    SessionUser(String),
    /// `peer_ids` ⇔ every session's `peer_id`.
    #[error("peer id: {0}")]
    PeerId(String),
    /// `sessions[s].rooms` ⇔ `rooms[r].members`.
    #[error("room membership: {0}")]
    Membership(String),
    /// `sessions[s].outgoing` ⇔ `invites[i].from_session`.
    #[error("outgoing invite: {0}")]
    Outgoing(String),
    /// `users[u].incoming` ⇔ `invites[i].to`.
    #[error("incoming invite: {0}")]
    Incoming(String),
    /// `rooms[r].invited` ⇔ `invites[i].room`.
    #[error("invited peer: {0}")]
    Invited(String),
    /// The shape of one room: capacity, expiry, a call's two parties, one
    /// place per user, member numbers, status keys.
    #[error("room: {0}")]
    Room(String),
    /// The busy rule: a user is a party of at most one 1:1 call.
    #[error("busy rule: {0}")]
    Busy(String),
    /// An answered 1:1 call's record ⇔ its call room and two members.
    #[error("answered call: {0}")]
    AnsweredCall(String),
    /// `sessions[s].subscriptions` ⇔ `namespaces[n].subscribers`.
    #[error("namespace subscriber: {0}")]
    Subscription(String),
    /// `users[u].namespaces` ⇔ `namespaces[n].users`.
    #[error("namespace user: {0}")]
    NamespaceUser(String),
    /// `rooms[r].namespaces` ⇔ `namespaces[n].rooms`.
    #[error("namespace room: {0}")]
    NamespaceRoom(String),
    /// A namespace with nothing in it is kept.
    #[error("namespace: {0}")]
    Namespace(String),
    /// Messages held for offline users: who, how many, how big.
    #[error("mailbox: {0}")]
    Mailbox(String),
    /// `deadlines` ⇔ `invites[i].rings_until`, `rooms[r].expires` and the
    /// oldest held message of each mailbox.
    #[error("deadline: {0}")]
    Deadline(String),
    /// A rate-limit bucket kept for a user who is offline or a room that
    /// is gone.
    #[error("throttle: {0}")]
    Throttle(String),
}

/// Returns the error unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $kind:ident, $($message:tt)+) => {
        if !$cond {
            return Err(InvariantError::$kind(format!($($message)+)));
        }
    };
}

impl Core {
    /// Checks every back-index of the state both ways, and every deadline
    /// against what it is for. `Ok(())` after every input is the core's
    /// promise; an error names the first relation found broken and the ids
    /// involved.
    ///
    /// It walks every map and list of the state, so it is meant for tests,
    /// not for the driver's loop. It never panics and changes nothing.
    ///
    /// # Errors
    /// [`InvariantError`], always a bug of the core.
    pub fn check_invariants(&self) -> Result<(), InvariantError> {
        // Each part's own indexes.
        self.sessions.check()?;
        self.users.check()?;
        self.rooms.check()?;
        self.invites.check()?;
        self.namespaces.check()?;
        self.mailboxes.check()?;
        // What ties the parts together.
        self.check_registrations()?;
        self.check_invites()?;
        self.check_rooms()?;
        self.check_calls()?;
        self.check_namespaces()?;
        self.check_mailboxes()?;
        self.check_deadlines()?;
        self.check_throttles()?;
        Ok(())
    }

    fn check_throttles(&self) -> Result<(), InvariantError> {
        // A bucket is dropped with its user or room, so none outlives it.
        for user in self.throttles.users() {
            ensure!(self.users.is_online(user), Throttle, "a ring bucket is kept for {user:?}, who is offline");
        }
        for room in self.throttles.rooms() {
            ensure!(self.rooms.contains(room), Throttle, "an invite bucket is kept for room {room:?}, which is gone");
        }
        Ok(())
    }

    fn check_registrations(&self) -> Result<(), InvariantError> {
        // A registered session is open: a disconnect unregisters it.
        for user in self.users.users() {
            for &session in self.users.sessions_of(user) {
                ensure!(
                    self.sessions.contains(session),
                    SessionUser,
                    "{user:?} lists {session:?}, which is not a live session"
                );
            }
        }
        // Joining, calling, inviting and subscribing all need a registered
        // user, and a session keeps its name until it closes: only a
        // registered session holds anything.
        for session in self.rooms.sessions() {
            ensure!(
                self.user_of(session).is_some(),
                Membership,
                "{session:?} is a member of rooms {:?} but {}",
                self.rooms.of_session(session),
                if self.sessions.contains(session) { "not registered" } else { "not a live session" }
            );
        }
        for session in self.namespaces.subscribed_sessions() {
            ensure!(
                self.user_of(session).is_some(),
                Subscription,
                "{session:?} subscribes to {:?} but {}",
                self.namespaces.subscriptions_of(session),
                if self.sessions.contains(session) { "not registered" } else { "not a live session" }
            );
        }
        Ok(())
    }

    fn check_invites(&self) -> Result<(), InvariantError> {
        for (id, invite) in self.invites.iter() {
            // The inviting session holds the name the invite was sent from
            // (and so is live and registered).
            ensure!(
                self.user_of(invite.from_session) == Some(&invite.from),
                Outgoing,
                "invite {id:?} is from {:?} as {:?}, but that session is {:?}",
                invite.from_session,
                invite.from,
                self.user_of(invite.from_session)
            );
            // The invitee is online (its last disconnect declines what rings it).
            ensure!(
                self.users.is_online(&invite.to),
                Incoming,
                "invite {id:?} rings {:?}, who is not online",
                invite.to
            );
            // The room exists, and only a 1:1 call rings until a deadline (in
            // a call room, or in a named room carrying a call); an invite
            // into a named room waits for an answer.
            let kind = self.rooms.kind(&invite.room);
            ensure!(kind.is_some(), Invited, "invite {id:?} is into room {:?}, which does not exist", invite.room);
            let is_call = self.rooms.get(&invite.room).is_some_and(|room| room.carries_a_call());
            ensure!(
                invite.rings_until.is_some() == is_call,
                Invited,
                "invite {id:?} into {} room {:?} has ring deadline {:?}",
                if is_call { "call" } else { "named" },
                invite.room,
                invite.rings_until
            );
        }
        Ok(())
    }

    fn check_rooms(&self) -> Result<(), InvariantError> {
        for (room_id, room) in self.rooms.iter() {
            let invited = self.invites.pending_in(room_id);
            // Members and invitees share the places: join and invite refuse
            // a full room, and accepting turns an invitee into a member.
            ensure!(
                room.members().len().saturating_add(invited.len()) <= room.capacity,
                Room,
                "room {room_id:?} has {} members and {} invitees in {} places",
                room.members().len(),
                invited.len(),
                room.capacity
            );
            let empty = room.members().is_empty() && invited.is_empty();
            // A named room carrying a call has two places, and a peer: it
            // is an ordinary room again once the call is over.
            ensure!(
                room.call.is_none() || (room.kind == RoomKind::Named && room.capacity == 2 && !empty),
                Room,
                "room {room_id:?} carries a call but is {:?} with {} places and {} peers",
                room.kind,
                room.capacity,
                room.members().len() + invited.len()
            );
            match room.kind {
                RoomKind::Named => {
                    // An empty named room waits for its deletion, and a room
                    // with a peer does not: check_emptied sets the expiry when
                    // the last peer goes, keep_room clears it when one comes.
                    ensure!(
                        room.expires.is_some() == empty,
                        Room,
                        "named room {room_id:?} has {} members and {} invitees but expiry {:?}",
                        room.members().len(),
                        invited.len(),
                        room.expires
                    );
                    // A user is one peer of a room: join and invite refuse a
                    // user who is a member (on any session) or invited.
                    let members = room.members().iter().filter_map(|m| self.user_of(m.session()));
                    let invitees = invited.iter().filter_map(|&i| self.invites.get(i).map(|i| &i.to));
                    if let Some(user) = duplicate(members.chain(invitees)) {
                        return Err(InvariantError::Room(format!(
                            "{user:?} is a peer of room {room_id:?} twice (members {:?}, invited {invited:?})",
                            room.members().iter().map(|m| m.session()).collect::<Vec<_>>(),
                        )));
                    }
                }
                RoomKind::Call => {
                    // A call room is never listed nor waits to expire: it is
                    // dissolved as soon as the call ends.
                    let listed = self.namespaces.of_room(room_id);
                    ensure!(
                        listed.is_empty() && room.expires.is_none(),
                        Room,
                        "call room {room_id:?} is listed in {listed:?} or expires at {:?}",
                        room.expires
                    );
                    // A call either rings (the caller is the one member, its
                    // invite the one pending peer) or is accepted (two
                    // members, nobody pending); anything else is dissolved.
                    let ringing = match (room.members(), invited) {
                        ([caller], [invite]) => self.invites.is(*invite, |i| i.from_session == caller.session()),
                        ([_, _], []) => true,
                        _ => false,
                    };
                    ensure!(
                        ringing,
                        Room,
                        "call room {room_id:?} has members {:?} and invites {invited:?}: neither ringing nor accepted",
                        room.members().iter().map(|m| m.session()).collect::<Vec<_>>(),
                    );
                }
            }
        }
        Ok(())
    }

    fn check_calls(&self) -> Result<(), InvariantError> {
        // The busy rule: a call is refused when either side is ringing or in
        // a call, on any of its sessions, so a user is a party (caller,
        // callee, member) of one 1:1 call at most, and never both ends of it.
        let mut parties: HashMap<&UserId, &RoomId> = HashMap::new();
        for (room_id, room) in self.rooms.iter().filter(|(_, room)| room.carries_a_call()) {
            let members = room.members().iter().filter_map(|m| self.user_of(m.session()));
            let invitees = self.invites.pending_in(room_id).iter().filter_map(|&i| self.invites.get(i).map(|i| &i.to));
            for user in members.chain(invitees) {
                if let Some(other) = parties.insert(user, room_id) {
                    return Err(InvariantError::Busy(if other == room_id {
                        format!("{user:?} is both ends of call {room_id:?}")
                    } else {
                        format!("{user:?} is a party of calls {other:?} and {room_id:?}")
                    }));
                }
            }
        }
        // An answered call's record lives exactly as long as its call room,
        // which holds both its parties and rings nobody any more.
        for (room_id, call) in self.answered.rooms() {
            let room = self.rooms.get(room_id).filter(|room| room.carries_a_call());
            ensure!(room.is_some(), AnsweredCall, "call {} is recorded for {room_id:?}, no call room", call.call);
            for party in [&call.caller, &call.callee] {
                let member = party.session.is_some_and(|s| room.is_some_and(|room| room.has_member(s)));
                ensure!(member, AnsweredCall, "call {} in {room_id:?}: {:?} is not a member", call.call, party.user);
            }
            ensure!(
                self.invites.pending_in(room_id).is_empty(),
                AnsweredCall,
                "answered call {} in {room_id:?} still rings",
                call.call
            );
        }
        Ok(())
    }

    fn check_namespaces(&self) -> Result<(), InvariantError> {
        // Listed users are online (a user's last disconnect unlists it).
        for user in self.namespaces.listed_users() {
            ensure!(
                self.users.is_online(user),
                NamespaceUser,
                "{user:?} is listed in {:?} but not online",
                self.namespaces.of_user(user)
            );
        }
        // Listed rooms exist and are named (call rooms are checked above to
        // be listed nowhere).
        for room in self.namespaces.listed_rooms() {
            ensure!(
                self.rooms.contains(room),
                NamespaceRoom,
                "room {room:?} is listed in {:?} but does not exist",
                self.namespaces.of_room(room)
            );
        }
        Ok(())
    }

    fn check_mailboxes(&self) -> Result<(), InvariantError> {
        // Messages are held only for a user with no session, and handed
        // over when one registers.
        for user in self.mailboxes.users() {
            ensure!(!self.users.is_online(user), Mailbox, "messages are held for {user:?}, who is online");
        }
        Ok(())
    }

    fn check_deadlines(&self) -> Result<(), InvariantError> {
        // Every deadline is for something that is still there, at the time
        // that thing says: a stale one would fire on the wrong thing.
        for (at, what) in self.deadlines.iter() {
            let matches = match what {
                Deadline::Ring(invite) => self.invites.is(*invite, |i| i.rings_until == Some(*at)),
                Deadline::EmptyRoom(room) => self.rooms.get(room).is_some_and(|r| r.expires == Some(*at)),
                Deadline::Held(user) => self.mailboxes.oldest(user) == Some(*at),
            };
            ensure!(matches, Deadline, "{what:?} at {at:?} is for nothing that waits for that time");
        }
        // And everything that waits for a time has its deadline, or it would
        // never come: a ringing call its ring timeout, an empty room its
        // deletion, a mailbox the expiry of its oldest message.
        for (id, invite) in self.invites.iter() {
            if let Some(at) = invite.rings_until {
                ensure!(
                    self.deadlines.contains(at, Deadline::Ring(id)),
                    Deadline,
                    "{id:?} rings until {at:?} with no deadline"
                );
            }
        }
        for (room_id, room) in self.rooms.iter() {
            if let Some(at) = room.expires {
                ensure!(
                    self.deadlines.contains(at, Deadline::EmptyRoom(room_id.clone())),
                    Deadline,
                    "room {room_id:?} expires at {at:?} with no deadline"
                );
            }
        }
        for user in self.mailboxes.users() {
            if let Some(oldest) = self.mailboxes.oldest(user) {
                ensure!(
                    self.deadlines.contains(oldest, Deadline::Held(user.clone())),
                    Deadline,
                    "the oldest message held for {user:?} expires at {oldest:?} with no deadline"
                );
            }
        }
        Ok(())
    }
}

// Unit tests that break an index on purpose. They read the test clock, so
// they sit outside `src/` (which must never name it).
#[cfg(test)]
#[path = "../tests/unit/invariants.rs"]
mod tests;
