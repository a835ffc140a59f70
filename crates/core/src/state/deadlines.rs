//! Things that happen at a time unless they are cancelled first.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::{InviteId, RoomId, UserId};

/// What a deadline is for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Deadline {
    /// A 1:1 call's ring timeout.
    Ring(InviteId),
    /// An empty named room's deletion.
    EmptyRoom(RoomId),
    /// The oldest message held for this user expires.
    Held(UserId),
}

/// Pending deadlines, ordered by time so the next one is the first.
#[derive(Debug, Default)]
pub(crate) struct Deadlines {
    queue: BTreeSet<(Instant, Deadline)>,
}

impl Deadlines {
    pub(crate) fn set(&mut self, at: Instant, what: Deadline) {
        self.queue.insert((at, what));
    }

    pub(crate) fn clear(&mut self, at: Instant, what: Deadline) {
        self.queue.remove(&(at, what));
    }

    /// When the next deadline is due.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Takes the earliest deadline due by `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Deadline> {
        if self.next()? > now {
            return None;
        }
        self.queue.pop_first().map(|(_, what)| what)
    }

    pub(crate) fn contains(&self, at: Instant, what: Deadline) -> bool {
        self.queue.contains(&(at, what))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(Instant, Deadline)> {
        self.queue.iter()
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Test-only drift: forgets every deadline `test` picks.
    #[cfg(test)]
    pub(crate) fn drop_where(&mut self, test: impl Fn(&Deadline) -> bool) {
        self.queue.retain(|(_, what)| !test(what));
    }
}
