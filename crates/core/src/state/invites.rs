//! Ringing calls and invites, indexed by who sent them, who they ring and
//! which room they are into.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::time::Instant;

use crate::{InvariantError, InviteId, RoomId, SessionId, SessionMap, UserId};

/// A ringing call or invite. It does not change while it rings.
#[derive(Debug)]
pub(crate) struct Invite {
    pub(crate) room: RoomId,
    pub(crate) from_session: SessionId,
    pub(crate) from: UserId,
    pub(crate) to: UserId,
    /// The ring deadline of a 1:1 call; invites into named rooms wait.
    pub(crate) rings_until: Option<Instant>,
    /// The call's id in notes and logs.
    pub(crate) call: crate::CallId,
    /// When it began to ring.
    pub(crate) rang_at: Instant,
}

/// Every ringing invite and its three back-indexes, which change only here:
/// [`Invites::insert`] adds an invite to all of them and [`Invites::take`]
/// removes it from all of them.
#[derive(Debug, Default)]
pub(crate) struct Invites {
    invites: HashMap<InviteId, Invite>,
    outgoing: SessionMap<Vec<InviteId>>,
    incoming: HashMap<UserId, Vec<InviteId>>,
    pending_in: HashMap<RoomId, Vec<InviteId>>,
    next_id: u64,
}

/// Appends `id` to `key`'s list.
fn index<K: Eq + Hash, S: BuildHasher>(lists: &mut HashMap<K, Vec<InviteId>, S>, key: K, id: InviteId) {
    lists.entry(key).or_default().push(id);
}

/// Takes `id` out of `key`'s list, dropping the list once it is empty.
fn unindex<K: Eq + Hash, S: BuildHasher>(lists: &mut HashMap<K, Vec<InviteId>, S>, key: &K, id: InviteId) {
    if let Some(list) = lists.get_mut(key) {
        list.retain(|&i| i != id);
        if list.is_empty() {
            lists.remove(key);
        }
    }
}

fn listed<'a, K: Eq + Hash, S: BuildHasher>(lists: &'a HashMap<K, Vec<InviteId>, S>, key: &K) -> &'a [InviteId] {
    lists.get(key).map(Vec::as_slice).unwrap_or_default()
}

impl Invites {
    /// Records a new invite under a fresh id.
    /// Invites numbered from `first` on (a cluster's nodes start far
    /// apart, so that an invite id names one invite across nodes).
    pub(crate) fn numbered_from(first: u64) -> Self {
        Self { next_id: first, ..Self::default() }
    }

    pub(crate) fn insert(&mut self, invite: Invite) -> InviteId {
        let id = InviteId(self.next_id);
        self.next_id += 1;
        index(&mut self.outgoing, invite.from_session, id);
        index(&mut self.incoming, invite.to.clone(), id);
        index(&mut self.pending_in, invite.room.clone(), id);
        self.invites.insert(id, invite);
        id
    }

    /// Removes an invite and every reference to it.
    pub(crate) fn take(&mut self, id: InviteId) -> Option<Invite> {
        let invite = self.invites.remove(&id)?;
        unindex(&mut self.outgoing, &invite.from_session, id);
        unindex(&mut self.incoming, &invite.to, id);
        unindex(&mut self.pending_in, &invite.room, id);
        Some(invite)
    }

    pub(crate) fn get(&self, id: InviteId) -> Option<&Invite> {
        self.invites.get(&id)
    }

    /// Whether invite `id` rings and `test` holds for it. Indexes point at
    /// live invites (`check_invariants`), but a lookup a client can reach
    /// never panics.
    pub(crate) fn is(&self, id: InviteId, test: impl FnOnce(&Invite) -> bool) -> bool {
        self.invites.get(&id).is_some_and(test)
    }

    /// Invites `session` sent that still ring, oldest first.
    pub(crate) fn outgoing(&self, session: SessionId) -> &[InviteId] {
        listed(&self.outgoing, &session)
    }

    /// Invites ringing `user`, oldest first.
    pub(crate) fn incoming(&self, user: &UserId) -> &[InviteId] {
        listed(&self.incoming, user)
    }

    /// Invites into `room` that still ring: its pending peers, oldest first.
    pub(crate) fn pending_in(&self, room: &RoomId) -> &[InviteId] {
        listed(&self.pending_in, room)
    }

    pub(crate) fn len(&self) -> usize {
        self.invites.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (InviteId, &Invite)> {
        self.invites.iter().map(|(&id, invite)| (id, invite))
    }

    /// Every index lists exactly the invites that name its key, each once.
    pub(crate) fn check(&self) -> Result<(), InvariantError> {
        for (&id, invite) in &self.invites {
            if !self.outgoing(invite.from_session).contains(&id) {
                return Err(InvariantError::Outgoing(format!(
                    "invite {id:?} is from {:?}, which does not list it as outgoing",
                    invite.from_session
                )));
            }
            if !self.incoming(&invite.to).contains(&id) {
                return Err(InvariantError::Incoming(format!(
                    "invite {id:?} rings {:?}, who does not list it as incoming",
                    invite.to
                )));
            }
            if !self.pending_in(&invite.room).contains(&id) {
                return Err(InvariantError::Invited(format!(
                    "invite {id:?} is into room {:?}, which does not list it",
                    invite.room
                )));
            }
        }
        check_index(&self.outgoing, &self.invites, InvariantError::Outgoing, |invite, session| {
            invite.from_session == *session
        })?;
        check_index(&self.incoming, &self.invites, InvariantError::Incoming, |invite, user| invite.to == *user)?;
        check_index(&self.pending_in, &self.invites, InvariantError::Invited, |invite, room| invite.room == *room)
    }

    /// Test-only drift: an invite leaves the callee's list but still rings.
    #[cfg(test)]
    pub(crate) fn break_incoming(&mut self, user: &UserId) {
        self.incoming.remove(user);
    }
}

/// One back-index: no empty list kept, no id twice, every id a ringing
/// invite that names the key.
fn check_index<K: Eq + Hash + std::fmt::Debug, S: BuildHasher>(
    lists: &HashMap<K, Vec<InviteId>, S>,
    invites: &HashMap<InviteId, Invite>,
    error: fn(String) -> InvariantError,
    names: impl Fn(&Invite, &K) -> bool,
) -> Result<(), InvariantError> {
    for (key, list) in lists {
        if list.is_empty() {
            return Err(error(format!("{key:?} keeps an empty list of invites")));
        }
        if let Some(id) = super::duplicate(list) {
            return Err(error(format!("{key:?} lists {id:?} twice")));
        }
        for id in list {
            match invites.get(id) {
                Some(invite) if names(invite, key) => {}
                Some(invite) => return Err(error(format!("{key:?} lists {id:?}, which is {invite:?}"))),
                None => return Err(error(format!("{key:?} lists {id:?}, which is not ringing"))),
            }
        }
    }
    Ok(())
}
