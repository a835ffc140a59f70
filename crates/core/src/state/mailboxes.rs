//! Messages held for users with no session (the ecall dialect): Wire's
//! backend keeps a message until a device of the recipient fetches it; here
//! it is kept for the ring timeout, bounded in count and bytes per user.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::{CommandError, Event, InvariantError, UserId};

/// A message held for a user with no session.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) event: Event,
    pub(crate) bytes: usize,
    pub(crate) expires: Instant,
}

/// One queue per offline user with mail, oldest first; an emptied queue is
/// dropped.
#[derive(Debug)]
pub(crate) struct Mailboxes {
    boxes: HashMap<UserId, VecDeque<Held>>,
    max_messages: usize,
    max_bytes: usize,
    /// Held messages that expired undelivered, since the core started.
    expired: u64,
}

impl Mailboxes {
    /// Empty mailboxes that each hold at most `max_messages` messages and
    /// `max_bytes` bytes.
    pub(crate) fn new(max_messages: usize, max_bytes: usize) -> Self {
        Self { boxes: HashMap::new(), max_messages, max_bytes, expired: 0 }
    }

    /// Keeps `event` for `user` until `expires`. Returns whether it is the
    /// oldest message held for the user (whose expiry needs a deadline).
    ///
    /// # Errors
    /// [`CommandError::MailboxFull`] when the user's held messages would pass
    /// the count or byte bound; nothing is kept then.
    pub(crate) fn hold(
        &mut self,
        user: &UserId,
        event: Event,
        bytes: usize,
        expires: Instant,
    ) -> Result<bool, CommandError> {
        let mailbox = self.boxes.get(user);
        let held = mailbox.map_or(0, VecDeque::len);
        let held_bytes: usize = mailbox.map_or(0, |mailbox| mailbox.iter().map(|held| held.bytes).sum());
        if held >= self.max_messages || held_bytes.saturating_add(bytes) > self.max_bytes {
            return Err(CommandError::MailboxFull(user.clone()));
        }
        self.boxes.entry(user.clone()).or_default().push_back(Held { event, bytes, expires });
        Ok(held == 0)
    }

    /// Takes everything held for `user`, oldest first.
    pub(crate) fn take(&mut self, user: &UserId) -> Option<VecDeque<Held>> {
        self.boxes.remove(user)
    }

    /// Drops the messages held for `user` whose time is up by `now`, and
    /// counts them. Returns when the oldest one left expires, if any is.
    pub(crate) fn expire(&mut self, user: &UserId, now: Instant) -> Option<Instant> {
        let mailbox = self.boxes.get_mut(user)?;
        let before = mailbox.len();
        mailbox.retain(|held| held.expires > now);
        self.expired += (before - mailbox.len()) as u64;
        let next = mailbox.front().map(|held| held.expires);
        if next.is_none() {
            self.boxes.remove(user);
        }
        next
    }

    /// When the oldest message held for `user` expires.
    pub(crate) fn oldest(&self, user: &UserId) -> Option<Instant> {
        self.boxes.get(user)?.front().map(|held| held.expires)
    }

    pub(crate) fn held_for(&self, user: &UserId) -> usize {
        self.boxes.get(user).map_or(0, VecDeque::len)
    }

    /// Messages held for every user.
    pub(crate) fn held(&self) -> usize {
        self.boxes.values().map(VecDeque::len).sum()
    }

    pub(crate) fn expired(&self) -> u64 {
        self.expired
    }

    /// Users with mail waiting.
    pub(crate) fn users(&self) -> impl Iterator<Item = &UserId> {
        self.boxes.keys()
    }

    /// No empty mailbox is kept, and none is past a bound.
    pub(crate) fn check(&self) -> Result<(), InvariantError> {
        for (user, mailbox) in &self.boxes {
            if mailbox.is_empty() {
                return Err(InvariantError::Mailbox(format!("an empty mailbox is kept for {user:?}")));
            }
            let bytes = mailbox.iter().fold(0usize, |sum, held| sum.saturating_add(held.bytes));
            if mailbox.len() > self.max_messages || bytes > self.max_bytes {
                return Err(InvariantError::Mailbox(format!(
                    "{} messages, {bytes} bytes held for {user:?}, past the bounds {} and {}",
                    mailbox.len(),
                    self.max_messages,
                    self.max_bytes
                )));
            }
        }
        Ok(())
    }
}
