//! Self-checks of the core's state: every back-index agrees with the thing it
//! indexes, both ways, and every deadline with the thing it is for.
//!
//! The core keeps each relation twice, once on either side, so that every
//! question is a lookup (a session's rooms and a room's members; an invite and
//! the session, user and room that hold it; …). A handler that updates one
//! side and forgets the other leaves a drift that no single test sees until a
//! later `self.invites[id]` panics or an event goes to nobody.
//! [`Core::check_invariants`] walks the whole state and names the first
//! drift it finds. It is for tests (the core's own, and model tests that
//! drive it with random inputs); it never panics and changes nothing.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::core::{Deadline, RoomKind};
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
}

/// Returns the error unless the condition holds.
macro_rules! ensure {
    ($cond:expr, $kind:ident, $($message:tt)+) => {
        if !$cond {
            return Err(InvariantError::$kind(format!($($message)+)));
        }
    };
}

/// The first item that occurs twice.
fn duplicate<'a, T: Eq + Hash + 'a>(items: impl IntoIterator<Item = &'a T>) -> Option<&'a T> {
    let mut seen = HashSet::new();
    items.into_iter().find(|&item| !seen.insert(item))
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
        self.check_sessions_and_users()?;
        self.check_peer_ids()?;
        self.check_membership()?;
        self.check_invites()?;
        self.check_rooms()?;
        self.check_calls()?;
        self.check_namespaces()?;
        self.check_mailboxes()?;
        self.check_deadlines()?;
        Ok(())
    }

    fn check_sessions_and_users(&self) -> Result<(), InvariantError> {
        for (&id, session) in &self.sessions {
            match &session.user {
                // A registered session is one of its user's sessions.
                Some(user) => ensure!(
                    self.users.get(user).is_some_and(|state| state.sessions.contains(&id)),
                    SessionUser,
                    "{id:?} is registered as {user:?}, whose sessions do not list it"
                ),
                // Joining, calling, inviting and subscribing all need a
                // registered user, and a session keeps its name until it
                // closes: an unregistered session holds nothing.
                None => ensure!(
                    session.rooms.is_empty() && session.outgoing.is_empty() && session.subscriptions.is_empty(),
                    SessionUser,
                    "{id:?} is not registered but holds rooms {:?}, invites {:?}, subscriptions {:?}",
                    session.rooms,
                    session.outgoing,
                    session.subscriptions
                ),
            }
        }
        for (user, state) in &self.users {
            // A user is online while it has a session: the last disconnect
            // removes it.
            ensure!(!state.sessions.is_empty(), SessionUser, "{user:?} is online with no session");
            if let Some(session) = duplicate(&state.sessions) {
                return Err(InvariantError::SessionUser(format!("{user:?} lists {session:?} twice")));
            }
            // Every listed session is registered as this user.
            for session in &state.sessions {
                ensure!(
                    self.sessions.get(session).and_then(|s| s.user.as_ref()) == Some(user),
                    SessionUser,
                    "{user:?} lists {session:?}, which is not registered as it"
                );
            }
            // A second session may take a name only if it is shared.
            ensure!(
                state.sessions.len() <= 1 || state.shared,
                SessionUser,
                "{user:?} is not shared but has sessions {:?}",
                state.sessions
            );
        }
        Ok(())
    }

    fn check_peer_ids(&self) -> Result<(), InvariantError> {
        // Relays by peer id look the session up here: each entry names a live
        // session of that peer id (a disconnect removes its own entry only).
        for (peer, &session) in &self.peer_ids {
            ensure!(
                self.sessions.get(&session).is_some_and(|s| s.peer_id == *peer),
                PeerId,
                "peer id {peer:?} names {session:?}, which does not have it"
            );
        }
        // And every session can be reached by its peer id: a newer connection
        // with the same peer id replaces (closes) the older one, so no two
        // sessions share one.
        for (&id, session) in &self.sessions {
            ensure!(
                self.peer_ids.get(&session.peer_id) == Some(&id),
                PeerId,
                "{id:?} has peer id {:?}, which names {:?}",
                session.peer_id,
                self.peer_ids.get(&session.peer_id)
            );
        }
        Ok(())
    }

    fn check_membership(&self) -> Result<(), InvariantError> {
        for (&id, session) in &self.sessions {
            if let Some(room) = duplicate(&session.rooms) {
                return Err(InvariantError::Membership(format!("{id:?} lists room {room:?} twice")));
            }
            // A session's rooms are the rooms it is a member of.
            for room in &session.rooms {
                ensure!(
                    self.rooms.get(room).is_some_and(|state| state.has_member(id)),
                    Membership,
                    "{id:?} lists room {room:?}, which {}",
                    if self.rooms.contains_key(room) { "does not have it as a member" } else { "does not exist" }
                );
            }
        }
        for (room_id, room) in &self.rooms {
            if let Some(session) = duplicate(room.members.iter().map(|member| &member.session)) {
                return Err(InvariantError::Membership(format!("room {room_id:?} has {session:?} as a member twice")));
            }
            // A room's members are live sessions that list the room.
            for member in &room.members {
                ensure!(
                    self.sessions.get(&member.session).is_some_and(|s| s.rooms.contains(room_id)),
                    Membership,
                    "room {room_id:?} has member {:?}, which {}",
                    member.session,
                    if self.sessions.contains_key(&member.session) {
                        "does not list the room"
                    } else {
                        "is not a live session"
                    }
                );
            }
        }
        Ok(())
    }

    fn check_invites(&self) -> Result<(), InvariantError> {
        for (&id, invite) in &self.invites {
            // The inviting session holds the invite as outgoing, under the
            // name the invite was sent from.
            let from = self.sessions.get(&invite.from_session);
            ensure!(
                from.is_some_and(|s| s.outgoing.contains(&id)),
                Outgoing,
                "invite {id:?} is from {:?}, which {}",
                invite.from_session,
                if from.is_some() { "does not list it as outgoing" } else { "is not a live session" }
            );
            ensure!(
                from.and_then(|s| s.user.as_ref()) == Some(&invite.from),
                Outgoing,
                "invite {id:?} is from {:?} as {:?}, but that session is {:?}",
                invite.from_session,
                invite.from,
                from.and_then(|s| s.user.as_ref())
            );
            // The invitee is online and holds the invite as incoming (its
            // last disconnect declines what rings it).
            ensure!(
                self.users.get(&invite.to).is_some_and(|u| u.incoming.contains(&id)),
                Incoming,
                "invite {id:?} rings {:?}, who {}",
                invite.to,
                if self.users.contains_key(&invite.to) { "does not list it as incoming" } else { "is not online" }
            );
            // The room holds the invite as a pending peer.
            let room = self.rooms.get(&invite.room);
            ensure!(
                room.is_some_and(|r| r.invited.contains(&id)),
                Invited,
                "invite {id:?} is into room {:?}, which {}",
                invite.room,
                if room.is_some() { "does not list it" } else { "does not exist" }
            );
            // Only a 1:1 call rings until a deadline; an invite into a named
            // room waits for an answer.
            let is_call = room.is_some_and(|r| r.kind == RoomKind::Call);
            ensure!(
                invite.rings_until.is_some() == is_call,
                Invited,
                "invite {id:?} into {} room {:?} has ring deadline {:?}",
                if is_call { "call" } else { "named" },
                invite.room,
                invite.rings_until
            );
        }
        for (&id, session) in &self.sessions {
            if let Some(invite) = duplicate(&session.outgoing) {
                return Err(InvariantError::Outgoing(format!("{id:?} lists {invite:?} twice")));
            }
            // A session's outgoing invites are invites it sent.
            for invite in &session.outgoing {
                ensure!(
                    self.invites.get(invite).is_some_and(|i| i.from_session == id),
                    Outgoing,
                    "{id:?} lists outgoing {invite:?}, which is {}",
                    match self.invites.get(invite) {
                        Some(i) => format!("from {:?}", i.from_session),
                        None => "not ringing".to_owned(),
                    }
                );
            }
        }
        for (user, state) in &self.users {
            if let Some(invite) = duplicate(&state.incoming) {
                return Err(InvariantError::Incoming(format!("{user:?} lists {invite:?} twice")));
            }
            // A user's incoming invites are invites to it.
            for invite in &state.incoming {
                ensure!(
                    self.invites.get(invite).is_some_and(|i| i.to == *user),
                    Incoming,
                    "{user:?} lists incoming {invite:?}, which is {}",
                    match self.invites.get(invite) {
                        Some(i) => format!("to {:?}", i.to),
                        None => "not ringing".to_owned(),
                    }
                );
            }
        }
        for (room_id, room) in &self.rooms {
            if let Some(invite) = duplicate(&room.invited) {
                return Err(InvariantError::Invited(format!("room {room_id:?} lists {invite:?} twice")));
            }
            // A room's pending peers are invites into it.
            for invite in &room.invited {
                ensure!(
                    self.invites.get(invite).is_some_and(|i| i.room == *room_id),
                    Invited,
                    "room {room_id:?} lists {invite:?}, which is {}",
                    match self.invites.get(invite) {
                        Some(i) => format!("into room {:?}", i.room),
                        None => "not ringing".to_owned(),
                    }
                );
            }
        }
        Ok(())
    }

    fn check_rooms(&self) -> Result<(), InvariantError> {
        for (room_id, room) in &self.rooms {
            // Members and invitees share the places: join and invite refuse
            // a full room, and accepting turns an invitee into a member.
            let peers = room.members.len().saturating_add(room.invited.len());
            ensure!(
                peers <= room.capacity,
                Room,
                "room {room_id:?} has {} members and {} invitees in {} places",
                room.members.len(),
                room.invited.len(),
                room.capacity
            );
            // A member's number is held by no other member while it stays,
            // and fits a Java int (cloudkibo).
            if let Some(number) = duplicate(room.members.iter().map(|member| &member.number)) {
                return Err(InvariantError::Room(format!("room {room_id:?} gives number {number} to two members")));
            }
            if let Some(member) = room.members.iter().find(|m| m.number == 0 || m.number > i32::MAX as u32) {
                return Err(InvariantError::Room(format!(
                    "room {room_id:?} numbers {:?} {}, out of 1..=2^31-1",
                    member.session, member.number
                )));
            }
            // The shared status keeps one value per key.
            if let Some(key) = duplicate(room.status.iter().map(|(key, _)| key)) {
                return Err(InvariantError::Room(format!("room {room_id:?} has status key {key:?} twice")));
            }
            match room.kind {
                RoomKind::Named => {
                    // An empty named room waits for its deletion, and a room
                    // with a peer does not: check_emptied sets the expiry when
                    // the last peer goes, keep_room clears it when one comes.
                    ensure!(
                        room.expires.is_some() == room.is_empty(),
                        Room,
                        "named room {room_id:?} has {} members and {} invitees but expiry {:?}",
                        room.members.len(),
                        room.invited.len(),
                        room.expires
                    );
                    // A user is one peer of a room: join and invite refuse a
                    // user who is a member (on any session) or invited.
                    let mut users = room
                        .members
                        .iter()
                        .filter_map(|m| self.sessions.get(&m.session).and_then(|s| s.user.as_ref()))
                        .chain(room.invited.iter().filter_map(|i| self.invites.get(i).map(|i| &i.to)));
                    let mut seen = HashSet::new();
                    if let Some(user) = users.find(|&user| !seen.insert(user)) {
                        return Err(InvariantError::Room(format!(
                            "{user:?} is a peer of room {room_id:?} twice (members {:?}, invited {:?})",
                            room.members.iter().map(|m| m.session).collect::<Vec<_>>(),
                            room.invited
                        )));
                    }
                }
                RoomKind::Call => {
                    // A call room is never listed nor waits to expire: it is
                    // dissolved as soon as the call ends.
                    ensure!(
                        room.namespaces.is_empty() && room.expires.is_none(),
                        Room,
                        "call room {room_id:?} is listed in {:?} or expires at {:?}",
                        room.namespaces,
                        room.expires
                    );
                    // A call either rings (the caller is the one member, its
                    // invite the one pending peer) or is accepted (two
                    // members, nobody pending); anything else is dissolved.
                    let ringing = match (room.members.as_slice(), room.invited.as_slice()) {
                        ([caller], [invite]) => {
                            self.invites.get(invite).is_some_and(|i| i.from_session == caller.session)
                        }
                        ([_, _], []) => true,
                        _ => false,
                    };
                    ensure!(
                        ringing,
                        Room,
                        "call room {room_id:?} has members {:?} and invites {:?}: neither ringing nor accepted",
                        room.members.iter().map(|m| m.session).collect::<Vec<_>>(),
                        room.invited
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
        for (room_id, room) in self.rooms.iter().filter(|(_, room)| room.kind == RoomKind::Call) {
            let members =
                room.members.iter().filter_map(|m| self.sessions.get(&m.session).and_then(|s| s.user.as_ref()));
            let invitees = room.invited.iter().filter_map(|i| self.invites.get(i).map(|i| &i.to));
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
        Ok(())
    }

    fn check_namespaces(&self) -> Result<(), InvariantError> {
        for (namespace, directory) in &self.namespaces {
            // A namespace exists while it has a subscriber, a user or a room
            // (edit_namespace deletes the emptied one).
            ensure!(!directory.is_empty(), Namespace, "namespace {namespace:?} is empty but kept");
            if let Some(session) = duplicate(&directory.subscribers) {
                return Err(InvariantError::Subscription(format!("{namespace:?} lists {session:?} twice")));
            }
            if let Some(user) = duplicate(&directory.users) {
                return Err(InvariantError::NamespaceUser(format!("{namespace:?} lists {user:?} twice")));
            }
            if let Some(room) = duplicate(&directory.rooms) {
                return Err(InvariantError::NamespaceRoom(format!("{namespace:?} lists room {room:?} twice")));
            }
            // Its subscribers are live sessions that list it.
            for session in &directory.subscribers {
                ensure!(
                    self.sessions.get(session).is_some_and(|s| s.subscriptions.contains(namespace)),
                    Subscription,
                    "{namespace:?} has subscriber {session:?}, which {}",
                    if self.sessions.contains_key(session) { "does not list it" } else { "is not a live session" }
                );
            }
            // Its users are online users that list it (a user's last
            // disconnect unlists it).
            for user in &directory.users {
                ensure!(
                    self.users.get(user).is_some_and(|u| u.namespaces.contains(namespace)),
                    NamespaceUser,
                    "{namespace:?} lists {user:?}, who {}",
                    if self.users.contains_key(user) { "does not list it" } else { "is not online" }
                );
            }
            // Its rooms exist and list it (only named rooms can be listed:
            // call rooms are checked to list no namespace).
            for room in &directory.rooms {
                ensure!(
                    self.rooms.get(room).is_some_and(|r| r.namespaces.contains(namespace)),
                    NamespaceRoom,
                    "{namespace:?} lists room {room:?}, which {}",
                    if self.rooms.contains_key(room) { "does not list it" } else { "does not exist" }
                );
            }
        }
        for (&id, session) in &self.sessions {
            if let Some(namespace) = duplicate(&session.subscriptions) {
                return Err(InvariantError::Subscription(format!("{id:?} lists {namespace:?} twice")));
            }
            // A session's subscriptions are namespaces that have it as a
            // subscriber.
            for namespace in &session.subscriptions {
                ensure!(
                    self.namespaces.get(namespace).is_some_and(|d| d.subscribers.contains(&id)),
                    Subscription,
                    "{id:?} lists subscription {namespace:?}, which {}",
                    if self.namespaces.contains_key(namespace) { "does not list it" } else { "does not exist" }
                );
            }
        }
        for (user, state) in &self.users {
            if let Some(namespace) = duplicate(&state.namespaces) {
                return Err(InvariantError::NamespaceUser(format!("{user:?} lists {namespace:?} twice")));
            }
            // A user's namespaces list it.
            for namespace in &state.namespaces {
                ensure!(
                    self.namespaces.get(namespace).is_some_and(|d| d.users.contains(user)),
                    NamespaceUser,
                    "{user:?} lists {namespace:?}, which {}",
                    if self.namespaces.contains_key(namespace) { "does not list it" } else { "does not exist" }
                );
            }
        }
        for (room_id, room) in &self.rooms {
            if let Some(namespace) = duplicate(&room.namespaces) {
                return Err(InvariantError::NamespaceRoom(format!("room {room_id:?} lists {namespace:?} twice")));
            }
            // A room's namespaces list it.
            for namespace in &room.namespaces {
                ensure!(
                    self.namespaces.get(namespace).is_some_and(|d| d.rooms.contains(room_id)),
                    NamespaceRoom,
                    "room {room_id:?} lists {namespace:?}, which {}",
                    if self.namespaces.contains_key(namespace) { "does not list it" } else { "does not exist" }
                );
            }
        }
        Ok(())
    }

    fn check_mailboxes(&self) -> Result<(), InvariantError> {
        for (user, mailbox) in &self.mailboxes {
            // Messages are held only for a user with no session, and handed
            // over when one registers.
            ensure!(!self.users.contains_key(user), Mailbox, "messages are held for {user:?}, who is online");
            // An emptied mailbox is removed.
            ensure!(!mailbox.is_empty(), Mailbox, "an empty mailbox is kept for {user:?}");
            // hold() refuses a message past either bound.
            let bytes = mailbox.iter().fold(0usize, |sum, held| sum.saturating_add(held.bytes));
            ensure!(
                mailbox.len() <= self.config.mailbox_messages && bytes <= self.config.mailbox_bytes,
                Mailbox,
                "{} messages, {bytes} bytes held for {user:?}, past the bounds {} and {}",
                mailbox.len(),
                self.config.mailbox_messages,
                self.config.mailbox_bytes
            );
        }
        Ok(())
    }

    fn check_deadlines(&self) -> Result<(), InvariantError> {
        // Every deadline is for something that is still there, at the time
        // that thing says: a stale one would fire on the wrong thing.
        for (at, what) in &self.deadlines {
            let matches = match what {
                Deadline::Ring(invite) => self.invites.get(invite).is_some_and(|i| i.rings_until == Some(*at)),
                Deadline::EmptyRoom(room) => self.rooms.get(room).is_some_and(|r| r.expires == Some(*at)),
                Deadline::Held(user) => {
                    self.mailboxes.get(user).and_then(|m| m.front()).is_some_and(|held| held.expires == *at)
                }
            };
            ensure!(matches, Deadline, "{what:?} at {at:?} is for nothing that waits for that time");
        }
        // And everything that waits for a time has its deadline, or it would
        // never come: a ringing call its ring timeout, an empty room its
        // deletion, a mailbox the expiry of its oldest message.
        for (&id, invite) in &self.invites {
            if let Some(at) = invite.rings_until {
                ensure!(
                    self.deadlines.contains(&(at, Deadline::Ring(id))),
                    Deadline,
                    "{id:?} rings until {at:?} with no deadline"
                );
            }
        }
        for (room_id, room) in &self.rooms {
            if let Some(at) = room.expires {
                ensure!(
                    self.deadlines.contains(&(at, Deadline::EmptyRoom(room_id.clone()))),
                    Deadline,
                    "room {room_id:?} expires at {at:?} with no deadline"
                );
            }
        }
        for (user, mailbox) in &self.mailboxes {
            if let Some(oldest) = mailbox.front() {
                ensure!(
                    self.deadlines.contains(&(oldest.expires, Deadline::Held(user.clone()))),
                    Deadline,
                    "the oldest message held for {user:?} expires at {:?} with no deadline",
                    oldest.expires
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
